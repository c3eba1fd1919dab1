/**
 * The GitHub Actions secret store of one target — a repository, an environment or an
 * organization (targets.ts): its public key, sealed writes, metadata reads and deletes, with
 * retries, and every failure worded by errors.ts (each request through request.ts).
 *
 * Two rules keep the chain of single-use tokens intact:
 * - a write whose outcome is unknown (no answer, a 5xx) is retried only after the secret's
 *   `updated_at` shows that it did not land; if the secret changed, it landed (or a newer value
 *   arrived) and nothing is written again — an old value never goes over a newer one;
 * - an organization secret keeps its audience (visibility, selected repositories) unless the
 *   inputs name one.
 */
import { ActionError, errorMessage } from '../errors.js'
import { GitHubError, outcomeUnknown } from './errors.js'
import { excerpt } from '../redact.js'
import { gitHubRequest, type Accept, type GitHubDeps } from './request.js'
import { seal } from '../rescue/sealing.js'
import { targetInfo, type RepoRef, type Target, type TargetInfo, type Visibility } from './targets.js'

export interface PublicKey {
  key_id: string
  key: string
}

/** A secret as it stands: never its value. */
export interface SecretState {
  name: string
  exists: boolean
  updatedAt: Date | undefined
  /** Organization secrets: the audience it has now. */
  visibility?: Visibility
  /** Organization secrets with visibility `selected`, when needed to keep them: the repositories' ids. */
  selectedIds?: number[]
}

/**
 * How a write ended: GitHub answered 201 or 204 — or, for an attempt that got no answer, the
 * secret's `updated_at` changed since the read before it: 'inferred' (most likely ours, but a
 * change by anyone else would look the same).
 */
export type WriteResult = 'created' | 'updated' | 'inferred'

interface WriteOptions {
  /** The write check's probe: it holds no credential, so an organization probe is always `private`. */
  probe?: boolean
}

/** What `rotate` needs of a secret store. */
export interface SecretStore {
  readonly target: Target
  /** e.g. "repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync". */
  describe(name: string): string
  publicKey(): Promise<PublicKey>
  /** The secret's metadata: whether it exists, when it was updated. */
  metadata(name: string): Promise<SecretState>
  /**
   * Its metadata and, where the target has an audience, what a write must keep of it (and the
   * repositories it will name, looked up now).
   */
  inspect(name: string): Promise<SecretState>
  /**
   * Seals and writes `value`. `before` (from `inspect`) makes retries safe: an attempt whose outcome
   * is unknown is repeated only while the secret is still as it was. Without it (the probe), the
   * write is simply retried and an organization secret is made `private` unless the inputs say otherwise.
   */
  write(name: string, value: string, before?: SecretState, options?: WriteOptions): Promise<WriteResult>
  delete(name: string): Promise<void>
}

/** Runs `work` over `items`, at most `limit` at a time, keeping the order of the results. */
async function mapLimit<I, O>(items: I[], limit: number, work: (item: I) => Promise<O>): Promise<O[]> {
  const results: O[] = new Array<O>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index] as I)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/**
 * Above this many listed repositories, their ids come from the organization's repository list
 * (100 a page, the pages read at once) rather than one request each: 1,000 names are 10 pages,
 * one round trip, where 1,000 lookups would be 50 round trips and more than GitHub's 900 points a
 * minute for REST requests (its secondary rate limits).
 */
const LIST_ABOVE = 20
/** Repository lookups at once: all of them, up to LIST_ABOVE — one round trip (GitHub allows no more than 100 concurrent requests). */
const LOOKUP_CONCURRENCY = LIST_ABOVE
/** Pages of one list read at once: 1,000 names and the page after them in one round trip. */
const PAGE_CONCURRENCY = 20

/** The last page of a paginated answer, from GitHub's `Link` header; 1 without one. */
export function lastPage(headers: Record<string, string | number | undefined>): number {
  const link = headers.link
  const last = typeof link === 'string' ? /[?&]page=(\d+)[^>]*>;\s*rel="last"/.exec(link)?.[1] : undefined
  return last ? Math.min(Number(last), 1000) : 1
}

export class GitHubSecretStore implements SecretStore {
  private key: Promise<PublicKey> | undefined
  private repositoryIds: Promise<number[]> | undefined

  private readonly info: TargetInfo

  constructor(
    readonly target: Target,
    private readonly deps: GitHubDeps
  ) {
    this.info = targetInfo(target)
  }

  describe(name: string): string {
    return this.info.describe(name)
  }

  /**
   * One request (gitHubRequest: retries, time limit, GitHub's answers in words). A path starting
   * with '/' stands alone; any other is relative to the target's secrets route.
   */
  private call<T>(
    doing: string,
    method: string,
    path: string,
    params: Record<string, unknown>,
    accept: Accept<T>,
    beforeRetry?: (lastError: unknown) => Promise<T | undefined>
  ): Promise<T> {
    const absolute = path.startsWith('/')
    const { route, params: baseParams } = absolute ? { route: '', params: {} } : this.info
    return gitHubRequest(this.deps, this.target, {
      doing,
      route: `${method} ${absolute ? path : `${route}/${path}`}`,
      params: { ...baseParams, ...params },
      accept,
      beforeRetry
    })
  }

  publicKey(): Promise<PublicKey> {
    this.key ??= this.call(
      `read the public key of ${this.info.name}`,
      'GET',
      'public-key',
      {},
      {
        200: (data) => {
          const body = data as Partial<PublicKey> | undefined
          if (!body || typeof body.key !== 'string' || typeof body.key_id !== 'string') {
            throw new GitHubError(`GitHub answered the public key request of ${this.info.name} without a key.`, 200)
          }
          return { key_id: body.key_id, key: body.key }
        }
      }
    )
    // A failed lookup is not cached: a later call asks again.
    this.key.catch(() => (this.key = undefined))
    return this.key
  }

  /** The ids of `selected-repositories` (resolved once, a few at a time; a failure is not cached); [] without any. */
  selectedRepositoryIds(): Promise<number[]> {
    const audience = this.info.audience
    if (!audience || audience.repositories.length === 0) return Promise.resolve([])
    this.repositoryIds ??= this.resolveIds(audience.repositories, audience.org).then(
      // Two names of one repository (renamed) are one id.
      (ids) => [...new Set(ids)]
    )
    this.repositoryIds.catch(() => (this.repositoryIds = undefined))
    return this.repositoryIds
  }

  /**
   * The ids of the named repositories, in their order: from the organization's list when there are
   * many, one lookup each for the rest (and for names the list lacks, so that a missing or
   * transferred repository is named exactly as a lookup finds it).
   */
  private async resolveIds(refs: readonly RepoRef[], org: string): Promise<number[]> {
    const listed = refs.length > LIST_ABOVE ? await this.organizationRepositories(org, refs.length) : new Map<string, number>()
    return mapLimit([...refs], LOOKUP_CONCURRENCY, (ref) => {
      const id = listed.get(ref.repo.toLowerCase())
      return id === undefined ? this.repositoryId(ref, org) : Promise.resolve(id)
    })
  }

  /**
   * Every repository of the organization the token can see, name (lower-case) → id. The
   * organization holds at least the `named` repositories, and most hold a few more (the one that
   * runs the workflow, to begin with): their pages and one more are asked for at once; the first
   * page's `Link` tells whether there are more still, read at once after it.
   */
  private async organizationRepositories(org: string, named: number): Promise<Map<string, number>> {
    const byName = new Map<string, number>()
    const page = (n: number) =>
      this.call(
        `list the repositories of organization ${org}`,
        'GET',
        '/orgs/{org}/repos',
        { org, per_page: 100, page: n },
        {
          200: (data, headers) => {
            for (const repo of Array.isArray(data) ? (data as Array<{ id?: unknown; name?: unknown }>) : []) {
              if (typeof repo.id === 'number' && typeof repo.name === 'string') byName.set(repo.name.toLowerCase(), repo.id)
            }
            return lastPage(headers)
          }
        }
      )
    const guess = Math.min(Math.ceil(named / 100) + 1, 1000)
    const [last = 1] = await mapLimit(
      Array.from({ length: guess }, (_, i) => i + 1),
      PAGE_CONCURRENCY,
      page
    )
    await mapLimit(
      Array.from({ length: Math.max(0, last - guess) }, (_, i) => i + guess + 1),
      PAGE_CONCURRENCY,
      page
    )
    return byName
  }

  private async repositoryId(ref: RepoRef, org: string): Promise<number> {
    const named = `${ref.owner}/${ref.repo}`
    let found: { id: number; owner: string; fullName: string }
    try {
      found = await this.call(
        `read repository ${named}`,
        'GET',
        '/repos/{owner}/{repo}',
        { owner: ref.owner, repo: ref.repo },
        {
          200: (data) => {
            const body = data as { id?: unknown; full_name?: unknown; owner?: { login?: unknown } } | undefined
            if (typeof body?.id !== 'number') throw new GitHubError(`GitHub answered the lookup of ${named} without an id.`, 200)
            const owner = typeof body.owner?.login === 'string' ? body.owner.login : ''
            return { id: body.id, owner, fullName: typeof body.full_name === 'string' ? body.full_name : `${owner}/?` }
          }
        }
      )
    } catch (error) {
      const status = error instanceof GitHubError ? error.status : undefined
      if (status === 404) {
        throw new GitHubError(
          `Input 'selected-repositories' names ${named}, which does not exist or which 'github-token' cannot see (the token needs read access to every listed repository).`,
          status
        )
      }
      throw error
    }
    // An answer without an owner cannot tell; one with another owner is a transferred repository.
    if (found.owner && found.owner.toLowerCase() !== org.toLowerCase()) {
      throw new GitHubError(
        `Input 'selected-repositories' names ${named}, which is now ${excerpt(found.fullName, 140, this.deps.redact)} (it was transferred or renamed): an organization secret can only be shared with repositories of ${org}; correct the list.`,
        200
      )
    }
    return found.id
  }

  private readState(name: string, data: unknown): SecretState {
    const body = (data ?? {}) as { updated_at?: unknown; visibility?: unknown }
    const date = typeof body.updated_at === 'string' ? new Date(body.updated_at) : undefined
    const visibility =
      body.visibility === 'all' || body.visibility === 'private' || body.visibility === 'selected' ? body.visibility : undefined
    return {
      name,
      exists: true,
      updatedAt: date && !Number.isNaN(date.getTime()) ? date : undefined,
      ...(visibility ? { visibility } : {})
    }
  }

  /** The secret's metadata, one request (with retries): never its value. */
  metadata(name: string): Promise<SecretState> {
    return this.call<SecretState>(
      `read the ${this.describe(name)}`,
      'GET',
      '{secret_name}',
      { secret_name: name },
      {
        200: (data) => this.readState(name, data),
        404: () => ({ name, exists: false, updatedAt: undefined })
      }
    )
  }

  /** The ids of the repositories an organization secret is shared with now: the first page, then the rest at once. */
  private async currentSelection(name: string): Promise<number[]> {
    const page = (n: number) =>
      this.call(
        `read the repositories of the ${this.describe(name)}`,
        'GET',
        '{secret_name}/repositories',
        { secret_name: name, per_page: 100, page: n },
        {
          200: (data) => {
            const body = data as { repositories?: unknown; total_count?: unknown } | undefined
            const list = Array.isArray(body?.repositories) ? (body.repositories as unknown[]) : []
            return {
              ids: list.map((r) => (r as { id?: unknown }).id).filter((id): id is number => typeof id === 'number'),
              total: typeof body?.total_count === 'number' ? body.total_count : list.length
            }
          }
        }
      )
    const first = await page(1)
    const pages = Math.min(Math.ceil(first.total / 100), 1000)
    const rest = await mapLimit(
      Array.from({ length: Math.max(0, pages - 1) }, (_, i) => i + 2),
      PAGE_CONCURRENCY,
      page
    )
    return [...first.ids, ...rest.flatMap((p) => p.ids)]
  }

  async inspect(name: string): Promise<SecretState> {
    const audience = this.info.audience
    // The repositories a write will name are looked up now, with the secret: before the spend.
    const [state] = await Promise.all([this.metadata(name), this.selectedRepositoryIds()])
    if (!audience?.keepsSelection(state.visibility)) return state
    if (!state.exists) {
      throw new ActionError(
        `Input 'selected-repositories' is needed: 'visibility' is selected and the ${this.describe(name)} does not exist yet, so there is no selection to keep. List the repositories that may read it.`
      )
    }
    return { ...state, visibility: 'selected', selectedIds: await this.currentSelection(name) }
  }

  /** The audience fields of a write: the inputs' audience, else the one the secret has, else private. */
  private async audienceFields(before: SecretState | undefined): Promise<Record<string, unknown>> {
    const audience = this.info.audience
    if (!audience) return {}
    const visibility = audience.visibilityFor(before?.visibility)
    if (visibility !== 'selected') return { visibility }
    const ids = audience.repositories.length > 0 ? await this.selectedRepositoryIds() : before?.selectedIds
    if (!ids) throw new ActionError(`Input 'selected-repositories' is needed with visibility: selected for a new secret.`)
    return { visibility, selected_repository_ids: ids }
  }

  async write(name: string, value: string, before?: SecretState, options: WriteOptions = {}): Promise<WriteResult> {
    // The probe holds no credential: where there is an audience, it is private.
    const extra = options.probe && this.info.audience ? { visibility: 'private' } : await this.audienceFields(before)
    const doing = `write the ${this.describe(name)}`
    // Before repeating an attempt that may have landed, look: if the secret changed since
    // `before`, that attempt landed (or a newer value came after it) — do not write again.
    const landed = async (lastError: unknown): Promise<WriteResult | undefined> => {
      if (!before || !outcomeUnknown(lastError)) return undefined
      let now: SecretState
      try {
        now = await this.metadata(name)
      } catch (error) {
        throw new GitHubError(
          `Could not ${doing}: an attempt got no clear answer, and the secret could not be read to see whether it landed (${errorMessage(error)}). It is not written again blindly, so that an old value never goes over a newer one.`,
          undefined
        )
      }
      if (!now.exists) return undefined
      if (!before.exists) return 'inferred'
      if (now.updatedAt && before.updatedAt && now.updatedAt.getTime() === before.updatedAt.getTime()) return undefined
      if (!now.updatedAt || !before.updatedAt) {
        throw new GitHubError(
          `Could not ${doing}: an attempt got no clear answer, and GitHub did not say when the secret was last updated.`,
          undefined
        )
      }
      this.deps.onRetry?.(
        `GitHub: the ${this.describe(name)} was updated at ${now.updatedAt.toISOString()}, after the attempt that got no clear answer: it landed (or a newer value came after it), so it is not written again.`
      )
      return 'inferred'
    }
    for (let keyAttempt = 1; ; keyAttempt++) {
      const key = await this.publicKey()
      const encrypted_value = await seal(value, key.key)
      try {
        return await this.call(
          doing,
          'PUT',
          '{secret_name}',
          { secret_name: name, encrypted_value, key_id: key.key_id, ...extra },
          { 201: () => 'created' as const, 204: () => 'updated' as const },
          landed
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

  async delete(name: string): Promise<void> {
    // 404: already gone (perhaps by a first attempt whose answer was lost).
    await this.call(
      `delete the ${this.describe(name)}`,
      'DELETE',
      '{secret_name}',
      { secret_name: name },
      {
        204: () => true,
        404: () => true
      }
    )
  }
}
