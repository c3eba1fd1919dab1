/**
 * The amoCRM / Kommo token endpoint: POST {account}/oauth2/access_token with a JSON body.
 *
 * The refresh token is single use, so every answer is read as if it were hostile and as if it
 * were the only copy of the new pair — because after a 2xx it is:
 * - a 2xx is never retried, whatever its body looks like; the tokens are recovered from a body
 *   that is not clean JSON (junk around it, cut off after the tokens) and masked at once;
 * - retries are made only where the request can be repeated (no answer, 429, 5xx), and never
 *   started once the run is cancelled;
 * - an error says whether the token may already have been spent;
 * - the body is read up to a bound, and quoted only through `excerpt` (redacted, made inert).
 */
import type { Account } from './account.js'
import { ActionError, errorMessage, excerpt, type Redact } from './errors.js'
import { networkReason, type Fetch } from './http.js'
import type { Grant } from './inputs.js'
import { parseRetryAfter, withRetries, type RetryPolicy, type RetryVerdict } from './retry.js'

export interface TokenSet {
  accessToken: string
  /** Empty when the answer carried none: an error for amoCRM (the old token is spent). */
  refreshToken: string
  tokenType: string
  expiresIn: number | undefined
  /** The account's clock when it answered (unix seconds), when it said. */
  serverTime: number | undefined
  /** What was wrong with an answer that the tokens had to be recovered from. */
  anomaly: string | undefined
}

export type AmoFailure = 'revoked' | 'expired' | 'rejected' | 'unavailable' | 'bad-answer'

export class AmoCrmError extends ActionError {
  constructor(
    message: string,
    readonly failure: AmoFailure,
    /** True when an attempt may have reached amoCRM and spent the token (no answer, a 5xx, a 2xx without tokens). */
    readonly maybeSpent: boolean,
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
  /** Its `signal`, once aborted (the run was cancelled), stops further attempts; a request in flight goes on. */
  retry: RetryPolicy
  timeoutMs: number
  /** Called with each new token as soon as it is read, before anything else happens. */
  mask: (value: string) => void
  redact: Redact
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

/** The most of an answer that is read: a token answer is a few kilobytes. */
export const BODY_MAX_BYTES = 1024 * 1024

export function grantName(grant: Grant): string {
  return grant.type === 'authorization_code' ? 'authorization code' : 'refresh token'
}

export function requestBody(request: TokenRequest): Record<string, string> {
  const common = { client_id: request.clientId, client_secret: request.clientSecret, redirect_uri: request.redirectUri }
  return request.grant.type === 'authorization_code'
    ? { ...common, grant_type: 'authorization_code', code: request.grant.code }
    : { ...common, grant_type: 'refresh_token', refresh_token: request.grant.refreshToken }
}

/** Reads a body up to BODY_MAX_BYTES; what arrived is kept when the connection breaks. */
export async function readBody(response: Response): Promise<{ text: string; cutOff: string | undefined }> {
  const reader = response.body?.getReader()
  if (!reader) return { text: '', cutOff: undefined }
  const chunks: Uint8Array[] = []
  let size = 0
  let cutOff: string | undefined
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.length
      if (size >= BODY_MAX_BYTES) {
        cutOff = `longer than ${BODY_MAX_BYTES} bytes; the rest was not read`
        await reader.cancel().catch(() => undefined)
        break
      }
    }
  } catch (error) {
    cutOff = networkReason(error)
  }
  return { text: Buffer.concat(chunks).toString('utf8'), cutOff }
}

const TOKEN_FIELDS = ['access_token', 'refresh_token', 'token_type', 'expires_in', 'server_time'] as const

/**
 * The token answer's fields: from the JSON when the body is clean JSON, else each field found on
 * its own (a PHP notice before the JSON, a proxy's comment after it, a body cut off after the
 * tokens). A string counts only with its closing quote: a token cut in half is no token.
 */
export function tokenFields(text: string): { fields: Record<string, unknown>; clean: boolean } {
  try {
    const json: unknown = JSON.parse(text)
    if (json !== null && typeof json === 'object' && !Array.isArray(json)) return { fields: json as Record<string, unknown>, clean: true }
  } catch {
    // not clean JSON: look for the fields one by one
  }
  const fields: Record<string, unknown> = {}
  for (const name of TOKEN_FIELDS) {
    const match = new RegExp(`"${name}"\\s*:\\s*("(?:[^"\\\\\\n]|\\\\.)*"|-?\\d+|null)`).exec(text)
    if (!match?.[1]) continue
    try {
      fields[name] = JSON.parse(match[1]) as unknown
    } catch {
      // a malformed escape: not a value
    }
  }
  return { fields, clean: false }
}

const text = (value: unknown): string => (typeof value === 'string' ? value.trim() : '')
function positive(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
  return Number.isFinite(n) && n > 0 ? n : undefined
}

interface Problem {
  hint?: string
  title?: string
  detail?: string
}

function parseProblem(body: string): Problem | undefined {
  try {
    const json: unknown = JSON.parse(body)
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
  "Take a new authorization code (the integration's Keys and scopes tab; a code lives 20 minutes and works once) and run the workflow manually with it in 'authorization-code' (README: \"First run\")."

/** Known answers of the token endpoint → what the user must do. Matched against hint, title and detail, in this order. */
const KNOWN: Array<{ match: RegExp; failure: AmoFailure; advice: (grant: Grant) => string }> = [
  { match: /token has been revoked/i, failure: 'revoked', advice: () => 'the refresh token was already used.' },
  {
    match: /token has expired/i,
    failure: 'expired',
    advice: () =>
      `the refresh token went unused too long: amoCRM lets a refresh token expire when it has not been used for 3 months, so the chain of tokens has ended. ${NEW_CODE} Then keep the schedule running (at least monthly) so that it never lapses again.`
  },
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
    advice: (grant) =>
      grant.type === 'refresh_token'
        ? `the refresh token is damaged (cut short or altered on its way into the secret), so amoCRM cannot read it. ${NEW_CODE}`
        : `the authorization code is malformed: copy it again in full (no spaces, no line breaks). ${NEW_CODE}`
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

const looksHtml = (body: string, contentType: string): boolean => /html/i.test(contentType) || /^\s*</.test(body)

function describeRejection(
  status: number,
  body: string,
  contentType: string,
  grant: Grant,
  redact: Redact
): { message: string; failure: AmoFailure } {
  const problem = parseProblem(body)
  const what = `amoCRM refused the ${grantName(grant)}`
  if (problem) {
    const fields = [problem.hint, problem.title, problem.detail].filter((s): s is string => Boolean(s))
    const quoted = excerpt(problem.hint ?? problem.title ?? problem.detail ?? '', 120, redact)
    const known = KNOWN.find((k) => fields.some((f) => k.match.test(f.slice(0, 1000))))
    if (known) return { message: `${what} (${status}${quoted ? ` ${quoted}` : ''}): ${known.advice(grant)}`, failure: known.failure }
    const detail = excerpt(fields.join(' — '), 200, redact)
    return {
      message: `${what} (${status}${detail ? `: ${detail}` : ''}). Check 'client-id', 'client-secret', 'redirect-uri' and 'subdomain'.`,
      failure: 'rejected'
    }
  }
  const page = excerpt(body, 120, redact)
  const html = looksHtml(body, contentType)
  if (status === 403) {
    return {
      message: `${what}: the server answered 403${html ? ' with an HTML page' : ''}${page ? ` ("${page}")` : ''}. amoCRM blocks an address that sends too many requests (7 per second per account); wait before trying again, and check that no other job uses this integration's tokens.`,
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

/**
 * A 2xx: amoCRM has acted on the request, so whatever came back is all there will ever be of the
 * new pair. Recover the tokens, mask them, and hand them on; throw only when there is nothing.
 */
function readPair(status: number, body: string, cutOff: string | undefined, contentType: string, deps: ExchangeDeps): TokenSet {
  const { fields, clean } = tokenFields(body)
  const accessToken = text(fields.access_token)
  const refreshToken = text(fields.refresh_token)
  // Masked before anything else can print them.
  if (accessToken) deps.mask(accessToken)
  if (refreshToken) deps.mask(refreshToken)
  if (!accessToken && !refreshToken) {
    // A body that may hold pieces of tokens is described, never quoted.
    const page = /_token"/.test(body) ? '' : excerpt(body, 120, deps.redact)
    throw new AmoCrmError(
      `amoCRM answered ${status} without a readable token pair${cutOff ? ` (the answer was cut off: ${cutOff})` : ''}${looksHtml(body, contentType) ? " (an HTML page: a login page means that the integration's owner is not an active user of the account)" : ''}${page ? `: "${page}"` : ''}. The token may have been spent: if the next run reports "Token has been revoked", a new authorization code is needed.`,
      'bad-answer',
      true,
      status
    )
  }
  const anomaly =
    cutOff !== undefined
      ? `amoCRM's answer (${status}) was cut off (${cutOff}); the tokens were recovered from the part that arrived`
      : clean
        ? undefined
        : `amoCRM's answer (${status}) was not clean JSON (${body.length} characters, something around the JSON); the tokens were recovered from it`
  return {
    accessToken,
    refreshToken,
    tokenType: text(fields.token_type) || 'Bearer',
    expiresIn: positive(fields.expires_in),
    serverTime: positive(fields.server_time),
    anomaly
  }
}

/** Spends the code or refresh token and returns the new pair, masked. */
export async function exchangeToken(request: TokenRequest, deps: ExchangeDeps): Promise<TokenSet> {
  const body = JSON.stringify(requestBody(request))
  let maybeSpent = false
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
          maybeSpent = true
          throw new Transient(networkReason(error))
        }
        const status = response.status
        const contentType = response.headers.get('content-type') ?? ''
        const { text: answer, cutOff } = await readBody(response)
        // From here on the status is known. After a 2xx nothing is ever retried.
        if (status >= 200 && status < 300) return readPair(status, answer, cutOff, contentType, deps)
        if (status >= 300 && status < 400) {
          const location = response.headers.get('location') ?? ''
          let where = ''
          try {
            where = location ? ` to ${excerpt(new URL(location, request.account.tokenUrl).host, 120, deps.redact)}` : ''
          } catch {
            where = ''
          }
          throw new AmoCrmError(
            `amoCRM answered with a redirect (${status}${where}), which is not followed so that credentials go only to ${request.account.host}. Check 'subdomain' and 'domain': if the account's address changed (for example to kommo.com), set them to the new one.`,
            'rejected',
            maybeSpent,
            status
          )
        }
        if (status === 429 || status >= 500) {
          // A 5xx may come after amoCRM acted on the request.
          if (status >= 500) maybeSpent = true
          throw new Transient(
            `${status}${answer ? ` "${excerpt(answer, 80, deps.redact)}"` : ''}`,
            status,
            parseRetryAfter(response.headers.get('retry-after'))
          )
        }
        const { message, failure } = describeRejection(status, answer, contentType, request.grant, deps.redact)
        throw new AmoCrmError(message, failure, maybeSpent, status)
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
    const why = deps.retry.signal?.aborted
      ? `amoCRM did not issue tokens before the run was cancelled (no further attempt is started once cancelled): the last attempt got ${error.message}.`
      : `amoCRM did not issue tokens after ${deps.retry.attempts} attempts: the last one got ${error.message}. Its token endpoint ${request.account.tokenUrl} may be down or unreachable from this runner; try again later.`
    throw new AmoCrmError(`${why}${spent}`, 'unavailable', maybeSpent, error.status)
  }
}
