/**
 * The workflow the sandbox runs the action in (DEFAULT_WORKFLOW) and the event payloads GitHub
 * writes to GITHUB_EVENT_PATH for it, to pass as `runAction`'s `event` (the GitHub stand-in's
 * `scheduleEvent(repo)` / `dispatchEvent(repo)` fill in the repository's JSON). A module of its own
 * so that the runner knows the workflow without loading the GitHub stand-in (and libsodium).
 *
 * Sources: "Events that trigger workflows" (https://docs.github.com/actions/reference/events-that-trigger-workflows)
 * and "Webhook events and payloads" for `workflow_dispatch`; `repository` is in a scheduled run's
 * payload since the changelog of 2022-09-27 (before, the schedule alone: octokit/webhooks#141 —
 * pass your own payload for that case).
 */
import type { WorkflowSpec } from './types.js'

/**
 * The workflow every repository of the GitHub stand-in has unless its spec lists its own: the one
 * the runner's GITHUB_WORKFLOW / GITHUB_WORKFLOW_REF name and the workflow runs' JSON points at.
 */
export const DEFAULT_WORKFLOW: Readonly<Required<WorkflowSpec>> = {
  id: 161335,
  path: '.github/workflows/rotate.yml',
  name: 'Rotate amoCRM token',
  state: 'active'
}

/** The cron of the README's workflow: once a day, off the full hour. */
const DEFAULT_SCHEDULE = '17 3 * * *'

/** What `runAction`'s `event` takes: GITHUB_EVENT_NAME and the content of GITHUB_EVENT_PATH. */
export interface ActionEvent {
  name: string
  payload: Record<string, unknown>
}

/**
 * The `schedule` event of `repository` (the repository's JSON, with `private` and `visibility`):
 * `{ schedule: '<the cron that fired>', workflow: '<path of the workflow file>', repository }`.
 */
export function scheduleEvent(repository: Record<string, unknown>, options: { cron?: string; workflow?: string } = {}): ActionEvent {
  return {
    name: 'schedule',
    payload: { schedule: options.cron ?? DEFAULT_SCHEDULE, workflow: options.workflow ?? DEFAULT_WORKFLOW.path, repository }
  }
}

/**
 * The `workflow_dispatch` event of `repository`, started by `sender` (default 'acme-bot', the
 * runner's GITHUB_ACTOR) on `ref`: `{ inputs, ref, repository, sender, workflow }`.
 */
export function dispatchEvent(
  repository: Record<string, unknown>,
  options: { inputs?: Record<string, string>; ref?: string; sender?: string; workflow?: string } = {}
): ActionEvent {
  const sender = options.sender ?? 'acme-bot'
  return {
    name: 'workflow_dispatch',
    payload: {
      inputs: { ...options.inputs },
      ref: options.ref ?? 'refs/heads/main',
      repository,
      sender: { login: sender, type: sender.endsWith('[bot]') ? 'Bot' : 'User' },
      workflow: options.workflow ?? DEFAULT_WORKFLOW.path
    }
  }
}
