/**
 * GitHub REST API stand-in for Actions secrets, on 127.0.0.1 (port 0), under an optional path
 * prefix ('' like api.github.com, '/api/v3' like GitHub Enterprise Server).
 *
 * Emulates:
 * - Token authentication (`Authorization: token X` or `Bearer X`) with per-token grants: repo,
 *   environment and organization secrets permissions, `actions: read` (workflow runs) and the
 *   repositories the token can see. No header → 401 "Requires authentication"; unknown token → 401
 *   "Bad credentials"; repository not visible → 404 for everything under it; missing permission →
 *   403 "Resource not accessible by integration". The default tokens: DEMO_GITHUB_TOKEN (every
 *   secrets permission, no `actions: read`) and DEMO_JOB_TOKEN (the job's GITHUB_TOKEN:
 *   `actions: read` and `issues: write` — it can neither read nor write secrets).
 * - A personal access token's expiry (`expiresAt`): every answer to it but a 401 carries
 *   `GitHub-Authentication-Token-Expiration: 2027-01-07 10:00:00 UTC` (or the string given, for the
 *   `+0000` form GitHub also sends); App and job tokens have none. Sources: GitHub's changelog
 *   "Expiration options for personal access tokens" (2021-07-26) and the public roadmap issue
 *   github/roadmap#203 ("The time and date of expiration will be returned in the response
 *   header"); both formats as clients met them: google/go-github#2031 and #2650 ("tokens that
 *   include the timezone offset instead of the timezone"), WebKit/WebKit#53897 ("'YYYY-MM-DD
 *   HH:MM:SS UTC' or 'YYYY-MM-DD HH:MM:SS ±HHMM'").
 * - Repository visibility (`visibility`, default private): the repository JSON's `private` and
 *   `visibility` (an internal repository is `private: true`); in a public one any token that can
 *   see it reads runs without `actions: read`, as the REST reference says ("Anyone with read
 *   access to the repository can use this endpoint").
 * - `GET /repos/{o}/{r}` and `GET /repositories/{id}` (by id, as the redirect target); a
 *   transferred or renamed repository (`transferredFrom`): its old `/repos/{old}/{name}…` answers
 *   301 (GET/HEAD; 307 for other methods) with `Location: {url}/repositories/{id}…` and GitHub's
 *   JSON, and `/repositories/{id}/…` serves everything `/repos/{o}/{r}/…` does.
 * - `GET /repos/{o}/{r}/actions/runs/{id}` for runs added with `addRun` (404 otherwise).
 * - Workflows (`RepoSpec.workflows`, default DEFAULT_WORKFLOW: `.github/workflows/rotate.yml`, id
 *   161335, the one the runs' JSON names): `GET /repos/{o}/{r}/actions/workflows/{id or file name}`
 *   with its `state` (active, deleted, disabled_fork, disabled_inactivity, disabled_manually), `PUT
 *   …/enable` (→ active) and `…/disable` (→ disabled_manually) answering 204; an unknown workflow →
 *   404. Reading needs `actions: read` in a private repository (none in a public one: "Anyone with
 *   read access to the repository can use this endpoint"), enabling and disabling `actions: write`
 *   (`actionsWrite`); without: 403 with `X-Accepted-GitHub-Permissions: actions=read` /
 *   `actions=write`. Sources: the REST reference "REST API endpoints for workflows"
 *   (https://docs.github.com/rest/actions/workflows: "Get a workflow", "Enable a workflow" — "You
 *   can replace workflow_id with the workflow file name. For example, you could use main.yaml" —
 *   and "Disable a workflow") and the states of its description as @octokit/openapi-types carries
 *   them; "Disabling and enabling a workflow" (docs.github.com/actions): "In a public repository,
 *   scheduled workflows are automatically disabled when no repository activity has occurred in 60
 *   days". Tests read a workflow's state and the times of its enable calls with `workflow()` and
 *   set a state with `setWorkflowState()`.
 * - `scheduleEvent(repo)` / `dispatchEvent(repo)`: the payload GitHub writes to GITHUB_EVENT_PATH
 *   for a run of the repository's workflow (events.ts gives the sources), carrying this stand-in's
 *   JSON of the repository (`private`, `visibility`), to pass as `runAction`'s `event`.
 * - Issues (issues.ts says what exactly, with its sources): list with `state`, `labels`,
 *   `creator` and pagination, create (labels the repository lacks are created), get, update (close
 *   with `state_reason`, reopen), comments (list, create); pull requests listed among them with a
 *   `pull_request` key; 422 for a missing title or a body over 65,536 characters, 410 when the
 *   repository has issues turned off (`hasIssues: false`), 403 with `X-Accepted-GitHub-Permissions:
 *   issues=write` / `issues=read` without the permission. What a token creates is by its `login`.
 *   Tests read them with `issues(repo)` and seed them (pull requests too) with `addIssue`.
 * - public-key, list, get (metadata only), put (sealed box, validated and decrypted with a real
 *   X25519 keypair per scope), delete for repository, environment and organization secrets;
 *   `GET /orgs/{org}/actions/secrets/{name}/repositories` with `per_page` (default 30, max 100),
 *   `page`, `total_count` of all and a `Link` header like GitHub's.
 *   Names are case-insensitive (stored upper-case); owner, repository, environment and
 *   organization names are matched case-insensitively.
 * - JSON answers with GitHub's headers (`application/json; charset=utf-8`, `x-github-request-id`,
 *   `x-ratelimit-*` with a constant, never-exhausted budget), latency and faults (faults.ts),
 *   an injectable clock `now()` for `created_at`/`updated_at` (ISO 8601, seconds, `Z`).
 *
 * Deliberately not emulated: rate limiting and secondary limits (inject them with a status fault
 * and `x-ratelimit-*` / `retry-after` headers), pagination of other lists (the secrets lists
 * ignore `per_page`/`page`), conditional requests / ETags, Dependabot and Codespaces secrets,
 * variables, other workflow-run routes (list, jobs, logs, cancel), listing workflows, workflow
 * dispatches, the search API (the action finds its issue through the list), what issues.ts
 * leaves out, unauthenticated access to public repositories, a job token limited to its own
 * repository, `X-Accepted-GitHub-Permissions` on the secrets routes' 403s, the difference between
 * PAT and App error wording, anything else (404 "Not Found").
 *
 * Parts: store.ts (repositories, scopes and their keys, runs, workflows, writes, issues),
 * replies.ts (GitHub's headers, error bodies and pagination), routes.ts (prefix,
 * authentication, repository, workflow and run routes), secrets.ts (the secrets routes),
 * issues.ts (the issues routes), events.ts (the default workflow and its event payloads),
 * types.ts (the types they share with this file); this file holds the public API and imports its
 * parts, none of which imports it.
 */
import sodium from 'libsodium-wrappers'
import { startCore, withTunables } from '../http.js'
import type { FaultHook, RequestInfo } from '../faults.js'
import { createReplies } from './replies.js'
import { gitHubHandler } from './routes.js'
import { DEFAULT_WORKFLOW, dispatchEvent, scheduleEvent, type ActionEvent } from './events.js'
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
  TokenGrant,
  WorkflowRecord,
  WorkflowRunSpec,
  WorkflowState
} from './types.js'

export { DEMO_GITHUB_TOKEN, DEMO_JOB_TOKEN, DEFAULT_WORKFLOW, scheduleEvent, dispatchEvent, type ActionEvent }
export type {
  TokenGrant,
  RepoSpec,
  WorkflowState,
  WorkflowSpec,
  WorkflowRecord,
  WorkflowRunSpec,
  IssueStateReason,
  IssueCommentRecord,
  IssueRecord,
  IssueSeed,
  SecretScope,
  OrgVisibility,
  StoredSecret,
  SecretWrite
} from './types.js'

export interface GitHubOptions {
  /** Path prefix of the API ('' default; '/api/v3' for GHES). */
  prefix?: string
  /**
   * Default: { [DEMO_GITHUB_TOKEN]: every secrets permission, [DEMO_JOB_TOKEN]: `actions: read` and
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
      [DEMO_GITHUB_TOKEN]: { repoSecrets: true, envSecrets: true, orgSecrets: true },
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
