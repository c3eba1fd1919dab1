/**
 * Self-hosted runners behind a proxy: with HTTPS_PROXY / HTTP_PROXY set, both the amoCRM request
 * and the GitHub requests go through the proxy (CONNECT tunnels), and NO_PROXY exempts hosts — the
 * rules of @actions/http-client. The proxy here resolves every *.test host to 127.0.0.1; amoCRM is
 * reached over real TLS (a throw-away certificate made with openssl, trusted via
 * NODE_EXTRA_CA_CERTS), since the action sends credentials only over https off loopback.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { failure, REPO, sandbox, type Sandbox } from './harness.js'
import { startConnectProxy, type ConnectProxy } from '../../sandbox/standins/proxy.js'

const portOf = (server: Server | TlsServer): number => (server.address() as AddressInfo).port

describe('through an HTTP proxy', () => {
  let box: Sandbox
  let proxy: ConnectProxy
  let tls: TlsServer
  let caFile: string

  before(async () => {
    box = await sandbox()
    const dir = mkdtempSync(join(tmpdir(), 'proxy-tls-'))
    caFile = join(dir, 'cert.pem')
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=demo.amocrm.test',
        '-addext',
        'subjectAltName=DNS:demo.amocrm.test',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        caFile
      ],
      { stdio: 'ignore' }
    )
    const amoPort = Number(new URL(box.amo.url).port)
    // TLS in front of the amoCRM stand-in.
    tls = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(caFile) }, (socket) => {
      const upstream = connect(amoPort, '127.0.0.1')
      socket.pipe(upstream).pipe(socket)
      socket.on('error', () => upstream.destroy())
      upstream.on('error', () => socket.destroy())
    })
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve))
    // The proxy: CONNECT host:port, *.test resolved to 127.0.0.1.
    proxy = await startConnectProxy((host, port) => (host.endsWith('.test') ? port : undefined))
  })
  after(async () => {
    await Promise.all([box.close(), proxy.close(), new Promise((r) => tls.close(r))])
  })

  const env = (extra: Record<string, string> = {}) => ({
    HTTPS_PROXY: proxy.url,
    HTTP_PROXY: proxy.url,
    NODE_EXTRA_CA_CERTS: caFile,
    GITHUB_API_URL: `http://api.github.test:${new URL(box.gh.url).port}`,
    ...extra
  })

  test('both amoCRM and GitHub requests go through the proxy', async () => {
    box.seed()
    proxy.tunnels.length = 0
    const run = await box.run(box.inputs({ 'base-url': `https://demo.amocrm.test:${portOf(tls)}` }), { env: env() })
    assert.equal(run.code, 0, run.log)
    assert.ok(proxy.tunnels.includes(`demo.amocrm.test:${portOf(tls)}`), `amoCRM tunnel: ${proxy.tunnels.join(', ')}`)
    assert.ok(proxy.tunnels.includes(`api.github.test:${new URL(box.gh.url).port}`), `GitHub tunnel: ${proxy.tunnels.join(', ')}`)
    assert.equal(box.gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value, box.amo.currentRefreshToken())
  })

  test('NO_PROXY exempts a host: GitHub is then reached directly (and here, not at all), nothing spent', async () => {
    box.seed()
    proxy.tunnels.length = 0
    const run = await box.run(box.inputs({ 'base-url': `https://demo.amocrm.test:${portOf(tls)}` }), {
      env: env({ NO_PROXY: 'github.test' })
    })
    assert.match(failure(run), /did not answer/)
    assert.equal(run.tokenRequests, 0)
    assert.ok(!proxy.tunnels.some((t) => t.startsWith('api.github.test')), `no GitHub tunnel: ${proxy.tunnels.join(', ')}`)
  })

  test('a proxy that asks for credentials (407) is named as such, and nothing is spent', async () => {
    box.seed()
    const locked = createServer((_req, res) => res.writeHead(405).end())
    locked.on('connect', (_req, client) => {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\n\r\n')
    })
    await new Promise<void>((resolve) => locked.listen(0, '127.0.0.1', resolve))
    try {
      const proxyUrl = `http://127.0.0.1:${portOf(locked)}`
      const run = await box.run(box.inputs({ 'base-url': `https://demo.amocrm.test:${portOf(tls)}` }), {
        env: env({ HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl })
      })
      const message = failure(run)
      assert.match(message, /the proxy asked for authentication \(407 Proxy Authentication Required\): put the credentials in HTTPS_PROXY/)
      assert.doesNotMatch(message, /cancelled/i)
      assert.equal(run.tokenRequests, 0)
    } finally {
      locked.closeAllConnections()
      await new Promise((r) => locked.close(r))
    }
  })
})
