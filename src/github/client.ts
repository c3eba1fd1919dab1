/**
 * The GitHub client: one @octokit/rest Octokit, talking to GITHUB_API_URL through the
 * proxy-aware fetch, which follows redirects only within the API's origin (http.ts). Retries are
 * ours (see retry.ts), not Octokit plugins', so that one policy with cancellation-aware backoff
 * covers every request, and writes are never spaced out.
 */
import { Octokit } from '@octokit/rest'
import { gitHubFetchFor, USER_AGENT } from '../http.js'

const silent = { debug() {}, info() {}, warn() {}, error() {} }

/** Told the headers of every answer, errors included. */
type OnHeaders = (headers: Record<string, string | number | undefined>) => void

export function createOctokit(token: string, baseUrl: string, onHeaders?: OnHeaders): Octokit {
  const octokit = new Octokit({
    auth: token,
    baseUrl,
    userAgent: USER_AGENT,
    request: { fetch: gitHubFetchFor(baseUrl) },
    // Octokit's own logging would describe requests we already report; keep the log ours.
    log: silent
  })
  if (onHeaders) {
    octokit.hook.after('request', (response) => onHeaders(response.headers))
    octokit.hook.error('request', (error) => {
      const headers = (error as { response?: { headers?: Record<string, string | number | undefined> } }).response?.headers
      if (headers) onHeaders(headers)
      throw error
    })
  }
  return octokit
}

/** The header GitHub sends with every answer to a request made with a token that expires (a PAT). */
export const EXPIRATION_HEADER = 'github-authentication-token-expiration'

/**
 * `GitHub-Authentication-Token-Expiration`: "2027-01-07 10:00:00 UTC", also seen as
 * "2023-04-26 20:23:26 +0200" (go-github parses both). Undefined for anything else.
 */
export function parseTokenExpiration(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) (UTC|[+-]\d{2}:?\d{2})$/.exec(value.trim())
  if (!m) return undefined
  const zone = m[3] === 'UTC' ? 'Z' : `${m[3]?.slice(0, 3)}:${m[3]?.slice(-2)}`
  const date = new Date(`${m[1]}T${m[2]}${zone}`)
  return Number.isNaN(date.getTime()) ? undefined : date
}
