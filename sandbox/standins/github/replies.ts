/**
 * The GitHub stand-in's answers (a part of github.ts): GitHub's headers (`x-github-request-id` in a
 * sequence per server, `x-ratelimit-*` with a constant, never-exhausted budget), error bodies
 * `{ message, documentation_url, status }`, the repository JSON, and the pagination every paginated
 * list shares (`per_page` default 30 and at most 100, `page`, GitHub's `Link` header).
 */
import { json } from '../http.js'
import type { Incoming, Reply } from '../http.js'
import type { RepoSpec, TokenGrant } from './types.js'
import { lc, type GitHubStore } from './store.js'

const DOCS = 'https://docs.github.com/rest'
const SECRETS_DOCS = 'https://docs.github.com/rest/actions/secrets'
export const RUNS_DOCS = 'https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run'
export const REDIRECT_DOCS = 'https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects'
export const ISSUES_DOCS = 'https://docs.github.com/rest/issues/issues'
export const COMMENTS_DOCS = 'https://docs.github.com/rest/issues/comments'
export const WORKFLOWS_DOCS = 'https://docs.github.com/rest/actions/workflows'
export const JSON_UTF8 = 'application/json; charset=utf-8'

interface Replies {
  /** GitHub's headers for one answer (each call is a new request id). */
  headers(): Record<string, string>
  reply(status: number, value: unknown): Reply
  error(status: number, message: string, documentationUrl?: string): Reply
  notFound(): Reply
  /**
   * 403 "Resource not accessible by integration"; with `accepted` (e.g. 'issues=write') the
   * `X-Accepted-GitHub-Permissions` header that names the permission the route needs.
   */
  forbidden(documentationUrl?: string, accepted?: string): Reply
  invalid(message: string): Reply
  /** 422 "Validation Failed" with GitHub's `errors` list (`resource`, `code`, `field`, `message`). */
  validationFailed(errors: Record<string, string>[], documentationUrl: string): Reply
  noContent(): Reply
  repoJson(repo: RepoSpec): Record<string, unknown>
}

/** Who makes a request: the token's grant and the login of what it creates. */
export interface Actor {
  grant: TokenGrant
  login: string
}

/** What the route modules share: the state, the API's base URL (known once the server listens) and the answers. */
export interface RouteContext {
  store: GitHubStore
  /** Path prefix of the API ('' or e.g. '/api/v3'). */
  prefix: string
  /** http://127.0.0.1:PORT + prefix. */
  url(): string
  replies: Replies
}

/** `per_page` (default 30, 1..100) and `page` (default 1) of a list request, like GitHub. */
export function pageParams(url: URL): { perPage: number; page: number } {
  const perPageRaw = Number.parseInt(url.searchParams.get('per_page') ?? '', 10)
  const pageRaw = Number.parseInt(url.searchParams.get('page') ?? '', 10)
  const perPage = Number.isFinite(perPageRaw) && perPageRaw >= 1 ? Math.min(perPageRaw, 100) : 30
  const page = Number.isFinite(pageRaw) && pageRaw >= 1 ? pageRaw : 1
  return { perPage, page }
}

/**
 * GitHub's `Link` header (prev, next, last, first), or undefined when everything fits on one page.
 * `query`: the request's other parameters (filters), which every link keeps, as GitHub's do.
 */
export function linkHeader(base: string, perPage: number, page: number, total: number, query?: URLSearchParams): string | undefined {
  const last = Math.max(1, Math.ceil(total / perPage))
  if (last === 1 && page === 1) return undefined
  const kept = new URLSearchParams(query)
  kept.delete('per_page')
  kept.delete('page')
  const filters = kept.size > 0 ? `${kept.toString()}&` : ''
  const at = (n: number, rel: string) => `<${base}?${filters}per_page=${perPage}&page=${n}>; rel="${rel}"`
  const links: string[] = []
  if (page > 1) links.push(at(Math.min(page - 1, last), 'prev'))
  if (page < last) links.push(at(page + 1, 'next'), at(last, 'last'))
  if (page > 1) links.push(at(1, 'first'))
  return links.join(', ')
}

/** The request's JSON body, or GitHub's answer to one it cannot read (413 too large, 400 "Problems parsing JSON"). */
export function jsonBody(incoming: Incoming, error: (status: number, message: string) => Reply): { body: unknown } | { reply: Reply } {
  if (incoming.tooLarge) return { reply: error(413, 'Payload too large') }
  if (incoming.invalidJson) return { reply: error(400, 'Problems parsing JSON') }
  const body: unknown = incoming.info.body
  if (typeof body !== 'string') return { body }
  // GitHub parses the body as JSON whatever the Content-Type says.
  try {
    return { body: JSON.parse(body) as unknown }
  } catch {
    return { reply: error(400, 'Problems parsing JSON') }
  }
}

export function createReplies(store: GitHubStore, url: () => string): Replies {
  let requestSeq = 0
  const headers = (): Record<string, string> => {
    requestSeq += 1
    return {
      Server: 'github.com',
      'X-GitHub-Api-Version-Selected': '2022-11-28',
      'X-GitHub-Media-Type': 'github.v3; format=json',
      'X-GitHub-Request-Id': `C0DE:${(0x1000 + requestSeq).toString(16).toUpperCase()}:5A9D1:6B1E2:6745F0${requestSeq % 10}`,
      'X-RateLimit-Limit': '5000',
      'X-RateLimit-Remaining': '4999',
      'X-RateLimit-Reset': String(Math.floor(store.now() / 1000) + 3600),
      'X-RateLimit-Used': '1',
      'X-RateLimit-Resource': 'core'
    }
  }
  const reply = (status: number, value: unknown): Reply => json(status, value, JSON_UTF8, headers())
  const error = (status: number, message: string, documentationUrl = DOCS): Reply =>
    reply(status, { message, documentation_url: documentationUrl, status: String(status) })
  return {
    headers,
    reply,
    error,
    notFound: () => error(404, 'Not Found'),
    forbidden(documentationUrl = SECRETS_DOCS, accepted) {
      const answer = error(403, 'Resource not accessible by integration', documentationUrl)
      return accepted === undefined ? answer : { ...answer, headers: { ...answer.headers, 'X-Accepted-GitHub-Permissions': accepted } }
    },
    invalid: (message) => error(422, message, SECRETS_DOCS),
    validationFailed: (errors, documentationUrl) =>
      reply(422, { message: 'Validation Failed', errors, documentation_url: documentationUrl, status: '422' }),
    noContent: () => ({ status: 204, headers: headers() }),
    repoJson: (repo) => ({
      id: repo.id,
      node_id: `R_kgDO${Buffer.from(String(repo.id)).toString('base64url')}`,
      name: repo.name,
      full_name: `${repo.owner}/${repo.name}`,
      // An internal repository is private to outsiders: `private` is true for it too.
      private: repo.visibility !== 'public',
      visibility: repo.visibility ?? 'private',
      owner: {
        login: repo.owner,
        type: store.organizations.some((o) => lc(o) === lc(repo.owner)) ? 'Organization' : 'User'
      },
      html_url: `https://github.com/${repo.owner}/${repo.name}`,
      url: `${url()}/repos/${repo.owner}/${repo.name}`,
      has_issues: repo.hasIssues ?? true
    })
  }
}
