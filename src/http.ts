/**
 * The one HTTP client of the action, for the token endpoint and GitHub alike: undici, through the
 * proxy named by HTTPS_PROXY / HTTP_PROXY unless NO_PROXY exempts the host — the same rules, and
 * the same code, as @actions/http-client, which every official action uses.
 *
 * Two fetches, each shaped by what it carries:
 * - the token endpoint's (`rawFetchFor`) hands over the body exactly as it came, undecoded: after a
 *   2xx those bytes are the only copy of the new pair, and a body mislabelled `content-encoding: br`
 *   must still be readable (token-endpoint.ts decodes, and falls back to the raw bytes);
 * - GitHub's (`gitHubFetchFor`) follows redirects itself, and only within the API's origin: a
 *   renamed repository answers 301/307 there, while a redirect elsewhere must never turn a sealed
 *   secret's write into a "stored" (the 3xx is handed back, and the store says what happened).
 */
import diagnostics from 'node:diagnostics_channel'
import { Readable } from 'node:stream'
import { HttpClient } from '@actions/http-client'
import { getProxyUrl } from '@actions/http-client/lib/proxy'
import {
  Agent,
  fetch as undiciFetch,
  Headers as UndiciHeaders,
  request as undiciRequest,
  Response as UndiciResponse,
  type Dispatcher
} from 'undici'

export type Fetch = (url: string, init?: RequestInit) => Promise<Response>

/** How the action names itself to the token endpoint and to GitHub. */
export const USER_AGENT = 'token-rotation-action'

/**
 * Direct connections (no proxy): kept open a minute between requests, so that the connection the
 * pre-spend reads opened to GitHub, and the one `warmUp` opened to the token endpoint, are still
 * there when the spend and the write need them (undici's default keeps an idle one 4 s).
 */
const direct = new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000 })

/** One proxy dispatcher per proxy: its tunnels are reused, as the direct agent's connections are. */
const proxies = new Map<string, Dispatcher>()

/**
 * The dispatcher for requests to `baseUrl`'s host: the proxy's (HTTPS_PROXY, HTTP_PROXY, NO_PROXY,
 * by @actions/http-client's rules), or the direct one. A proxy's is made once, with keep-alive: a
 * new one per call (and @actions/http-client's default, pipelining 0) closes each tunnel after one
 * request, and the warm-up's tunnel would be gone before the spend.
 */
function dispatcherFor(baseUrl: string): Dispatcher {
  const proxy = getProxyUrl(new URL(baseUrl))
  if (!proxy?.hostname) return direct
  let dispatcher = proxies.get(proxy.href)
  if (!dispatcher) {
    dispatcher = new HttpClient(USER_AGENT, [], { keepAlive: true }).getAgentDispatcher(baseUrl) as Dispatcher
    proxies.set(proxy.href, dispatcher)
  }
  return dispatcher
}

/**
 * Opens a connection to `origin` now, through the dispatcher its requests will use (proxy
 * included), so that the token request — the spend — goes over a warm connection instead of
 * paying for TCP and TLS then: a HEAD of the origin's root, its answer read and dropped. Never
 * rejects; the promise settles when the connection is free again, and the spend waits for it a
 * bounded time (main.ts): a slow or refused HEAD only leaves the spend to open its own.
 */
export function warmUp(origin: string): Promise<void> {
  // reset: false — undici closes a connection after a HEAD unless told to keep it (undici#258).
  return undiciRequest(`${origin}/`, {
    method: 'HEAD',
    reset: false,
    dispatcher: dispatcherFor(origin),
    signal: AbortSignal.timeout(10_000)
  })
    .then((answer) => answer.body.dump())
    .then(connectionsFreed)
    .catch(() => undefined)
}

/**
 * Settles once undici has handed back to its pool the connections of answers that just ended: it
 * does so a turn of the event loop after an answer ends (two turns here, for margin). A request
 * sent before then finds them taken and opens a connection of its own (TCP and TLS: two round trips).
 */
export function connectionsFreed(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)))
}

/**
 * Runs `work` once the first request's headers are on a socket (undici's `sendHeaders` channel),
 * or after `latestMs` if none is: for synchronous work such as compiling libsodium (~11 ms), which
 * would otherwise hold the event loop before the first requests have even connected.
 */
export function whenOnTheWire(work: () => void, latestMs = 50): void {
  let done = false
  const channel = diagnostics.channel('undici:client:sendHeaders')
  const once = (): void => {
    if (done) return
    done = true
    clearTimeout(timer)
    channel.unsubscribe(listener)
    // Not inside undici's publish: after the other requests of this wave have been written too.
    setImmediate(work)
  }
  const listener = (): void => once()
  const timer = setTimeout(once, latestMs)
  channel.subscribe(listener)
}

/** The most of a GitHub answer that is read: its answers are kilobytes, and a hostile 50 MB error page must not cost 300 MB. */
export const GITHUB_BODY_MAX_BYTES = 1024 * 1024

/** `body` cut after `max` bytes (the rest is not read). */
function bounded(body: ReadableStream<Uint8Array>, max: number): ReadableStream<Uint8Array> {
  let seen = 0
  const reader = body.getReader()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read()
      if (done) return controller.close()
      const room = max - seen
      seen += value.length
      if (value.length < room) return controller.enqueue(value)
      if (room > 0) controller.enqueue(value.subarray(0, room))
      controller.close()
      await reader.cancel().catch(() => undefined)
    },
    cancel: (reason) => reader.cancel(reason)
  })
}

/** A fetch for requests to `baseUrl`'s host (the proxy decision is made per destination). */
function fetchFor(baseUrl: string): Fetch {
  const dispatcher = dispatcherFor(baseUrl)
  return (url, init) => undiciFetch(url, { ...(init as object), dispatcher } as never) as unknown as Promise<Response>
}

/**
 * A Response of the undici this bundle already holds. The global Response, Headers (and fetch) are
 * Node's own copy of undici, loaded on first use: about 30 ms of the event loop, in the middle of
 * the first answers, for a class this code already has.
 */
function answerOf(
  body: ReadableStream<Uint8Array> | null,
  status: number,
  headers: Headers | UndiciHeaders,
  statusText?: string
): Response {
  return new UndiciResponse(body as never, { status, statusText, headers: headers as UndiciHeaders }) as unknown as Response
}

/** Statuses whose Response may not have a body. */
const NULL_BODY = new Set([101, 204, 205, 304])

/**
 * A fetch whose Response carries the body as it came off the wire (no content decoding) and never
 * follows a redirect. Only `method`, `headers`, `body` (a string) and `signal` of `init` are used.
 */
export function rawFetchFor(baseUrl: string): Fetch {
  const dispatcher = dispatcherFor(baseUrl)
  return async (url, init = {}) => {
    const answer = await undiciRequest(url, {
      method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: init.headers as Record<string, string> | undefined,
      body: typeof init.body === 'string' ? init.body : undefined,
      signal: init.signal ?? undefined,
      dispatcher
    })
    const headers = new UndiciHeaders()
    for (const [name, value] of Object.entries(answer.headers)) {
      for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, one)
    }
    if (answer.statusCode < 200 || answer.statusCode > 599) {
      await answer.body.dump().catch(() => undefined)
      throw new TypeError('fetch failed', { cause: new Error(`the server answered with status ${answer.statusCode}`) })
    }
    if (NULL_BODY.has(answer.statusCode)) {
      await answer.body.dump().catch(() => undefined)
      return answerOf(null, answer.statusCode, headers)
    }
    return answerOf(Readable.toWeb(answer.body) as ReadableStream<Uint8Array>, answer.statusCode, headers)
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
const MAX_REDIRECTS = 5

/**
 * GitHub's fetch: redirects are followed here, within `baseUrl`'s origin only (a renamed or
 * transferred repository answers 301 for GET, 307 for the rest); a redirect to any other origin is
 * handed back as the 3xx it is, so that nothing — no token, no sealed value — goes there, and no
 * answer from there can count as GitHub's.
 */
export function gitHubFetchFor(baseUrl: string): Fetch {
  const fetch = fetchFor(baseUrl)
  const origin = new URL(baseUrl).origin
  return async (url, init = {}) => {
    let current = url
    let method = (init.method ?? 'GET').toUpperCase()
    let body = init.body
    for (let hop = 0; ; hop++) {
      const response = await fetch(current, { ...init, method, body, redirect: 'manual' })
      const location = response.headers.get('location')
      if (!REDIRECTS.has(response.status) || !location || hop >= MAX_REDIRECTS) return capped(response)
      let next: URL
      try {
        next = new URL(location, current)
      } catch {
        return capped(response)
      }
      if (next.origin !== origin) return capped(response)
      await response.body?.cancel().catch(() => undefined)
      // As fetch does: 303 becomes a GET, and so does a POST answered 301/302; the rest keep method and body.
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = 'GET'
        body = undefined
      }
      current = next.href
    }
  }
}

/** The same answer with its body bounded at GITHUB_BODY_MAX_BYTES (its url kept: errors name it). */
function capped(response: Response): Response {
  if (!response.body) return response
  const copy = answerOf(bounded(response.body, GITHUB_BODY_MAX_BYTES), response.status, response.headers, response.statusText)
  Object.defineProperty(copy, 'url', { value: response.url })
  return copy
}

/**
 * Why a request got no answer, in words: a time-out, a proxy that wants credentials, or the
 * connection's error code. Never the server's text (there is none) and never a stack.
 */
export function networkReason(error: unknown): string {
  if (!(error instanceof Error)) return 'the connection failed'
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'no answer within the time limit'
  // undici nests the reason: fetch failed ← "Request was cancelled." ← "Proxy response (407) …".
  const chain: Error[] = []
  for (let e: unknown = error; e instanceof Error && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e)
  const text = chain.map((e) => e.message).join(' ← ')
  if (/\b407\b|Proxy Authentication Required/i.test(text)) {
    return 'the proxy asked for authentication (407 Proxy Authentication Required): put the credentials in HTTPS_PROXY (http://user:password@proxy:port)'
  }
  const proxy = /Proxy response \((\d{3})\)/.exec(text)
  if (proxy) return `the proxy refused the connection (${proxy[1]}): check HTTPS_PROXY and NO_PROXY`
  if (chain.some((e) => e.name === 'TimeoutError' || e.name === 'AbortError')) return 'no answer within the time limit'
  // The innermost error with a code says most (ECONNREFUSED, ENOTFOUND, …); else its message.
  const coded = [...chain].reverse().find((e) => typeof (e as { code?: unknown }).code === 'string')
  const detail = coded ? String((coded as unknown as { code: string }).code) : (chain.at(-1)?.message ?? error.message)
  return `the connection failed (${detail.slice(0, 120)})`
}
