/**
 * The GitHub stand-in's shared types: what a test configures (tokens, repositories, workflows,
 * runs, issues) and reads back (secrets, writes, issues, workflows). The façade (github.ts) and its
 * parts import them from here, so that no part needs the façade; github.ts re-exports them.
 */
export interface TokenGrant {
  repoSecrets?: boolean
  envSecrets?: boolean
  orgSecrets?: boolean
  /** `actions: read`: workflow runs and workflows of a private repository (public ones need no permission). */
  actionsRead?: boolean
  /** `actions: write` (implies read): enable and disable a workflow. */
  actionsWrite?: boolean
  /** `issues: read` lists and reads issues of a private repository; `write` also creates, edits and comments. */
  issues?: 'read' | 'write'
  /** `actions_variables` ("Variables"): `read` lists and reads a repository's variables; `write` also creates, updates and deletes. */
  variables?: 'read' | 'write'
  /** The `user.login` of what this token creates (issues, comments); default 'github-actions[bot]' for DEMO_JOB_TOKEN, 'octocat' otherwise. */
  login?: string
  /**
   * The token expires (a personal access token with an expiry): every answer to a request with it,
   * errors included (but not a 401), carries `GitHub-Authentication-Token-Expiration`. A number (ms)
   * is sent as `YYYY-MM-DD HH:MM:SS UTC`; a string verbatim (GitHub also sends `… +0000`).
   */
  expiresAt?: number | string
  /** 'owner/name' the token can see; default all repositories. */
  repos?: string[]
}

export interface RepoSpec {
  owner: string
  name: string
  id: number
  /** Environments of this repository; default: the server's `environments` option. */
  environments?: string[]
  /** 'oldowner/oldname' before a transfer or rename: `/repos/oldowner/oldname…` redirects to `/repositories/{id}…`. */
  transferredFrom?: string
  /** Default 'private'. In a public repository any token that can see it reads issues, workflows and runs without a permission. */
  visibility?: 'public' | 'private' | 'internal'
  /** Default true; false: every issues route answers 410 "Issues are disabled for this repo". */
  hasIssues?: boolean
  /** The repository's workflows; default [DEFAULT_WORKFLOW] (.github/workflows/rotate.yml, id 161335, active). */
  workflows?: WorkflowSpec[]
}

/** GitHub's states of a workflow; scheduled workflows of a public repository fall into `disabled_inactivity` after 60 days without activity. */
export type WorkflowState = 'active' | 'deleted' | 'disabled_fork' | 'disabled_inactivity' | 'disabled_manually'

/** A workflow of a repository (`RepoSpec.workflows`). */
export interface WorkflowSpec {
  id: number
  /** e.g. '.github/workflows/rotate.yml'; its last segment is the file name that stands for the id in the routes. */
  path: string
  /** Default: the path, as GitHub names a workflow without `name:`. */
  name?: string
  /** Default 'active'. */
  state?: WorkflowState
}

/** A workflow, as `workflow()` returns it. */
export interface WorkflowRecord {
  id: number
  path: string
  name: string
  state: WorkflowState
  /** now() of each successful `PUT …/enable`, in order. */
  enableCalls: number[]
  /** now() of each successful `PUT …/disable`, in order. */
  disableCalls: number[]
}

/** A workflow run, as added with `addRun`. */
export interface WorkflowRunSpec {
  /** The run id (GITHUB_RUN_ID); answered as a number when it is one. */
  id: number | string
  /** When the run was queued (ms): `created_at`. */
  createdAt: number
  /** When this attempt started (ms): `run_started_at`; default `createdAt`. */
  runStartedAt?: number
  /** `run_attempt`, default 1. */
  attempt?: number
  /** `event`, default 'workflow_dispatch'. */
  event?: string
}

/** Why an issue is in its state (GitHub's `state_reason`). */
export type IssueStateReason = 'completed' | 'not_planned' | 'duplicate' | 'reopened'

/** A comment on an issue, as `issues()` returns it. */
interface IssueCommentRecord {
  id: number
  body: string
  /** The `user.login` of its author. */
  login: string
  /** ms */
  createdAt: number
  updatedAt: number
}

/** An issue (or a pull request: `pullRequest`), as `issues()` returns it. */
export interface IssueRecord {
  number: number
  id: number
  title: string
  body: string | null
  state: 'open' | 'closed'
  stateReason: IssueStateReason | null
  /** Label names, as the repository's labels spell them. */
  labels: string[]
  /** The `user.login` of its author. */
  login: string
  pullRequest: boolean
  /** ms */
  createdAt: number
  updatedAt: number
  closedAt: number | null
  /** In the order they were made. */
  comments: IssueCommentRecord[]
}

/** An issue (or pull request) seeded with `addIssue`. */
export interface IssueSeed {
  title: string
  body?: string | null
  /** Names; labels the repository lacks are created. */
  labels?: string[]
  /** Default 'open'; 'closed' is closed at `createdAt`, as completed. */
  state?: 'open' | 'closed'
  /** A pull request: listed by the issues routes with a `pull_request` key. */
  pullRequest?: boolean
  /** The author's login; default 'octocat'. */
  login?: string
  /** ms; default now(). */
  createdAt?: number
}

export type SecretScope = { repo: string } | { repo: string; environment: string } | { org: string }

export type OrgVisibility = 'all' | 'private' | 'selected'

export interface StoredSecret {
  /** The decrypted plaintext. */
  value: string
  created_at: string
  updated_at: string
  visibility?: OrgVisibility
  selected_repository_ids?: number[]
}

/** A repository variable, as `variable()` returns it: its value is not a secret. */
export interface StoredVariable {
  value: string
  created_at: string
  updated_at: string
}

export interface SecretWrite {
  scope: SecretScope
  /** Upper-case, as stored. */
  name: string
  value: string
  /** now() at write time. */
  at: number
}
