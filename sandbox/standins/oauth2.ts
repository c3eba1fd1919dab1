/**
 * A generic OAuth 2.0 authorization server (RFC 6749) on 127.0.0.1 (port 0) with one confidential
 * client: the shape of Xero, X, Intuit, Atlassian and the like, configurable where they differ
 * (`OAuth2Options`); the chain is chain.ts's. What it emulates and what it deliberately does not:
 * test/README.md, the stand-ins table.
 *
 * Sources: RFC 6749 (§2.3 client authentication, §3.2 parameters in the body only, §4.1.2 the
 * code's lifetime, §4.1.3 and §6 the grants, §5.1 and §5.2 answers and errors, Appendix B form
 * encoding), RFC 6750 (`/api/me`), RFC 9700 §4.14.2 and panva's oidc-provider for reuse detection
 * and its one answer "grant request is invalid" (test/e2e/oidc-provider.ts starts the real one).
 */
import { randomBytes } from 'node:crypto'
import type { FaultHook, RequestInfo } from './faults.js'
import { tokenChain, tokenServer, type TokenServerBase } from './chain.js'
import type { IssuedPair } from './chain.js'
import { DEMO_GITHUB_TOKEN } from './tokens.js'
import { isJsonMediaType, json, mediaType, startCore, withTunables } from './http.js'
import type { Incoming, Reply, Tunable } from './http.js'

export interface OAuth2Options {
  /** Default 'sandbox-client-7Hq2'. */
  clientId?: string
  /** Default a 40-character string with characters that need form-encoding inside Basic (`+`, `/`, `:`). */
  clientSecret?: string
  /** How the server requires the client to authenticate (RFC 6749 §2.3.1). Default 'basic'. */
  clientAuth?: 'basic' | 'body'
  /** What the server parses: 'form' (default; JSON accepted too when the Content-Type says so) or 'json' (JSON only). */
  bodyFormat?: 'form' | 'json'
  /** true (default): every answer carries a new refresh token, the spent one is revoked at once. */
  rotate?: boolean
  /**
   * true: a spent refresh token presented again answers 400 invalid_grant "grant request is
   * invalid" and revokes its family, the current refresh token included (RFC 9700 §4.14.2, like
   * oidc-provider). Default false: only the presented token is refused.
   */
  reuseDetection?: boolean
  /** When set, the code grant must request this scope (space-separated `scope` containing it), else `invalid_scope`. */
  requireScope?: string
  /** The scope granted when the request names none. Default 'read write'. */
  scope?: string
  /** When set, the code grant's `redirect_uri` must equal it (RFC 6749 §4.1.3). Default: not checked. */
  redirectUri?: string
  /** Token endpoint path. Default '/oauth/token'. */
  path?: string
  /** Default 90 days. */
  refreshTokenTtlMs?: number
  /** `expires_in` of access tokens, seconds. Default 3600. */
  accessTokenTtlS?: number
  /** Default 10 minutes. */
  codeTtlMs?: number
  /** true: JWT-shaped access tokens (header.payload.random signature). Default false: opaque. */
  jwt?: boolean
  /** Clock for codes, token expiry, `iat`/`exp`, `issued[].at`. Default Date.now. */
  now?: () => number
  latencyMs?: number
  faults?: FaultHook
}

/**
 * The members every token stand-in has (TokenServerBase) and its tunables, as this server means
 * them: a code from `issueCode()` lives `codeTtlMs` (10 min) and one made to expire (`expireCode`)
 * answers invalid_grant; `setRefreshToken()` seeds any string.
 */
export interface OAuth2Server extends TokenServerBase, Tunable {
  /** `{url}{path}`: the action's `token-url`. */
  readonly tokenUrl: string
  readonly clientId: string
  readonly clientSecret: string
  readonly clientAuth: 'basic' | 'body'
  readonly bodyFormat: 'form' | 'json'
  readonly rotate: boolean
  readonly reuseDetection: boolean
}

/**
 * oidc-provider's `error_description` for every invalid_grant (its InvalidGrant class), whatever
 * the cause: the answer to every refused refresh token when reuse detection is on.
 */
export const REUSE_DETECTION_REFUSAL = 'grant request is invalid'

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' }
const JSON_TYPE = 'application/json;charset=UTF-8'

/** application/x-www-form-urlencoded decoding of one value (RFC 6749 Appendix B); undefined when malformed. */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '))
  } catch {
    return undefined
  }
}

/** application/x-www-form-urlencoded encoding of one value, as RFC 6749 §2.3.1 wants inside Basic. */
export function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2)
}

/** `Authorization: Basic …` → the client id and secret (§2.3.1), `malformed`, or undefined when there is no Basic header. */
function basicCredentials(header: string | undefined): { id: string; secret: string } | 'malformed' | undefined {
  if (header === undefined) return undefined
  const match = /^Basic\s+([A-Za-z0-9+/=_-]*)\s*$/i.exec(header)
  if (!match) return /^Basic\b/i.test(header) ? 'malformed' : undefined
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return 'malformed'
  const id = formDecode(decoded.slice(0, colon))
  const secret = formDecode(decoded.slice(colon + 1))
  return id === undefined || secret === undefined ? 'malformed' : { id, secret }
}

const base64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url')

export async function startOAuth2(options: OAuth2Options = {}): Promise<OAuth2Server> {
  const clientId = options.clientId ?? 'sandbox-client-7Hq2'
  const clientSecret = options.clientSecret ?? 'kT9+vW2/xZ:5nQ8rS1uY4bC7dF0gH3jL6mP9aE2i'
  const clientAuth = options.clientAuth ?? 'basic'
  const bodyFormat = options.bodyFormat ?? 'form'
  const rotate = options.rotate ?? true
  const grantedScope = options.scope ?? 'read write'
  const path = options.path ?? '/oauth/token'
  if (!path.startsWith('/')) throw new Error(`path must start with '/': ${path}`)
  const expiresIn = options.accessTokenTtlS ?? 3600
  const jwt = options.jwt ?? false
  const now = options.now ?? Date.now
  const chain = tokenChain({
    codeTtlMs: options.codeTtlMs ?? 10 * 60 * 1000,
    refreshTokenTtlMs: options.refreshTokenTtlMs ?? 90 * 24 * 3600 * 1000,
    rotate,
    reuseDetection: options.reuseDetection ?? false,
    now,
    newCode: () => base64url(randomBytes(24)),
    newRefreshToken: () => base64url(randomBytes(48))
  })
  let origin = ''

  const tokenError = (status: number, error: string, description: string, headers: Record<string, string> = {}): Reply =>
    json(status, { error, error_description: description }, JSON_TYPE, { ...NO_STORE, ...headers })

  function newAccessToken(at: number, scope: string): string {
    if (!jwt) return base64url(randomBytes(32))
    const iat = Math.floor(at / 1000)
    const header = { alg: 'RS256', typ: 'at+jwt', kid: 'sandbox' }
    const payload = {
      iss: origin,
      sub: 'user-1001',
      aud: 'api',
      client_id: clientId,
      scope,
      iat,
      exp: iat + expiresIn,
      jti: randomBytes(12).toString('hex')
    }
    return `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}.${base64url(randomBytes(256))}`
  }

  const scopes = new Map<string, string>() // access token → scope, for /api/me

  function issue(grant: IssuedPair['grant'], scope: string): Reply {
    const at = now()
    const accessToken = newAccessToken(at, scope)
    chain.addAccessToken(accessToken, at + expiresIn * 1000)
    scopes.set(accessToken, scope)
    const { refreshToken } = chain.issue(grant, accessToken, at)
    const body: Record<string, unknown> = { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn }
    if (refreshToken !== undefined) body.refresh_token = refreshToken
    body.scope = scope
    return json(200, body, JSON_TYPE, NO_STORE)
  }

  function tokenEndpoint(incoming: Incoming): Reply {
    const { info } = incoming
    if (incoming.tooLarge) return tokenError(400, 'invalid_request', 'The request body is too large.')
    const type = mediaType(info.headers['content-type'])
    const isJson = isJsonMediaType(type)
    const parses = bodyFormat === 'json' ? isJson : isJson || type === 'application/x-www-form-urlencoded'
    if (!parses) {
      const wanted = bodyFormat === 'json' ? 'application/json' : 'application/x-www-form-urlencoded'
      return tokenError(400, 'invalid_request', `The request body must be ${wanted}.`)
    }
    if (incoming.invalidJson) return tokenError(400, 'invalid_request', 'The request body is not valid JSON.')
    const raw = info.body
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      return tokenError(400, 'invalid_request', 'The request body has no parameters.')
    }
    const params: Record<string, string> = {}
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof value === 'string') params[name] = value
      else if (typeof value === 'number' || typeof value === 'boolean') params[name] = String(value)
    }

    // Client authentication (§2.3): exactly one method, the one this server uses.
    const header = typeof info.headers.authorization === 'string' ? info.headers.authorization : undefined
    const basic = basicCredentials(header)
    const inBody = params.client_secret !== undefined
    const unauthorized = (description: string): Reply =>
      header !== undefined
        ? tokenError(401, 'invalid_client', description, { 'WWW-Authenticate': 'Basic realm="oauth"' })
        : tokenError(400, 'invalid_client', description)
    if (basic !== undefined && inBody) return tokenError(400, 'invalid_request', 'The client used more than one authentication method.')
    if (clientAuth === 'basic') {
      if (basic === undefined) return unauthorized('Client authentication failed: HTTP Basic authentication is required.')
      if (basic === 'malformed') return unauthorized('Client authentication failed: malformed Basic credentials.')
      if (basic.id !== clientId || basic.secret !== clientSecret) return unauthorized('Client authentication failed.')
    } else {
      if (basic !== undefined)
        return unauthorized('Client authentication failed: this client authenticates with client_secret in the body.')
      if (!inBody) return unauthorized('Client authentication failed: client_id and client_secret are required.')
      if (params.client_id !== clientId || params.client_secret !== clientSecret) return unauthorized('Client authentication failed.')
    }
    if (params.client_id !== undefined && params.client_id !== clientId) return unauthorized('Client authentication failed.')

    const grant = params.grant_type
    if (!grant) return tokenError(400, 'invalid_request', 'Missing parameter: grant_type.')
    if (grant === 'authorization_code') {
      const code = params.code
      if (!code) return tokenError(400, 'invalid_request', 'Missing parameter: code.')
      const requested = params.scope
      if (options.requireScope !== undefined && !(requested ?? '').split(' ').includes(options.requireScope)) {
        return tokenError(400, 'invalid_scope', `The scope must include ${options.requireScope}.`)
      }
      if (!chain.redeemCode(code).ok) return tokenError(400, 'invalid_grant', 'The authorization code is invalid, expired or already used.')
      if (options.redirectUri !== undefined && params.redirect_uri !== options.redirectUri) {
        return tokenError(400, 'invalid_grant', 'The redirect_uri does not match the one of the authorization request.')
      }
      return issue('authorization_code', requested || grantedScope)
    }
    if (grant === 'refresh_token') {
      const token = params.refresh_token
      if (!token) return tokenError(400, 'invalid_request', 'Missing parameter: refresh_token.')
      const check = chain.spendRefreshToken(token)
      if (!check.ok && chain.reuseDetection) return tokenError(400, 'invalid_grant', REUSE_DETECTION_REFUSAL)
      if (!check.ok) {
        const why = check.reason === 'expired' ? 'has expired' : check.reason === 'revoked' ? 'has been revoked' : 'is invalid'
        return tokenError(400, 'invalid_grant', `The refresh token ${why}.`)
      }
      return issue('refresh_token', params.scope || grantedScope)
    }
    return tokenError(400, 'unsupported_grant_type', `Unsupported grant_type: ${grant.slice(0, 40)}.`)
  }

  function me(info: RequestInfo): Reply {
    const header = typeof info.headers.authorization === 'string' ? info.headers.authorization : ''
    const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1]
    if (token === undefined) return json(401, { error: 'unauthorized' }, JSON_TYPE, { 'WWW-Authenticate': 'Bearer realm="api"' })
    if (!chain.accessTokenValid(token)) {
      return json(401, { error: 'invalid_token', error_description: 'The access token is invalid or has expired.' }, JSON_TYPE, {
        'WWW-Authenticate': 'Bearer realm="api", error="invalid_token", error_description="The access token is invalid or has expired"'
      })
    }
    return json(200, { sub: 'user-1001', name: 'Sandbox User', client_id: clientId, scope: scopes.get(token) ?? grantedScope }, JSON_TYPE)
  }

  function handler(incoming: Incoming): Reply {
    const pathname = incoming.url.pathname
    const method = incoming.info.method
    if (pathname === path) {
      if (method !== 'POST') return json(405, { error: 'invalid_request', error_description: 'Use POST.' }, JSON_TYPE, { Allow: 'POST' })
      return tokenEndpoint(incoming)
    }
    if (pathname === '/api/me' && method === 'GET') return me(incoming.info)
    return json(404, { error: 'not_found' }, JSON_TYPE)
  }

  const core = await startCore({
    ...(options.latencyMs !== undefined ? { latencyMs: options.latencyMs } : {}),
    ...(options.faults !== undefined ? { faults: options.faults } : {}),
    handler
  })
  origin = core.origin

  return withTunables<OAuth2Server>(
    tokenServer(core, chain, {
      tokenUrl: `${core.origin}${path}`,
      clientId,
      clientSecret,
      clientAuth,
      bodyFormat,
      rotate,
      reuseDetection: chain.reuseDetection
    }),
    core
  )
}

/**
 * The action's inputs that point at this stand-in (and at the GitHub stand-in's demo token), as a
 * workflow would pass them; `extra` adds or overrides inputs.
 */
export function oauth2Inputs(server: OAuth2Server, extra: Record<string, string> = {}): Record<string, string> {
  return {
    provider: 'oauth2',
    'token-url': server.tokenUrl,
    'client-auth': server.clientAuth,
    'body-format': server.bodyFormat,
    'client-id': server.clientId,
    'client-secret': server.clientSecret,
    'github-token': DEMO_GITHUB_TOKEN,
    ...extra
  }
}
