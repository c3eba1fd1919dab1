/**
 * This workflow run's times, for the queued-run check: repository and organization secrets are
 * read when a run is queued (`created_at`), so a secret updated after that was not in this run's
 * hands. Read with `job-token` (`actions: read` in a private repository). A failure without an
 * answer, a 5xx or a rate limit is retried (`retry`): for a provider that may revoke the whole
 * grant when a stale token comes back, no times means no spend (rotate.ts), so one bad answer must
 * not cost the night's rotation. A refusal (403, 404) is final: the check cannot be made.
 */
import type { Octokit } from '@octokit/rest'
import { classifyGitHubError } from './errors.js'
import type { RepoRef } from './targets.js'
import { withRetries, type RetryPolicy } from '../retry.js'

/** This workflow run, for the queued-run check: read with `job-token`. */
export interface RunRef extends RepoRef {
  runId: string
  /** GITHUB_RUN_ATTEMPT: 1 for a first attempt. */
  attempt: number
}

interface RunTimes {
  /** When the run was queued. */
  createdAt: Date
  /** When this attempt started. */
  runStartedAt: Date | undefined
  attempt: number
}

export type RunLookup = RunTimes | { unreadable: string }

const date = (value: unknown): Date | undefined => {
  const d = typeof value === 'string' ? new Date(value) : undefined
  return d && !Number.isNaN(d.getTime()) ? d : undefined
}

export async function readRunTimes(
  octokit: Octokit | undefined,
  run: RunRef | undefined,
  timeoutMs: number,
  retry?: RetryPolicy
): Promise<RunLookup> {
  if (!run) return { unreadable: 'GITHUB_RUN_ID or GITHUB_REPOSITORY is not set' }
  if (!octokit) return { unreadable: "'job-token' is empty" }
  try {
    const read = () =>
      octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}', {
        owner: run.owner,
        repo: run.repo,
        run_id: Number(run.runId),
        request: { signal: AbortSignal.timeout(timeoutMs) }
      })
    const { data } = retry ? await withRetries(retry, (error) => classifyGitHubError(error), read) : await read()
    const body = data as { created_at?: unknown; run_started_at?: unknown; run_attempt?: unknown }
    const createdAt = date(body.created_at)
    if (!createdAt) return { unreadable: 'the answer had no created_at' }
    const attempt = typeof body.run_attempt === 'number' && body.run_attempt > 0 ? body.run_attempt : run.attempt
    return { createdAt, runStartedAt: date(body.run_started_at), attempt }
  } catch (error) {
    const status = (error as { status?: unknown } | null)?.status
    // Server text is never quoted here: the status says enough.
    if (status === 403) return { unreadable: 'GitHub answered 403: the token cannot read this run (actions: read)' }
    if (status === 404) return { unreadable: 'GitHub answered 404: no such run, or the token cannot see it (actions: read)' }
    return { unreadable: typeof status === 'number' && status !== 500 ? `GitHub answered ${status}` : 'no answer' }
  }
}
