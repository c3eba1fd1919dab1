/**
 * GitHub's answers in words: which failures are worth another attempt (no answer, 5xx, rate
 * limits), whether a failed write may have landed, and what the user must change (usually a
 * missing token permission). Server text is quoted only through `excerpt`.
 */
import { ActionError, errorMessage } from '../errors.js'
import { networkReason } from '../http.js'
import { excerpt, type Redact } from '../redact.js'
import { parseRetryAfter, type RetryVerdict } from '../retry.js'
import { targetInfo, type Target } from './targets.js'

export class GitHubError extends ActionError {
  constructor(
    message: string,
    readonly status: number | undefined
  ) {
    super(message)
  }
}

interface HttpishError {
  status?: number
  message?: string
  request?: { url?: unknown }
  response?: { url?: unknown; headers?: Record<string, string | undefined>; data?: unknown }
}

/**
 * The HTTP status of a failed request; undefined when no answer came. Octokit reports a network
 * failure or a timeout as status 500 without a response: that is "no answer", not a server error.
 */
export function asHttpError(error: unknown): HttpishError {
  if (error === null || typeof error !== 'object') return {}
  const e = error as HttpishError
  return e.status === 500 && e.response === undefined && !(error instanceof ActionError)
    ? { ...e, status: undefined, message: e.message }
    : e
}

export function serverMessage(error: unknown, redact: Redact): string {
  const e = asHttpError(error)
  if (e.status === undefined && error instanceof Error && !(error instanceof ActionError)) {
    const cause = (error as { cause?: unknown }).cause
    return networkReason(cause instanceof Error ? cause : error)
  }
  const data = e.response?.data
  const text =
    data && typeof data === 'object' && 'message' in data
      ? String((data as { message: unknown }).message)
      : typeof data === 'string'
        ? data
        : (e.message ?? errorMessage(error))
  return excerpt(text, 160, redact)
}

/** Whether a failed request may have taken effect: no answer, or a server error. */
export function outcomeUnknown(error: unknown): boolean {
  if (error instanceof ActionError) return false
  const status = asHttpError(error).status
  return status === undefined || status >= 500
}

/** GitHub's "wait at least one minute" for a secondary limit that names no time. */
export const RATE_LIMIT_FALLBACK_MS = 60_000

/**
 * How long a rate limit asks to wait, or undefined when the answer is no rate limit. 403 and 429
 * can both be primary or secondary limits: `retry-after`, then `x-ratelimit-reset` (when the
 * budget is used up), then a minute.
 */
function rateLimitWait(
  status: number | undefined,
  headers: Record<string, string | undefined>,
  message: string,
  now = Date.now()
): number | undefined {
  if (status !== 403 && status !== 429) return undefined
  const retryAfter = parseRetryAfter(headers['retry-after'], now)
  const exhausted = headers['x-ratelimit-remaining'] === '0'
  if (status === 403 && retryAfter === undefined && !exhausted && !/rate limit/i.test(message)) return undefined
  if (retryAfter !== undefined) return retryAfter
  const reset = Number(headers['x-ratelimit-reset'])
  if (exhausted && Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - now) + 1000
  return RATE_LIMIT_FALLBACK_MS
}

/** Retry on no answer, 5xx and rate limits. */
export function classifyGitHubError(error: unknown, now = Date.now()): RetryVerdict {
  if (error instanceof ActionError) return { retry: false }
  const e = asHttpError(error)
  const status = e.status
  if (status === undefined) return { retry: true } // no answer
  const headers = e.response?.headers ?? {}
  const data = e.response?.data
  const message = data && typeof data === 'object' && 'message' in data ? String((data as { message: unknown }).message) : (e.message ?? '')
  const wait = rateLimitWait(status, headers, message.slice(0, 1000), now)
  if (wait !== undefined) return { retry: true, afterMs: wait }
  if (status >= 500) return { retry: true, afterMs: parseRetryAfter(headers['retry-after'], now) }
  return { retry: false }
}

function origin(url: unknown): string | undefined {
  try {
    return typeof url === 'string' ? new URL(url).origin : undefined
  } catch {
    return undefined
  }
}

/**
 * A 3xx that was not followed: it pointed away from the API's origin (same-origin redirects are
 * followed by the client, http.ts). Nothing was done there, and nothing was sent there.
 */
export function redirectedAway(doing: string, location: unknown, redact: Redact): string {
  let where = 'another address'
  try {
    if (typeof location === 'string' && location) where = excerpt(new URL(location).host, 120, redact) || where
  } catch {
    // a location that is no URL: "another address"
  }
  return `GitHub's API answered the request to ${doing} with a redirect to ${where}, which is not followed: tokens and secret values go only to the API's own address, so nothing was done there. Check GITHUB_API_URL / 'github-api-url' and any proxy in between.`
}

/**
 * A failed request in one sentence: what failed, why, what to do. `permission` words a 403 for a
 * route whose permission is not the target's secrets permission (a repository's variables).
 */
export function describeGitHubError(error: unknown, doing: string, target: Target, redact: Redact = (t) => t, permission?: string): string {
  if (error instanceof ActionError) return error.message
  const e = asHttpError(error)
  const status = e.status
  const said = serverMessage(error, redact)
  if (status === undefined) {
    return `Could not ${doing}: GitHub's API at ${origin(e.request?.url) ?? 'GITHUB_API_URL'} did not answer (${said}), also after retries. Check that the runner can reach it (GITHUB_API_URL, proxy settings) and try again.`
  }
  const lead = `GitHub refused to ${doing} (${status}${said ? `: ${said}` : ''})`
  const asked = origin(e.request?.url)
  const answered = origin(e.response?.url)
  if (asked && answered && asked !== answered) {
    return `${lead}: the request was redirected from ${asked} to ${answered}, and the token is never sent to another address, so that server saw no credentials. Check GITHUB_API_URL / 'github-api-url' and any proxy in between.`
  }
  if (status === 401)
    return `${lead}: 'github-token' is invalid, expired or revoked: renew github-token — create a new token with the same permissions and update the secret that holds it.`
  if (classifyGitHubError(error).retry && (status === 403 || status === 429)) {
    return `${lead}, also after waiting: GitHub's rate limit for 'github-token' was reached; wait for it to reset (an hour at most for the primary limit) and run the workflow again.`
  }
  if (status === 403) {
    if (permission) return `${lead}: 'github-token' lacks the permission — ${permission}.`
    return `${lead}: 'github-token' lacks the permission — ${targetInfo(target).permission}. The workflow's default GITHUB_TOKEN can never write secrets.`
  }
  if (status === 404) return targetInfo(target).notFound(lead)
  if (status === 422)
    return `${lead}: GitHub rejected the request as invalid; check the secret names and, for organizations, 'visibility' and 'selected-repositories'.`
  if (status >= 500) {
    return `${lead}, also after retries: the GitHub API may be down or unreachable from this runner; try again later.`
  }
  return `${lead}.`
}
