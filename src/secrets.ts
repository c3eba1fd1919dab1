/**
 * The GitHub Actions secret store of one target — a repository, an environment or an
 * organization: its public key, sealed writes, metadata reads and deletes, with retries and with
 * every failure turned into what the user must change (usually a missing token permission).
 */
import type { Octokit } from '@octokit/rest'
import { ActionError, errorMessage, excerpt } from './errors.js'
import type { RepoRef, Target } from './inputs.js'
import { parseRetryAfter, withRetries, type RetryPolicy, type RetryVerdict } from './retry.js'
import { seal } from './sealing.js'

export interface PublicKey {
  key_id: string
  key: string
}

export interface SecretMetadata {
  name: string
  updatedAt: Date | undefined
}

export interface StoreDeps {
  octokit: Octokit
  retry: RetryPolicy
  timeoutMs: number
  onRetry?: (message: string) => void
}

export class GitHubError extends ActionError {
  constructor(
    message: string,
    readonly status: number | undefined
  ) {
    super(message)
  }
}

interface HttpishError {
  status?: number
  message?: string
  response?: { headers?: Record<string, string | undefined>; data?: unknown }
}

/**
 * The HTTP status of a failed request; undefined when no answer came. Octokit reports a network
 * failure or a timeout as status 500 without a response: that is "no answer", not a server error.
 */
function asHttpError(error: unknown): HttpishError {
  if (error === null || typeof error !== 'object') return {}
  const e = error as HttpishError
  return e.status === 500 && e.response === undefined && !(error instanceof ActionError)
    ? { ...e, status: undefined, message: e.message }
    : e
}

function serverMessage(error: unknown): string {
  const e = asHttpError(error)
  const data = e.response?.data
  const text =
    data && typeof data === 'object' && 'message' in data
      ? String((data as { message: unknown }).message)
      : (e.message ?? errorMessage(error))
  return excerpt(text, 160)
}

/** Retry on no answer, 5xx, 429 and rate limits (403 with a rate-limit message or header). */
export function classifyGitHubError(error: unknown, now = Date.now()): RetryVerdict {
  const e = asHttpError(error)
  const status = e.status
  const headers = e.response?.headers ?? {}
  if (status === undefined) return { retry: !(error instanceof ActionError) } // no answer
  if (status >= 500 || status === 429) return { retry: true, afterMs: parseRetryAfter(headers['retry-after'], now) }
  if (status === 403) {
    if (/rate limit/i.test(serverMessage(error))) return { retry: true, afterMs: parseRetryAfter(headers['retry-after'], now) ?? 60_000 }
    if (headers['x-ratelimit-remaining'] === '0') {
      const reset = Number(headers['x-ratelimit-reset'])
      return { retry: true, afterMs: Number.isFinite(reset) ? Math.max(0, reset * 1000 - now) + 1000 : 60_000 }
    }
  }
  return { retry: false }
}

export function targetName(target: Target): string {
  switch (target.kind) {
    case 'repository':
      return `repository ${target.owner}/${target.repo}`
    case 'environment':
      return `environment '${target.environment}' of ${target.owner}/${target.repo}`
    case 'organization':
      return `organization ${target.org}`
  }
}

/** What the token needs, for each kind of target. */
export function requiredPermission(target: Target): string {
  switch (target.kind) {
    case 'repository':
      return `a fine-grained token needs the repository permission "Secrets: Read and write" on ${target.owner}/${target.repo}, a GitHub App token "secrets: write", a classic token the "repo" scope`
    case 'environment':
      return `a fine-grained token needs the repository permissions "Secrets: Read and write" and "Environments: Read and write" on ${target.owner}/${target.repo}, a GitHub App token "secrets: write" and "environments: write", a classic token the "repo" scope`
    case 'organization':
      return `a fine-grained token needs the organization permission "Secrets: Read and write" on ${target.org}, a GitHub App token "organization_secrets: write", a classic token the "admin:org" scope`
  }
}

function apiBase(error: unknown): string {
  const url = (error as { request?: { url?: unknown } } | null)?.request?.url
  try {
    return typeof url === 'string' ? new URL(url).origin : 'GITHUB_API_URL'
  } catch {
    return 'GITHUB_API_URL'
  }
}

export function describeGitHubError(error: unknown, doing: string, target: Target): string {
  if (error instanceof ActionError) return error.message
  const status = asHttpError(error).status
  const said = serverMessage(error)
  if (status === undefined) {
    return `Could not ${doing}: GitHub's API at ${apiBase(error)} did not answer (${said}), also after retries. Check that the runner can reach it (GITHUB_API_URL, proxy settings) and try again.`
  }
  const lead = `GitHub refused to ${doing} (${status}${said ? `: ${said}` : ''})`
  if (status === 401)
    return `${lead}: 'github-token' is invalid, expired or revoked; create a new token and update the secret that holds it.`
  if (status === 403 && classifyGitHubError(error).retry) {
    return `${lead}, also after retries: GitHub's rate limit for 'github-token' is exhausted; wait for it to reset and run the workflow again.`
  }
  if (status === 403) {
    return `${lead}: 'github-token' lacks the permission — ${requiredPermission(target)}. The workflow's default GITHUB_TOKEN can never write secrets.`
  }
  if (status === 404) {
    switch (target.kind) {
      case 'repository':
        return `${lead}: repository ${target.owner}/${target.repo} does not exist or 'github-token' cannot see it; check 'repository' and the repositories the token is granted (${requiredPermission(target)}).`
      case 'environment':
        return `${lead}: environment '${target.environment}' does not exist in ${target.owner}/${target.repo} (create it under Settings → Environments), or 'github-token' cannot see it (${requiredPermission(target)}).`
      case 'organization':
        return `${lead}: organization '${target.org}' does not exist or 'github-token' cannot manage its secrets (${requiredPermission(target)}).`
    }
  }
  if (status === 422)
    return `${lead}: GitHub rejected the request as invalid; check the secret names and, for organizations, 'visibility' and 'selected-repositories'.`
  if (status >= 500 || status === 429) {
    return `${lead}, also after retries: the GitHub API may be down or unreachable from this runner; try again later.`
  }
  return `${lead}.`
}

export class SecretStore {
  private key: Promise<PublicKey> | undefined
  private repositoryIds: Promise<number[]> | undefined

  constructor(
    readonly target: Target,
    private readonly deps: StoreDeps
  ) {}

  /** e.g. "repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync". */
  describe(name: string): string {
    const t = this.target
    switch (t.kind) {
      case 'repository':
        return `repository secret ${name} of ${t.owner}/${t.repo}`
      case 'environment':
        return `secret ${name} of environment '${t.environment}' in ${t.owner}/${t.repo}`
      case 'organization':
        return `organization secret ${name} of ${t.org} (visibility: ${t.visibility})`
    }
  }

  private base(): { route: string; params: Record<string, string> } {
    const t = this.target
    switch (t.kind) {
      case 'repository':
        return { route: '/repos/{owner}/{repo}/actions/secrets', params: { owner: t.owner, repo: t.repo } }
      case 'environment':
        return {
          route: '/repos/{owner}/{repo}/environments/{environment_name}/secrets',
          params: { owner: t.owner, repo: t.repo, environment_name: t.environment }
        }
      case 'organization':
        return { route: '/orgs/{org}/actions/secrets', params: { org: t.org } }
    }
  }

  private async call<T>(
    doing: string,
    method: string,
    path: string,
    params: Record<string, unknown>,
    ok: (status: number, data: unknown) => T | undefined
  ): Promise<T> {
    // A path starting with '/' stands alone; any other is relative to the target's secrets route.
    const absolute = path.startsWith('/')
    const { route, params: baseParams } = absolute ? { route: '', params: {} } : this.base()
    const requestRoute = `${method} ${absolute ? path : `${route}/${path}`}`
    try {
      return await withRetries(
        this.deps.retry,
        (error) => classifyGitHubError(error),
        async () => {
          try {
            const response = await this.deps.octokit.request(requestRoute, {
              ...baseParams,
              ...params,
              request: { signal: AbortSignal.timeout(this.deps.timeoutMs) }
            })
            const result = ok(response.status, response.data)
            if (result === undefined)
              throw new GitHubError(`GitHub answered ${doing} with an unexpected status ${response.status}.`, response.status)
            return result
          } catch (error) {
            const status = asHttpError(error).status
            // A retried request may find its first attempt's effect: let `ok` accept that answer.
            if (status !== undefined && !(error instanceof GitHubError)) {
              const accepted = ok(status, undefined)
              if (accepted !== undefined) return accepted
            }
            throw error
          }
        },
        (error, attempt, waitMs) =>
          this.deps.onRetry?.(
            `GitHub: attempt ${attempt} to ${doing} failed (${asHttpError(error).status ?? 'no answer'}: ${serverMessage(error)}); retrying in ${(waitMs / 1000).toFixed(1)} s.`
          )
      )
    } catch (error) {
      throw new GitHubError(describeGitHubError(error, doing, this.target), asHttpError(error).status)
    }
  }

  publicKey(): Promise<PublicKey> {
    this.key ??= this.call(`read the public key of ${targetName(this.target)}`, 'GET', 'public-key', {}, (status, data) => {
      if (status !== 200) return undefined
      const body = data as Partial<PublicKey> | undefined
      if (!body || typeof body.key !== 'string' || typeof body.key_id !== 'string') {
        throw new GitHubError(`GitHub answered the public key request of ${targetName(this.target)} without a key.`, status)
      }
      return { key_id: body.key_id, key: body.key }
    })
    // A failed lookup is not cached: a later call asks again.
    this.key.catch(() => (this.key = undefined))
    return this.key
  }

  /** Ids of `selected-repositories` (organization secrets with visibility: selected). */
  selectedRepositoryIds(): Promise<number[]> {
    const t = this.target
    if (t.kind !== 'organization' || t.visibility !== 'selected') return Promise.resolve([])
    this.repositoryIds ??= Promise.all(t.selectedRepositories.map((ref) => this.repositoryId(ref)))
    // Like the key, a failed lookup is not cached.
    this.repositoryIds.catch(() => (this.repositoryIds = undefined))
    return this.repositoryIds
  }

  private async repositoryId(ref: RepoRef): Promise<number> {
    try {
      return await this.call(
        `read repository ${ref.owner}/${ref.repo}`,
        'GET',
        '/repos/{owner}/{repo}',
        { owner: ref.owner, repo: ref.repo },
        (status, data) => {
          const id = (data as { id?: unknown } | undefined)?.id
          return status === 200 && typeof id === 'number' ? id : undefined
        }
      )
    } catch (error) {
      const status = error instanceof GitHubError ? error.status : undefined
      if (status === 404) {
        throw new GitHubError(
          `Input 'selected-repositories' names ${ref.owner}/${ref.repo}, which does not exist or which 'github-token' cannot see.`,
          status
        )
      }
      throw error
    }
  }

  /** Seals `value` with the target's public key and writes it; re-reads the key once if GitHub says it changed. */
  async write(name: string, value: string): Promise<'created' | 'updated'> {
    const extra: Record<string, unknown> = {}
    if (this.target.kind === 'organization') {
      extra.visibility = this.target.visibility
      if (this.target.visibility === 'selected') extra.selected_repository_ids = await this.selectedRepositoryIds()
    }
    for (let keyAttempt = 1; ; keyAttempt++) {
      const key = await this.publicKey()
      const encrypted_value = await seal(value, key.key)
      try {
        return await this.call(
          `write the ${this.describe(name)}`,
          'PUT',
          '{secret_name}',
          { secret_name: name, encrypted_value, key_id: key.key_id, ...extra },
          (status) => (status === 201 ? 'created' : status === 204 ? 'updated' : undefined)
        )
      } catch (error) {
        // 422 can mean the key was rotated since it was read: read it again and retry once.
        if (keyAttempt === 1 && error instanceof GitHubError && error.status === 422) {
          this.key = undefined
          continue
        }
        throw error
      }
    }
  }

  async metadata(name: string): Promise<SecretMetadata | undefined> {
    return this.call(`read the ${this.describe(name)}`, 'GET', '{secret_name}', { secret_name: name }, (status, data) => {
      if (status === 404) return null
      if (status !== 200) return undefined
      const updated = (data as { updated_at?: unknown } | undefined)?.updated_at
      const date = typeof updated === 'string' ? new Date(updated) : undefined
      return { name, updatedAt: date && !Number.isNaN(date.getTime()) ? date : undefined }
    }).then((meta) => meta ?? undefined)
  }

  async delete(name: string): Promise<void> {
    // 404: already gone (perhaps by a first attempt whose answer was lost).
    await this.call(`delete the ${this.describe(name)}`, 'DELETE', '{secret_name}', { secret_name: name }, (status) =>
      status === 204 || status === 404 ? true : undefined
    )
  }
}
