/**
 * The token endpoint of any provider: the request the provider builds, sent with retries, and
 * every answer read as if it were hostile and as if it were the only copy of the new pair —
 * because after a 2xx it is:
 * - a 2xx is never retried, whatever its body looks like; the tokens are recovered from a body
 *   that is not clean JSON (junk around it, cut off after the tokens) and masked at once;
 * - retries are made only where the request can be repeated (no answer, 429, 5xx), and never
 *   started once the run is cancelled;
 * - an error says whether the token may already have been spent;
 * - the body is read up to a bound, and quoted only through `excerpt` (redacted, made inert).
 * What a refusal means is the provider's to say (providers/).
 */
import { ActionError, errorMessage } from './errors.js'
import { networkReason, type Fetch } from './http.js'
import type { Grant } from './inputs.js'
import { looksHtml, text, type Client, type FailureKind, type Provider } from './providers/provider.js'
import { excerpt, type Redact } from './redact.js'
import { parseRetryAfter, withRetries, type RetryPolicy, type RetryVerdict } from './retry.js'

export interface TokenSet {
  accessToken: string
  /** Empty when the answer carried none: an error where the provider always rotates (the old token is spent). */
  refreshToken: string
  tokenType: string
  expiresIn: number | undefined
  /** The account's clock when it answered (unix seconds), when it said. */
  serverTime: number | undefined
  /** What was wrong with an answer that the tokens had to be recovered from. */
  anomaly: string | undefined
  /** The answer's fields (clean JSON), or those found one by one: the provider reads its facts from them. */
  fields: Record<string, unknown>
}

export type Failure = FailureKind | 'unavailable' | 'bad-answer'

export class TokenEndpointError extends ActionError {
  constructor(
    message: string,
    readonly failure: Failure,
    /** True when an attempt may have reached the provider and spent the token (no answer, a 5xx, a 2xx without tokens). */
    readonly maybeSpent: boolean,
    readonly status?: number,
    /** For `revoked`: what the provider said, as the start of the race diagnosis. */
    readonly said?: string
  ) {
    super(message)
  }
}

export interface TokenRequest {
  provider: Provider
  client: Client
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

const TOKEN_FIELDS = ['access_token', 'refresh_token', 'token_type', 'expires_in', 'server_time']

/**
 * The token answer's fields: from the JSON when the body is clean JSON, else each field found on
 * its own (a PHP notice before the JSON, a proxy's comment after it, a body cut off after the
 * tokens). A string counts only with its closing quote: a token cut in half is no token.
 */
export function tokenFields(text: string, extra: readonly string[] = []): { fields: Record<string, unknown>; clean: boolean } {
  try {
    const json: unknown = JSON.parse(text)
    if (json !== null && typeof json === 'object' && !Array.isArray(json)) return { fields: json as Record<string, unknown>, clean: true }
  } catch {
    // not clean JSON: look for the fields one by one
  }
  const fields: Record<string, unknown> = {}
  for (const name of [...TOKEN_FIELDS, ...extra]) {
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

function positive(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
  return Number.isFinite(n) && n > 0 ? n : undefined
}

/**
 * A 2xx: the provider has acted on the request, so whatever came back is all there will ever be of
 * the new pair. Recover the tokens, mask them, and hand them on; throw only when there is nothing.
 */
function readPair(
  provider: Provider,
  status: number,
  body: string,
  cutOff: string | undefined,
  contentType: string,
  deps: ExchangeDeps
): TokenSet {
  const label = provider.label
  const { fields, clean } = tokenFields(body, provider.extraFields)
  const accessToken = text(fields.access_token)
  const refreshToken = text(fields.refresh_token)
  // Masked before anything else can print them.
  if (accessToken) deps.mask(accessToken)
  if (refreshToken) deps.mask(refreshToken)
  if (!accessToken && !refreshToken) {
    // A body that may hold pieces of tokens is described, never quoted.
    const page = /_token"/.test(body) ? '' : excerpt(body, 120, deps.redact)
    throw new TokenEndpointError(
      `${label} answered ${status} without a readable token pair${cutOff ? ` (the answer was cut off: ${cutOff})` : ''}${looksHtml(body, contentType) ? ` (${provider.hints.htmlPage})` : ''}${page ? `: "${page}"` : ''}. The token may have been spent: ${provider.hints.spentNext}.`,
      'bad-answer',
      true,
      status
    )
  }
  const anomaly =
    cutOff !== undefined
      ? `${label}'s answer (${status}) was cut off (${cutOff}); the tokens were recovered from the part that arrived`
      : clean
        ? undefined
        : `${label}'s answer (${status}) was not clean JSON (${body.length} characters, something around the JSON); the tokens were recovered from it`
  return {
    accessToken,
    refreshToken,
    tokenType: text(fields.token_type) || 'Bearer',
    expiresIn: positive(fields.expires_in),
    serverTime: positive(fields.server_time),
    anomaly,
    fields
  }
}

/** Spends the code or refresh token and returns the new pair, masked. */
export async function exchangeToken(request: TokenRequest, deps: ExchangeDeps): Promise<TokenSet> {
  const { provider, grant } = request
  const spec = provider.request(grant, request.client)
  const label = provider.label
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
          response = await deps.fetch(spec.url, {
            method: spec.method,
            headers: { ...spec.headers, 'user-agent': 'amocrm-token-action' },
            ...(spec.body === undefined ? {} : { body: spec.body }),
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
        if (status >= 200 && status < 300) return readPair(provider, status, answer, cutOff, contentType, deps)
        if (status >= 300 && status < 400) {
          const location = response.headers.get('location') ?? ''
          let where = ''
          try {
            where = location ? ` to ${excerpt(new URL(location, spec.displayUrl).host, 120, deps.redact)}` : ''
          } catch {
            where = ''
          }
          throw new TokenEndpointError(
            `${label} answered with a redirect (${status}${where}), which is not followed so that credentials go only to ${provider.host}. ${provider.hints.redirect}`,
            'rejected',
            maybeSpent,
            status
          )
        }
        if (status === 429 || status >= 500) {
          // A 5xx may come after the provider acted on the request.
          if (status >= 500) maybeSpent = true
          throw new Transient(
            `${status}${answer ? ` "${excerpt(answer, 80, deps.redact)}"` : ''}`,
            status,
            parseRetryAfter(response.headers.get('retry-after'))
          )
        }
        const refusal = provider.refusal(status, answer, contentType, grant, deps.redact)
        throw new TokenEndpointError(refusal.message, refusal.kind, maybeSpent, status, refusal.said)
      },
      (error, attempt, waitMs) =>
        deps.onRetry?.(`${label} attempt ${attempt} got ${errorMessage(error)}; retrying in ${(waitMs / 1000).toFixed(1)} s.`)
    )
  } catch (error) {
    if (!(error instanceof Transient)) throw error
    const spent =
      grant.type === 'refresh_token'
        ? ` The refresh token may or may not have been spent: the secret still holds it; ${provider.hints.spentNext}.`
        : ''
    const why = deps.retry.signal?.aborted
      ? `${label} did not issue tokens before the run was cancelled (no further attempt is started once cancelled): the last attempt got ${error.message}.`
      : `${label} did not issue tokens after ${deps.retry.attempts} attempts: the last one got ${error.message}. Its token endpoint ${spec.displayUrl} may be down or unreachable from this runner; try again later.`
    throw new TokenEndpointError(`${why}${spent}`, 'unavailable', maybeSpent, error.status)
  }
}
