/**
 * amoCRM / Kommo stand-in on 127.0.0.1 (port 0): one account with one integration (client). The
 * codes, the refresh-token chain and access-token expiry are chain.ts's; this file gives them
 * amoCRM's wire format and wording. What it emulates and what it deliberately does not:
 * test/README.md, the stand-ins table.
 *
 * Sources: the problem+json hints and the refresh grant are league/oauth2-server's, which amoCRM
 * runs (it revokes the presented token and nothing else: no reuse detection in the sense of
 * RFC 9700 §4.14.2); the API's answers (hal+json, 204 for an unknown lead) are amoCRM's.
 */
import { randomBytes } from 'node:crypto'
import { tokenChain, tokenServer, type TokenServerBase } from './chain.js'
import type { IssuedPair } from './chain.js'
import { DEMO_GITHUB_TOKEN } from './tokens.js'
import { json, startCore, withTunables } from './http.js'
import type { Incoming, Reply, Tunable } from './http.js'
import type { FaultHook, RequestInfo } from './faults.js'

export interface AmoCrmOptions {
  /** Integration ID. Default '8d2c3f6e-4b1a-4c7d-9e2f-5a6b7c8d9e01'. */
  clientId?: string
  /** Secret key. Default a 64-character alphanumeric string. */
  clientSecret?: string
  /** Default 'https://example.com/amocrm/callback'; compared exactly (trailing slash matters). */
  redirectUri?: string
  /** Default 31000001. */
  accountId?: number
  /** Default 'demo'. */
  subdomain?: string
  /** true (default): access tokens are JWT-shaped; false: opaque random strings. */
  jwt?: boolean
  /** Access token lifetime in seconds. Default 86400. */
  expiresIn?: number
  /** Authorization code lifetime. Default 20 minutes. */
  codeTtlMs?: number
  /** A refresh token unused this long answers "Token has expired". Default 90 days. */
  refreshTokenTtlMs?: number
  /** The refresh tokens it issues. Default `def50200` + 600 hex digits (a token with a space in it, RFC 6749's VSCHAR, for a test). */
  newRefreshToken?: () => string
  /** Clock for codes, token expiry, `iat`/`exp`, `server_time`, `issued[].at`. Default Date.now. */
  now?: () => number
  latencyMs?: number
  faults?: FaultHook
}

/**
 * The members every token stand-in has (TokenServerBase) and its tunables, as amoCRM means them:
 * `url` is where the action expects https://{subdomain}.amocrm.ru; a code from `issueCode()` lives
 * `codeTtlMs` (20 min) and one made to expire (`expireCode`) answers "Authorization code has
 * expired"; a refresh token seeded with `setRefreshToken()` that is not shaped like amoCRM's
 * (REFRESH_TOKEN_SHAPE) answers "Cannot decrypt the refresh token".
 */
export interface AmoCrmServer extends TokenServerBase, Tunable {
  readonly clientId: string
  readonly clientSecret: string
  readonly redirectUri: string
  readonly accountId: number
  readonly subdomain: string
}

const PROBLEM_TYPE = 'https://developers.amocrm.ru/v3/errors/OAuthProblemJson'
const TITLE_BAD_REQUEST = 'Некорректный запрос'
const DETAIL_BAD_REQUEST =
  'В запросе отсутствует обязательный параметр, он содержит недопустимое значение параметра или иным образом некорректен'
const BASE_HEADERS = { Server: 'nginx' }
/** What amoCRM's refresh tokens look like (league/oauth2-server's encrypted payload: def50200 + hex). */
const REFRESH_TOKEN_SHAPE = /^def50200[0-9a-f]+$/

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url')
}

/** Decodes (never verifies) the payload of a JWT-shaped token; undefined if it is not one. */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.')
  if (parts.length !== 3 || !parts[1]) return undefined
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'))
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined
    return payload as Record<string, unknown>
  } catch {
    return undefined
  }
}

interface Lead {
  id: number
  name: string
  price: number
  responsible_user_id: number
  status_id: number
  pipeline_id: number
  created_at: number
  updated_at: number
  contacts: Array<{ id: number; is_main: boolean }>
}

const LEADS: readonly Lead[] = [
  {
    id: 1001,
    name: 'Поставка оборудования',
    price: 150000,
    responsible_user_id: 8000001,
    status_id: 142,
    pipeline_id: 7000001,
    created_at: 1767261600,
    updated_at: 1767348000,
    contacts: [
      { id: 5000002, is_main: false },
      { id: 5000001, is_main: true }
    ]
  },
  {
    id: 1002,
    name: 'Годовая подписка',
    price: 48000,
    responsible_user_id: 8000002,
    status_id: 7000011,
    pipeline_id: 7000001,
    created_at: 1767434400,
    updated_at: 1767520800,
    contacts: [{ id: 5000003, is_main: true }]
  },
  {
    id: 1003,
    name: 'Заявка с сайта',
    price: 0,
    responsible_user_id: 8000001,
    status_id: 7000010,
    pipeline_id: 7000001,
    created_at: 1767607200,
    updated_at: 1767607200,
    contacts: []
  }
]

function stringParam(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name]
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return undefined
}

export async function startAmoCrm(options: AmoCrmOptions = {}): Promise<AmoCrmServer> {
  const clientId = options.clientId ?? '8d2c3f6e-4b1a-4c7d-9e2f-5a6b7c8d9e01'
  const clientSecret = options.clientSecret ?? 'Xq7TbN2mK9vR4sW8yZ3cF6hJ1pL5dG0aE2uI7oM4nB9vC3xQ6tY8wR1kS5jH0gDf'
  const redirectUri = options.redirectUri ?? 'https://example.com/amocrm/callback'
  const accountId = options.accountId ?? 31000001
  const subdomain = options.subdomain ?? 'demo'
  const jwt = options.jwt ?? true
  const expiresIn = options.expiresIn ?? 86400
  const codeTtlMs = options.codeTtlMs ?? 20 * 60 * 1000
  const refreshTokenTtlMs = options.refreshTokenTtlMs ?? 90 * 24 * 3600 * 1000
  const now = options.now ?? Date.now

  const chain = tokenChain({
    codeTtlMs,
    refreshTokenTtlMs,
    now,
    newCode: () => `def50200${randomBytes(256).toString('hex')}`,
    newRefreshToken: options.newRefreshToken ?? (() => `def50200${randomBytes(300).toString('hex')}`)
  })
  let origin = ''

  const problem = (status: number, hint: string, title: string, detail: string): Reply =>
    json(status, { hint, title, type: PROBLEM_TYPE, status, detail }, 'application/problem+json', BASE_HEADERS)
  const badRequest = (hint: string): Reply => problem(400, hint, TITLE_BAD_REQUEST, DETAIL_BAD_REQUEST)
  const apiProblem = (status: number, title: string, detail: string): Reply =>
    json(status, { title, type: `https://httpstatus.es/${status}`, status, detail }, 'application/problem+json', BASE_HEADERS)
  const hal = (value: unknown): Reply => json(200, value, 'application/hal+json', BASE_HEADERS)

  function newAccessToken(issuedAtSec: number): string {
    if (!jwt) return randomBytes(48).toString('hex')
    const jti = randomBytes(20).toString('hex')
    const header = { typ: 'JWT', alg: 'RS256', jti }
    const payload = {
      aud: clientId,
      jti,
      iat: issuedAtSec,
      nbf: issuedAtSec,
      exp: issuedAtSec + expiresIn,
      sub: '8000001',
      grant_type: '',
      account_id: accountId,
      base_domain: 'amocrm.ru',
      version: 2,
      scopes: ['crm', 'files', 'notifications'],
      api_domain: 'api-b.amocrm.ru'
    }
    return `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}.${base64url(randomBytes(256))}`
  }

  function issuePair(grant: IssuedPair['grant']): Reply {
    const at = now()
    const serverTime = Math.floor(at / 1000)
    const accessToken = newAccessToken(serverTime)
    chain.addAccessToken(accessToken, at + expiresIn * 1000)
    const refreshToken = chain.issue(grant, accessToken, at).pair.refresh_token
    return json(
      200,
      { token_type: 'Bearer', expires_in: expiresIn, access_token: accessToken, refresh_token: refreshToken, server_time: serverTime },
      'application/json',
      BASE_HEADERS
    )
  }

  function tokenEndpoint({ info, invalidJson, tooLarge }: Incoming): Reply {
    if (tooLarge) return problem(413, 'Request body is too large', 'Request Entity Too Large', 'Тело запроса слишком большое')
    if (invalidJson) return badRequest('The request body is not valid JSON')
    // Only JSON and form bodies carry parameters (like PHP's $_POST plus a JSON body parser);
    // any other body (raw string) or a JSON array/scalar is a request without parameters.
    const params: Record<string, unknown> =
      info.body !== null && typeof info.body === 'object' && !Array.isArray(info.body) ? (info.body as Record<string, unknown>) : {}

    if (stringParam(params, 'client_id') !== clientId) return badRequest('Check the `client_id` parameter')
    if (stringParam(params, 'client_secret') !== clientSecret) return badRequest('Check the `client_secret` parameter')
    if (stringParam(params, 'redirect_uri') !== redirectUri) return badRequest('Redirect URI is not associated with client')

    const grant = stringParam(params, 'grant_type')
    if (grant === 'authorization_code') {
      const code = stringParam(params, 'code')
      if (!code) return badRequest('Check the `code` parameter')
      const check = chain.redeemCode(code)
      if (!check.ok && check.reason === 'unknown') return badRequest('Cannot decrypt the authorization code')
      if (!check.ok && check.reason === 'used') return badRequest('Authorization code has been revoked')
      if (!check.ok) return badRequest('Authorization code has expired')
      return issuePair('authorization_code')
    }
    if (grant === 'refresh_token') {
      const token = stringParam(params, 'refresh_token')
      if (!token) return badRequest('Check the `refresh_token` parameter')
      if (!REFRESH_TOKEN_SHAPE.test(token) && token !== chain.currentRefreshToken()) {
        // league/oauth2-server fails to decrypt a payload that is not one of its own (a token issued
        // in another shape through `newRefreshToken` is one of its own).
        return problem(401, 'Cannot decrypt the refresh token', 'Unauthorized', 'Не удалось расшифровать refresh token')
      }
      const check = chain.spendRefreshToken(token) // single use: revoked the moment it is exchanged
      if (!check.ok && check.reason === 'expired') {
        return problem(401, 'Token has expired', 'Unauthorized', 'Срок действия refresh token истёк')
      }
      if (!check.ok) {
        // Spent, replaced or never issued: amoCRM does not tell them apart.
        return problem(401, 'Token has been revoked', 'Unauthorized', 'Токен отозван: refresh token уже использован или не существует')
      }
      return issuePair('refresh_token')
    }
    return badRequest('Unsupported grant type')
  }

  function authorized(info: RequestInfo): boolean {
    const header = info.headers.authorization
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
    const token = match?.[1]
    return token !== undefined && token !== '' && chain.accessTokenValid(token)
  }

  function leadJson(lead: Lead, withContacts: boolean): unknown {
    const embedded: Record<string, unknown> = { tags: [], companies: [] }
    if (withContacts) {
      embedded.contacts = lead.contacts.map((c) => ({
        id: c.id,
        is_main: c.is_main,
        _links: { self: { href: `${origin}/api/v4/contacts/${c.id}?with=contacts` } }
      }))
    }
    return {
      id: lead.id,
      name: lead.name,
      price: lead.price,
      responsible_user_id: lead.responsible_user_id,
      group_id: 0,
      status_id: lead.status_id,
      pipeline_id: lead.pipeline_id,
      loss_reason_id: null,
      created_by: lead.responsible_user_id,
      updated_by: lead.responsible_user_id,
      created_at: lead.created_at,
      updated_at: lead.updated_at,
      closed_at: null,
      closest_task_at: null,
      is_deleted: false,
      custom_fields_values: null,
      score: null,
      account_id: accountId,
      labor_cost: null,
      _links: { self: { href: `${origin}/api/v4/leads/${lead.id}` } },
      _embedded: embedded
    }
  }

  function handler(incoming: Incoming): Reply {
    const { info, url } = incoming
    const path = url.pathname
    if (path === '/oauth2/access_token' && info.method === 'POST') return tokenEndpoint(incoming)

    if (path === '/api/v4/account' && info.method === 'GET') {
      if (!authorized(info)) return apiProblem(401, 'Unauthorized', 'Неверный логин или пароль')
      return hal({
        id: accountId,
        name: 'Demo account',
        subdomain,
        created_at: 1735700000,
        created_by: 8000001,
        updated_at: 1767261600,
        updated_by: 8000001,
        current_user_id: 8000001,
        country: 'RU',
        currency: 'RUB',
        currency_symbol: '₽',
        customers_mode: 'disabled',
        is_unsorted_on: true,
        is_loss_reason_enabled: true,
        is_helpbot_enabled: false,
        is_technical_account: false,
        contact_name_display_order: 1,
        _links: { self: { href: `${origin}/api/v4/account` } }
      })
    }

    const leadMatch = /^\/api\/v4\/leads\/([^/]+)$/.exec(path)
    if (leadMatch && info.method === 'GET') {
      if (!authorized(info)) return apiProblem(401, 'Unauthorized', 'Неверный логин или пароль')
      const idText = leadMatch[1] ?? ''
      if (!/^\d+$/.test(idText)) return apiProblem(404, 'Not Found', 'Ресурс не найден')
      const lead = LEADS.find((l) => l.id === Number(idText))
      if (!lead) return { status: 204, headers: { ...BASE_HEADERS } }
      const withList = (url.searchParams.get('with') ?? '').split(',').map((s) => s.trim())
      return hal(leadJson(lead, withList.includes('contacts')))
    }

    return apiProblem(404, 'Not Found', 'Ресурс не найден')
  }

  const core = await startCore({
    ...(options.latencyMs !== undefined ? { latencyMs: options.latencyMs } : {}),
    ...(options.faults !== undefined ? { faults: options.faults } : {}),
    handler
  })
  origin = core.origin

  return withTunables<AmoCrmServer>(tokenServer(core, chain, { clientId, clientSecret, redirectUri, accountId, subdomain }), core)
}

/**
 * The action's inputs that point at this stand-in (and at the GitHub stand-in's demo token), as a
 * workflow would pass them; `extra` adds or overrides inputs.
 */
export function standInInputs(amo: AmoCrmServer, extra: Record<string, string> = {}): Record<string, string> {
  return {
    subdomain: 'demo',
    'base-url': amo.url,
    'client-id': amo.clientId,
    'client-secret': amo.clientSecret,
    'redirect-uri': amo.redirectUri,
    'github-token': DEMO_GITHUB_TOKEN,
    ...extra
  }
}
