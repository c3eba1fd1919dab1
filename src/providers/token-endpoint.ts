/**
 * The token endpoint of any provider: the request the provider builds, sent with retries, and
 * every answer read as if it were hostile and as if it were the only copy of the new pair —
 * because after a 2xx it is:
 * - a 2xx is never retried, whatever its body looks like; the tokens are recovered from a body
 *   that is not clean JSON (junk around it, an echo of the request before it, cut off after the
 *   tokens, mislabelled as compressed) and masked at once; its body is read for as long as it
 *   keeps coming (only silence or the cancel deadline cut it), and what arrived is kept;
 * - an error answer that carries a new token is that token's only copy: masked and handed on,
 *   never retried away; any other body with a `*_token` field is described, never quoted;
 * - retries are made only where the request can be repeated (no answer, 429, 5xx), and never
 *   started once the run is cancelled;
 * - an error says whether the token may already have been spent;
 * - the body is read up to a bound, and quoted only through `excerpt` (redacted, made inert).
 * What a refusal means is the provider's to say (providers/).
 */
import * as zlib from 'node:zlib'
import { ActionError, errorMessage } from '../errors.js'
import { networkReason, USER_AGENT, type Fetch } from '../http.js'
import { grantName, looksHtml, text, type Client, type FailureKind, type Grant, type Provider } from './provider.js'
import { excerpt, type Redact } from '../redact.js'
import { parseRetryAfter, withRetries, type RetryPolicy, type RetryVerdict } from '../retry.js'

export interface TokenSet {
  accessToken: string
  /** Empty when the answer carried none: an error where the provider always rotates (the old token is spent). */
  refreshToken: string
  /**
   * The answer has a `refresh_token` key whose value did not arrive whole (cut off, or not a string):
   * a new refresh token existed and was lost — never read as "the provider kept its token".
   */
  refreshIncomplete: boolean
  /** The answer arrived whole (not cut off, its object closed): only then can a missing refresh token mean "kept". */
  complete: boolean
  tokenType: string
  expiresIn: number | undefined
  /** The account's clock when it answered (unix seconds), when it said. */
  serverTime: number | undefined
  /** What was wrong with an answer that the tokens had to be recovered from. */
  anomaly: string | undefined
  /** The answer's fields (clean JSON), or those found one by one: the provider reads its facts from them. */
  fields: Record<string, unknown>
}

export type Failure = FailureKind | 'unavailable' | 'bad-answer' | 'pair-in-error'

export class TokenEndpointError extends ActionError {
  constructor(
    message: string,
    readonly failure: Failure,
    /** True when an attempt may have reached the provider and spent the token (no answer, a 5xx, a 2xx without tokens). */
    readonly maybeSpent: boolean,
    readonly status?: number,
    /** For `revoked`: what the provider said, as the start of the race diagnosis. */
    readonly said?: string,
    /** For `pair-in-error`: the tokens an error answer carried, masked; the old token may be spent. */
    readonly pair?: TokenSet
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
  /**
   * The longest wait for an answer's status line, and for each piece of a body after it (a 2xx body
   * is never cut for taking long as a whole: only for going silent this long, or at `deadline`).
   */
  timeoutMs: number
  /** Aborted when a cancelled run's time is up: a request or body read in flight stops there. */
  deadline?: AbortSignal
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
const BODY_MAX_BYTES = 1024 * 1024

interface BodyLimits {
  /** Cut the body when no byte arrives for this long. */
  idleMs: number
  /** Cut the body this long after reading began; undefined: no bound but `stop`. */
  totalMs?: number
  /** Cut the body when this aborts (a cancelled run out of time). */
  stop?: AbortSignal
}

/** What came of reading a body: the text, why it is incomplete (if it is), and what was odd about it. */
interface Body {
  text: string
  cutOff: string | undefined
  /** The body was labelled with a content encoding it did not have: read as it came. */
  note: string | undefined
}

/**
 * Reads a body up to BODY_MAX_BYTES, keeping what arrived when the connection breaks, goes silent
 * for `idleMs`, overruns `totalMs` or `stop` aborts; then decodes its content encoding.
 */
export async function readBody(response: Response, limits: BodyLimits): Promise<Body> {
  const reader = response.body?.getReader()
  if (!reader) return { text: '', cutOff: undefined, note: undefined }
  const chunks: Uint8Array[] = []
  let size = 0
  let cutOff: string | undefined
  let timer: NodeJS.Timeout | undefined
  const endAt = limits.totalMs === undefined ? Infinity : Date.now() + limits.totalMs
  let onStop: (() => void) | undefined
  const stopped = new Promise<'stopped'>((resolve) => {
    onStop = () => resolve('stopped')
    if (limits.stop?.aborted) resolve('stopped')
    else limits.stop?.addEventListener('abort', onStop, { once: true })
  })
  try {
    for (;;) {
      const wait = Math.min(limits.idleMs, endAt - Date.now())
      const timedOut = new Promise<'idle' | 'total'>((resolve) => {
        timer = setTimeout(() => resolve(wait < limits.idleMs ? 'total' : 'idle'), Math.max(0, wait))
      })
      const next = await Promise.race([reader.read(), timedOut, stopped])
      clearTimeout(timer)
      if (next === 'idle' || next === 'total' || next === 'stopped') {
        cutOff =
          next === 'idle'
            ? `no data arrived for ${limits.idleMs / 1000} s`
            : next === 'total'
              ? `not complete within ${(limits.totalMs ?? 0) / 1000} s`
              : 'the run was cancelled and its time was up'
        void reader.cancel().catch(() => undefined)
        break
      }
      if (next.done) break
      chunks.push(next.value)
      size += next.value.length
      if (size >= BODY_MAX_BYTES) {
        cutOff = `longer than ${BODY_MAX_BYTES} bytes; the rest was not read`
        void reader.cancel().catch(() => undefined)
        break
      }
    }
  } catch (error) {
    cutOff = networkReason(error)
  } finally {
    clearTimeout(timer)
    if (onStop) limits.stop?.removeEventListener('abort', onStop)
  }
  const { bytes, note } = decode(Buffer.concat(chunks), response.headers.get('content-encoding') ?? '')
  return { text: bytes.toString('utf8'), cutOff, note }
}

/**
 * Whether a body holds a token field in any spelling — `"refresh_token":`, an escaped
 * `\"access_token\":`, PHP's `[refresh_token] =>`, `&quot;id_token&quot;:`, `refresh_token=`,
 * `refreshToken:` — a key followed by its separator, so that prose ("the refresh token is invalid")
 * does not count. Such a body is described, never quoted: a token in it was never parsed, so never masked.
 */
const mentionsToken = (text: string): boolean => /(?:access|refresh|id)[_-]?token(?:\\?["']|&quot;|\])?\s*(?::|=>|=)/i.test(text)

/**
 * Undoes a content encoding (the raw fetch leaves it on). What arrived of a cut body decodes as far
 * as it goes. A body that is not what its label says is read as it came: of the two, the one with
 * token fields wins, the decoded one first.
 */
function decode(raw: Buffer, encoding: string): { bytes: Buffer; note: string | undefined } {
  const label = encoding.trim().toLowerCase()
  if (label === '' || label === 'identity' || raw.length === 0) return { bytes: raw, note: undefined }
  const partial = { maxOutputLength: BODY_MAX_BYTES, finishFlush: zlib.constants.Z_SYNC_FLUSH }
  const codecs = new Map<string, () => Buffer>([
    ['gzip', () => zlib.gunzipSync(raw, partial)],
    ['deflate', () => zlib.inflateSync(raw, partial)],
    ['raw deflate', () => zlib.inflateRawSync(raw, partial)],
    ['br', () => zlib.brotliDecompressSync(raw, { maxOutputLength: BODY_MAX_BYTES, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH })]
  ])
  // The labelled codec first, then every other: a label may be wrong, a list, or anything at all
  // (`constructor`); whichever decoding carries the tokens wins.
  const named = label.split(',').map((one) => (one.trim() === 'x-gzip' ? 'gzip' : one.trim()))
  const order = [...new Set([...named.filter((one) => codecs.has(one)), ...codecs.keys()])]
  const rawSpeaks = mentionsToken(raw.toString('utf8'))
  for (const name of order) {
    try {
      const bytes = codecs.get(name)?.() ?? Buffer.alloc(0)
      if (bytes.length > 0 && (mentionsToken(bytes.toString('utf8')) || (!rawSpeaks && named.includes(name)))) {
        return { bytes, note: named.includes(name) ? undefined : `it was labelled content-encoding: ${label.slice(0, 20)} but was ${name}` }
      }
    } catch {
      // not so encoded: try the next way, then the raw bytes
    }
  }
  return { bytes: raw, note: `it was labelled content-encoding: ${label.slice(0, 20)} but was not so encoded, so it was read as it came` }
}

const TOKEN_FIELDS = ['access_token', 'refresh_token', 'token_type', 'expires_in', 'server_time']

/**
 * Where the answer's object is in a body that is not clean JSON: the object that holds the
 * `"access_token"` key (the last one, when there are several), from its `{` to its `}` or, cut off,
 * to the end. Debug text that echoes the request (`{"grant_type":"refresh_token","refresh_token":…}`)
 * before the answer is not that object, so its spent token is never taken for the new one.
 * Without an access token: the whole text.
 */
function answerObject(text: string): string {
  const found = objectHoldingAccessToken(text, 0)
  if (found !== undefined) return found
  // A stray quote in the text before the answer (`Undefined "x in a.php`) turns the scan inside
  // out: start again at each brace before the last access_token key, nearest first.
  const key = text.lastIndexOf('"access_token"')
  let from = key
  for (let tries = 0; tries < 64 && from > 0; tries++) {
    from = text.lastIndexOf('{', from - 1)
    if (from < 0) break
    const again = objectHoldingAccessToken(text, from)
    if (again !== undefined) return again
  }
  return text
}

/** From `from` on, with no string open: the object that holds the `"access_token"` key, if any. */
function objectHoldingAccessToken(text: string, from: number): string | undefined {
  let inString = false
  let escaped = false
  const open: number[] = []
  const closeOf = new Map<number, number>()
  let start: number | undefined
  for (let i = from; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (escaped) escaped = false
      else if (c === '\\') escaped = true
      else if (c === '"') inString = false
      continue
    }
    if (c === '"') {
      inString = true
      if (open.length > 0 && text.startsWith('"access_token"', i) && /^\s*:/.test(text.slice(i + 14, i + 30))) start = open.at(-1)
    } else if (c === '{') open.push(i)
    else if (c === '}') {
      const from = open.pop()
      if (from !== undefined) closeOf.set(from, i)
    }
  }
  if (start === undefined) return undefined
  const end = closeOf.get(start)
  return text.slice(start, end === undefined ? undefined : end + 1)
}

/** What a body says about the tokens: its fields, whether it was clean JSON, whether a refresh token was lost in it. */
interface TokenFields {
  fields: Record<string, unknown>
  clean: boolean
  /** The answer's object closed (clean JSON, or a whole object among junk). */
  whole: boolean
  refreshIncomplete: boolean
}

/**
 * The token answer's fields: from the JSON when the body is clean JSON, else from the object that
 * holds the access token (junk around it, a PHP notice or an echo of the request before it, cut off
 * after the tokens), each field found on its own. A string counts only with its closing quote: a
 * token cut in half is no token — and a `refresh_token` key whose value did not arrive whole is
 * reported, because then a new refresh token existed.
 */
export function tokenFields(text: string, extra: readonly string[] = []): TokenFields {
  const object = (value: unknown): Record<string, unknown> | undefined =>
    value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
  const incomplete = (fields: Record<string, unknown>, hasKey: boolean): boolean => {
    const value = fields.refresh_token
    return hasKey && value !== null && value !== '' && (typeof value !== 'string' || value.trim() === '')
  }
  try {
    const json = object(JSON.parse(text))
    if (json) {
      if ('access_token' in json || 'refresh_token' in json) {
        return { fields: json, clean: true, whole: true, refreshIncomplete: incomplete(json, 'refresh_token' in json) }
      }
      // Clean JSON around the answer: an envelope ({"data": {…}}), or a gateway that carries the
      // upstream's body as a string. The answer is still the object that holds the access token.
      const inner = holderOfTokens(json, 0)
      if (inner) return { fields: inner, clean: false, whole: true, refreshIncomplete: incomplete(inner, 'refresh_token' in inner) }
      return { fields: json, clean: true, whole: true, refreshIncomplete: false }
    }
  } catch {
    // not clean JSON: find the answer's object
  }
  const form = formFields(text)
  if (form) return { fields: form, clean: false, whole: true, refreshIncomplete: incomplete(form, 'refresh_token' in form) }
  const segment = answerObject(text)
  try {
    const json = object(JSON.parse(segment))
    if (json) return { fields: json, clean: false, whole: true, refreshIncomplete: incomplete(json, 'refresh_token' in json) }
  } catch {
    // cut off, or junk inside: look for the fields one by one
  }
  const fields: Record<string, unknown> = {}
  for (const name of [...TOKEN_FIELDS, ...extra]) {
    // The last one: an echo of the request comes before the answer, not after it.
    const matches = [...segment.matchAll(new RegExp(`"${name}"\\s*:\\s*("(?:[^"\\\\\\n]|\\\\.)*"|-?\\d+|null)`, 'g'))]
    const found = matches.at(-1)?.[1]
    if (!found) continue
    try {
      fields[name] = JSON.parse(found) as unknown
    } catch {
      // a malformed escape: not a value
    }
  }
  return { fields, clean: false, whole: false, refreshIncomplete: incomplete(fields, /"refresh_token"\s*:/.test(segment)) }
}

/** Inside parsed JSON: the object that holds an access token, through objects, arrays and JSON strings. */
function holderOfTokens(value: unknown, depth: number): Record<string, unknown> | undefined {
  if (depth > 8) return undefined
  if (typeof value === 'string') {
    const text = value.trim()
    if (!text.startsWith('{') || !text.includes('access_token')) return undefined
    try {
      return holderOfTokens(JSON.parse(text), depth + 1)
    } catch {
      return undefined
    }
  }
  if (value === null || typeof value !== 'object') return undefined
  if (!Array.isArray(value) && 'access_token' in value) return value as Record<string, unknown>
  for (const inner of Object.values(value)) {
    const found = holderOfTokens(inner, depth + 1)
    if (found) return found
  }
  return undefined
}

/** A form-encoded answer (`access_token=…&refresh_token=…`, as some servers give by default). */
function formFields(text: string): Record<string, unknown> | undefined {
  const body = text.trim()
  if (!/^[\w.%+-]+=[^\s&]*(?:&[\w.%+-]+=[^\s&]*)*$/.test(body)) return undefined
  const fields = Object.fromEntries(new URLSearchParams(body))
  return 'access_token' in fields || 'refresh_token' in fields ? fields : undefined
}

/** A body fit to show a provider's refusal reader: without the value of any `*_token` field. */
function withoutTokens(body: string): string {
  if (!mentionsToken(body)) return body
  const strip = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(strip)
      : value !== null && typeof value === 'object'
        ? Object.fromEntries(
            Object.entries(value)
              .filter(([key]) => !/token$/i.test(key))
              .map(([key, v]) => [key, strip(v)])
          )
        : value
  try {
    const shown = JSON.stringify(strip(JSON.parse(body)))
    // A token field left inside a string (a gateway's copy of the upstream body): nothing is shown.
    return mentionsToken(shown) ? '' : shown
  } catch {
    // Not JSON: nothing of it is shown.
    return ''
  }
}

function positive(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
  return Number.isFinite(n) && n > 0 ? n : undefined
}

/** RFC 6749 §7.1 names token types like this (Bearer, MAC, DPoP, N_A): anything else is not passed on. */
const TOKEN_TYPE = /^[A-Za-z][A-Za-z0-9_.-]{0,31}$/

/** A token value exactly as it came: only strings count, and nothing is trimmed off a token. */
const tokenValue = (value: unknown): string => (typeof value === 'string' && value.trim() !== '' ? value : '')

/** The tokens and facts of a body that carries them, masked the moment they are read. */
function pairOf(found: TokenFields, cutOff: string | undefined, anomaly: string | undefined, deps: ExchangeDeps): TokenSet {
  const { fields } = found
  const accessToken = tokenValue(fields.access_token)
  const refreshToken = tokenValue(fields.refresh_token)
  // Masked before anything else can print them.
  if (accessToken) deps.mask(accessToken)
  if (refreshToken) deps.mask(refreshToken)
  const tokenType = text(fields.token_type)
  return {
    accessToken,
    refreshToken,
    refreshIncomplete: found.refreshIncomplete,
    complete: found.whole && cutOff === undefined,
    tokenType: tokenType === '' ? 'Bearer' : TOKEN_TYPE.test(tokenType) ? tokenType : '',
    expiresIn: positive(fields.expires_in),
    serverTime: positive(fields.server_time),
    anomaly,
    fields
  }
}

/**
 * A 2xx: the provider has acted on the request, so whatever came back is all there will ever be of
 * the new pair. Recover the tokens, mask them, and hand them on; throw only when there is nothing.
 */
function readPair(provider: Provider, status: number, body: Body, contentType: string, deps: ExchangeDeps): TokenSet {
  const label = provider.label
  const found = tokenFields(body.text, provider.extraFields)
  const odd = [body.cutOff ? `was cut off (${body.cutOff})` : undefined, body.note].filter(Boolean).join('; ')
  const anomaly = odd
    ? `${label}'s answer (${status}) ${odd}; the tokens were recovered from what arrived`
    : found.clean
      ? undefined
      : `${label}'s answer (${status}) was not clean JSON (${body.text.length} characters, something around the JSON); the tokens were recovered from it`
  const pair = pairOf(found, body.cutOff, anomaly, deps)
  if (!pair.accessToken && !pair.refreshToken) {
    // A 2xx body may hold the new pair under any name or in any shape: it is described, never
    // quoted — except an HTML page's text without a token field (a login page says what is wrong).
    const html = looksHtml(body.text, contentType)
    const page = html && !mentionsToken(body.text) ? excerpt(body.text, 120, deps.redact) : ''
    const what = page
      ? ''
      : ` (${body.text.length} characters${contentType ? ` of ${excerpt(contentType.split(';')[0] ?? '', 40, deps.redact)}` : ''}, not shown)`
    throw new TokenEndpointError(
      `${label} answered ${status} without a readable token pair${body.cutOff ? ` (the answer was cut off: ${body.cutOff})` : ''}${what}${html ? ` (${provider.hints.htmlPage})` : ''}${page ? `: "${page}"` : ''}. The token may have been spent: ${provider.hints.spentNext}.`,
      'bad-answer',
      true,
      status
    )
  }
  return pair
}

/** Spends the code or refresh token and returns the new pair, masked. */
export async function exchangeToken(request: TokenRequest, deps: ExchangeDeps): Promise<TokenSet> {
  const { provider, grant } = request
  const spec = provider.request(grant, request.client)
  const label = provider.label
  const given = grant.type === 'authorization_code' ? grant.code : grant.refreshToken
  let maybeSpent = false
  const classify = (error: unknown): RetryVerdict =>
    error instanceof Transient ? { retry: true, afterMs: error.afterMs } : { retry: false }

  const attempt = async (): Promise<TokenSet> => {
    // One controller for the request and its body: the status line must come within timeoutMs;
    // after it, the body has limits of its own (readBody); the cancel deadline ends both.
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(new DOMException('no answer within the time limit', 'TimeoutError')), deps.timeoutMs)
    const onDeadline = (): void => controller.abort(new DOMException('the run was cancelled and its time was up', 'AbortError'))
    if (deps.deadline?.aborted) onDeadline()
    deps.deadline?.addEventListener('abort', onDeadline)
    try {
      let response: Response
      try {
        response = await deps.fetch(spec.url, {
          method: spec.method,
          headers: { ...spec.headers, 'user-agent': USER_AGENT },
          ...(spec.body === undefined ? {} : { body: spec.body }),
          redirect: 'manual',
          signal: controller.signal
        })
      } catch (error) {
        maybeSpent = true
        throw new Transient(networkReason(error))
      } finally {
        clearTimeout(timer)
      }
      const status = response.status
      const contentType = response.headers.get('content-type') ?? ''
      const ok = status >= 200 && status < 300
      // A 2xx body is the new pair: it may take as long as it keeps coming. Any other is bounded.
      const body = await readBody(response, { idleMs: deps.timeoutMs, ...(ok ? {} : { totalMs: deps.timeoutMs }), stop: deps.deadline })
      // From here on the status is known. After a 2xx nothing is ever retried.
      if (ok) return readPair(provider, status, body, contentType, deps)
      const answer = body.text
      // An error answer with a new token in it: the old token may be spent, and that pair may be all
      // there is. It is kept (masked, handed to the caller to output and rescue), never retried away.
      const found = tokenFields(answer, provider.extraFields)
      const fresh = [found.fields.access_token, found.fields.refresh_token].some((t) => tokenValue(t) !== '' && t !== given)
      if (fresh) {
        const pair = pairOf(found, body.cutOff, `${label} answered ${status}, an error status, with a token pair in the body`, deps)
        throw new TokenEndpointError(
          `${label} answered ${status}, an error status, with what looks like a new token pair in the body: the ${grantName(grant)} may have been spent, so the request is not repeated. An error's pair may not be valid, so it is not stored.`,
          'pair-in-error',
          true,
          status,
          undefined,
          pair
        )
      }
      // A body with token fields is described, never quoted.
      const shown = withoutTokens(answer)
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
        const said = shown === answer ? (answer ? ` "${excerpt(answer, 80, deps.redact)}"` : '') : ' (a body with token fields, not shown)'
        throw new Transient(`${status}${said}`, status, parseRetryAfter(response.headers.get('retry-after')))
      }
      const refusal = provider.refusal(status, shown, contentType, grant, deps.redact)
      throw new TokenEndpointError(refusal.message, refusal.kind, maybeSpent, status, refusal.said)
    } finally {
      deps.deadline?.removeEventListener('abort', onDeadline)
    }
  }

  try {
    return await withRetries(deps.retry, classify, attempt, (error, n, waitMs) =>
      deps.onRetry?.(`${label} attempt ${n} got ${errorMessage(error)}; retrying in ${(waitMs / 1000).toFixed(1)} s.`)
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
