/**
 * The stand-ins' HTTP core: a node:http server on 127.0.0.1 (port 0) that reads, parses and logs
 * every request, asks the fault hook, answers through the stand-in's handler with latency, and
 * shuts down cleanly (`startCore` gives the life cycle of a request). Plumbing for the stand-ins,
 * not for tests: they use amocrm.ts, bitrix24.ts, oauth2.ts, github/github.ts and faults.ts.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { nginxHtml } from './faults.js'
import type { Fault, FaultHook, RequestInfo } from './faults.js'

const MAX_BODY_BYTES = 1024 * 1024

export interface Reply {
  status: number
  headers?: Record<string, string>
  /** Omitted or undefined: no body (and no Content-Type unless given in headers). */
  body?: string
}

export interface Incoming {
  info: RequestInfo
  url: URL
  /** The body declared JSON but did not parse (info.body then holds the raw string). */
  invalidJson: boolean
  /** The body exceeded MAX_BODY_BYTES (info.body is then undefined). */
  tooLarge: boolean
}

export type Handler = (incoming: Incoming) => Reply

/**
 * What tests tune on a running stand-in: its fault hook, the latency added to every answer, and
 * what a new connection costs (`connectMs`: TCP and TLS before the first request on a connection is
 * served — on loopback a connection is free, on a runner it is about two round trips).
 */
export interface Tunable {
  faults: FaultHook | undefined
  latencyMs: number
  connectMs: number
}

export interface Core extends Tunable {
  /** http://127.0.0.1:PORT */
  readonly origin: string
  /** 127.0.0.1:PORT */
  readonly host: string
  readonly port: number
  readonly requests: RequestInfo[]
  /** Requests being handled now (received, not yet answered or dropped). */
  readonly inFlight: number
  /** The highest `inFlight` since the start or the last `resetMaxInFlight()`. */
  readonly maxInFlight: number
  /** Restarts `maxInFlight` from the requests in flight now. */
  resetMaxInFlight(): void
  close(): Promise<void>
}

/** `target` with `faults` and `latencyMs` that read and write `source`'s (a stand-in passes its core's through). */
export function withTunables<T extends Tunable>(target: Omit<T, keyof Tunable>, source: Tunable): T {
  return Object.defineProperties(target, {
    faults: {
      enumerable: true,
      get: () => source.faults,
      set: (hook: FaultHook | undefined) => {
        source.faults = hook
      }
    },
    latencyMs: {
      enumerable: true,
      get: () => source.latencyMs,
      set: (ms: number) => {
        source.latencyMs = ms
      }
    },
    connectMs: {
      enumerable: true,
      get: () => source.connectMs,
      set: (ms: number) => {
        source.connectMs = ms
      }
    }
  }) as T
}

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase()
}

export function isJsonMediaType(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json')
}

function parseBody(raw: Buffer, contentType: string | undefined): { body: unknown; invalidJson: boolean } {
  if (raw.length === 0) return { body: undefined, invalidJson: false }
  const text = raw.toString('utf8')
  const type = mediaType(contentType)
  if (isJsonMediaType(type)) {
    try {
      return { body: JSON.parse(text) as unknown, invalidJson: false }
    } catch {
      return { body: text, invalidJson: true }
    }
  }
  if (type === 'application/x-www-form-urlencoded') {
    return { body: Object.fromEntries(new URLSearchParams(text)), invalidJson: false }
  }
  return { body: text, invalidJson: false }
}

export function json(status: number, value: unknown, contentType: string, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'Content-Type': contentType, ...headers }, body: JSON.stringify(value) }
}

function faultReply(fault: Extract<Fault, { kind: 'status' }>): Reply {
  const noBody = fault.status === 204 || fault.status === 304 || (fault.status >= 100 && fault.status < 200)
  if (noBody) return { status: fault.status, headers: { ...fault.headers } }
  const body = fault.body ?? nginxHtml(fault.status)
  let contentType = fault.contentType
  if (contentType === undefined) {
    if (fault.body === undefined) contentType = 'text/html'
    else contentType = /^\s*[[{]/.test(fault.body) ? 'application/json' : 'text/plain; charset=utf-8'
  }
  return { status: fault.status, headers: { Server: 'nginx', 'Content-Type': contentType, ...fault.headers }, body }
}

const hasNoBody = (status: number) => status === 204 || status === 304 || status < 200

function transformed(reply: Reply, fault: Extract<Fault, { kind: 'transform' }>): Reply {
  if (hasNoBody(reply.status)) return reply
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(reply.headers ?? {})) {
    if (fault.contentType === undefined || name.toLowerCase() !== 'content-type') headers[name] = value
  }
  if (fault.contentType !== undefined) headers['Content-Type'] = fault.contentType
  for (const [name, value] of Object.entries(fault.headers ?? {})) {
    for (const existing of Object.keys(headers)) if (existing.toLowerCase() === name.toLowerCase()) delete headers[existing]
    headers[name] = value
  }
  return { status: fault.status ?? reply.status, headers, body: fault.body(reply.body ?? '') }
}

/** Headers with the full Content-Length, the first `bytes` bytes of the body, then the socket destroyed. */
function sendCut(req: IncomingMessage, res: ServerResponse, reply: Reply, bytes: number): void {
  if (res.destroyed || res.writableEnded) return
  const body = hasNoBody(reply.status) ? Buffer.alloc(0) : Buffer.from(reply.body ?? '', 'utf8')
  const headers: Record<string, string> = { ...reply.headers }
  if (!hasNoBody(reply.status)) headers['Content-Length'] = String(body.length)
  res.writeHead(reply.status, headers)
  const part = body.subarray(0, Math.max(0, Math.min(Math.floor(bytes), body.length)))
  if (part.length === 0) res.flushHeaders()
  res.write(part, () => req.socket.destroy())
}

/**
 * Headers with the full Content-Length at once, then the body `fault.bytes` bytes every
 * `fault.everyMs` ms on timers kept in `timers` (so close() clears them); the timer is cleared as
 * soon as the connection closes, so a client that gave up leaves nothing pending.
 */
function sendDrip(
  req: IncomingMessage,
  res: ServerResponse,
  reply: Reply,
  fault: Extract<Fault, { kind: 'drip' }>,
  timers: Set<NodeJS.Timeout>
): void {
  if (res.destroyed || res.writableEnded) return
  if (hasNoBody(reply.status) || !reply.body || req.method === 'HEAD') {
    send(res, reply)
    return
  }
  const body = Buffer.from(reply.body, 'utf8')
  const step = Math.max(1, Math.floor(fault.bytes))
  const everyMs = Math.max(0, fault.everyMs)
  res.writeHead(reply.status, { ...reply.headers, 'Content-Length': String(body.length) })
  res.flushHeaders()
  let offset = 0
  let timer: NodeJS.Timeout | undefined
  const stop = (): void => {
    if (timer === undefined) return
    clearTimeout(timer)
    timers.delete(timer)
    timer = undefined
  }
  res.once('close', stop)
  const next = (): void => {
    timer = setTimeout(() => {
      if (timer !== undefined) timers.delete(timer)
      timer = undefined
      if (res.destroyed) return
      const end = Math.min(body.length, offset + step)
      if (end === body.length) {
        if (fault.end === 'reset') req.socket.destroy()
        else res.end(body.subarray(offset))
        return
      }
      res.write(body.subarray(offset, end))
      offset = end
      next()
    }, everyMs)
    timers.add(timer)
  }
  next()
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.destroyed || res.writableEnded) return
  const headers: Record<string, string> = { ...reply.headers }
  const noBody = reply.status === 204 || reply.status === 304 || reply.status < 200
  if (noBody || reply.body === undefined) {
    if (!noBody) headers['Content-Length'] = '0'
    res.writeHead(reply.status, headers)
    res.end()
    return
  }
  const body = Buffer.from(reply.body, 'utf8')
  headers['Content-Length'] = String(body.length)
  res.writeHead(reply.status, headers)
  res.end(body)
}

/**
 * Starts a stand-in's server.
 *
 * Request life cycle: read the whole body (cap 1 MiB; beyond that the handler sees `tooLarge`),
 * parse it, log it in `requests`, ask the fault hook, then:
 *   status        → wait latencyMs, answer the fault (handler not called: no state change)
 *   reset         → wait latencyMs, TCP RST (handler not called)
 *   lost-response → call the handler (state changes), wait latencyMs, destroy the socket
 *   delay         → call the handler, wait latencyMs + ms, answer
 *   transform     → call the handler, wait latencyMs, answer with the transformed body
 *   cut           → call the handler, wait latencyMs, send headers (full Content-Length) and the
 *                   first `bytes` bytes of the body, destroy the socket
 *   drip          → call the handler, wait latencyMs, send headers (full Content-Length), then
 *                   `bytes` bytes every `everyMs` ms; end the answer, or ('reset') destroy the
 *                   socket where the last piece is due
 *   hold          → call the handler (unless process: false), wait for `until`; 'answer' → (call
 *                   the handler if not yet,) wait latencyMs, answer; 'reset' → destroy the socket
 *   none          → call the handler, wait latencyMs, answer
 * Handlers are synchronous, so every state change of one request is atomic.
 * `maxInFlight`: the most requests in flight at once (from the request's arrival to its answer
 * sent or its socket destroyed) since the start or the last `resetMaxInFlight()`.
 * `close()` clears pending latency and drip timers and destroys every connection (held and
 * dripping ones included): nothing is left behind, and a held request released after close()
 * does nothing.
 */
export async function startCore(options: { latencyMs?: number; faults?: FaultHook; handler: Handler }): Promise<Core> {
  const { handler } = options
  const timers = new Set<NodeJS.Timeout>()
  const requests: RequestInfo[] = []
  const state: Tunable = {
    faults: options.faults,
    latencyMs: options.latencyMs ?? 0,
    connectMs: 0
  }
  /** When each connection was opened, and whether it has served a request yet. */
  const connections = new WeakMap<object, { at: number; served: boolean }>()
  let closing: Promise<void> | undefined
  let closed = false
  let inFlight = 0
  let maxInFlight = 0

  const wait = (ms: number): Promise<void> => {
    if (!(ms > 0)) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer)
        resolve()
      }, ms)
      timers.add(timer)
    })
  }

  async function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer, tooLarge: boolean): Promise<void> {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://127.0.0.1')
    } catch {
      url = new URL('http://127.0.0.1/')
    }
    const parsed = tooLarge ? { body: undefined, invalidJson: false } : parseBody(raw, req.headers['content-type'])
    const connection = connections.get(req.socket) ?? { at: Date.now(), served: true }
    const first = !connection.served
    connection.served = true
    // The set-up a new connection costs is paid before its first request is served.
    if (first) await wait(state.connectMs - (Date.now() - connection.at))
    const info: RequestInfo = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      body: parsed.body,
      headers: req.headers,
      at: Date.now(),
      connectedAt: connection.at,
      newConnection: first
    }
    res.once('finish', () => {
      info.answeredAt = Date.now()
    })
    requests.push(info)

    let fault: Fault | undefined
    try {
      fault = state.faults?.(info)
    } catch (error) {
      fault = { kind: 'status', status: 500, body: `sandbox: fault hook threw: ${String(error)}` }
    }

    if (fault?.kind === 'status') {
      await wait(state.latencyMs)
      send(res, faultReply(fault))
      return
    }
    if (fault?.kind === 'reset') {
      await wait(state.latencyMs)
      const socket = req.socket
      if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
      else socket.destroy()
      return
    }

    const runHandler = (): Reply => {
      try {
        return handler({ info, url, invalidJson: parsed.invalidJson, tooLarge })
      } catch (error) {
        return { status: 500, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: `sandbox handler error: ${String(error)}` }
      }
    }

    if (fault?.kind === 'hold') {
      let held = fault.process === false ? undefined : runHandler()
      let outcome: unknown
      try {
        outcome = await fault.until
      } catch {
        outcome = 'reset'
      }
      if (closed) return
      if (outcome !== 'answer') {
        req.socket.destroy()
        return
      }
      held ??= runHandler()
      await wait(state.latencyMs)
      send(res, held)
      return
    }

    let reply = runHandler()

    if (fault?.kind === 'lost-response') {
      await wait(state.latencyMs)
      req.socket.destroy()
      return
    }
    if (fault?.kind === 'transform') {
      try {
        reply = transformed(reply, fault)
      } catch (error) {
        reply = {
          status: 500,
          headers: { 'Content-Type': 'text/plain; charset=utf-8' },
          body: `sandbox: transform threw: ${String(error)}`
        }
      }
    }
    if (fault?.kind === 'cut') {
      await wait(state.latencyMs)
      sendCut(req, res, reply, fault.bytes)
      return
    }
    if (fault?.kind === 'drip') {
      await wait(state.latencyMs)
      if (!closed) sendDrip(req, res, reply, fault, timers)
      return
    }
    await wait(state.latencyMs + (fault?.kind === 'delay' ? Math.max(0, fault.ms) : 0))
    send(res, reply)
  }

  const server = createServer((req, res) => {
    inFlight += 1
    maxInFlight = Math.max(maxInFlight, inFlight)
    // 'close': the answer was sent, or the connection went away (destroyed, reset, closed by the client).
    res.once('close', () => {
      inFlight -= 1
    })
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) tooLarge = true
      else chunks.push(chunk)
    })
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks), tooLarge)
    })
    req.on('error', () => {
      /* client went away mid-body: nothing to answer */
    })
  })

  server.on('connection', (socket) => connections.set(socket, { at: Date.now(), served: false }))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo

  return withTunables<Core>(
    {
      origin: `http://127.0.0.1:${port}`,
      host: `127.0.0.1:${port}`,
      port,
      requests,
      get inFlight() {
        return inFlight
      },
      get maxInFlight() {
        return maxInFlight
      },
      resetMaxInFlight() {
        maxInFlight = inFlight
      },
      close() {
        closed = true
        closing ??= new Promise<void>((resolve, reject) => {
          for (const timer of timers) clearTimeout(timer)
          timers.clear()
          server.closeAllConnections()
          server.close((error) => (error ? reject(error) : resolve()))
        })
        return closing
      }
    },
    state
  )
}
