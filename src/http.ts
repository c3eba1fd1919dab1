/**
 * The one HTTP client of the action, for amoCRM and GitHub alike: undici's fetch, through the
 * proxy named by HTTPS_PROXY / HTTP_PROXY unless NO_PROXY exempts the host — the same rules, and
 * the same code, as @actions/http-client, which every official action uses.
 */
import { HttpClient } from '@actions/http-client'
import { fetch as undiciFetch } from 'undici'

export type Fetch = (url: string, init?: RequestInit) => Promise<Response>

/** A fetch for requests to `baseUrl`'s host (the proxy decision is made per destination). */
export function fetchFor(baseUrl: string): Fetch {
  const dispatcher = new HttpClient().getAgentDispatcher(baseUrl)
  if (!dispatcher) return (url, init) => undiciFetch(url, init as never) as unknown as Promise<Response>
  return (url, init) => undiciFetch(url, { ...(init as object), dispatcher } as never) as unknown as Promise<Response>
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
  // The innermost error with a code says most (ECONNREFUSED, ENOTFOUND, …); else its message.
  const coded = [...chain].reverse().find((e) => typeof (e as { code?: unknown }).code === 'string')
  const detail = coded ? String((coded as unknown as { code: string }).code) : (chain.at(-1)?.message ?? error.message)
  return `the connection failed (${detail.slice(0, 120)})`
}
