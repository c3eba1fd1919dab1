/**
 * The GitHub stand-in's repository variables routes (a part of github.ts): everything under a
 * visible repository's `…/actions/variables`, once routes.ts has authenticated the request and
 * checked the permission — list (paginated: `per_page` default 10, at most 30, GitHub's `Link`),
 * create (201; 409 "Already exists - Variable already exists", names case-insensitive), get (the
 * value: a variable is not a secret), update (204, a new `name` renames) and delete (204); 404 for
 * a variable that does not exist. Names follow the secrets' rules and are stored upper-case.
 *
 * Sources: the REST reference (https://docs.github.com/rest/actions/variables: "Create a repository
 * variable" 201, "Update a repository variable" and "Delete a repository variable" 204, the list's
 * `per_page` "max 30", default 10; the fine-grained permission "Variables" repository permissions,
 * `actions_variables`); the 409's wording as the GitHub CLI's `variable set` meets it (it then
 * updates). The wording of a 422 for a bad name or value is this stand-in's own (test/README.md).
 */
import { json } from '../http.js'
import type { Incoming, Reply } from '../http.js'
import type { RepoSpec, StoredVariable } from './types.js'
import { JSON_UTF8, jsonBody, linkHeader, type RouteContext } from './replies.js'
import { isoSeconds, validName } from './store.js'

export const VARIABLES_DOCS = 'https://docs.github.com/rest/actions/variables'

export type VariablesRoute = (repo: RepoSpec, rest: string[], incoming: Incoming) => Reply

/** Routes everything under a repository's `…/actions/variables`: `rest` is what follows `variables`. */
export function variablesRoutes(ctx: RouteContext): VariablesRoute {
  const { store } = ctx
  const { reply, error, notFound, noContent, validationFailed, headers } = ctx.replies

  const variableJson = (name: string, variable: StoredVariable): Record<string, unknown> => ({
    name,
    value: variable.value,
    created_at: variable.created_at,
    updated_at: variable.updated_at
  })
  const invalid = (field: string, code: 'invalid' | 'missing_field') =>
    validationFailed([{ resource: 'Variable', code, field }], `${VARIABLES_DOCS}#create-a-repository-variable`)

  /** The body's fields, or GitHub's answer to one it cannot read. */
  const fieldsOf = (incoming: Incoming): { fields: Record<string, unknown> } | { reply: Reply } => {
    const parsed = jsonBody(incoming, error)
    if ('reply' in parsed) return parsed
    const { body } = parsed
    return { fields: body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {} }
  }

  function list(repo: RepoSpec, incoming: Incoming): Reply {
    const all = [...store.variables(repo).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    const perPageRaw = Number.parseInt(incoming.url.searchParams.get('per_page') ?? '', 10)
    const pageRaw = Number.parseInt(incoming.url.searchParams.get('page') ?? '', 10)
    const perPage = Number.isFinite(perPageRaw) && perPageRaw >= 1 ? Math.min(perPageRaw, 30) : 10
    const page = Number.isFinite(pageRaw) && pageRaw >= 1 ? pageRaw : 1
    const link = linkHeader(`${ctx.url()}/repos/${repo.owner}/${repo.name}/actions/variables`, perPage, page, all.length)
    const variables = all.slice((page - 1) * perPage, page * perPage).map(([name, variable]) => variableJson(name, variable))
    return json(200, { total_count: all.length, variables }, JSON_UTF8, { ...headers(), ...(link ? { Link: link } : {}) })
  }

  function create(repo: RepoSpec, incoming: Incoming): Reply {
    const parsed = fieldsOf(incoming)
    if ('reply' in parsed) return parsed.reply
    const { name, value } = parsed.fields
    if (typeof name !== 'string' || name === '') return invalid('name', 'missing_field')
    if (validName(name)) return invalid('name', 'invalid')
    if (typeof value !== 'string') return invalid('value', 'missing_field')
    const variables = store.variables(repo)
    if (variables.has(name.toUpperCase())) return error(409, 'Already exists - Variable already exists', VARIABLES_DOCS)
    const stamp = isoSeconds(store.now())
    variables.set(name.toUpperCase(), { value, created_at: stamp, updated_at: stamp })
    return reply(201, {})
  }

  function update(repo: RepoSpec, current: string, incoming: Incoming): Reply {
    const variables = store.variables(repo)
    const existing = variables.get(current)
    if (!existing) return notFound()
    const parsed = fieldsOf(incoming)
    if ('reply' in parsed) return parsed.reply
    const { name, value } = parsed.fields
    if (name !== undefined && (typeof name !== 'string' || validName(name))) return invalid('name', 'invalid')
    if (value !== undefined && typeof value !== 'string') return invalid('value', 'invalid')
    const renamed = typeof name === 'string' ? name.toUpperCase() : current
    if (renamed !== current && variables.has(renamed)) return error(409, 'Already exists - Variable already exists', VARIABLES_DOCS)
    const updated: StoredVariable = {
      value: typeof value === 'string' ? value : existing.value,
      created_at: existing.created_at,
      updated_at: isoSeconds(store.now())
    }
    variables.delete(current)
    variables.set(renamed, updated)
    return noContent()
  }

  return (repo, rest, incoming) => {
    const method = incoming.info.method
    const [name, ...more] = rest
    if (name === undefined) {
      if (method === 'GET') return list(repo, incoming)
      if (method === 'POST') return create(repo, incoming)
      return notFound()
    }
    if (more.length > 0) return notFound()
    const upper = name.toUpperCase()
    const variable = store.variables(repo).get(upper)
    if (method === 'GET') return variable ? reply(200, variableJson(upper, variable)) : notFound()
    if (method === 'PATCH') return update(repo, upper, incoming)
    if (method === 'DELETE') {
      if (!variable) return notFound()
      store.variables(repo).delete(upper)
      return noContent()
    }
    return notFound()
  }
}
