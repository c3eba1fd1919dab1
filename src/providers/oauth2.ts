/**
 * Any OAuth 2.0 token endpoint, the RFC 6749 way: a POST of `grant_type=refresh_token` (§6) or
 * `grant_type=authorization_code` (§4.1.3), form-encoded or JSON, the client authenticated with
 * HTTP Basic (§2.3.1) or in the body; errors as `error` / `error_description` (§5.2).
 *
 * A provider may keep its refresh token (§6: it MAY issue a new one): an answer without a new
 * refresh token, or with the same one, leaves the secret as it is.
 */
import { InputError } from '../errors.js'
import { jwtExpiry } from './jwt.js'
import { excerpt, type Redact } from '../redact.js'
import { parseSecureUrl } from '../url.js'
import {
  formEncode,
  grantName,
  looksHtml,
  type Client,
  type Grant,
  type InputReader,
  type Provider,
  type ProviderEntry,
  type Refusal,
  type TokenRequestSpec
} from './provider.js'
import { oauthError, quoted } from './rfc6749.js'

type ClientAuth = 'basic' | 'body'
type BodyFormat = 'form' | 'json'

export interface OAuth2Options {
  tokenUrl: string
  clientAuth: ClientAuth
  bodyFormat: BodyFormat
  scope: string | undefined
}

const NEW_AUTHORIZATION =
  'A new authorization is needed: authorize the application again and run the workflow manually with the new code in \'authorization-code\' (README: "Other providers").'

/** §2.3.1: the id and the secret are each form-encoded, then joined by ':' and base64-encoded. */
export function basicAuth(client: Client): string {
  const encode = (value: string): string => formEncode({ v: value }).slice(2)
  return `Basic ${Buffer.from(`${encode(client.clientId)}:${encode(client.clientSecret)}`).toString('base64')}`
}

function refusal(
  host: string,
  options: OAuth2Options,
  status: number,
  body: string,
  contentType: string,
  grant: Grant,
  redact: Redact
): Refusal {
  const what = `${host} refused the ${grantName(grant)}`
  const e = oauthError(body, redact)
  const credentials = `check 'client-id' and 'client-secret', and 'client-auth' (now ${options.clientAuth}): some providers want the credentials as HTTP Basic (basic), others in the body (body).`
  if (e) {
    const said = quoted(status, e)
    switch (e.error) {
      case 'invalid_grant':
        return grant.type === 'refresh_token'
          ? {
              kind: 'revoked',
              message: `${what} (${said}): the refresh token is invalid, expired, revoked or already used. ${NEW_AUTHORIZATION}`,
              said: `${host} says the refresh token is invalid, expired or revoked (${said})`
            }
          : {
              kind: 'rejected',
              message: `${what} (${said}): the code is invalid, expired or already used, or 'redirect-uri' differs from the one of the authorization. ${NEW_AUTHORIZATION}`
            }
      case 'invalid_client':
        return { kind: 'rejected', message: `${what} (${said}): ${credentials}` }
      case 'unauthorized_client':
        return {
          kind: 'rejected',
          message: `${what} (${said}): this client may not use this grant; check the application's settings at the provider.`
        }
      case 'unsupported_grant_type':
        return { kind: 'rejected', message: `${what} (${said}): the provider does not offer this grant to this client.` }
      case 'invalid_scope':
        return { kind: 'rejected', message: `${what} (${said}): check 'scope' (now ${options.scope ? `'${options.scope}'` : 'empty'}).` }
      case 'invalid_request':
        return {
          kind: 'rejected',
          message: `${what} (${said}): the request was refused as malformed; check 'body-format' (now ${options.bodyFormat}), 'client-auth' (now ${options.clientAuth}) and 'scope'.`
        }
      default:
        return { kind: 'rejected', message: `${what} (${said}). Check 'token-url', 'client-id', 'client-secret' and 'client-auth'.` }
    }
  }
  const page = excerpt(body, 120, redact)
  if (status === 401) return { kind: 'rejected', message: `${what} (401${page ? ` "${page}"` : ''}): ${credentials}` }
  return {
    kind: 'rejected',
    message: `${what}: the server answered ${status}${looksHtml(body, contentType) ? ' with an HTML page' : ''}${page ? ` ("${page}")` : ''}, not an OAuth answer. Check 'token-url'.`
  }
}

export function oauth2(options: OAuth2Options): Provider {
  const url = new URL(options.tokenUrl)
  const host = url.host
  return {
    name: 'oauth2',
    label: host,
    host,
    title: `OAuth 2.0 provider ${host}`,
    origin: url.origin,
    apiUrl: '',
    rescuePrefix: 'oauth2-rescue:v1:',
    alwaysRotates: false,
    onReuse: 'may-revoke-grant',
    extraFields: [],
    newAuthorization: NEW_AUTHORIZATION,
    hints: {
      firstCode: "a fresh code from the provider's authorization page, with the scope that grants a refresh token",
      htmlPage: 'an HTML page, not an OAuth answer',
      spentNext: 'if the next run reports invalid_grant, a new authorization is needed',
      redirect: "Check 'token-url'."
    },
    request(grant: Grant, client: Client): TokenRequestSpec {
      const params: Record<string, string> =
        grant.type === 'authorization_code'
          ? { grant_type: 'authorization_code', code: grant.code }
          : { grant_type: 'refresh_token', refresh_token: grant.refreshToken }
      if (grant.type === 'authorization_code' && client.redirectUri) params.redirect_uri = client.redirectUri
      if (options.scope) params.scope = options.scope
      const headers: Record<string, string> = { accept: 'application/json' }
      if (options.clientAuth === 'basic') headers.authorization = basicAuth(client)
      else Object.assign(params, { client_id: client.clientId, client_secret: client.clientSecret })
      headers['content-type'] = options.bodyFormat === 'json' ? 'application/json' : 'application/x-www-form-urlencoded'
      const body = options.bodyFormat === 'json' ? JSON.stringify(params) : formEncode(params)
      return { url: options.tokenUrl, displayUrl: options.tokenUrl, method: 'POST', headers, body }
    },
    facts(_fields, accessToken, expiresIn, issuedAt) {
      // A JWT's exp when the access token is one; no account and no API address in the generic mode.
      return { expiresAt: jwtExpiry(accessToken, expiresIn, issuedAt), accountId: '', apiUrl: '' }
    },
    refusal: (status, body, contentType, grant, redact) => refusal(host, options, status, body, contentType, grant, redact),
    refreshBy: () => undefined
  }
}

function oneOf<T extends string>(input: string, value: string, allowed: readonly T[], fallback: T): T {
  if (value === '') return fallback
  const found = allowed.find((a) => a === value)
  if (!found) throw new InputError(input, `must be ${allowed.join(' or ')}; got '${value}'.`)
  return found
}

function readClientAuth(read: InputReader): ClientAuth {
  return oneOf('client-auth', read('client-auth').trim().toLowerCase(), ['basic', 'body'] as const, 'basic')
}

function readBodyFormat(read: InputReader): BodyFormat {
  return oneOf('body-format', read('body-format').trim().toLowerCase(), ['form', 'json'] as const, 'form')
}

/** The generic mode from the inputs: `token-url` (required), `client-auth`, `body-format`, `scope`. */
export function readOAuth2(read: InputReader): Provider {
  const tokenUrl = parseSecureUrl('token-url', read('token-url'))
  if (!tokenUrl) {
    throw new InputError(
      'token-url',
      'is required with provider: oauth2: the provider\'s token endpoint, e.g. https://identity.xero.com/connect/token (README: "Other providers").'
    )
  }
  const scope = read('scope').trim()
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(scope)) throw new InputError('scope', 'must be one line of space-separated scopes.')
  return oauth2({ tokenUrl, clientAuth: readClientAuth(read), bodyFormat: readBodyFormat(read), scope: scope || undefined })
}

export const oauth2Entry: ProviderEntry = {
  label: 'OAuth 2.0',
  defaultSecret: 'OAUTH_REFRESH_TOKEN',
  ownInputs: ['token-url', 'scope'],
  ownDefaults: { 'client-auth': 'basic', 'body-format': 'form' },
  credentials: { id: "the application's client ID", secret: "the application's client secret" },
  redirectUriRequired: false,
  build: (_name, read) => readOAuth2(read)
}
