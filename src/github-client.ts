/**
 * The GitHub client: one @octokit/rest Octokit, talking to GITHUB_API_URL through the
 * proxy-aware fetch, which follows redirects only within the API's origin (http.ts). Retries are
 * ours (see retry.ts), not Octokit plugins', so that one policy with cancellation-aware backoff
 * covers every request, and writes are never spaced out.
 */
import { Octokit } from '@octokit/rest'
import { gitHubFetchFor } from './http.js'

const silent = { debug() {}, info() {}, warn() {}, error() {} }

export function createOctokit(token: string, baseUrl: string): Octokit {
  return new Octokit({
    auth: token,
    baseUrl,
    userAgent: 'amocrm-token-action',
    request: { fetch: gitHubFetchFor(baseUrl) },
    // Octokit's own logging would describe requests we already report; keep the log ours.
    log: silent
  })
}
