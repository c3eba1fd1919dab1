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
