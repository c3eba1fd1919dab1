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
 *   `actions: read` only — it can neither read nor write secrets).
 * - `GET /repos/{o}/{r}` and `GET /repositories/{id}` (by id, as the redirect target); a
 *   transferred or renamed repository (`transferredFrom`): its old `/repos/{old}/{name}…` answers
 *   301 (GET/HEAD; 307 for other methods) with `Location: {url}/repositories/{id}…` and GitHub's
 *   JSON, and `/repositories/{id}/…` serves everything `/repos/{o}/{r}/…` does.
 * - `GET /repos/{o}/{r}/actions/runs/{id}` for runs added with `addRun` (404 otherwise).
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
 * variables, other workflow-run routes (list, jobs, logs, cancel), unauthenticated access to
 * public repositories, a job token limited to its own repository, the difference between PAT and
 * App error wording, anything else (404 "Not Found").
 */
import sodium from 'libsodium-wrappers'
import { json, startCore, withTunables } from './http.js'
import type { Incoming, Reply } from './http.js'
import type { FaultHook, RequestInfo } from './faults.js'
import { DEMO_JOB_TOKEN } from './tokens.js'

export { DEMO_JOB_TOKEN }

export interface TokenGrant {
  repoSecrets?: boolean
  envSecrets?: boolean
  orgSecrets?: boolean
  /** `actions: read`: workflow runs (`GET /repos/{o}/{r}/actions/runs/{id}`). */
  actionsRead?: boolean
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

export interface SecretWrite {
  scope: SecretScope
  /** Upper-case, as stored. */
  name: string
  value: string
  /** now() at write time. */
  at: number
}

export interface GitHubOptions {
  /** Path prefix of the API ('' default; '/api/v3' for GHES). */
  prefix?: string
  /** Default: { [DEMO_GITHUB_TOKEN]: every secrets permission, [DEMO_JOB_TOKEN]: actionsRead only }, every repository. */
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
}

export const DEMO_GITHUB_TOKEN = 'ghs_demo_write_token'

const DOCS = 'https://docs.github.com/rest'
const SECRETS_DOCS = 'https://docs.github.com/rest/actions/secrets'
const RUNS_DOCS = 'https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run'
const REDIRECT_DOCS = 'https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects'
const NAME_RULES =
  'Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_). Spaces are not allowed. Must start with a letter ([a-z], [A-Z]) or underscores (_).'

interface KeyState {
  keyId: string
  publicKey: Uint8Array
  privateKey: Uint8Array
  key: string
}

interface ScopeState {
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

/** `per_page` (default 30, 1..100) and `page` (default 1) of a list request, like GitHub. */
function pageParams(url: URL): { perPage: number; page: number } {
  const perPageRaw = Number.parseInt(url.searchParams.get('per_page') ?? '', 10)
  const pageRaw = Number.parseInt(url.searchParams.get('page') ?? '', 10)
  const perPage = Number.isFinite(perPageRaw) && perPageRaw >= 1 ? Math.min(perPageRaw, 100) : 30
  const page = Number.isFinite(pageRaw) && pageRaw >= 1 ? pageRaw : 1
  return { perPage, page }
}

/** GitHub's `Link` header (prev, next, last, first), or undefined when everything fits on one page. */
function linkHeader(base: string, perPage: number, page: number, total: number): string | undefined {
  const last = Math.max(1, Math.ceil(total / perPage))
  if (last === 1 && page === 1) return undefined
  const at = (n: number, rel: string) => `<${base}?per_page=${perPage}&page=${n}>; rel="${rel}"`
  const links: string[] = []
  if (page > 1) links.push(at(Math.min(page - 1, last), 'prev'))
  if (page < last) links.push(at(page + 1, 'next'), at(last, 'last'))
  if (page > 1) links.push(at(1, 'first'))
  return links.join(', ')
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

const BASE64_ORIGINAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

export async function startGitHub(options: GitHubOptions = {}): Promise<GitHubServer> {
  await sodium.ready
  const prefix = (options.prefix ?? '').replace(/\/+$/, '')
  if (prefix !== '' && !prefix.startsWith('/')) throw new Error(`prefix must start with '/': ${prefix}`)
  const now = options.now ?? Date.now
  const tokens: Record<string, TokenGrant> = options.tokens ?? {
    [DEMO_GITHUB_TOKEN]: { repoSecrets: true, envSecrets: true, orgSecrets: true },
    [DEMO_JOB_TOKEN]: { actionsRead: true }
  }
  const repositories: RepoSpec[] = (
    options.repositories ?? [
      { owner: 'acme', name: 'crm-sync', id: 700001 },
      { owner: 'acme', name: 'website', id: 700002 },
      { owner: 'acme', name: 'billing', id: 700003 }
    ]
  ).map((r) => ({ ...r }))
  const defaultEnvironments = options.environments ?? ['production']
  const organizations = options.organizations ?? ['acme']

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
  const lc = (s: string) => s.toLowerCase()
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
  const mustScope = (scope: SecretScope): ScopeState => {
    const state = scopes.get(scopeKey(scope))
    if (!state) throw new Error(`sandbox GitHub: unknown secret scope ${JSON.stringify(scope)}`)
    return state
  }
  const orgRepos = (org: string): RepoSpec[] => repositories.filter((r) => lc(r.owner) === lc(org))
  const repoById = new Map<number, RepoSpec>(repositories.map((r) => [r.id, r]))
  /** Old 'owner/name' (lower-case) of transferred or renamed repositories; a current name wins. */
  const movedFrom = new Map<string, RepoSpec>()
  for (const repo of repositories) {
    if (repo.transferredFrom !== undefined && !repoByName.has(lc(repo.transferredFrom))) movedFrom.set(lc(repo.transferredFrom), repo)
  }
  /** Workflow runs per repository ('owner/name', lower-case), by id (as a string). */
  const runs = new Map<string, Map<string, { spec: WorkflowRunSpec; number: number }>>()

  const writes: SecretWrite[] = []
  let requestSeq = 0
  let url = ''

  const headers = (): Record<string, string> => {
    requestSeq += 1
    return {
      Server: 'github.com',
      'X-GitHub-Api-Version-Selected': '2022-11-28',
      'X-GitHub-Media-Type': 'github.v3; format=json',
      'X-GitHub-Request-Id': `C0DE:${(0x1000 + requestSeq).toString(16).toUpperCase()}:5A9D1:6B1E2:6745F0${requestSeq % 10}`,
      'X-RateLimit-Limit': '5000',
      'X-RateLimit-Remaining': '4999',
      'X-RateLimit-Reset': String(Math.floor(now() / 1000) + 3600),
      'X-RateLimit-Used': '1',
      'X-RateLimit-Resource': 'core'
    }
  }
  const reply = (status: number, value: unknown): Reply => json(status, value, 'application/json; charset=utf-8', headers())
  const error = (status: number, message: string, documentationUrl = DOCS): Reply =>
    reply(status, { message, documentation_url: documentationUrl, status: String(status) })
  const notFound = (): Reply => error(404, 'Not Found')
  const forbidden = (documentationUrl = SECRETS_DOCS): Reply => error(403, 'Resource not accessible by integration', documentationUrl)
  const invalid = (message: string): Reply => error(422, message, SECRETS_DOCS)
  const noContent = (): Reply => ({ status: 204, headers: headers() })

  function grantOf(info: RequestInfo): TokenGrant | Reply {
    const header = info.headers.authorization
    if (typeof header !== 'string' || header.trim() === '') return error(401, 'Requires authentication')
    const token = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(header)?.[1]
    const grant = token !== undefined && Object.hasOwn(tokens, token) ? tokens[token] : undefined
    return grant ?? error(401, 'Bad credentials')
  }

  const canSee = (grant: TokenGrant, repo: RepoSpec): boolean =>
    grant.repos === undefined || grant.repos.some((r) => lc(r) === lc(`${repo.owner}/${repo.name}`))

  const repoJson = (repo: RepoSpec) => ({
    id: repo.id,
    node_id: `R_kgDO${Buffer.from(String(repo.id)).toString('base64url')}`,
    name: repo.name,
    full_name: `${repo.owner}/${repo.name}`,
    private: true,
    owner: {
      login: repo.owner,
      type: organizations.some((o) => lc(o) === lc(repo.owner)) ? 'Organization' : 'User'
    },
    html_url: `https://github.com/${repo.owner}/${repo.name}`,
    url: `${url}/repos/${repo.owner}/${repo.name}`
  })

  const metadata = (state: ScopeState, name: string, secret: StoredSecret): Record<string, unknown> => {
    const out: Record<string, unknown> = { name, created_at: secret.created_at, updated_at: secret.updated_at }
    if (state.kind === 'org') {
      out.visibility = secret.visibility ?? 'private'
      if (secret.visibility === 'selected') out.selected_repositories_url = `${url}${state.collectionPath}/${name}/repositories`
    }
    return out
  }

  function validName(name: string): string | undefined {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return NAME_RULES
    if (/^GITHUB_/i.test(name)) return 'Secret names must not start with GITHUB_.'
    return undefined
  }

  function putSecret(state: ScopeState, rawName: string, incoming: Incoming): Reply {
    let body: unknown = incoming.info.body
    if (incoming.tooLarge) return error(413, 'Payload too large')
    if (incoming.invalidJson) return error(400, 'Problems parsing JSON')
    if (typeof body === 'string') {
      // GitHub parses the body as JSON whatever the Content-Type says.
      try {
        body = JSON.parse(body) as unknown
      } catch {
        return error(400, 'Problems parsing JSON')
      }
    }
    const nameProblem = validName(rawName)
    if (nameProblem) return invalid(`Invalid request.\n\n${nameProblem}`)
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
      return invalid('Invalid request.\n\nInvalid input: object is not a hash.')
    }
    const fields = body as Record<string, unknown>
    const missing = ['encrypted_value', 'key_id'].filter((f) => fields[f] === undefined)
    if (state.kind === 'org' && fields.visibility === undefined) missing.push('visibility')
    if (missing.length > 0) {
      const list = missing.map((m) => `"${m}"`).join(', ')
      return invalid(`Invalid request.\n\n${list} ${missing.length === 1 ? "wasn't" : "weren't"} supplied.`)
    }
    for (const field of ['encrypted_value', 'key_id'] as const) {
      if (typeof fields[field] !== 'string') {
        return invalid(`Invalid request.\n\nFor 'properties/${field}', ${JSON.stringify(fields[field])} is not a string.`)
      }
    }
    const encryptedValue = fields.encrypted_value as string
    const keyId = fields.key_id as string

    let visibility: OrgVisibility | undefined
    let selectedIds: number[] | undefined
    if (state.kind === 'org') {
      const v = fields.visibility
      if (v !== 'all' && v !== 'private' && v !== 'selected') {
        return invalid(
          `Invalid request.\n\nFor 'properties/visibility', ${JSON.stringify(v)} is not one of ["all", "private", "selected"].`
        )
      }
      visibility = v
      if (v === 'selected') {
        const ids = fields.selected_repository_ids ?? []
        if (!Array.isArray(ids)) {
          return invalid(`Invalid request.\n\nFor 'properties/selected_repository_ids', ${JSON.stringify(ids)} is not an array.`)
        }
        const allowed = new Set(orgRepos(state.org ?? '').map((r) => r.id))
        for (const id of ids as unknown[]) {
          if (typeof id !== 'number' || !Number.isInteger(id)) {
            return invalid(`Invalid request.\n\nFor 'items', ${JSON.stringify(id)} is not an integer.`)
          }
          if (!allowed.has(id)) return invalid(`Invalid request.\n\nRepository ${id} is not a repository of this organization.`)
        }
        selectedIds = [...new Set(ids as number[])]
      }
    }

    if (keyId !== state.keys.keyId) return invalid('Bad key_id')
    if (encryptedValue === '' || !BASE64_ORIGINAL.test(encryptedValue)) {
      return invalid('Invalid request.\n\nencrypted_value is not valid base64.')
    }
    let plaintext: string
    try {
      const sealed = Buffer.from(encryptedValue, 'base64')
      const opened = sodium.crypto_box_seal_open(new Uint8Array(sealed), state.keys.publicKey, state.keys.privateKey)
      plaintext = Buffer.from(opened).toString('utf8')
    } catch {
      return invalid('Bad encrypted_value: it cannot be decrypted with the key of key_id.')
    }

    const name = rawName.toUpperCase()
    const at = now()
    const stamp = isoSeconds(at)
    const existing = state.secrets.get(name)
    const stored: StoredSecret = { value: plaintext, created_at: existing?.created_at ?? stamp, updated_at: stamp }
    if (visibility !== undefined) stored.visibility = visibility
    if (selectedIds !== undefined) stored.selected_repository_ids = selectedIds
    state.secrets.set(name, stored)
    writes.push({ scope: { ...state.scope }, name, value: plaintext, at })
    return existing ? noContent() : reply(201, {})
  }

  /** Routes everything under a resolved scope: `rest` is what follows `.../secrets`. */
  function secretsRoute(state: ScopeState, rest: string[], incoming: Incoming): Reply {
    const method = incoming.info.method
    if (rest.length === 0) {
      if (method !== 'GET') return notFound()
      const secrets = [...state.secrets.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, secret]) => metadata(state, name, secret))
      return reply(200, { total_count: secrets.length, secrets })
    }
    const [name, sub, ...more] = rest
    if (name === undefined || more.length > 0) return notFound()
    if (name === 'public-key' && sub === undefined) {
      if (method !== 'GET') return notFound()
      return reply(200, { key_id: state.keys.keyId, key: state.keys.key })
    }
    if (sub !== undefined) {
      if (state.kind !== 'org' || sub !== 'repositories' || method !== 'GET') return notFound()
      const secret = state.secrets.get(name.toUpperCase())
      if (!secret) return notFound()
      const ids = new Set(secret.selected_repository_ids ?? [])
      const all = repositories.filter((r) => ids.has(r.id))
      const { perPage, page } = pageParams(incoming.url)
      const repos = all.slice((page - 1) * perPage, page * perPage).map(repoJson)
      const link = linkHeader(`${url}${state.collectionPath}/${name.toUpperCase()}/repositories`, perPage, page, all.length)
      return json(200, { total_count: all.length, repositories: repos }, 'application/json; charset=utf-8', {
        ...headers(),
        ...(link ? { Link: link } : {})
      })
    }
    if (method === 'PUT') return putSecret(state, name, incoming)
    const upper = name.toUpperCase()
    const secret = state.secrets.get(upper)
    if (method === 'GET') return secret ? reply(200, metadata(state, upper, secret)) : notFound()
    if (method === 'DELETE') {
      if (!secret) return notFound()
      state.secrets.delete(upper)
      return noContent()
    }
    return notFound()
  }

  /** Everything under /repos/{o}/{r} (or /repositories/{id}): `rest` is what follows. */
  function repoRoute(repo: RepoSpec, rest: string[], incoming: Incoming, grant: TokenGrant): Reply {
    const full = lc(`${repo.owner}/${repo.name}`)
    const method = incoming.info.method
    if (rest.length === 0) return method === 'GET' ? reply(200, repoJson(repo)) : notFound()
    if (rest[0] === 'actions' && rest[1] === 'runs' && rest[2] !== undefined && rest.length === 3) {
      if (method !== 'GET') return notFound()
      if (!grant.actionsRead) return forbidden(RUNS_DOCS)
      const run = runs.get(full)?.get(rest[2])
      return run ? reply(200, runJson(repo, run.spec, run.number)) : notFound()
    }
    if (rest[0] === 'actions' && rest[1] === 'secrets') {
      if (!grant.repoSecrets) return forbidden()
      const state = scopes.get(`repo:${full}`)
      return state ? secretsRoute(state, rest.slice(2), incoming) : notFound()
    }
    if (rest[0] === 'environments' && rest[1] !== undefined && rest[2] === 'secrets') {
      if (!grant.envSecrets) return forbidden()
      const state = scopes.get(`env:${full}:${lc(rest[1])}`)
      return state ? secretsRoute(state, rest.slice(3), incoming) : notFound()
    }
    return notFound()
  }

  /** GitHub's answer at a transferred or renamed repository's old path: 301 (GET/HEAD) or 307 to /repositories/{id}. */
  function redirect(repo: RepoSpec, rest: string[], incoming: Incoming): Reply {
    const permanent = incoming.info.method === 'GET' || incoming.info.method === 'HEAD'
    const tail = rest.map((segment) => `/${encodeURIComponent(segment)}`).join('')
    const location = `${url}/repositories/${repo.id}${tail}${incoming.url.search}`
    return json(
      permanent ? 301 : 307,
      { message: permanent ? 'Moved Permanently' : 'Temporary Redirect', url: location, documentation_url: REDIRECT_DOCS },
      'application/json; charset=utf-8',
      { ...headers(), Location: location }
    )
  }

  function runJson(repo: RepoSpec, run: WorkflowRunSpec, runNumber: number): Record<string, unknown> {
    const id = typeof run.id === 'number' || !/^[1-9]\d{0,15}$/.test(run.id) ? run.id : Number(run.id)
    const full = `${repo.owner}/${repo.name}`
    const started = run.runStartedAt ?? run.createdAt
    return {
      id,
      name: 'Rotate amoCRM token',
      node_id: `WFR_kwLO${Buffer.from(String(id)).toString('base64url')}`,
      head_branch: 'main',
      head_sha: '0000000000000000000000000000000000000000',
      path: '.github/workflows/rotate.yml',
      display_title: 'Rotate amoCRM token',
      run_number: runNumber,
      event: run.event ?? 'workflow_dispatch',
      status: 'in_progress',
      conclusion: null,
      workflow_id: 161335,
      url: `${url}/repos/${full}/actions/runs/${id}`,
      html_url: `https://github.com/${full}/actions/runs/${id}`,
      created_at: isoSeconds(run.createdAt),
      updated_at: isoSeconds(Math.max(run.createdAt, started)),
      run_attempt: run.attempt ?? 1,
      run_started_at: isoSeconds(started),
      repository: repoJson(repo)
    }
  }

  function handler(incoming: Incoming): Reply {
    const pathname = incoming.url.pathname
    if (prefix !== '' && pathname !== prefix && !pathname.startsWith(`${prefix}/`)) return notFound()
    const grant = grantOf(incoming.info)
    if ('status' in grant) return grant

    let segments: string[]
    try {
      // pathname after the prefix starts with '/': drop the empty first segment.
      segments = pathname
        .slice(prefix.length)
        .split('/')
        .slice(1)
        .map((s) => decodeURIComponent(s))
    } catch {
      return notFound()
    }
    const [root, a, b, ...rest] = segments

    if (root === 'repositories' && a !== undefined) {
      const repo = /^[1-9]\d*$/.test(a) ? repoById.get(Number(a)) : undefined
      if (!repo || !canSee(grant, repo)) return notFound()
      return repoRoute(repo, b === undefined ? [] : [b, ...rest], incoming, grant)
    }
    if (root === 'repos' && a !== undefined && b !== undefined) {
      const repo = repoByName.get(lc(`${a}/${b}`))
      if (!repo) {
        const moved = movedFrom.get(lc(`${a}/${b}`))
        if (moved && canSee(grant, moved)) return redirect(moved, rest, incoming)
      }
      if (!repo || !canSee(grant, repo)) return notFound()
      return repoRoute(repo, rest, incoming, grant)
    }
    if (root === 'orgs' && a !== undefined && b === 'actions' && rest[0] === 'secrets') {
      const state = scopes.get(`org:${lc(a)}`)
      if (!state) return notFound()
      if (!grant.orgSecrets) return forbidden()
      return secretsRoute(state, rest.slice(1), incoming)
    }
    return notFound()
  }

  const core = await startCore({
    ...(options.latencyMs !== undefined ? { latencyMs: options.latencyMs } : {}),
    ...(options.faults !== undefined ? { faults: options.faults } : {}),
    handler
  })
  url = `${core.origin}${prefix}`

  const publicKeyOf = (state: ScopeState) => ({ key_id: state.keys.keyId, key: state.keys.key })

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
        const spec = repoByName.get(lc(repo))
        if (!spec) throw new Error(`addRun: unknown repository ${repo}`)
        const key = lc(`${spec.owner}/${spec.name}`)
        const list = runs.get(key) ?? new Map<string, { spec: WorkflowRunSpec; number: number }>()
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
      writes
    },
    core
  )
}
