/**
 * The GitHub stand-in's state (a part of github.ts): repositories (by name, by id, by their name
 * before a transfer), the secret scopes (repository, environment, organization) each with a real
 * X25519 keypair (19-digit key ids in a deterministic sequence per server) and its secrets (names
 * case-insensitive, stored upper-case, GitHub's name rules), each repository's variables (the same
 * name rules), workflows and workflow runs, the log
 * of writes, each repository's issues (pull requests among them: they share the numbers) and
 * labels. Nothing over HTTP (routes.ts); it lives as long as the server.
 */
import sodium from 'libsodium-wrappers'
import type {
  IssueStateReason,
  RepoSpec,
  SecretScope,
  SecretWrite,
  StoredSecret,
  StoredVariable,
  TokenGrant,
  WorkflowRunSpec,
  WorkflowState
} from './types.js'
import { DEFAULT_WORKFLOW } from './events.js'

interface KeyState {
  keyId: string
  publicKey: Uint8Array
  privateKey: Uint8Array
  key: string
}

export interface ScopeState {
  kind: 'repo' | 'env' | 'org'
  /** Canonical scope (names as configured). */
  scope: SecretScope
  /** For repo/env scopes. */
  repo?: RepoSpec
  /** For org scopes: the canonical org login. */
  org?: string
  /** URL path of the scope's secrets collection (without prefix), e.g. /repos/acme/crm-sync/actions/secrets */
  collectionPath: string
  keys: KeyState
  secrets: Map<string, StoredSecret>
}

/** A label of a repository, created by name when an issue first uses it. */
export interface LabelState {
  id: number
  name: string
  color: string
  description: string | null
}

export interface CommentState {
  id: number
  body: string
  login: string
  createdAt: number
  updatedAt: number
}

/** An issue or a pull request (they share the repository's numbers, and the issues routes serve both). */
export interface IssueState {
  id: number
  number: number
  title: string
  body: string | null
  state: 'open' | 'closed'
  stateReason: IssueStateReason | null
  labels: LabelState[]
  login: string
  pullRequest: boolean
  createdAt: number
  updatedAt: number
  closedAt: number | null
  closedBy: string | null
  comments: CommentState[]
}

/** A repository's issues (in number order) and labels (by lower-case name). */
export interface IssueBoard {
  issues: IssueState[]
  labels: Map<string, LabelState>
}

export interface WorkflowEntry {
  id: number
  path: string
  name: string
  state: WorkflowState
  createdAt: number
  updatedAt: number
  /** now() of each successful enable / disable. */
  enableCalls: number[]
  disableCalls: number[]
}

export interface RunRecord {
  spec: WorkflowRunSpec
  /** `run_number`: the order in which runs were added to the repository. */
  number: number
}

export interface GitHubStore {
  now: () => number
  tokens: Record<string, TokenGrant>
  repositories: RepoSpec[]
  organizations: string[]
  repoByName: Map<string, RepoSpec>
  repoById: Map<number, RepoSpec>
  /** Old 'owner/name' (lower-case) of transferred or renamed repositories; a current name wins. */
  movedFrom: Map<string, RepoSpec>
  /** By scopeKey(). */
  scopes: Map<string, ScopeState>
  /** Workflow runs per repository ('owner/name', lower-case), by id (as a string). */
  runs: Map<string, Map<string, RunRecord>>
  /** Every successful PUT, decrypted, in order. */
  writes: SecretWrite[]
  /** The repository's variables by name (upper-case), created empty on first use. */
  variables(repo: RepoSpec): Map<string, StoredVariable>
  /** The repository's workflow with that id or file name (the last segment of its path), or undefined. */
  workflow(repo: RepoSpec, idOrFile: string | number): WorkflowEntry | undefined
  /** The repository's issues and labels (created empty on first use). */
  issueBoard(repo: RepoSpec): IssueBoard
  /** The repository's label of that name (case-insensitive), created (grey, no description) when it has none. */
  label(board: IssueBoard, name: string): LabelState
  /** The next issue or pull request of the repository: its number, and a server-wide id. */
  nextIssue(board: IssueBoard): { id: number; number: number }
  /** A server-wide comment id. */
  nextCommentId(): number
  /** A fresh keypair with the next key id. */
  newKeys(): KeyState
  scopeKey(scope: SecretScope): string
  /** Throws for an unknown scope. */
  mustScope(scope: SecretScope): ScopeState
  orgRepos(org: string): RepoSpec[]
}

export const lc = (s: string): string => s.toLowerCase()

/** In a public repository any token that can see it reads without the permission, as on GitHub. */
export const isPublic = (repo: RepoSpec): boolean => repo.visibility === 'public'

export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

const NAME_RULES =
  'Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_). Spaces are not allowed. Must start with a letter ([a-z], [A-Z]) or underscores (_).'

/** GitHub's complaint about a secret name, or undefined when it is valid. */
export function validName(name: string): string | undefined {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return NAME_RULES
  if (/^GITHUB_/i.test(name)) return 'Secret names must not start with GITHUB_.'
  return undefined
}

/** Call after `await sodium.ready`. */
export function createStore(options: {
  now: () => number
  tokens: Record<string, TokenGrant>
  repositories: RepoSpec[]
  environments: string[]
  organizations: string[]
}): GitHubStore {
  const { now, tokens, repositories, organizations } = options
  const defaultEnvironments = options.environments

  let keySeq = 0
  const newKeys = (): KeyState => {
    const pair = sodium.crypto_box_keypair()
    keySeq += 1
    return {
      // 19-digit numeric-looking ids, like GitHub's; deterministic sequence per server.
      keyId: String(3380204578043523366n + BigInt(keySeq) * 7919n),
      publicKey: pair.publicKey,
      privateKey: pair.privateKey,
      key: sodium.to_base64(pair.publicKey, sodium.base64_variants.ORIGINAL)
    }
  }

  const repoByName = new Map<string, RepoSpec>()
  const scopes = new Map<string, ScopeState>()
  for (const repo of repositories) {
    const full = `${repo.owner}/${repo.name}`
    repoByName.set(lc(full), repo)
    scopes.set(`repo:${lc(full)}`, {
      kind: 'repo',
      scope: { repo: full },
      repo,
      collectionPath: `/repos/${full}/actions/secrets`,
      keys: newKeys(),
      secrets: new Map()
    })
    for (const environment of repo.environments ?? defaultEnvironments) {
      scopes.set(`env:${lc(full)}:${lc(environment)}`, {
        kind: 'env',
        scope: { repo: full, environment },
        repo,
        collectionPath: `/repos/${full}/environments/${encodeURIComponent(environment)}/secrets`,
        keys: newKeys(),
        secrets: new Map()
      })
    }
  }
  for (const org of organizations) {
    scopes.set(`org:${lc(org)}`, {
      kind: 'org',
      scope: { org },
      org,
      collectionPath: `/orgs/${org}/actions/secrets`,
      keys: newKeys(),
      secrets: new Map()
    })
  }

  const scopeKey = (scope: SecretScope): string => {
    if ('org' in scope) return `org:${lc(scope.org)}`
    if ('environment' in scope) return `env:${lc(scope.repo)}:${lc(scope.environment)}`
    return `repo:${lc(scope.repo)}`
  }
  const movedFrom = new Map<string, RepoSpec>()
  for (const repo of repositories) {
    if (repo.transferredFrom !== undefined && !repoByName.has(lc(repo.transferredFrom))) movedFrom.set(lc(repo.transferredFrom), repo)
  }

  // Server-wide sequences for ids of the sizes GitHub uses, deterministic per server.
  let issueSeq = 2_300_000_000
  let commentSeq = 1_900_000_000
  let labelSeq = 5_100_000_000
  const boards = new Map<string, IssueBoard>()
  const variables = new Map<string, Map<string, StoredVariable>>()
  const workflows = new Map<string, WorkflowEntry[]>()
  const createdAt = now()
  for (const repo of repositories) {
    workflows.set(
      lc(`${repo.owner}/${repo.name}`),
      (repo.workflows ?? [DEFAULT_WORKFLOW]).map((spec) => ({
        id: spec.id,
        path: spec.path,
        // A workflow without a `name:` is named by its path on GitHub.
        name: spec.name ?? spec.path,
        state: spec.state ?? 'active',
        createdAt,
        updatedAt: createdAt,
        enableCalls: [],
        disableCalls: []
      }))
    )
  }

  return {
    now,
    tokens,
    repositories,
    organizations,
    repoByName,
    repoById: new Map<number, RepoSpec>(repositories.map((r) => [r.id, r])),
    movedFrom,
    scopes,
    runs: new Map(),
    writes: [],
    variables(repo) {
      const key = lc(`${repo.owner}/${repo.name}`)
      let found = variables.get(key)
      if (!found) {
        found = new Map()
        variables.set(key, found)
      }
      return found
    },
    workflow(repo, idOrFile) {
      const list = workflows.get(lc(`${repo.owner}/${repo.name}`)) ?? []
      const key = String(idOrFile)
      // GitHub takes the id or the file name in place of `workflow_id`.
      return /^\d+$/.test(key) ? list.find((w) => w.id === Number(key)) : list.find((w) => w.path.split('/').at(-1) === key)
    },
    issueBoard(repo) {
      const key = lc(`${repo.owner}/${repo.name}`)
      let board = boards.get(key)
      if (!board) {
        board = { issues: [], labels: new Map() }
        boards.set(key, board)
      }
      return board
    },
    label(board, name) {
      let label = board.labels.get(lc(name))
      if (!label) {
        labelSeq += 1
        // What GitHub gives a label created by naming it on an issue: grey, no description.
        label = { id: labelSeq, name, color: 'ededed', description: null }
        board.labels.set(lc(name), label)
      }
      return label
    },
    nextIssue(board) {
      issueSeq += 1
      return { id: issueSeq, number: board.issues.length + 1 }
    },
    nextCommentId() {
      commentSeq += 1
      return commentSeq
    },
    newKeys,
    scopeKey,
    mustScope(scope) {
      const state = scopes.get(scopeKey(scope))
      if (!state) throw new Error(`sandbox GitHub: unknown secret scope ${JSON.stringify(scope)}`)
      return state
    },
    orgRepos: (org) => repositories.filter((r) => lc(r.owner) === lc(org))
  }
}
