/**
 * The GitHub stand-in's request handler (a part of github.ts): the path prefix, authentication,
 * the repository routes (`/repos/{o}/{r}`, `/repositories/{id}`, workflows and workflow runs, the
 * redirect of a transferred or renamed repository) and the organization secrets; every `…/secrets`
 * path goes to secrets.ts, every `…/issues` path to issues.ts and every `…/actions/variables` path
 * to variables.ts; the token's expiry header on
 * every answer to it. Other routes answer 404 "Not Found".
 */
import type { Handler, Incoming, Reply } from '../http.js'
import { json } from '../http.js'
import type { RequestInfo } from '../faults.js'
import type { RepoSpec, TokenGrant, WorkflowRunSpec } from './types.js'
import { JSON_UTF8, linkHeader, pageParams, REDIRECT_DOCS, RUNS_DOCS, WORKFLOWS_DOCS, type Actor, type RouteContext } from './replies.js'
import { issuesRoutes, type IssuesRoute } from './issues.js'
import { secretsRoutes, type SecretsRoute } from './secrets.js'
import { VARIABLES_DOCS, variablesRoutes, type VariablesRoute } from './variables.js'
import { DEFAULT_WORKFLOW } from './events.js'
import { isPublic, isoSeconds, lc, type WorkflowEntry } from './store.js'
import { DEMO_JOB_TOKEN } from '../tokens.js'

/** The actor, or the 401 answer. */
function authenticate(ctx: RouteContext, info: RequestInfo): Actor | Reply {
  const { tokens } = ctx.store
  const header = info.headers.authorization
  if (typeof header !== 'string' || header.trim() === '') return ctx.replies.error(401, 'Requires authentication')
  const token = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(header)?.[1]
  const grant = token !== undefined && Object.hasOwn(tokens, token) ? tokens[token] : undefined
  if (token === undefined || grant === undefined) return ctx.replies.error(401, 'Bad credentials')
  // The job token acts as the GitHub Actions app's bot; any other token as a user.
  return { grant, login: grant.login ?? (token === DEMO_JOB_TOKEN ? 'github-actions[bot]' : 'octocat') }
}

/** `YYYY-MM-DD HH:MM:SS UTC`, the form GitHub sends most (it also sends `… +0000`: give a string for that). */
function expirationHeader(expiresAt: number | string): string {
  if (typeof expiresAt === 'string') return expiresAt
  const iso = new Date(expiresAt).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`
}

const canSee = (grant: TokenGrant, repo: RepoSpec): boolean =>
  grant.repos === undefined || grant.repos.some((r) => lc(r) === lc(`${repo.owner}/${repo.name}`))

type RepoRoute = (repo: RepoSpec, rest: string[], incoming: Incoming, actor: Actor) => Reply

/** Everything under /repos/{o}/{r} (or /repositories/{id}): `rest` is what follows. */
function repositoryRoutes(
  ctx: RouteContext,
  secretsRoute: SecretsRoute,
  issuesRoute: IssuesRoute,
  variablesRoute: VariablesRoute
): RepoRoute {
  const { store } = ctx
  const { reply, notFound, forbidden, noContent, repoJson } = ctx.replies

  function runJson(repo: RepoSpec, run: WorkflowRunSpec, runNumber: number): Record<string, unknown> {
    const id = typeof run.id === 'number' || !/^[1-9]\d{0,15}$/.test(run.id) ? run.id : Number(run.id)
    const full = `${repo.owner}/${repo.name}`
    const started = run.runStartedAt ?? run.createdAt
    return {
      id,
      name: DEFAULT_WORKFLOW.name,
      node_id: `WFR_kwLO${Buffer.from(String(id)).toString('base64url')}`,
      head_branch: 'main',
      head_sha: '0000000000000000000000000000000000000000',
      path: DEFAULT_WORKFLOW.path,
      display_title: DEFAULT_WORKFLOW.name,
      run_number: runNumber,
      event: run.event ?? 'workflow_dispatch',
      status: 'in_progress',
      conclusion: null,
      workflow_id: DEFAULT_WORKFLOW.id,
      url: `${ctx.url()}/repos/${full}/actions/runs/${id}`,
      html_url: `https://github.com/${full}/actions/runs/${id}`,
      created_at: isoSeconds(run.createdAt),
      updated_at: isoSeconds(Math.max(run.createdAt, started)),
      run_attempt: run.attempt ?? 1,
      run_started_at: isoSeconds(started),
      repository: repoJson(repo)
    }
  }

  function workflowJson(repo: RepoSpec, workflow: WorkflowEntry): Record<string, unknown> {
    const full = `${repo.owner}/${repo.name}`
    return {
      id: workflow.id,
      node_id: `W_kwDO${Buffer.from(String(workflow.id)).toString('base64url')}`,
      name: workflow.name,
      path: workflow.path,
      state: workflow.state,
      created_at: isoSeconds(workflow.createdAt),
      updated_at: isoSeconds(workflow.updatedAt),
      url: `${ctx.url()}/repos/${full}/actions/workflows/${workflow.id}`,
      html_url: `https://github.com/${full}/blob/main/${workflow.path}`,
      badge_url: `https://github.com/${full}/workflows/${encodeURIComponent(workflow.name)}/badge.svg`
    }
  }

  /** `GET …/actions/workflows/{id|file}`, `PUT …/{id|file}/enable` and `…/disable`; `rest` follows `workflows`. */
  function workflowRoute(repo: RepoSpec, rest: string[], method: string, grant: TokenGrant): Reply {
    const [idOrFile, action, ...more] = rest
    if (idOrFile === undefined || more.length > 0) return notFound()
    if (action === undefined) {
      if (method !== 'GET') return notFound()
      if (!isPublic(repo) && !grant.actionsRead && !grant.actionsWrite) return forbidden(`${WORKFLOWS_DOCS}#get-a-workflow`, 'actions=read')
      const workflow = store.workflow(repo, idOrFile)
      return workflow ? reply(200, workflowJson(repo, workflow)) : notFound()
    }
    if ((action !== 'enable' && action !== 'disable') || method !== 'PUT') return notFound()
    if (!grant.actionsWrite) return forbidden(`${WORKFLOWS_DOCS}#${action}-a-workflow`, 'actions=write')
    const workflow = store.workflow(repo, idOrFile)
    if (!workflow) return notFound()
    const at = store.now()
    // "Enables a workflow and sets the state of the workflow to active" / "… to disabled_manually".
    workflow.state = action === 'enable' ? 'active' : 'disabled_manually'
    workflow.updatedAt = at
    ;(action === 'enable' ? workflow.enableCalls : workflow.disableCalls).push(at)
    return noContent()
  }

  return (repo, rest, incoming, actor) => {
    const { grant } = actor
    const full = lc(`${repo.owner}/${repo.name}`)
    const method = incoming.info.method
    if (rest.length === 0) return method === 'GET' ? reply(200, repoJson(repo)) : notFound()
    if (rest[0] === 'issues') return issuesRoute(repo, rest.slice(1), incoming, actor)
    if (rest[0] === 'actions' && rest[1] === 'workflows') return workflowRoute(repo, rest.slice(2), method, grant)
    if (rest[0] === 'actions' && rest[1] === 'runs' && rest[2] !== undefined && rest.length === 3) {
      if (method !== 'GET') return notFound()
      if (!isPublic(repo) && !grant.actionsRead && !grant.actionsWrite) return forbidden(RUNS_DOCS)
      const run = store.runs.get(full)?.get(rest[2])
      return run ? reply(200, runJson(repo, run.spec, run.number)) : notFound()
    }
    if (rest[0] === 'actions' && rest[1] === 'variables') {
      // Reading needs "Variables: read" (or write), every change "Variables: write".
      const reads = method === 'GET'
      if (!(grant.variables === 'write' || (reads && grant.variables === 'read'))) {
        return forbidden(VARIABLES_DOCS, `actions_variables=${reads ? 'read' : 'write'}`)
      }
      return variablesRoute(repo, rest.slice(2), incoming)
    }
    if (rest[0] === 'actions' && rest[1] === 'secrets') {
      if (!grant.repoSecrets) return forbidden()
      const state = store.scopes.get(`repo:${full}`)
      return state ? secretsRoute(state, rest.slice(2), incoming) : notFound()
    }
    if (rest[0] === 'environments' && rest[1] !== undefined && rest[2] === 'secrets') {
      if (!grant.envSecrets) return forbidden()
      const state = store.scopes.get(`env:${full}:${lc(rest[1])}`)
      return state ? secretsRoute(state, rest.slice(3), incoming) : notFound()
    }
    return notFound()
  }
}

/** GitHub's answer at a transferred or renamed repository's old path: 301 (GET/HEAD) or 307 to /repositories/{id}. */
function redirect(ctx: RouteContext, repo: RepoSpec, rest: string[], incoming: Incoming): Reply {
  const permanent = incoming.info.method === 'GET' || incoming.info.method === 'HEAD'
  const tail = rest.map((segment) => `/${encodeURIComponent(segment)}`).join('')
  const location = `${ctx.url()}/repositories/${repo.id}${tail}${incoming.url.search}`
  return json(
    permanent ? 301 : 307,
    { message: permanent ? 'Moved Permanently' : 'Temporary Redirect', url: location, documentation_url: REDIRECT_DOCS },
    JSON_UTF8,
    { ...ctx.replies.headers(), Location: location }
  )
}

export function gitHubHandler(ctx: RouteContext): Handler {
  const { store, prefix } = ctx
  const { notFound, forbidden } = ctx.replies
  const secretsRoute = secretsRoutes(ctx)
  const repoRoute = repositoryRoutes(ctx, secretsRoute, issuesRoutes(ctx), variablesRoutes(ctx))

  const route = (incoming: Incoming, actor: Actor): Reply => {
    const { grant } = actor
    const pathname = incoming.url.pathname

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
      const repo = /^[1-9]\d*$/.test(a) ? store.repoById.get(Number(a)) : undefined
      if (!repo || !canSee(grant, repo)) return notFound()
      return repoRoute(repo, b === undefined ? [] : [b, ...rest], incoming, actor)
    }
    if (root === 'repos' && a !== undefined && b !== undefined) {
      const repo = store.repoByName.get(lc(`${a}/${b}`))
      if (!repo) {
        const moved = store.movedFrom.get(lc(`${a}/${b}`))
        if (moved && canSee(grant, moved)) return redirect(ctx, moved, rest, incoming)
      }
      if (!repo || !canSee(grant, repo)) return notFound()
      return repoRoute(repo, rest, incoming, actor)
    }
    if (root === 'orgs' && a !== undefined && b === 'repos' && rest.length === 0) {
      // GET /orgs/{org}/repos: the organization's repositories the token can see, by id (GitHub's
      // default order for an organization's list is created; ids stand for it here), paginated.
      if (incoming.info.method !== 'GET' || !store.organizations.some((o) => lc(o) === lc(a))) return notFound()
      const visible = store.orgRepos(a).filter((repo) => canSee(grant, repo))
      const { perPage, page } = pageParams(incoming.url)
      const link = linkHeader(`${ctx.url()}/orgs/${a}/repos`, perPage, page, visible.length)
      return json(200, visible.slice((page - 1) * perPage, page * perPage).map(ctx.replies.repoJson), JSON_UTF8, {
        ...ctx.replies.headers(),
        ...(link ? { Link: link } : {})
      })
    }
    if (root === 'orgs' && a !== undefined && b === 'actions' && rest[0] === 'secrets') {
      const state = store.scopes.get(`org:${lc(a)}`)
      if (!state) return notFound()
      if (!grant.orgSecrets) return forbidden()
      return secretsRoute(state, rest.slice(1), incoming)
    }
    return notFound()
  }

  return (incoming) => {
    const pathname = incoming.url.pathname
    if (prefix !== '' && pathname !== prefix && !pathname.startsWith(`${prefix}/`)) return notFound()
    const actor = authenticate(ctx, incoming.info)
    if ('status' in actor) return actor
    const answer = route(incoming, actor)
    // GitHub names a personal access token's expiry on every answer to it, errors and redirects included.
    const { expiresAt } = actor.grant
    if (expiresAt === undefined) return answer
    return { ...answer, headers: { ...answer.headers, 'GitHub-Authentication-Token-Expiration': expirationHeader(expiresAt) } }
  }
}
