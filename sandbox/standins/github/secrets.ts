/**
 * The GitHub stand-in's secrets routes (a part of github.ts): everything under a scope's
 * `…/secrets`, once routes.ts has authenticated the request and checked the permission — list,
 * public-key, get (metadata only), put (sealed box, validated with GitHub's 422 wording and
 * decrypted with the scope's keypair; 201 new, 204 updated), delete, and an organization secret's
 * selected repositories (paginated like every list).
 */
import sodium from 'libsodium-wrappers'
import { json } from '../http.js'
import type { Incoming, Reply } from '../http.js'
import type { OrgVisibility, StoredSecret } from './types.js'
import { JSON_UTF8, jsonBody, linkHeader, pageParams, type RouteContext } from './replies.js'
import { isoSeconds, validName, type ScopeState } from './store.js'

const BASE64_ORIGINAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

export type SecretsRoute = (state: ScopeState, rest: string[], incoming: Incoming) => Reply

/** Routes everything under a resolved scope: `rest` is what follows `.../secrets`. */
export function secretsRoutes(ctx: RouteContext): SecretsRoute {
  const { store } = ctx
  const { reply, error, notFound, invalid, noContent, headers, repoJson } = ctx.replies

  const metadata = (state: ScopeState, name: string, secret: StoredSecret): Record<string, unknown> => {
    const out: Record<string, unknown> = { name, created_at: secret.created_at, updated_at: secret.updated_at }
    if (state.kind === 'org') {
      out.visibility = secret.visibility ?? 'private'
      if (secret.visibility === 'selected') out.selected_repositories_url = `${ctx.url()}${state.collectionPath}/${name}/repositories`
    }
    return out
  }

  function putSecret(state: ScopeState, rawName: string, incoming: Incoming): Reply {
    const parsed = jsonBody(incoming, error)
    if ('reply' in parsed) return parsed.reply
    const { body } = parsed
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
        const allowed = new Set(store.orgRepos(state.org ?? '').map((r) => r.id))
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
    const at = store.now()
    const stamp = isoSeconds(at)
    const existing = state.secrets.get(name)
    const stored: StoredSecret = { value: plaintext, created_at: existing?.created_at ?? stamp, updated_at: stamp }
    if (visibility !== undefined) stored.visibility = visibility
    if (selectedIds !== undefined) stored.selected_repository_ids = selectedIds
    state.secrets.set(name, stored)
    store.writes.push({ scope: { ...state.scope }, name, value: plaintext, at })
    return existing ? noContent() : reply(201, {})
  }

  return (state, rest, incoming) => {
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
      const all = store.repositories.filter((r) => ids.has(r.id))
      const { perPage, page } = pageParams(incoming.url)
      const repos = all.slice((page - 1) * perPage, page * perPage).map(repoJson)
      const link = linkHeader(`${ctx.url()}${state.collectionPath}/${name.toUpperCase()}/repositories`, perPage, page, all.length)
      return json(200, { total_count: all.length, repositories: repos }, JSON_UTF8, {
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
}
