import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import {
  connectionsFreed,
  GITHUB_BODY_MAX_BYTES,
  gitHubFetchFor,
  networkReason,
  rawFetchFor,
  warmUp,
  whenOnTheWire
} from '../../src/http.js'
import { startConnectProxy } from '../../sandbox/standins/proxy.js'

const failed = (cause: unknown): TypeError => new TypeError('fetch failed', { cause })

describe('networkReason', () => {
  test('a time-out or an abort is "no answer within the time limit"', () => {
    assert.equal(networkReason(new DOMException('timed out', 'TimeoutError')), 'no answer within the time limit')
    assert.equal(networkReason(new DOMException('aborted', 'AbortError')), 'no answer within the time limit')
  })

  test('a proxy that wants credentials (undici: InvalidArgumentError "Proxy Authentication Required (407)") is named as such', () => {
    const reason = networkReason(failed(new Error('Proxy Authentication Required (407)')))
    assert.match(reason, /^the proxy asked for authentication \(407 Proxy Authentication Required\): put the credentials in HTTPS_PROXY/)
    assert.doesNotMatch(reason, /cancelled/i)
  })

  test('the chain undici really throws for a 407 ("Request was cancelled." around the proxy response)', () => {
    const undici = failed(
      Object.assign(new Error('Request was cancelled.', { cause: new Error('Proxy response (407) !== 200 when HTTP Tunneling') }), {
        code: 0
      })
    )
    assert.match(networkReason(undici), /^the proxy asked for authentication \(407/)
  })

  test('a proxy that refuses the tunnel with another status', () => {
    assert.equal(
      networkReason(failed(new Error('Proxy response (403) !== 200 when HTTP Tunneling'))),
      'the proxy refused the connection (403): check HTTPS_PROXY and NO_PROXY'
    )
  })

  test("the connection's error code, else its message; anything else", () => {
    assert.equal(
      networkReason(failed(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }))),
      'the connection failed (ECONNREFUSED)'
    )
    assert.equal(networkReason(failed(new Error('other side closed'))), 'the connection failed (other side closed)')
    assert.equal(networkReason(new Error('plain')), 'the connection failed (plain)')
    assert.equal(networkReason('a string'), 'the connection failed')
  })
})

/** A server on 127.0.0.1 that answers with `handle` and records what it was asked. */
async function serve(handle: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<{
  server: Server
  url: string
  seen: Array<{ method: string; url: string; body: string; authorization: string | undefined }>
}> {
  const seen: Array<{ method: string; url: string; body: string; authorization: string | undefined }> = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body, authorization: req.headers.authorization })
      handle(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

describe('gitHubFetchFor: redirects within the API origin only', () => {
  let api: Awaited<ReturnType<typeof serve>>
  let other: Awaited<ReturnType<typeof serve>>
  before(async () => {
    other = await serve((_req, res) => res.writeHead(204).end())
    api = await serve((req, res) => {
      const to = (status: number, location: string) => res.writeHead(status, { location }).end()
      if (req.url === '/moved') return to(301, '/repositories/1')
      if (req.url === '/moved-put') return to(307, '/repositories/1/put')
      if (req.url === '/see-other') return to(303, '/repositories/1')
      if (req.url === '/away') return to(307, `${other.url}/stolen`)
      if (req.url === '/loop') return to(302, '/loop')
      if (req.url === '/bad-location') return to(301, 'http://[::1')
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ at: req.url, method: req.method }))
    })
  })
  after(async () => {
    await new Promise((resolve) => api.server.close(resolve))
    await new Promise((resolve) => other.server.close(resolve))
  })

  test('a 301 for a GET is followed within the origin, credentials kept', async () => {
    const response = await gitHubFetchFor(api.url)(`${api.url}/moved`, { headers: { authorization: 'token t' } })
    assert.deepEqual(await response.json(), { at: '/repositories/1', method: 'GET' })
    assert.equal(api.seen.at(-1)?.authorization, 'token t')
  })

  test('a 307 for a PUT is followed with the same method and body; a 303 becomes a GET', async () => {
    const put = await gitHubFetchFor(api.url)(`${api.url}/moved-put`, { method: 'PUT', body: '{"v":1}' })
    assert.deepEqual(await put.json(), { at: '/repositories/1/put', method: 'PUT' })
    assert.equal(api.seen.at(-1)?.body, '{"v":1}')
    const seeOther = await gitHubFetchFor(api.url)(`${api.url}/see-other`, { method: 'POST', body: 'x' })
    assert.deepEqual(await seeOther.json(), { at: '/repositories/1', method: 'GET' })
  })

  test('a redirect to another origin is handed back as it is: nothing is sent there', async () => {
    const response = await gitHubFetchFor(api.url)(`${api.url}/away`, {
      method: 'PUT',
      body: 'sealed',
      headers: { authorization: 'token t' }
    })
    assert.equal(response.status, 307)
    assert.equal(response.headers.get('location'), `${other.url}/stolen`)
    assert.deepEqual(other.seen, [])
  })

  test('a Location that is no URL: the 3xx as it is', async () => {
    assert.equal((await gitHubFetchFor(api.url)(`${api.url}/bad-location`)).status, 301)
  })

  test('a redirect loop ends after five hops with the last 3xx', async () => {
    const before = api.seen.length
    const response = await gitHubFetchFor(api.url)(`${api.url}/loop`)
    assert.equal(response.status, 302)
    assert.equal(api.seen.length - before, 6)
  })
})

describe('rawFetchFor: the body as it came off the wire', () => {
  test('a gzip body stays gzip (the token endpoint decodes it, with a fallback), redirects are not followed', async () => {
    const gz = gzipSync('{"a":1}')
    const s = await serve((req, res) => {
      if (req.url === '/r') return res.writeHead(302, { location: '/x' }).end()
      if (req.url === '/none') return res.writeHead(204).end()
      if (req.url === '/odd') return res.writeHead(600).end('x')
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/json' }).end(gz)
    })
    try {
      const fetch = rawFetchFor(s.url)
      const response = await fetch(`${s.url}/`, { method: 'POST', body: 'b', headers: { 'content-type': 'text/plain' } })
      assert.equal(response.headers.get('content-encoding'), 'gzip')
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), gz)
      assert.equal(s.seen.at(-1)?.body, 'b')
      assert.equal((await fetch(`${s.url}/r`)).status, 302)
      assert.equal((await fetch(`${s.url}/none`)).body, null)
      await assert.rejects(fetch(`${s.url}/odd`), (error: Error) => networkReason(error).includes('status 600'))
    } finally {
      await new Promise((resolve) => s.server.close(resolve))
    }
  })
})

describe('warm connections and bounded bodies', () => {
  test('warmUp opens the connection the next request then uses: one connection for both', async () => {
    let connections = 0
    const s = await serve((req, res) => res.writeHead(req.method === 'HEAD' ? 404 : 200).end(req.method === 'HEAD' ? undefined : 'ok'))
    s.server.on('connection', () => (connections += 1))
    try {
      // warmUp settles once the connection is back in the pool: the next request finds it at once.
      await warmUp(s.url)
      const response = await rawFetchFor(s.url)(`${s.url}/token`, { method: 'POST', body: 'x' })
      assert.equal(await response.text(), 'ok')
      assert.deepEqual(
        s.seen.map((r) => r.method),
        ['HEAD', 'POST']
      )
      assert.equal(connections, 1, 'the spend went over the warm connection')
    } finally {
      await new Promise((resolve) => s.server.close(resolve))
      s.server.closeAllConnections()
    }
  })

  test('through a proxy too: the warm-up tunnel carries the spend, and the GitHub requests share theirs', async () => {
    let connections = 0
    const s = await serve((req, res) => res.writeHead(req.method === 'HEAD' ? 404 : 200).end(req.method === 'HEAD' ? undefined : 'ok'))
    s.server.on('connection', () => (connections += 1))
    // A CONNECT proxy that sends every host to the server above.
    const proxy = await startConnectProxy(() => (s.server.address() as AddressInfo).port)
    const saved = process.env.HTTP_PROXY
    process.env.HTTP_PROXY = proxy.url
    try {
      const origin = `http://token.test:${(s.server.address() as AddressInfo).port}`
      await warmUp(origin)
      assert.equal(await (await rawFetchFor(origin)(`${origin}/token`, { method: 'POST', body: 'x' })).text(), 'ok')
      const api = `http://api.test:${(s.server.address() as AddressInfo).port}`
      const github = gitHubFetchFor(api)
      for (let i = 0; i < 2; i++) {
        await (await github(`${api}/repos/o/r`)).text()
        await connectionsFreed()
      }
      assert.deepEqual(proxy.tunnels, [new URL(origin).host, new URL(api).host], 'one tunnel per host')
      assert.equal(connections, 2)
    } finally {
      if (saved === undefined) delete process.env.HTTP_PROXY
      else process.env.HTTP_PROXY = saved
      s.server.closeAllConnections()
      await proxy.close()
      await new Promise((resolve) => s.server.close(resolve))
    }
  })

  test('warmUp never rejects, whatever the origin', async () => {
    assert.equal(await warmUp('http://127.0.0.1:1'), undefined)
  })

  test('whenOnTheWire waits for the first request to be written, not for its answer', async () => {
    let release: (() => void) | undefined
    const held = new Promise<void>((resolve) => (release = resolve))
    let arrived = false
    const s = await serve((_req, res) => {
      arrived = true
      void held.then(() => res.writeHead(200).end('ok'))
    })
    try {
      let ran = false
      const work = new Promise<void>((resolve) =>
        whenOnTheWire(() => {
          ran = true
          resolve()
        }, 60_000)
      )
      for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve))
      assert.equal(ran, false, 'nothing was sent yet')
      const answer = rawFetchFor(s.url)(`${s.url}/token`, { method: 'POST', body: 'x' })
      await work
      assert.equal(ran, true)
      release?.()
      assert.equal(await (await answer).text(), 'ok')
      assert.equal(arrived, true)
    } finally {
      release?.()
      await new Promise((resolve) => s.server.close(resolve))
      s.server.closeAllConnections()
    }
  })

  test('whenOnTheWire runs the work anyway when no request is sent', async () => {
    await new Promise<void>((resolve) => whenOnTheWire(resolve, 1))
  })

  test('a GitHub answer is read up to GITHUB_BODY_MAX_BYTES, however large', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 'x')
    const s = await serve((_req, res) => res.writeHead(403, { 'content-type': 'text/html' }).end(big))
    try {
      const response = await gitHubFetchFor(s.url)(`${s.url}/x`)
      assert.equal(response.status, 403)
      assert.equal(response.url, `${s.url}/x`)
      assert.equal((await response.arrayBuffer()).byteLength, GITHUB_BODY_MAX_BYTES)
    } finally {
      await new Promise((resolve) => s.server.close(resolve))
      s.server.closeAllConnections()
    }
  })
})
