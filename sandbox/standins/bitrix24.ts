/**
 * Bitrix24 stand-in on 127.0.0.1 (port 0): the authorization server (oauth.bitrix.info) with one
 * application on one portal, and a sliver of the portal's REST API; the chain is chain.ts's. What
 * it emulates and what it deliberately does not: test/README.md, the stand-ins table.
 *
 * Sources: apidocs.bitrix24.com `settings/oauth/index.md` (the GET with a query string, the
 * answer's fields), `auto-renewal.md` (180 idle days since 2024-08, 28 before; the old docs said a
 * spent pair dies at once, which is what is emulated), `error-codes.md`,
 * `_includes/system-errors.md`, `api-reference/crm/deals/crm-deal-get.md`; the CRest library (the
 * same parameters as a POST form, not documented); the b24phpsdk's handling of statuses.
 */
import { randomBytes } from 'node:crypto'
import { nginxHtml } from './faults.js'
import type { FaultHook } from './faults.js'
import { tokenChain, tokenServer, type TokenServerBase } from './chain.js'
import type { IssuedPair } from './chain.js'
import { DEMO_GITHUB_TOKEN } from './tokens.js'
import { json, mediaType, startCore, withTunables } from './http.js'
import type { Incoming, Reply, Tunable } from './http.js'

export interface Bitrix24Options {
  /** The application's client_id. Default 'local.68c2a1f04b7e93.52718306' (a local app's shape). */
  clientId?: string
  /** Default a 50-character alphanumeric string. */
  clientSecret?: string
  /** The portal's id (`member_id`). Default 32 lower-case hex characters. */
  memberId?: string
  /** `user_id` of the user who installed the app. Default 1. */
  userId?: number
  /**
   * The portal's host, for `client_endpoint` = `https://{portal}/rest/`. Default: none, and
   * `client_endpoint` is this stand-in's own `{url}/rest/`, which serves the REST sliver (so a
   * consumer step can call the `api-url` the action outputs).
   */
  portal?: string
  /** Access token lifetime in seconds. Default 3600. */
  expiresIn?: number
  /** Authorization code lifetime. Default 30 s. */
  codeTtlMs?: number
  /** A refresh token unused this long answers invalid_grant. Default 180 days (the current docs; the old docs said 28 days). */
  refreshTokenTtlMs?: number
  /** Clock for codes, token expiry, `expires`, REST `time`, `issued[].at`. Default Date.now. */
  now?: () => number
  latencyMs?: number
  faults?: FaultHook
}

/**
 * The members every token stand-in has (TokenServerBase) and its tunables, as Bitrix24 means them:
 * `url` is where the action expects https://oauth.bitrix.info (its `base-url`); a code from
 * `issueCode()` lives `codeTtlMs` (30 s) and one made to expire (`expireCode`) answers
 * invalid_grant; `setRefreshToken()` seeds any string.
 */
export interface Bitrix24Server extends TokenServerBase, Tunable {
  readonly clientId: string
  readonly clientSecret: string
  readonly memberId: string
  readonly userId: number
  /** `client_endpoint` of every answer: the portal's REST base (the action's `api-url`). */
  readonly clientEndpoint: string
}

/** What Bitrix24's tokens look like: 70 lower-case hex characters. */
export const BITRIX24_TOKEN_SHAPE = /^[0-9a-f]{70}$/

const JSON_TYPE = 'application/json'
const BASE_HEADERS = { Server: 'nginx' }

interface Deal {
  ID: string
  TITLE: string
  STAGE_ID: string
  OPPORTUNITY: string
  ASSIGNED_BY_ID: string
  CONTACT_ID: string | null
  COMPANY_ID: string | null
  DATE_CREATE: string
}

const DEALS: readonly Deal[] = [
  {
    ID: '1001',
    TITLE: 'Поставка оборудования',
    STAGE_ID: 'WON',
    OPPORTUNITY: '150000.00',
    ASSIGNED_BY_ID: '1',
    CONTACT_ID: '501',
    COMPANY_ID: '301',
    DATE_CREATE: '2026-01-01T12:00:00+03:00'
  },
  {
    ID: '1002',
    TITLE: 'Годовая подписка',
    STAGE_ID: 'PREPARATION',
    OPPORTUNITY: '48000.00',
    ASSIGNED_BY_ID: '7',
    CONTACT_ID: '503',
    COMPANY_ID: null,
    DATE_CREATE: '2026-01-03T12:00:00+03:00'
  },
  {
    ID: '1003',
    TITLE: 'Заявка с сайта',
    STAGE_ID: 'NEW',
    OPPORTUNITY: '0.00',
    ASSIGNED_BY_ID: '1',
    CONTACT_ID: null,
    COMPANY_ID: null,
    DATE_CREATE: '2026-01-05T12:00:00+03:00'
  }
]

function dealJson(deal: Deal): Record<string, unknown> {
  return {
    ID: deal.ID,
    TITLE: deal.TITLE,
    TYPE_ID: 'SALE',
    STAGE_ID: deal.STAGE_ID,
    PROBABILITY: null,
    CURRENCY_ID: 'RUB',
    OPPORTUNITY: deal.OPPORTUNITY,
    IS_MANUAL_OPPORTUNITY: 'N',
    TAX_VALUE: '0.00',
    LEAD_ID: null,
    COMPANY_ID: deal.COMPANY_ID,
    CONTACT_ID: deal.CONTACT_ID,
    QUOTE_ID: null,
    BEGINDATE: deal.DATE_CREATE,
    CLOSEDATE: deal.DATE_CREATE,
    ASSIGNED_BY_ID: deal.ASSIGNED_BY_ID,
    CREATED_BY_ID: deal.ASSIGNED_BY_ID,
    MODIFY_BY_ID: deal.ASSIGNED_BY_ID,
    DATE_CREATE: deal.DATE_CREATE,
    DATE_MODIFY: deal.DATE_CREATE,
    OPENED: 'Y',
    CLOSED: deal.STAGE_ID === 'WON' ? 'Y' : 'N',
    COMMENTS: null,
    CATEGORY_ID: '0',
    STAGE_SEMANTIC_ID: deal.STAGE_ID === 'WON' ? 'S' : 'P',
    IS_NEW: deal.STAGE_ID === 'NEW' ? 'Y' : 'N',
    IS_RECURRING: 'N',
    IS_RETURN_CUSTOMER: 'N',
    IS_REPEATED_APPROACH: 'N',
    SOURCE_ID: 'WEB',
    SOURCE_DESCRIPTION: null,
    ORIGINATOR_ID: null,
    ORIGIN_ID: null
  }
}

const hex = (bytes: number): string => randomBytes(bytes).toString('hex')

/** Parameters as PHP's `$_REQUEST` sees them: the query, then a form body over it. */
function requestParams(incoming: Incoming, bodyTypes: readonly string[]): Record<string, string> {
  const params: Record<string, string> = Object.fromEntries(incoming.url.searchParams)
  const body = incoming.info.body
  const type = mediaType(incoming.info.headers['content-type'])
  if (bodyTypes.includes(type) && body !== null && typeof body === 'object' && !Array.isArray(body)) {
    for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
      if (typeof value === 'string') params[name] = value
      else if (typeof value === 'number' || typeof value === 'boolean') params[name] = String(value)
    }
  }
  return params
}

export async function startBitrix24(options: Bitrix24Options = {}): Promise<Bitrix24Server> {
  const clientId = options.clientId ?? 'local.68c2a1f04b7e93.52718306'
  const clientSecret = options.clientSecret ?? 'pR4vK8sT1wY6zB3dF7hJ0mN5qL2xC9gA4eU8iO1tW6yZ3bV7nM'
  const memberId = options.memberId ?? '9c1e7f2a4b6d8e0f1a3c5e7b9d2f4a6c'
  const userId = options.userId ?? 1
  const expiresIn = options.expiresIn ?? 3600
  const now = options.now ?? Date.now
  // The middle of every token: the application's and the portal's parts, then the user's (as in real tokens).
  const appPart = hex(4)
  const portalPart = hex(4)
  const userPart = userId.toString(16).padStart(8, '0').slice(-8)
  const newToken = (): string => `${hex(4)}${appPart}${portalPart}${userPart}${hex(19)}`
  const chain = tokenChain({
    codeTtlMs: options.codeTtlMs ?? 30_000,
    // 180 days: apidocs.bitrix24.com auto-renewal.md today; before 2024-08 the docs said 28 days.
    refreshTokenTtlMs: options.refreshTokenTtlMs ?? 180 * 24 * 3600 * 1000,
    now,
    newCode: newToken,
    newRefreshToken: newToken
  })
  let clientEndpoint = ''

  const answer = (status: number, value: unknown): Reply => json(status, value, JSON_TYPE, BASE_HEADERS)
  const oauthError = (status: number, error: string, description: string): Reply =>
    answer(status, { error, error_description: description })
  const invalidGrant = (): Reply => oauthError(400, 'invalid_grant', 'Invalid grant')

  function issuePair(grant: IssuedPair['grant']): Reply {
    const at = now()
    const accessToken = newToken()
    chain.addAccessToken(accessToken, at + expiresIn * 1000)
    const refreshToken = chain.issue(grant, accessToken, at).pair.refresh_token
    return answer(200, {
      access_token: accessToken,
      expires: Math.floor(at / 1000) + expiresIn,
      expires_in: expiresIn,
      scope: 'app',
      domain: 'oauth.bitrix.info',
      server_endpoint: 'https://oauth.bitrix.info/rest/',
      status: 'L',
      client_endpoint: clientEndpoint,
      member_id: memberId,
      user_id: userId,
      refresh_token: refreshToken
    })
  }

  function tokenEndpoint(incoming: Incoming): Reply {
    const params = requestParams(incoming, ['application/x-www-form-urlencoded'])
    if (params.client_id !== clientId || params.client_secret !== clientSecret) {
      return oauthError(401, 'invalid_client', 'Invalid client')
    }
    const grant = params.grant_type
    if (grant === 'authorization_code') {
      const code = params.code
      if (!code) return oauthError(400, 'invalid_request', 'Invalid request')
      return chain.redeemCode(code).ok ? issuePair('authorization_code') : invalidGrant()
    }
    if (grant === 'refresh_token') {
      const token = params.refresh_token
      if (!token) return oauthError(400, 'invalid_request', 'Invalid request')
      // Single use: revoked the moment it is exchanged.
      return chain.spendRefreshToken(token).ok ? issuePair('refresh_token') : invalidGrant()
    }
    return oauthError(400, 'invalid_request', 'Invalid request')
  }

  function restTime(): Record<string, unknown> {
    const start = now() / 1000
    const iso = new Date(Math.floor(start) * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00')
    return { start, finish: start + 0.012, duration: 0.012, processing: 0.004, date_start: iso, date_finish: iso, operating: 0 }
  }

  function rest(incoming: Incoming, method: string): Reply {
    const params = requestParams(incoming, ['application/x-www-form-urlencoded', 'application/json'])
    const auth = params.auth
    if (!auth) return oauthError(401, 'NO_AUTH_FOUND', 'Wrong authorization data')
    if (!chain.accessTokenValid(auth)) return oauthError(401, 'expired_token', 'The access token provided has expired.')
    if (method !== 'crm.deal.get') return oauthError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!')
    const idText = params.id ?? params.ID ?? ''
    if (!/^[1-9]\d*$/.test(idText)) return oauthError(400, '', 'ID is not defined or invalid.')
    const deal = DEALS.find((d) => d.ID === idText)
    if (!deal) return oauthError(400, '', 'Not found')
    return answer(200, { result: dealJson(deal), time: restTime() })
  }

  function handler(incoming: Incoming): Reply {
    const path = incoming.url.pathname
    const method = incoming.info.method
    if (path === '/oauth/token/' && (method === 'GET' || method === 'POST')) return tokenEndpoint(incoming)
    const restMatch = /^\/rest\/([A-Za-z0-9_.]+?)(?:\.json)?$/.exec(path)
    if (restMatch?.[1] && (method === 'GET' || method === 'POST')) return rest(incoming, restMatch[1].toLowerCase())
    return { status: 404, headers: { ...BASE_HEADERS, 'Content-Type': 'text/html' }, body: nginxHtml(404) }
  }

  const core = await startCore({
    ...(options.latencyMs !== undefined ? { latencyMs: options.latencyMs } : {}),
    ...(options.faults !== undefined ? { faults: options.faults } : {}),
    handler
  })
  clientEndpoint = options.portal !== undefined ? `https://${options.portal}/rest/` : `${core.origin}/rest/`

  return withTunables<Bitrix24Server>(tokenServer(core, chain, { clientId, clientSecret, memberId, userId, clientEndpoint }), core)
}

/**
 * The action's inputs that point at this stand-in (and at the GitHub stand-in's demo token), as a
 * workflow would pass them; `extra` adds or overrides inputs. The action replaces the origin
 * https://oauth.bitrix.info by `base-url`, so its requests arrive at `{url}/oauth/token/`.
 */
export function bitrix24Inputs(server: Bitrix24Server, extra: Record<string, string> = {}): Record<string, string> {
  return {
    provider: 'bitrix24',
    'base-url': server.url,
    'client-id': server.clientId,
    'client-secret': server.clientSecret,
    'github-token': DEMO_GITHUB_TOKEN,
    ...extra
  }
}
