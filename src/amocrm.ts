/**
 * The amoCRM / Kommo token endpoint: POST {account}/oauth2/access_token with a JSON body.
 *
 * The refresh token is single use, so every answer is read with care: the new tokens are masked
 * the moment they are parsed, retries are made only where the request can be repeated (no answer,
 * 429, 5xx), and an error says whether the token may already have been spent.
 */
import type { Account } from './account.js'
import { ActionError, errorMessage, excerpt } from './errors.js'
import type { Fetch } from './http.js'
import type { Grant } from './inputs.js'
import { parseRetryAfter, withRetries, type RetryPolicy, type RetryVerdict } from './retry.js'

export interface TokenSet {
  accessToken: string
  refreshToken: string
  tokenType: string
  expiresIn: number | undefined
}

export type AmoFailure = 'revoked' | 'rejected' | 'unavailable' | 'bad-answer'

export class AmoCrmError extends ActionError {
  constructor(
    message: string,
    readonly failure: AmoFailure,
    /** True when an attempt may have reached amoCRM without its answer reaching us. */
    readonly earlierAttemptUnanswered: boolean,
    readonly status?: number
  ) {
    super(message)
  }
}

export interface TokenRequest {
  account: Account
  clientId: string
  clientSecret: string
  redirectUri: string
  grant: Grant
}

export interface ExchangeDeps {
  fetch: Fetch
  retry: RetryPolicy
  timeoutMs: number
  /** Called with each new token as soon as it is parsed, before anything else happens. */
  mask: (value: string) => void
  /** Told about each failed attempt that will be retried. */
  onRetry?: (message: string) => void
}

/** A failure worth another attempt. */
class Transient extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly afterMs?: number
  ) {
    super(message)
  }
}

export function grantName(grant: Grant): string {
  return grant.type === 'authorization_code' ? 'authorization code' : 'refresh token'
}

export function requestBody(request: TokenRequest): Record<string, string> {
  const common = { client_id: request.clientId, client_secret: request.clientSecret, redirect_uri: request.redirectUri }
  return request.grant.type === 'authorization_code'
    ? { ...common, grant_type: 'authorization_code', code: request.grant.code }
    : { ...common, grant_type: 'refresh_token', refresh_token: request.grant.refreshToken }
}

interface Problem {
  hint?: string
  title?: string
  detail?: string
}

function parseProblem(text: string): Problem | undefined {
  try {
    const json: unknown = JSON.parse(text)
    if (json === null || typeof json !== 'object') return undefined
    const pick = (key: string): string | undefined => {
      const value = (json as Record<string, unknown>)[key]
      return typeof value === 'string' && value ? value : undefined
    }
    return {
      hint: pick('hint'),
      title: pick('title'),
      detail: pick('detail') ?? pick('message') ?? pick('error_description') ?? pick('error')
    }
  } catch {
    return undefined
  }
}

const NEW_CODE =
  'Take a new authorization code (integration settings → Keys and scopes; a code lives 20 minutes and works once) and run the workflow manually with it.'

/** Known answers of the token endpoint → what the user must do. Matched against hint, title and detail. */
const KNOWN: Array<{ match: RegExp; failure: AmoFailure; advice: (grant: Grant) => string }> = [
  { match: /token has been revoked/i, failure: 'revoked', advice: () => 'the refresh token was already used or has expired.' },
  {
    match: /not linked to client/i,
    failure: 'rejected',
    advice: () => "the refresh token belongs to another integration: check that 'client-id' is the ID of the integration that issued it."
  },
  {
    match: /code has been revoked/i,
    failure: 'rejected',
    advice: () => `the authorization code was already used (a code works once). ${NEW_CODE}`
  },
  { match: /code has expired/i, failure: 'rejected', advice: () => `the authorization code is older than 20 minutes. ${NEW_CODE}` },
  {
    match: /cannot decrypt/i,
    failure: 'rejected',
    advice: () => `the authorization code is malformed: copy it again in full (no spaces, no line breaks). ${NEW_CODE}`
  },
  {
    match: /client_id/i,
    failure: 'rejected',
    advice: () =>
      "amoCRM does not know this integration: check 'client-id' (Integration ID on the integration's Keys and scopes tab) and that 'subdomain' is the account where the integration is installed."
  },
  {
    match: /client_secret/i,
    failure: 'rejected',
    advice: () =>
      "the secret key is wrong: copy 'client-secret' again from the integration's Keys and scopes tab (it changes when the key is regenerated)."
  },
  {
    match: /redirect uri/i,
    failure: 'rejected',
    advice: () => "'redirect-uri' differs from the integration's: it must match exactly, scheme and trailing slash included."
  },
  {
    match: /invalid account/i,
    failure: 'rejected',
    advice: () => "the integration is not installed in this account: check 'subdomain' and 'domain' (amocrm.ru, amocrm.com or kommo.com)."
  },
  {
    match: /некорректный клиент|invalid client/i,
    failure: 'rejected',
    advice: () =>
      "'client-id', 'client-secret' and 'redirect-uri' do not belong to one integration: copy all three again from the integration's settings."
  },
  {
    match: /unsupported grant/i,
    failure: 'rejected',
    advice: () => 'the grant type was refused; please report this as a bug of the action.'
  }
]

function describeRejection(status: number, text: string, contentType: string, grant: Grant): { message: string; failure: AmoFailure } {
  const problem = parseProblem(text)
  const what = `amoCRM refused the ${grantName(grant)}`
  if (problem) {
    const fields = [problem.hint, problem.title, problem.detail].filter((s): s is string => Boolean(s))
    const quoted = excerpt(problem.hint ?? problem.title ?? problem.detail ?? '', 120)
    const known = KNOWN.find((k) => fields.some((f) => k.match.test(f)))
    if (known) return { message: `${what} (${status}${quoted ? ` ${quoted}` : ''}): ${known.advice(grant)}`, failure: known.failure }
    const detail = excerpt(fields.join(' — '), 200)
    return {
      message: `${what} (${status}${detail ? `: ${detail}` : ''}). Check 'client-id', 'client-secret', 'redirect-uri' and 'subdomain'.`,
      failure: 'rejected'
    }
  }
  const page = excerpt(text, 120)
  const html = /html/i.test(contentType) || /^\s*</.test(text)
  if (status === 403) {
    return {
      message: `${what}: the server answered 403${html ? ' with an HTML page' : ''}${page ? ` ("${page}")` : ''}. amoCRM blocks an address after too many requests; wait an hour, and check that no other job uses this integration's tokens.`,
      failure: 'rejected'
    }
  }
  if (status === 401) {
    return {
      message: `${what} (401${page ? ` "${page}"` : ''}): check 'client-id', 'client-secret' and 'redirect-uri'.`,
      failure: 'rejected'
    }
  }
  return {
    message: `${what}: the server answered ${status}${html ? ' with an HTML page' : ''}${page ? ` ("${page}")` : ''}, not an OAuth answer. Check 'subdomain', 'domain' and 'base-url'.`,
    failure: 'rejected'
  }
}

function parseTokens(text: string): TokenSet | undefined {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return undefined
  }
  if (json === null || typeof json !== 'object') return undefined
  const body = json as Record<string, unknown>
  const { access_token: accessToken, refresh_token: refreshToken, token_type: tokenType, expires_in: expiresIn } = body
  if (typeof accessToken !== 'string' || !accessToken || typeof refreshToken !== 'string' || !refreshToken) return undefined
  const seconds = typeof expiresIn === 'number' ? expiresIn : typeof expiresIn === 'string' ? Number(expiresIn) : NaN
  return {
    accessToken,
    refreshToken,
    tokenType: typeof tokenType === 'string' && tokenType ? tokenType : 'Bearer',
    expiresIn: Number.isFinite(seconds) && seconds > 0 ? seconds : undefined
  }
}

function networkReason(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'no answer within the time limit'
    const cause = (error as { cause?: unknown }).cause
    const code = cause && typeof cause === 'object' && 'code' in cause ? String((cause as { code: unknown }).code) : ''
    const text = cause instanceof Error ? cause.message : error.message
    return `the connection failed (${code || text})`
  }
  return 'the connection failed'
}

/** Spends the code or refresh token and returns the new pair, masked. */
export async function exchangeToken(request: TokenRequest, deps: ExchangeDeps): Promise<TokenSet> {
  const body = JSON.stringify(requestBody(request))
  let unanswered = false
  const classify = (error: unknown): RetryVerdict =>
    error instanceof Transient ? { retry: true, afterMs: error.afterMs } : { retry: false }

  try {
    return await withRetries(
      deps.retry,
      classify,
      async () => {
        let response: Response
        try {
          response = await deps.fetch(request.account.tokenUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'amocrm-token-action' },
            body,
            redirect: 'manual',
            signal: AbortSignal.timeout(deps.timeoutMs)
          })
        } catch (error) {
          unanswered = true
          throw new Transient(networkReason(error))
        }
        let text: string
        try {
          text = await response.text()
        } catch (error) {
          unanswered = true
          throw new Transient(`the answer was cut off (${networkReason(error)})`, response.status)
        }
        const status = response.status
        const contentType = response.headers.get('content-type') ?? ''
        if (status >= 200 && status < 300) {
          const tokens = parseTokens(text)
          if (tokens) {
            deps.mask(tokens.accessToken)
            deps.mask(tokens.refreshToken)
            return tokens
          }
          const page = excerpt(text, 120)
          throw new AmoCrmError(
            `amoCRM answered ${status} without a token pair${/html/i.test(contentType) || /^\s*</.test(text) ? ' (an HTML page: a deactivated user or a login page)' : ''}${page ? `: "${page}"` : ''}. Check that the integration's owner is an active user of the account and that 'subdomain' is right.`,
            'bad-answer',
            unanswered,
            status
          )
        }
        if (status >= 300 && status < 400) {
          const location = response.headers.get('location') ?? ''
          let where = ''
          try {
            where = location ? ` to ${new URL(location, request.account.tokenUrl).host}` : ''
          } catch {
            where = ''
          }
          throw new AmoCrmError(
            `amoCRM answered with a redirect (${status}${where}), which is not followed so that credentials go only to ${request.account.host}. Check 'subdomain' and 'domain': an account moved to kommo.com needs domain: kommo.com.`,
            'rejected',
            unanswered,
            status
          )
        }
        if (status === 429 || status >= 500) {
          if (status >= 500) unanswered = true
          throw new Transient(
            `${status}${text ? ` "${excerpt(text, 80)}"` : ''}`,
            status,
            parseRetryAfter(response.headers.get('retry-after'))
          )
        }
        const { message, failure } = describeRejection(status, text, contentType, request.grant)
        throw new AmoCrmError(message, failure, unanswered, status)
      },
      (error, attempt, waitMs) =>
        deps.onRetry?.(`amoCRM attempt ${attempt} got ${errorMessage(error)}; retrying in ${(waitMs / 1000).toFixed(1)} s.`)
    )
  } catch (error) {
    if (!(error instanceof Transient)) throw error
    const spent =
      request.grant.type === 'refresh_token'
        ? ' The refresh token may or may not have been spent: the secret still holds it, and the next run will tell; if that run reports "Token has been revoked", a new authorization code is needed.'
        : ''
    throw new AmoCrmError(
      `amoCRM did not issue tokens after ${deps.retry.attempts} attempts: the last one got ${error.message}. Its token endpoint ${request.account.tokenUrl} may be down or unreachable from this runner; try again later.${spent}`,
      'unavailable',
      unanswered,
      error.status
    )
  }
}
