/**
 * The run's housekeeping with the job token (`job-token`, default `${{ github.token }}`): the alert
 * issue in the repository that runs the workflow, and keeping a public repository's schedule
 * alive. None of it is on the token's path: the lookups start with the pre-spend reads, the writes
 * come after the store or the rescue, every request is bounded, and a failure is one sentence for
 * a warning or a notice — never an exception, never a change of the run's outcome.
 */
import type { Octokit } from '@octokit/rest'
import { ALERT_LABEL, type AlertAction, type OpenAlert } from '../alert.js'
import { errorMessage } from '../errors.js'
import { within } from '../retry.js'
import { asHttpError } from './errors.js'

interface RepoRef {
  owner: string
  repo: string
}

/** The workflow this run belongs to, from GITHUB_WORKFLOW_REF (`owner/repo/.github/workflows/file.yml@ref`). */
interface WorkflowRef extends RepoRef {
  /** `rotate.yml`: what the workflows API takes for its id. */
  file: string
}

export function parseWorkflowRef(value: string | undefined): WorkflowRef | undefined {
  const m = /^([^/\s]+)\/([^/\s]+)\/((?:[^@\s]*\/)?([^/@\s]+\.ya?ml))@\S+$/.exec(value ?? '')
  if (!m?.[1] || !m[2] || !m[4]) return undefined
  return { owner: m[1], repo: m[2], file: m[4] }
}

/** A housekeeping request that did not work, in words (for a warning or a notice). */
class HousekeepingError extends Error {}

/** Whether a run's repository is public, from the event payload (`repository.private` / `visibility`). */
export function publicFromEvent(payload: unknown): boolean | undefined {
  const repository = (payload as { repository?: { private?: unknown; visibility?: unknown } } | null)?.repository
  if (!repository) return undefined
  if (repository.visibility === 'public' || repository.private === false) return true
  if (repository.visibility === 'private' || repository.visibility === 'internal' || repository.private === true) return false
  return undefined
}

const ISSUES_WRITE =
  "the job token lacks 'issues: write': give the job `permissions: issues: write` (the README's workflow does), or set `alert: none`"

/** What a failed issues request means for a person. */
function issuesProblem(error: unknown, doing: string): string {
  const e = asHttpError(error)
  const accepted = e.response?.headers?.['x-accepted-github-permissions']
  switch (e.status) {
    case 403:
      return `Could not ${doing}: ${ISSUES_WRITE}${typeof accepted === 'string' && accepted ? ` (GitHub asks for ${accepted.slice(0, 80)})` : ''}.`
    case 404:
      return `Could not ${doing}: the job token cannot see this repository (check 'job-token'), or issues are off.`
    case 410:
      return `Could not ${doing}: issues are disabled in this repository; enable them (Settings → General → Features) or set \`alert: none\`.`
    case 401:
      return `Could not ${doing}: 'job-token' is invalid or expired.`
    case undefined:
      return `Could not ${doing}: GitHub did not answer (${errorMessage(error).slice(0, 120)}).`
    default:
      return `Could not ${doing}: GitHub answered ${e.status}.`
  }
}

/** Pages of open alert issues looked through for this secret's (100 a page). */
const ALERT_PAGES = 10

export class Housekeeping {
  constructor(
    private readonly octokit: Octokit,
    private readonly repo: RepoRef,
    private readonly timeoutMs: number
  ) {}

  private request(route: string, params: Record<string, unknown>) {
    return this.octokit.request(route, { ...this.repo, ...params, request: { signal: AbortSignal.timeout(this.timeoutMs) } })
  }

  /**
   * The open alert of the secret whose marker is given: the REST issues list with the label (the
   * search API's index lags, so back-to-back runs would open duplicates). Pull requests skipped.
   */
  async findAlert(marker: string): Promise<OpenAlert | undefined> {
    try {
      // One label for every secret's alert: a repository that rotates many accounts may have more
      // than a page of them open. Page on (up to ALERT_PAGES) until this secret's is found.
      for (let page = 1; page <= ALERT_PAGES; page++) {
        const { data } = await this.request('GET /repos/{owner}/{repo}/issues', {
          state: 'open',
          labels: ALERT_LABEL,
          per_page: 100,
          page,
          sort: 'created',
          direction: 'asc'
        })
        const items = Array.isArray(data) ? (data as Array<{ number?: unknown; body?: unknown; pull_request?: unknown }>) : []
        const found = items.find((item) => !item.pull_request && typeof item.body === 'string' && item.body.includes(marker))
        if (found && typeof found.number === 'number') return { number: found.number, body: String(found.body) }
        if (items.length < 100) return undefined
      }
      // Not found in ALERT_PAGES × 100 open alerts: opening another is the lesser harm.
      return undefined
    } catch (error) {
      throw new HousekeepingError(issuesProblem(error, 'look for an open alert issue'))
    }
  }

  /** Does what `decideAlert` decided; returns what was done, for the log and the summary. */
  async apply(action: AlertAction): Promise<string | undefined> {
    const doing = action.kind === 'create' ? 'open the alert issue' : `update alert issue #${action.kind === 'none' ? 0 : action.number}`
    try {
      switch (action.kind) {
        case 'none':
          return undefined
        case 'create': {
          const { data } = await this.request('POST /repos/{owner}/{repo}/issues', {
            title: action.title,
            body: action.body,
            labels: action.labels
          })
          const created = data as { number?: unknown; html_url?: unknown }
          return `opened alert issue #${String(created.number)}${typeof created.html_url === 'string' ? ` (${created.html_url})` : ''}`
        }
        case 'update':
          await this.request('PATCH /repos/{owner}/{repo}/issues/{issue_number}', {
            issue_number: action.number,
            title: action.title,
            body: action.body
          })
          if (action.comment) {
            await this.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
              issue_number: action.number,
              body: action.comment
            })
          }
          return `updated alert issue #${action.number}${action.comment ? ' (with a comment: the diagnosis changed)' : ''}`
        case 'close':
          await this.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
            issue_number: action.number,
            body: action.comment
          })
          await this.request('PATCH /repos/{owner}/{repo}/issues/{issue_number}', {
            issue_number: action.number,
            state: 'closed',
            state_reason: 'completed'
          })
          return `closed alert issue #${action.number}: healthy again`
      }
    } catch (error) {
      throw new HousekeepingError(issuesProblem(error, doing))
    }
  }

  /** Whether the repository is public, asked of GitHub when the event did not say. */
  async isPublic(): Promise<boolean> {
    const { data } = await this.request('GET /repos/{owner}/{repo}', {})
    const repo = data as { private?: unknown; visibility?: unknown }
    return repo.visibility === 'public' || repo.private === false
  }

  /**
   * Re-enables this workflow, which keeps a public repository's schedule from being disabled after
   * 60 days without activity (keepalive-workflow v2 does the same; see the README).
   */
  async enableWorkflow(file: string): Promise<void> {
    try {
      await this.request('PUT /repos/{owner}/{repo}/actions/workflows/{workflow_id}/enable', { workflow_id: file })
    } catch (error) {
      const e = asHttpError(error)
      throw new HousekeepingError(
        e.status === 403
          ? "Could not keep the schedule alive: the job token lacks 'actions: write'. Give the job `permissions: actions: write` (a public repository's scheduled workflows stop after 60 days without activity; this run re-enables its own workflow to prevent that)."
          : e.status === 404
            ? `Could not keep the schedule alive: GitHub does not know the workflow ${file} here (404).`
            : `Could not keep the schedule alive: ${e.status === undefined ? `GitHub did not answer (${errorMessage(error).slice(0, 120)})` : `GitHub answered ${e.status}`}.`
      )
    }
  }
}

/** What the run's housekeeping needs to know before the run. */
export interface HousekeepingPlan {
  /** Undefined without a job token or without GITHUB_REPOSITORY. */
  housekeeping: Housekeeping | undefined
  /** `alert: issue`, and the described secret the alert belongs to. */
  alertFor: string | undefined
  /** GITHUB_EVENT_NAME and the event payload. */
  event: { name: string; payload: unknown }
  workflow: WorkflowRef | undefined
  /** The longest the writes after the run may take. */
  finishWithinMs: number
}

interface Say {
  info(message: string): void
  notice(message: string): void
  warning(message: string): void
}

/** What the housekeeping did, for the job summary. */
export interface HousekeepingDone {
  alert: string | undefined
  schedule: string | undefined
}

type Settled<T> = { ok: T } | { error: string }
const settle = <T>(work: Promise<T>): Promise<Settled<T>> =>
  work.then(
    (ok) => ({ ok }),
    (error: unknown) => ({ error: error instanceof HousekeepingError ? error.message : errorMessage(error) })
  )

/**
 * Starts the lookups now — the open alert, whether the schedule needs keeping alive (and keeps it)
 * — so that they travel with the pre-spend reads; `finish` writes the alert once the run's outcome
 * is known. Nothing here throws, and nothing waits longer than `finishWithinMs` at the end.
 */
export function startHousekeeping(
  plan: HousekeepingPlan,
  say: Say
): { finish: (decide: (open: OpenAlert | undefined) => AlertAction, failed: boolean) => Promise<HousekeepingDone> } {
  const { housekeeping, alertFor } = plan
  const lookup = housekeeping && alertFor ? settle(housekeeping.findAlert(alertFor)) : undefined
  const schedule =
    housekeeping && plan.event.name === 'schedule' && plan.workflow
      ? settle(
          (async () => {
            const file = plan.workflow?.file ?? ''
            const isPublic = publicFromEvent(plan.event.payload) ?? (await housekeeping.isPublic().catch(() => undefined))
            // Private repositories keep their schedules: no call there.
            if (isPublic !== true) return undefined
            await housekeeping.enableWorkflow(file)
            return `kept alive: this run re-enabled ${file}, so that 60 days without activity do not switch the schedule off`
          })()
        )
      : undefined
  return {
    async finish(decide, failed) {
      const done: HousekeepingDone = { alert: undefined, schedule: undefined }
      const kept = schedule
        ? await within(schedule, plan.finishWithinMs, { error: 'Could not keep the schedule alive: no answer in time.' })
        : undefined
      if (kept && 'ok' in kept && kept.ok) {
        done.schedule = kept.ok
        say.info(`Schedule ${kept.ok}.`)
      } else if (kept && 'error' in kept) {
        done.schedule = kept.error
        say.notice(kept.error)
      }
      if (!alertFor) return done
      if (!housekeeping || !lookup) {
        if (failed) {
          done.alert = "not written: 'job-token' is empty (or GITHUB_REPOSITORY is not set)"
          say.warning(
            `The alert issue was not written: 'job-token' is empty (or GITHUB_REPOSITORY is not set). Give it the job's token, or set \`alert: none\`.`
          )
        }
        return done
      }
      const found = await within(lookup, plan.finishWithinMs, { error: 'Could not look for an open alert issue: no answer in time.' })
      if ('error' in found) {
        // Without the lookup no issue is opened: a second one for the same secret is worse than none.
        done.alert = found.error
        say.warning(`${found.error} No alert issue was opened or closed by this run.`)
        return done
      }
      let action: AlertAction
      try {
        action = decide(found.ok)
      } catch (error) {
        // Never expected (the issue's state is checked as it is read); still never the run's outcome.
        done.alert = `not written: ${errorMessage(error)}`
        say.warning(`The alert issue was not written: ${errorMessage(error)}.`)
        return done
      }
      const applied = await within(settle(housekeeping.apply(action)), plan.finishWithinMs, {
        error: 'Could not write the alert issue: no answer in time.'
      })
      if ('error' in applied) {
        done.alert = applied.error
        say.warning(applied.error)
      } else if (applied.ok) {
        done.alert = applied.ok
        say.info(`Alert: ${applied.ok}.`)
      }
      return done
    }
  }
}
