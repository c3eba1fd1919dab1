/**
 * Fault injection for the stand-ins (amocrm.ts, bitrix24.ts, oauth2.ts, github/github.ts): what a
 * real network path to a token endpoint or GitHub does wrong, as a client sees it. `Fault` lists
 * the kinds, http.ts's `startCore` applies them. What is emulated and what deliberately is not:
 * test/README.md, the stand-ins table.
 *
 * Faults are decided per request, after its body has been read, so a hook can look at the method,
 * path and parsed body. `faultQueue` is deterministic; the soak's random faults are when given
 * `seededRandom(seed)` and the requests arrive in the same order.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { STATUS_CODES } from 'node:http'

export type Fault =
  /** Answer this instead of processing the request (no state change). */
  | {
      kind: 'status'
      status: number
      /** Default: an nginx HTML error page (`nginxHtml(status)`), nothing for 204/304. */
      body?: string
      /** Default: `text/html` for the default body; for a given body, `application/json` when it looks like JSON, else `text/plain; charset=utf-8`. */
      contentType?: string
      headers?: Record<string, string>
    }
  /** Destroy the socket (TCP RST) before processing the request: nothing happened server-side. */
  | { kind: 'reset' }
  /** Process the request fully (state changes!), then destroy the socket without answering. */
  | { kind: 'lost-response' }
  /** Process normally, answer after `ms` (on top of the server's `latencyMs`). */
  | { kind: 'delay'; ms: number }
  /**
   * Process the request (state changes), then answer with the handler's status and headers but
   * `body(original)` as the body (Content-Length recomputed; Content-Type replaced by `contentType`
   * when given; `headers` added or replacing the handler's, by case-insensitive name; `status`
   * instead of the handler's: a proxy that turns the service's answer into a 502, say). Answers
   * without a body (204, 304, 1xx) go out unchanged.
   */
  | {
      kind: 'transform'
      body: (original: string) => string
      contentType?: string
      headers?: Record<string, string>
      status?: number
    }
  /**
   * Process the request (state changes), then send the status and headers with the FULL
   * Content-Length, only the first `bytes` bytes of the body, and destroy the socket: a body cut
   * off mid-way. `bytes` ≥ the body's length sends it all before closing.
   */
  | { kind: 'cut'; bytes: number }
  /**
   * Process the request (state changes), then send the status and headers at once with the FULL
   * Content-Length, and the body `bytes` bytes at a time, one piece every `everyMs` ms (the first
   * `everyMs` after the headers): the whole body has arrived ⌈length / bytes⌉ × `everyMs` after
   * the headers. `end`: 'finish' (default) completes the answer; 'reset' destroys the socket
   * where the last piece is due instead, so the body stops short of its end. Answers without a
   * body (204, 304, 1xx, an empty body, a HEAD answer) go out at once, unchanged. The stand-in's
   * `close()` stops a drip (its timer is cleared); so does the client going away.
   */
  | { kind: 'drip'; bytes: number; everyMs: number; end?: 'finish' | 'reset' }
  /**
   * Process the request now (`process`, default true: state changes at once), then hold the answer
   * until `until` settles: 'answer' → send the handler's answer (with `process: false`, the
   * handler runs only now); 'reset' (or a rejection) → destroy the socket without answering (with
   * `process: false`, the request never reaches the handler). The server's `close()` destroys
   * held sockets; a promise that never settles holds nothing else.
   */
  | { kind: 'hold'; until: Promise<'answer' | 'reset'>; process?: boolean }

export interface RequestInfo {
  method: string
  /** pathname + search, exactly as requested (GitHub prefix included). */
  path: string
  /** Parsed JSON (application/json, +json), form object (application/x-www-form-urlencoded), raw string otherwise or when the JSON is invalid; undefined for an empty body. */
  body: unknown
  headers: IncomingHttpHeaders
  /** Date.now() when the request (with its body) was received — after its connection's set-up cost, if it is the first on it. */
  at: number
  /** When its connection was opened. */
  connectedAt: number
  /** The first request on its connection (which paid the stand-in's `connectMs`). */
  newConnection: boolean
  /** Date.now() when its answer was written out whole; unset while none was (or the connection was dropped). */
  answeredAt?: number
}

export type FaultHook = (req: RequestInfo) => Fault | undefined

/** An nginx-style HTML error page, byte-for-byte in nginx's format (CRLF line ends). */
export function nginxHtml(status: number): string {
  const reason = STATUS_CODES[status] ?? 'Unknown'
  const title = `${status} ${reason}`
  return (
    `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n` +
    `<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`
  )
}

/**
 * Returns the next queued fault for each request, in order; `undefined` entries let a request
 * through untouched. Once exhausted, every request passes.
 */
export function faultQueue(...faults: Array<Fault | undefined>): FaultHook {
  const queue = [...faults]
  return () => queue.shift()
}

/** mulberry32: a tiny, fast, seedable PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Consults `hook` only for requests matching `predicate` (so a `faultQueue` is consumed only by
 * them), e.g. `onlyWhen(r => r.method === 'PUT', faultQueue({ kind: 'lost-response' }))`.
 */
export function onlyWhen(predicate: (req: RequestInfo) => boolean, hook: FaultHook): FaultHook {
  return (req) => (predicate(req) ? hook(req) : undefined)
}
