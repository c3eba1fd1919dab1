/**
 * GitHub REST API stand-in on 127.0.0.1 (port 0), under an optional path prefix ('' like
 * api.github.com, '/api/v3' like GitHub Enterprise Server): the secrets, repositories, workflows,
 * workflow runs and issues the action uses. What it emulates and what it deliberately does not:
 * test/README.md, the stand-ins table.
 *
 * This file is the public API (`startGitHub`, `GitHubServer`). Its parts: types.ts (the types
 * they share), store.ts (the state), replies.ts (GitHub's headers, errors and pagination),
 * routes.ts (authentication, repository, workflow and run routes), secrets.ts, variables.ts and
 * issues.ts (their routes), events.ts (the default workflow and its event payloads). It imports them; none of them
 * imports it.
 *
 * Sources: the REST reference (https://docs.github.com/rest: secrets; workflows — "You can replace
 * workflow_id with the workflow file name" — and their states as @octokit/openapi-types carries
 * them; workflow runs — "Anyone with read access to the repository can use this endpoint" of a
 * public one); "Disabling and enabling a workflow" (a public repository's scheduled workflows are
 * disabled after 60 days without activity); a token's expiry header: GitHub's changelog
 * 2021-07-26 and github/roadmap#203, its two formats as clients met them (google/go-github#2031 and
 * #2650, WebKit/WebKit#53897). issues.ts and events.ts give theirs.
 */
import sodium from 'libsodium-wrappers'
import { startCore, withTunables } from '../http.js'
import type { FaultHook, RequestInfo } from '../faults.js'
import { createReplies } from './replies.js'
import { gitHubHandler } from './routes.js'
import { dispatchEvent, scheduleEvent, type ActionEvent } from './events.js'
import { createStore, isoSeconds, lc, validName, type IssueState, type RunRecord, type ScopeState, type WorkflowEntry } from './store.js'
import { DEMO_GITHUB_TOKEN, DEMO_JOB_TOKEN } from '../tokens.js'
import type {
  IssueRecord,
  IssueSeed,
  OrgVisibility,
  RepoSpec,
  SecretScope,
  SecretWrite,
  StoredSecret,
  StoredVariable,
  TokenGrant,
  WorkflowRecord,
  WorkflowRunSpec,
  WorkflowState
} from './types.js'

export { DEMO_GITHUB_TOKEN, DEMO_JOB_TOKEN }
export type { IssueRecord } from './types.js'

export interface GitHubOptions {
  /** Path prefix of the API ('' default; '/api/v3' for GHES). */
  prefix?: string
  /**
   * Default: { [DEMO_GITHUB_TOKEN]: every secrets permission and `Variables: write`, [DEMO_JOB_TOKEN]: `actions: read` and
   * `issues: write` (what a private repository's workflow grants the job with the README's
   * `permissions:`) }, every repository.
   */
  tokens?: Record<string, TokenGrant>
  /** Default: acme/crm-sync (700001), acme/website (700002), acme/billing (700003). */
  repositories?: RepoSpec[]
  /** Environments of every repository that does not list its own. Default ['production']. */
  environments?: string[]
  /** Default ['acme']. An organization's repositories are those whose owner it is. */
  organizations?: string[]
  /** Clock for created_at/updated_at, writes[].at and the rate-limit reset. Default Date.now. */
  now?: () => number
  latencyMs?: number
  faults?: FaultHook
}

export interface GitHubServer {
  /** http://127.0.0.1:PORT + prefix: what GITHUB_API_URL would be. */
  readonly url: string
  /** http://127.0.0.1:PORT */
  readonly origin: string
  readonly prefix: string
  close(): Promise<void>
  faults: FaultHook | undefined
  latencyMs: number
  /** What a new connection costs before its first request is served (see Tunable). */
  connectMs: number
  /** The stored secret, decrypted (a copy), or undefined. Throws for an unknown scope. */
  secret(scope: SecretScope, name: string): StoredSecret | undefined
  /**
   * Seeds a secret directly (no request, not recorded in `writes`). `at` (ms, default now()) is its
   * updated_at, and its created_at when it is new. Throws for an unknown scope.
   */
  setSecret(
    scope: SecretScope,
    name: string,
    value: string,
    org?: { visibility?: OrgVisibility; selected_repository_ids?: number[] },
    at?: number
  ): void
  /** Adds (or replaces, same id) a workflow run of `repo` ('owner/name'), for `GET /repos/{o}/{r}/actions/runs/{id}`. Throws for an unknown repository. */
  addRun(repo: string, run: WorkflowRunSpec): void
  /** The scope's current public key. Throws for an unknown scope. */
  publicKey(scope: SecretScope): { key_id: string; key: string }
  /** Replaces the scope's keypair and key_id; returns the new public key. */
  rotateKey(scope: SecretScope): { key_id: string; key: string }
  /** Every request received, faulted ones included. */
  readonly requests: RequestInfo[]
  /** The most requests handled at once (arrival to answer sent or socket destroyed) since the start or `resetMaxInFlight()`. */
  readonly maxInFlight: number
  /** Restarts `maxInFlight` from the requests in flight now. */
  resetMaxInFlight(): void
  /** Every successful PUT, decrypted, in order. */
  readonly writes: SecretWrite[]
  /** The repository variable (a copy), or undefined; names case-insensitive. Throws for an unknown repository. */
  variable(repo: string, name: string): StoredVariable | undefined
  /** Seeds a repository variable directly (no request); `at` (ms, default now()) is its updated_at, and its created_at when it is new. Throws for an unknown repository. */
  setVariable(repo: string, name: string, value: string, at?: number): void
  /** The repository's issues and pull requests with their comments (copies), in number order. Throws for an unknown repository. */
  issues(repo: string): IssueRecord[]
  /** Seeds an issue or pull request (no request) with the repository's next number; returns it. Throws for an unknown repository. */
  addIssue(repo: string, seed: IssueSeed): IssueRecord
  /** The workflow with that id or file name ('rotate.yml'), a copy. Throws for an unknown repository or workflow. */
  workflow(repo: string, idOrFile: string | number): WorkflowRecord
  /** Sets a workflow's state without a request (e.g. 'disabled_inactivity', as GitHub does after 60 idle days). Throws like `workflow`. */
  setWorkflowState(repo: string, idOrFile: string | number, state: WorkflowState): void
  /**
   * The `schedule` event GitHub sends a run of the repository's workflow (events.ts), with the
   * repository's JSON (`private`, `visibility`): pass it as `runAction`'s `event`. Throws for an
   * unknown repository.
   */
  scheduleEvent(repo: string, options?: { cron?: string; workflow?: string }): ActionEvent
  /** The `workflow_dispatch` event, likewise (`inputs`, `ref`, `sender`, `workflow`). */
  dispatchEvent(repo: string, options?: { inputs?: Record<string, string>; ref?: string; sender?: string; workflow?: string }): ActionEvent
}

export async function startGitHub(options: GitHubOptions = {}): Promise<GitHubServer> {
  await sodium.ready
  const prefix = (options.prefix ?? '').replace(/\/+$/, '')
  if (prefix !== '' && !prefix.startsWith('/')) throw new Error(`prefix must start with '/': ${prefix}`)
  const store = createStore({
    now: options.now ?? Date.now,
    tokens: options.tokens ?? {
      [DEMO_GITHUB_TOKEN]: { repoSecrets: true, envSecrets: true, orgSecrets: true, variables: 'write' },
      [DEMO_JOB_TOKEN]: { actionsRead: true, issues: 'write' }
    },
    repositories: (
      options.repositories ?? [
        { owner: 'acme', name: 'crm-sync', id: 700001 },
        { owner: 'acme', name: 'website', id: 700002 },
        { owner: 'acme', name: 'billing', id: 700003 }
      ]
    ).map((r) => ({ ...r })),
    environments: options.environments ?? ['production'],
    organizations: options.organizations ?? ['acme']
  })
  const { now, mustScope, repoByName, runs, newKeys, writes } = store
  let url = ''
  const replies = createReplies(store, () => url)
  const handler = gitHubHandler({ store, prefix, url: () => url, replies })

  const core = await startCore({
    ...(options.latencyMs !== undefined ? { latencyMs: options.latencyMs } : {}),
    ...(options.faults !== undefined ? { faults: options.faults } : {}),
    handler
  })
  url = `${core.origin}${prefix}`

  const publicKeyOf = (state: ScopeState) => ({ key_id: state.keys.keyId, key: state.keys.key })
  const mustRepo = (caller: string, repo: string): RepoSpec => {
    const spec = repoByName.get(lc(repo))
    if (!spec) throw new Error(`${caller}: unknown repository ${repo}`)
    return spec
  }
  const mustWorkflow = (caller: string, repo: string, idOrFile: string | number): WorkflowEntry => {
    const entry = store.workflow(mustRepo(caller, repo), idOrFile)
    if (!entry) throw new Error(`${caller}: ${repo} has no workflow ${idOrFile}`)
    return entry
  }
  const issueRecord = (issue: IssueState): IssueRecord => ({
    number: issue.number,
    id: issue.id,
    title: issue.title,
    body: issue.body,
    state: issue.state,
    stateReason: issue.stateReason,
    labels: issue.labels.map((label) => label.name),
    login: issue.login,
    pullRequest: issue.pullRequest,
    createdAt: issue.createdAt,
    updatedAt: issue.updatedAt,
    closedAt: issue.closedAt,
    comments: issue.comments.map((comment) => ({ ...comment }))
  })

  return withTunables<GitHubServer>(
    {
      url,
      origin: core.origin,
      prefix,
      close: () => core.close(),
      secret(scope, name) {
        const found = mustScope(scope).secrets.get(name.toUpperCase())
        if (!found) return undefined
        const copy: StoredSecret = { ...found }
        if (found.selected_repository_ids) copy.selected_repository_ids = [...found.selected_repository_ids]
        return copy
      },
      setSecret(scope, name, value, org, at) {
        const state = mustScope(scope)
        const nameProblem = validName(name)
        if (nameProblem) throw new Error(`setSecret: ${nameProblem}`)
        const upper = name.toUpperCase()
        const stamp = isoSeconds(at ?? now())
        const existing = state.secrets.get(upper)
        const stored: StoredSecret = { value, created_at: existing?.created_at ?? stamp, updated_at: stamp }
        if (state.kind === 'org') {
          stored.visibility = org?.visibility ?? 'private'
          if (stored.visibility === 'selected') stored.selected_repository_ids = [...(org?.selected_repository_ids ?? [])]
        }
        state.secrets.set(upper, stored)
      },
      addRun(repo, run) {
        const spec = mustRepo('addRun', repo)
        const key = lc(`${spec.owner}/${spec.name}`)
        const list = runs.get(key) ?? new Map<string, RunRecord>()
        runs.set(key, list)
        const number = list.get(String(run.id))?.number ?? list.size + 1
        list.set(String(run.id), { spec: { ...run }, number })
      },
      publicKey: (scope) => publicKeyOf(mustScope(scope)),
      rotateKey(scope) {
        const state = mustScope(scope)
        state.keys = newKeys()
        return publicKeyOf(state)
      },
      requests: core.requests,
      get maxInFlight() {
        return core.maxInFlight
      },
      resetMaxInFlight: () => core.resetMaxInFlight(),
      writes,
      variable(repo, name) {
        const found = store.variables(mustRepo('variable', repo)).get(name.toUpperCase())
        return found ? { ...found } : undefined
      },
      setVariable(repo, name, value, at) {
        const variables = store.variables(mustRepo('setVariable', repo))
        const nameProblem = validName(name)
        if (nameProblem) throw new Error(`setVariable: ${nameProblem}`)
        const stamp = isoSeconds(at ?? now())
        variables.set(name.toUpperCase(), { value, created_at: variables.get(name.toUpperCase())?.created_at ?? stamp, updated_at: stamp })
      },
      issues(repo) {
        return store.issueBoard(mustRepo('issues', repo)).issues.map(issueRecord)
      },
      addIssue(repo, seed) {
        const board = store.issueBoard(mustRepo('addIssue', repo))
        const at = seed.createdAt ?? now()
        const closed = seed.state === 'closed'
        const login = seed.login ?? 'octocat'
        const issue: IssueState = {
          ...store.nextIssue(board),
          title: seed.title,
          body: seed.body ?? null,
          state: closed ? 'closed' : 'open',
          stateReason: closed ? 'completed' : null,
          labels: [...new Set((seed.labels ?? []).map((name) => store.label(board, name)))],
          login,
          pullRequest: seed.pullRequest ?? false,
          createdAt: at,
          updatedAt: at,
          closedAt: closed ? at : null,
          closedBy: closed ? login : null,
          comments: []
        }
        board.issues.push(issue)
        return issueRecord(issue)
      },
      workflow(repo, idOrFile) {
        const entry = mustWorkflow('workflow', repo, idOrFile)
        return {
          id: entry.id,
          path: entry.path,
          name: entry.name,
          state: entry.state,
          enableCalls: [...entry.enableCalls],
          disableCalls: [...entry.disableCalls]
        }
      },
      setWorkflowState(repo, idOrFile, state) {
        mustWorkflow('setWorkflowState', repo, idOrFile).state = state
      },
      scheduleEvent: (repo, options) => scheduleEvent(replies.repoJson(mustRepo('scheduleEvent', repo)), options),
      dispatchEvent: (repo, options) => dispatchEvent(replies.repoJson(mustRepo('dispatchEvent', repo)), options)
    },
    core
  )
}
