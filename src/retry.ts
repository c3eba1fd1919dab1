/**
 * Retries with exponential backoff, shared by the token endpoint's client and GitHub's.
 *
 * Waits are short once the run is cancelled: the runner sends SIGINT, then SIGTERM a few seconds
 * later, then kills the process, and a run inside its critical section must finish its write first.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number
  /** The first wait; doubled for each further attempt, with jitter. */
  baseMs: number
  /** The longest wait honoured (Retry-After included). */
  maxWaitMs: number
  isCancelled: () => boolean
  sleep: (ms: number) => Promise<void>
  /** Once aborted, no further attempt is started (the one in flight decides). */
  signal?: AbortSignal
}

export interface RetryVerdict {
  retry: boolean
  /** A server's Retry-After, in milliseconds, when it sent one. */
  afterMs?: number
}

/** While cancelled, no wait is longer than this. */
export const CANCELLED_MAX_WAIT_MS = 250

export function backoffMs(policy: RetryPolicy, failedAttempts: number, afterMs?: number): number {
  const exponential = policy.baseMs * 2 ** (failedAttempts - 1)
  const jittered = exponential * (0.75 + Math.random() * 0.5)
  const wait = Math.min(policy.maxWaitMs, Math.max(afterMs ?? 0, jittered))
  return policy.isCancelled() ? Math.min(wait, CANCELLED_MAX_WAIT_MS) : wait
}

/**
 * Runs `operation` until it succeeds, `classify` says its error is final, or the attempts run out.
 * `operation` receives the attempt number (1-based). The last error is thrown as it was.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  classify: (error: unknown) => RetryVerdict,
  operation: (attempt: number) => Promise<T>,
  onRetry?: (error: unknown, attempt: number, waitMs: number) => void
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt)
    } catch (error) {
      const verdict = classify(error)
      if (!verdict.retry || attempt >= policy.attempts || policy.signal?.aborted) throw error
      const wait = backoffMs(policy, attempt, verdict.afterMs)
      onRetry?.(error, attempt, wait)
      await policy.sleep(wait)
      if (policy.signal?.aborted) throw error
    }
  }
}

/**
 * The first retry wait: 1000 ms, or TOKEN_ROTATION_BACKOFF_MS — for test rigs and soak runs only
 * (docs/development.md); runners and people use the default. The 1.1 name
 * (AMOCRM_TOKEN_ACTION_BACKOFF_MS) still works.
 */
export function backoffBaseMs(env: NodeJS.ProcessEnv): number {
  const text = env.TOKEN_ROTATION_BACKOFF_MS || env.AMOCRM_TOKEN_ACTION_BACKOFF_MS || ''
  const value = Number(text)
  return Number.isFinite(value) && value >= 0 && text !== '' ? value : 1000
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** `work`'s result, or `fallback` if `work` takes longer than `ms` (the timer is cleared either way). */
export function within<T>(work: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))
  return Promise.race([work, late]).finally(() => clearTimeout(timer))
}
