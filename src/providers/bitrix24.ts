/**
 * Bitrix24: the token request is a GET to https://oauth.bitrix.info/oauth/token/ with its
 * parameters in the query string (apidocs.bitrix24.com, "Auto-renewal of tokens"); the answer
 * carries `expires` (unix seconds), `client_endpoint` (the portal's REST base) and `member_id`
 * (the portal). Refresh tokens are treated as single use: the answer must carry the next one.
 * `base-url` replaces the origin (the east region https://oauth.bitrix24.tech, a proxy, a stand-in).
 */
import { InputError } from '../errors.js'
import { decodeJwtPayload } from './jwt.js'
import { excerpt, type Redact } from '../redact.js'
import { isLoopback, parseSecureUrl } from '../url.js'
import {
  addDays,
  formEncode,
  grantName,
  looksHtml,
  text,
  type Client,
  type Grant,
  type InputReader,
  type PairFacts,
  type Provider,
  type ProviderEntry,
  type Refusal,
  type TokenRequestSpec
} from './provider.js'
import { oauthError, quoted } from './rfc6749.js'

export const BITRIX24_ORIGIN = 'https://oauth.bitrix.info'

/**
 * Bitrix24's current docs give a refresh token 180 days; older ones said 28. The refresh-by date
 * is the conservative one. (Its docs also ask not to refresh every hour or day: weekly is plenty.)
 */
export const BITRIX24_REFRESH_DAYS = 28

const NEW_INSTALL =
  'A new refresh token is needed: reinstall the application in the portal (or run the code exchange by hand) and store the refresh token it gives in the secret (README: "Bitrix24").'

/** `client_endpoint` goes to the `api-url` output: only a plain https address (or loopback http) is passed on. */
function endpoint(value: unknown): string {
  const raw = text(value)
  try {
    const url = new URL(raw)
    const ok = url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname))
    return ok && !url.username && !url.password && raw.length < 300 && !/\s/.test(raw) ? raw : ''
  } catch {
    return ''
  }
}

function refusal(status: number, body: string, contentType: string, grant: Grant, redact: Redact): Refusal {
  const what = `Bitrix24 refused the ${grantName(grant)}`
  const e = oauthError(body, redact)
  if (e) {
    const said = quoted(status, e)
    switch (e.error) {
      case 'invalid_grant':
      case 'expired_token':
      case 'invalid_token':
        return grant.type === 'refresh_token'
          ? {
              kind: 'revoked',
              message: `${what} (${said}): the refresh token is invalid, expired or already used. ${NEW_INSTALL}`,
              said: `Bitrix24 says the refresh token is invalid or expired (${said})`
            }
          : {
              kind: 'rejected',
              message: `${what} (${said}): the code is invalid or older than 30 seconds (a Bitrix24 code lives 30 seconds). ${NEW_INSTALL}`
            }
      case 'invalid_client':
      case 'wrong_client':
        return {
          kind: 'rejected',
          message: `${what} (${said}): check 'client-id' and 'client-secret' (the application's client_id and client_secret), and that the application is installed in the portal.`
        }
      case 'PAYMENT_REQUIRED':
        return {
          kind: 'rejected',
          message: `${what} (${said}): the portal's plan does not allow this application; see the portal's subscription.`
        }
      default:
        return { kind: 'rejected', message: `${what} (${said}). Check 'client-id', 'client-secret' and 'base-url'.` }
    }
  }
  const page = excerpt(body, 120, redact)
  return {
    kind: 'rejected',
    message: `${what}: the server answered ${status}${looksHtml(body, contentType) ? ' with an HTML page' : ''}${page ? ` ("${page}")` : ''}, not an OAuth answer. Check 'base-url'.`
  }
}

export function bitrix24(origin: string): Provider {
  const host = new URL(origin).host
  const tokenUrl = `${origin}/oauth/token/`
  return {
    name: 'bitrix24',
    label: 'Bitrix24',
    host,
    title: `Bitrix24 (${host})`,
    origin,
    apiUrl: '',
    rescuePrefix: 'bitrix24-rescue:v1:',
    alwaysRotates: true,
    onReuse: 'may-revoke-grant',
    extraFields: ['expires', 'client_endpoint', 'member_id'],
    newAuthorization: NEW_INSTALL,
    hints: {
      firstCode:
        'or seed the secret with the refresh token of the application\'s install: a Bitrix24 code lives 30 seconds (README: "Bitrix24")',
      htmlPage: 'an HTML page, not the token server',
      spentNext: 'if the next run reports invalid_grant, a new refresh token is needed',
      redirect: "Check 'base-url'."
    },
    request(grant: Grant, client: Client): TokenRequestSpec {
      const params: Record<string, string> =
        grant.type === 'authorization_code'
          ? { grant_type: 'authorization_code', client_id: client.clientId, client_secret: client.clientSecret, code: grant.code }
          : {
              grant_type: 'refresh_token',
              client_id: client.clientId,
              client_secret: client.clientSecret,
              refresh_token: grant.refreshToken
            }
      if (grant.type === 'authorization_code' && client.redirectUri) params.redirect_uri = client.redirectUri
      return { url: `${tokenUrl}?${formEncode(params)}`, displayUrl: tokenUrl, method: 'GET', headers: { accept: 'application/json' } }
    },
    facts(fields, accessToken, expiresIn, issuedAt): PairFacts {
      const expires = Number(fields.expires)
      const exp = decodeJwtPayload(accessToken)?.exp
      const expiresAt =
        typeof exp === 'number' && exp > 0
          ? new Date(exp * 1000)
          : Number.isFinite(expires) && expires > 0
            ? new Date(expires * 1000)
            : expiresIn !== undefined
              ? new Date(issuedAt.getTime() + expiresIn * 1000)
              : undefined
      const member = text(fields.member_id)
      return {
        expiresAt: expiresAt && !Number.isNaN(expiresAt.getTime()) ? expiresAt : undefined,
        accountId: /^[A-Za-z0-9_-]{1,64}$/.test(member) ? member : '',
        apiUrl: endpoint(fields.client_endpoint)
      }
    },
    refusal,
    refreshBy: (issuedAt) => ({
      date: addDays(issuedAt, BITRIX24_REFRESH_DAYS),
      why: `Bitrix24's current docs give a refresh token 180 days, older ones 28: this is the conservative date`
    })
  }
}

/** Bitrix24 from the inputs: `base-url` (optional) replaces the token server's origin. */
export function readBitrix24(read: InputReader): Provider {
  const base = parseSecureUrl('base-url', read('base-url'))
  if (base && new URL(base).pathname !== '/') {
    throw new InputError('base-url', `is the token server's origin only (e.g. https://oauth.bitrix24.tech), without a path; got '${base}'.`)
  }
  return bitrix24(base ? new URL(base).origin : BITRIX24_ORIGIN)
}

export const bitrix24Entry: ProviderEntry = {
  label: 'Bitrix24',
  defaultSecret: 'BITRIX24_REFRESH_TOKEN',
  ownInputs: ['base-url'],
  credentials: { id: "the application's client ID", secret: "the application's client secret" },
  redirectUriRequired: false,
  build: (_name, read) => readBitrix24(read)
}
