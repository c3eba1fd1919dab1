/**
 * The GitHub stand-in's issues routes (a part of github.ts): everything under a visible
 * repository's `…/issues` — list, create, get, update (close, reopen) and an issue's comments (list,
 * create). Pull requests are issues here, as on GitHub: they share the numbers and are listed with
 * a `pull_request` key. What it emulates and what it deliberately does not: test/README.md, the stand-ins table.
 *
 * Sources: the REST reference (https://docs.github.com/rest/issues/issues and …/comments, and the
 * description @octokit/openapi-types carries); the permissions from github/docs'
 * src/github-apps/data/fpt-2022-11-28/server-to-server-permissions.json ("Issues");
 * `X-Accepted-GitHub-Permissions` from the changelog 2023-08-10. What the reference does not say,
 * as clients met it: a label created by naming it is grey `ededed` (github/docs#35718); a body
 * over 65,536 characters is refused in one wording for an issue (peter-evans/create-issue-from-file#1049,
 * googleapis/release-please#1034) and another for a comment (jmikedupont2/ai-ticket#51,
 * vebr/jest-lcov-reporter#14); 410 "Issues are disabled for this repo" (ossf/allstar#64,
 * ingydotnet/git-hub#72).
 */
import { json } from '../http.js'
import type { Incoming, Reply } from '../http.js'
import type { IssueStateReason, RepoSpec } from './types.js'
import { COMMENTS_DOCS, ISSUES_DOCS, JSON_UTF8, jsonBody, linkHeader, pageParams, type Actor, type RouteContext } from './replies.js'
import { isPublic, isoSeconds, lc, type CommentState, type IssueBoard, type IssueState, type LabelState } from './store.js'

/** GitHub's limit on an issue's or a comment's body, in characters. */
const MAX_BODY_CHARS = 65_536

const STATE_REASONS: readonly IssueStateReason[] = ['completed', 'not_planned', 'duplicate', 'reopened']

/** Characters as GitHub counts them (code points, not UTF-16 units). */
const charCount = (text: string): number => [...text].length

/** A stable, positive id for a login (the real one for the Actions bot). */
function userId(login: string): number {
  if (login === 'github-actions[bot]') return 41898282
  let hash = 7
  for (const ch of login) hash = (hash * 31 + (ch.codePointAt(0) ?? 0)) % 90_000_000
  return 10_000_000 + hash
}

const nodeId = (prefix: string, id: number): string => `${prefix}_kwDO${Buffer.from(String(id)).toString('base64url')}`

export type IssuesRoute = (repo: RepoSpec, rest: string[], incoming: Incoming, actor: Actor) => Reply

/** Routes everything under a repository's `…/issues`: `rest` is what follows `issues`. */
export function issuesRoutes(ctx: RouteContext): IssuesRoute {
  const { store } = ctx
  const { reply, error, notFound, forbidden, validationFailed, headers } = ctx.replies

  const apiBase = (repo: RepoSpec) => `${ctx.url()}/repos/${repo.owner}/${repo.name}`
  const webBase = (repo: RepoSpec) => `https://github.com/${repo.owner}/${repo.name}`

  const userJson = (login: string): Record<string, unknown> => {
    const bot = login.endsWith('[bot]')
    return {
      login,
      id: userId(login),
      type: bot ? 'Bot' : 'User',
      site_admin: false,
      url: `${ctx.url()}/users/${encodeURIComponent(login)}`,
      html_url: bot ? `https://github.com/apps/${login.slice(0, -'[bot]'.length)}` : `https://github.com/${login}`
    }
  }

  const association = (repo: RepoSpec, login: string): string => (lc(login) === lc(repo.owner) ? 'OWNER' : 'NONE')

  const labelJson = (repo: RepoSpec, label: LabelState): Record<string, unknown> => ({
    id: label.id,
    node_id: nodeId('LA', label.id),
    url: `${apiBase(repo)}/labels/${encodeURIComponent(label.name)}`,
    name: label.name,
    color: label.color,
    default: false,
    description: label.description
  })

  const issueJson = (repo: RepoSpec, issue: IssueState): Record<string, unknown> => {
    const api = `${apiBase(repo)}/issues/${issue.number}`
    const web = `${webBase(repo)}/${issue.pullRequest ? 'pull' : 'issues'}/${issue.number}`
    return {
      url: api,
      repository_url: apiBase(repo),
      labels_url: `${api}/labels{/name}`,
      comments_url: `${api}/comments`,
      events_url: `${api}/events`,
      html_url: web,
      id: issue.id,
      node_id: nodeId(issue.pullRequest ? 'PR' : 'I', issue.id),
      number: issue.number,
      title: issue.title,
      user: userJson(issue.login),
      labels: issue.labels.map((label) => labelJson(repo, label)),
      state: issue.state,
      locked: false,
      assignee: null,
      assignees: [],
      milestone: null,
      comments: issue.comments.length,
      created_at: isoSeconds(issue.createdAt),
      updated_at: isoSeconds(issue.updatedAt),
      closed_at: issue.closedAt === null ? null : isoSeconds(issue.closedAt),
      author_association: association(repo, issue.login),
      active_lock_reason: null,
      body: issue.body,
      closed_by: issue.closedBy === null ? null : userJson(issue.closedBy),
      state_reason: issue.stateReason,
      ...(issue.pullRequest
        ? {
            draft: false,
            pull_request: {
              url: `${apiBase(repo)}/pulls/${issue.number}`,
              html_url: web,
              diff_url: `${web}.diff`,
              patch_url: `${web}.patch`,
              merged_at: null
            }
          }
        : {})
    }
  }

  const commentJson = (repo: RepoSpec, issue: IssueState, comment: CommentState): Record<string, unknown> => ({
    url: `${apiBase(repo)}/issues/comments/${comment.id}`,
    html_url: `${webBase(repo)}/${issue.pullRequest ? 'pull' : 'issues'}/${issue.number}#issuecomment-${comment.id}`,
    issue_url: `${apiBase(repo)}/issues/${issue.number}`,
    id: comment.id,
    node_id: nodeId('IC', comment.id),
    user: userJson(comment.login),
    created_at: isoSeconds(comment.createdAt),
    updated_at: isoSeconds(comment.updatedAt),
    author_association: association(repo, comment.login),
    body: comment.body
  })

  /** One page of `items` with GitHub's `Link` header; `base` is the list's URL without the query. */
  function page(incoming: Incoming, base: string, items: Record<string, unknown>[]): Reply {
    const { perPage, page: n } = pageParams(incoming.url)
    const link = linkHeader(base, perPage, n, items.length, incoming.url.searchParams)
    return json(200, items.slice((n - 1) * perPage, n * perPage), JSON_UTF8, { ...headers(), ...(link ? { Link: link } : {}) })
  }

  function list(repo: RepoSpec, board: IssueBoard, incoming: Incoming): Reply {
    const query = incoming.url.searchParams
    const state = query.get('state') ?? 'open'
    const wanted = (query.get('labels') ?? '')
      .split(',')
      .map((name) => lc(name.trim()))
      .filter((name) => name !== '')
    const creator = query.get('creator')
    const sort = query.get('sort')
    const key = (issue: IssueState): number =>
      sort === 'updated' ? issue.updatedAt : sort === 'comments' ? issue.comments.length : issue.createdAt
    const ascending = query.get('direction') === 'asc'
    const found = board.issues
      .filter((issue) => state === 'all' || issue.state === (state === 'closed' ? 'closed' : 'open'))
      .filter((issue) => wanted.every((name) => issue.labels.some((label) => lc(label.name) === name)))
      .filter((issue) => creator === null || lc(issue.login) === lc(creator))
      .sort((a, b) => (ascending ? 1 : -1) * (key(a) - key(b) || a.number - b.number))
    // The docs' example: the links of a repository's list name it by id.
    return page(
      incoming,
      `${ctx.url()}/repositories/${repo.id}/issues`,
      found.map((issue) => issueJson(repo, issue))
    )
  }

  /** The body's fields, or the answer to a body that is not a JSON object. */
  function fieldsOf(incoming: Incoming, docs: string): { fields: Record<string, unknown> } | { reply: Reply } {
    const parsed = jsonBody(incoming, error)
    if ('reply' in parsed) return parsed
    const { body } = parsed
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
      return { reply: error(422, 'Invalid request.\n\nInvalid input: object is not a hash.', docs) }
    }
    return { fields: body as Record<string, unknown> }
  }

  const notText = (field: string, value: unknown, docs: string): Reply =>
    error(422, `Invalid request.\n\nFor 'properties/${field}', ${JSON.stringify(value)} is not a string.`, docs)

  /** The labels named by `value` (names or `{ name }`), created when missing, or the 422 answer. */
  function labelsOf(board: IssueBoard, value: unknown, docs: string): LabelState[] | Reply {
    if (!Array.isArray(value))
      return error(422, `Invalid request.\n\nFor 'properties/labels', ${JSON.stringify(value)} is not an array.`, docs)
    const labels: LabelState[] = []
    for (const item of value as unknown[]) {
      const name =
        typeof item === 'string' ? item : typeof item === 'object' && item !== null ? (item as { name?: unknown }).name : undefined
      if (typeof name !== 'string' || name.trim() === '') {
        return error(422, `Invalid request.\n\nFor 'items', ${JSON.stringify(item)} is not a string.`, docs)
      }
      const label = store.label(board, name.trim())
      if (!labels.includes(label)) labels.push(label)
    }
    return labels
  }

  const bodyTooLong = () =>
    validationFailed(
      [{ resource: 'Issue', code: 'custom', field: 'body', message: `body is too long (maximum is ${MAX_BODY_CHARS} characters)` }],
      `${ISSUES_DOCS}#create-an-issue`
    )

  function create(repo: RepoSpec, board: IssueBoard, incoming: Incoming, actor: Actor): Reply {
    const docs = `${ISSUES_DOCS}#create-an-issue`
    const read = fieldsOf(incoming, docs)
    if ('reply' in read) return read.reply
    const { fields } = read
    const { title, body } = fields
    if (title === undefined || title === null || title === '') {
      return validationFailed([{ resource: 'Issue', code: 'missing_field', field: 'title' }], docs)
    }
    if (typeof title !== 'string' && typeof title !== 'number') return notText('title', title, docs)
    if (body !== undefined && body !== null && typeof body !== 'string') return notText('body', body, docs)
    if (typeof body === 'string' && charCount(body) > MAX_BODY_CHARS) return bodyTooLong()
    const labels = fields.labels === undefined ? [] : labelsOf(board, fields.labels, docs)
    if (!Array.isArray(labels)) return labels
    const at = store.now()
    const issue: IssueState = {
      ...store.nextIssue(board),
      title: String(title),
      body: typeof body === 'string' ? body : null,
      state: 'open',
      stateReason: null,
      labels,
      login: actor.login,
      pullRequest: false,
      createdAt: at,
      updatedAt: at,
      closedAt: null,
      closedBy: null,
      comments: []
    }
    board.issues.push(issue)
    const answer = reply(201, issueJson(repo, issue))
    return { ...answer, headers: { ...answer.headers, Location: `${apiBase(repo)}/issues/${issue.number}` } }
  }

  function update(repo: RepoSpec, board: IssueBoard, issue: IssueState, incoming: Incoming, actor: Actor): Reply {
    const docs = `${ISSUES_DOCS}#update-an-issue`
    const read = fieldsOf(incoming, docs)
    if ('reply' in read) return read.reply
    const { fields } = read
    const { title, body, state, state_reason: reason } = fields
    if (title !== undefined && title !== null && typeof title !== 'string' && typeof title !== 'number')
      return notText('title', title, docs)
    if (title === '') return validationFailed([{ resource: 'Issue', code: 'missing_field', field: 'title' }], docs)
    if (body !== undefined && body !== null && typeof body !== 'string') return notText('body', body, docs)
    if (typeof body === 'string' && charCount(body) > MAX_BODY_CHARS) return bodyTooLong()
    if (state !== undefined && state !== 'open' && state !== 'closed') {
      return error(422, `Invalid request.\n\nFor 'properties/state', ${JSON.stringify(state)} is not one of ["open", "closed"].`, docs)
    }
    if (reason !== undefined && reason !== null && !STATE_REASONS.includes(reason as IssueStateReason)) {
      const allowed = STATE_REASONS.map((r) => `"${r}"`).join(', ')
      return error(
        422,
        `Invalid request.\n\nFor 'properties/state_reason', ${JSON.stringify(reason)} is not one of [${allowed}, null].`,
        docs
      )
    }
    const labels = fields.labels === undefined ? undefined : labelsOf(board, fields.labels, docs)
    if (labels !== undefined && !Array.isArray(labels)) return labels

    const at = store.now()
    if (typeof title === 'string' || typeof title === 'number') issue.title = String(title)
    if (body !== undefined) issue.body = body as string | null
    if (labels !== undefined) issue.labels = labels
    // "The reason for the state change. Ignored unless `state` is changed."
    if (state === 'closed' && issue.state === 'open') {
      issue.state = 'closed'
      issue.stateReason = typeof reason === 'string' && reason !== 'reopened' ? (reason as IssueStateReason) : 'completed'
      issue.closedAt = at
      issue.closedBy = actor.login
    } else if (state === 'open' && issue.state === 'closed') {
      issue.state = 'open'
      issue.stateReason = 'reopened'
      issue.closedAt = null
      issue.closedBy = null
    }
    issue.updatedAt = at
    return reply(200, issueJson(repo, issue))
  }

  function comment(repo: RepoSpec, issue: IssueState, incoming: Incoming, actor: Actor): Reply {
    const docs = `${COMMENTS_DOCS}#create-an-issue-comment`
    const read = fieldsOf(incoming, docs)
    if ('reply' in read) return read.reply
    const { fields } = read
    const { body } = fields
    if (body === undefined || body === null || body === '') {
      return validationFailed([{ resource: 'IssueComment', code: 'missing_field', field: 'body' }], docs)
    }
    if (typeof body !== 'string') return notText('body', body, docs)
    if (charCount(body) > MAX_BODY_CHARS) {
      return validationFailed(
        [
          {
            resource: 'IssueComment',
            code: 'unprocessable',
            field: 'data',
            message: `Body is too long (maximum is ${MAX_BODY_CHARS} characters)`
          }
        ],
        docs
      )
    }
    const at = store.now()
    const made: CommentState = { id: store.nextCommentId(), body, login: actor.login, createdAt: at, updatedAt: at }
    issue.comments.push(made)
    issue.updatedAt = at
    return reply(201, commentJson(repo, issue, made))
  }

  return (repo, rest, incoming, actor) => {
    const method = incoming.info.method
    const [number, sub, ...more] = rest
    if (more.length > 0 || (sub !== undefined && sub !== 'comments')) return notFound()
    if (number !== undefined && !/^[1-9]\d{0,9}$/.test(number)) return notFound()
    const allowed = number === undefined || sub !== undefined ? ['GET', 'POST'] : ['GET', 'PATCH']
    if (!allowed.includes(method)) return notFound()

    const docs = sub !== undefined ? COMMENTS_DOCS : ISSUES_DOCS
    if (method === 'GET') {
      if (!isPublic(repo) && actor.grant.issues === undefined) return forbidden(docs, 'issues=read')
    } else if (actor.grant.issues !== 'write') {
      return forbidden(docs, 'issues=write')
    }
    if (repo.hasIssues === false) return error(410, 'Issues are disabled for this repo', docs)

    const board = store.issueBoard(repo)
    if (number === undefined) return method === 'GET' ? list(repo, board, incoming) : create(repo, board, incoming, actor)
    const issue = board.issues.find((i) => i.number === Number(number))
    if (!issue) return notFound()
    if (sub === undefined) return method === 'GET' ? reply(200, issueJson(repo, issue)) : update(repo, board, issue, incoming, actor)
    if (method === 'POST') return comment(repo, issue, incoming, actor)
    return page(
      incoming,
      `${ctx.url()}/repositories/${repo.id}/issues/${issue.number}/comments`,
      issue.comments.map((c) => commentJson(repo, issue, c))
    )
  }
}
