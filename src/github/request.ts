/**
 * One request to GitHub's REST API, as every part of this action that writes there makes it: with
 * retries (no answer, 5xx, rate limits: errors.ts decides), a time limit per attempt, the cancel
 * deadline, a redirect away from the API refused, and every failure worded by errors.ts as one
 * sentence. The secret store (secrets.ts) and the variables (variables.ts) make theirs through it.
 */
import type { Octokit } from '@octokit/rest'
import { asHttpError, classifyGitHubError, describeGitHubError, GitHubError, redirectedAway, serverMessage } from './errors.js'
import type { Redact } from '../redact.js'
import { withRetries, type RetryPolicy } from '../retry.js'
import type { Target } from './targets.js'

export interface GitHubDeps {
  octokit: Octokit
  retry: RetryPolicy
  timeoutMs: number
  redact: Redact
  onRetry?: (message: string) => void
  /** Once aborted (a cancelled run out of time), requests in flight are dropped and none is started. */
  deadline?: AbortSignal
}

/** The answers a request accepts: status → the result made of the answer's data (and its headers). */
export type Accept<T> = Partial<Record<number, (data: unknown, headers: Record<string, string | number | undefined>) => T>>

/** What one request is: what it does (in words, for errors), where (`route`, e.g. `PUT /repos/{owner}/{repo}/…`), with what. */
interface GitHubCall<T> {
  doing: string
  route: string
  params: Record<string, unknown>
  /** The statuses that are answers (an error status such as a 404 may be one), each mapped to a result. */
  accept: Accept<T>
  /** Runs before each further attempt and may settle the call with a result instead. */
  beforeRetry?: (lastError: unknown) => Promise<T | undefined>
  /** What a 403 here means the token lacks, when it is not the target's secrets permission. */
  permission?: string
}

/** Makes `call` with retries; a failure is a GitHubError whose message says what failed and what to do (`target` words a 403 or 404). */
export async function gitHubRequest<T>(deps: GitHubDeps, target: Target, call: GitHubCall<T>): Promise<T> {
  const { doing, route, params, accept, beforeRetry, permission } = call
  const signal = (): AbortSignal => {
    const timeout = AbortSignal.timeout(deps.timeoutMs)
    return deps.deadline ? AbortSignal.any([timeout, deps.deadline]) : timeout
  }
  let lastError: unknown
  const attempt = async (n: number): Promise<T> => {
    if (n > 1 && beforeRetry) {
      const settled = await beforeRetry(lastError)
      if (settled !== undefined) return settled
    }
    let status: number
    let data: unknown
    let response: { headers: Record<string, string | number | undefined> }
    try {
      const answered = await deps.octokit.request(route, { ...params, request: { signal: signal() } })
      status = answered.status
      data = answered.data
      response = answered
    } catch (error) {
      const e = asHttpError(error)
      const answer = e.status === undefined ? undefined : accept[e.status]
      if (!answer) {
        lastError = error
        throw error
      }
      return answer(e.response?.data, e.response?.headers ?? {})
    }
    const answer = accept[status]
    if (!answer && status >= 300 && status < 400) {
      // gitHubFetchFor follows redirects within the API's origin only: this one pointed elsewhere.
      throw new GitHubError(redirectedAway(doing, response.headers.location, deps.redact), status)
    }
    if (!answer) throw new GitHubError(`GitHub answered ${doing} with an unexpected status ${status}.`, status)
    return answer(data, response.headers)
  }
  const policy = deps.deadline ? { ...deps.retry, signal: deps.deadline } : deps.retry
  try {
    return await withRetries(
      policy,
      (error) => classifyGitHubError(error),
      attempt,
      (error, n, waitMs) =>
        deps.onRetry?.(
          `GitHub: attempt ${n} to ${doing} failed (${asHttpError(error).status ?? 'no answer'}: ${serverMessage(error, deps.redact)}); retrying in ${(waitMs / 1000).toFixed(1)} s.`
        )
    )
  } catch (error) {
    throw new GitHubError(describeGitHubError(error, doing, target, deps.redact, permission), asHttpError(error).status)
  }
}
