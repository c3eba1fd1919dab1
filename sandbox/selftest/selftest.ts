/**
 * node .build/sandbox/selftest/selftest.js: checks the stand-ins over HTTP, without the action —
 * the Bitrix24 and generic OAuth 2.0 stand-ins (each documented answer, the chain: single use,
 * rotation or not, idle expiry, code lifetime, reuse detection or its absence; the client
 * authentication rules), the `drip` fault, the GitHub stand-in's issues, workflows, repository
 * variables, permissions
 * (403 with `X-Accepted-GitHub-Permissions`, public repositories read without one), 410 and 422
 * answers and token-expiry header, the event payloads — and the runner's GITHUB_WORKFLOW_REF.
 * Exits 1 on the first failure. `providerSelfTest()`, `gitHubSelfTest()` and `selfTest()` (both)
 * let a test file run the same checks (test/e2e/standins.test.ts). The rest of the amoCRM
 * stand-in (here only its refusal of a spent token, which keeps the family) and the GitHub secrets
 * routes are the end-to-end suite's to check.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { BITRIX24_TOKEN_SHAPE, startBitrix24 } from '../standins/bitrix24.js'
import { decodeJwtPayload, startAmoCrm } from '../standins/amocrm.js'
import { faultQueue, type Fault } from '../standins/faults.js'
import { DEMO_GITHUB_TOKEN, DEMO_JOB_TOKEN, startGitHub } from '../standins/github/github.js'
import { formEncode, REUSE_DETECTION_REFUSAL, startOAuth2, type OAuth2Options, type OAuth2Server } from '../standins/oauth2.js'
import { runAction } from '../runner/runner.js'

interface Answer {
  status: number
  headers: Headers
  body: Record<string, unknown>
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, init)
  const text = await response.text()
  let body: Record<string, unknown> = {}
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    body = { text }
  }
  return { status: response.status, headers: response.headers, body }
}

const form = (params: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(params).toString()
})

async function bitrix24Checks(): Promise<void> {
  let clock = Date.UTC(2026, 0, 10, 9, 0, 0)
  const b24 = await startBitrix24({ now: () => clock })
  try {
    const token = `${b24.url}/oauth/token/`
    const creds = { client_id: b24.clientId, client_secret: b24.clientSecret }
    const get = (params: Record<string, string>) => call(`${token}?${new URLSearchParams(params)}`)

    // The documented first exchange: GET with a query string.
    let answer = await get({ grant_type: 'authorization_code', ...creds, code: b24.issueCode() })
    assert.equal(answer.status, 200, JSON.stringify(answer.body))
    const first = answer.body
    assert.deepEqual(Object.keys(first).sort(), [
      'access_token',
      'client_endpoint',
      'domain',
      'expires',
      'expires_in',
      'member_id',
      'refresh_token',
      'scope',
      'server_endpoint',
      'status',
      'user_id'
    ])
    assert.equal(first.expires, Math.floor(clock / 1000) + 3600)
    assert.equal(first.expires_in, 3600)
    assert.equal(first.domain, 'oauth.bitrix.info')
    assert.equal(first.client_endpoint, `${b24.url}/rest/`)
    assert.equal(first.member_id, b24.memberId)
    assert.match(String(first.refresh_token), BITRIX24_TOKEN_SHAPE)
    assert.match(String(first.access_token), BITRIX24_TOKEN_SHAPE)
    assert.equal(b24.currentRefreshToken(), first.refresh_token)

    // A code is single use, and lives 30 s.
    const code = b24.issueCode()
    assert.equal((await get({ grant_type: 'authorization_code', ...creds, code })).status, 200)
    answer = await get({ grant_type: 'authorization_code', ...creds, code })
    assert.deepEqual([answer.status, answer.body], [400, { error: 'invalid_grant', error_description: 'Invalid grant' }])
    const late = b24.issueCode()
    clock += 30_000
    assert.equal((await get({ grant_type: 'authorization_code', ...creds, code: late })).body.error, 'invalid_grant')
    const expired = b24.issueCode()
    b24.expireCode(expired)
    assert.equal((await get({ grant_type: 'authorization_code', ...creds, code: expired })).body.error, 'invalid_grant')

    // Refresh by GET, then by POST form (CRest); the spent one is refused; the newest one is current.
    const r1 = b24.currentRefreshToken() ?? ''
    answer = await get({ grant_type: 'refresh_token', ...creds, refresh_token: r1 })
    assert.equal(answer.status, 200)
    const r2 = String(answer.body.refresh_token)
    assert.ok(b24.isRevoked(r1) && !b24.isRevoked(r2))
    answer = await call(token, form({ grant_type: 'refresh_token', ...creds, refresh_token: r2 }))
    assert.equal(answer.status, 200)
    const r3 = String(answer.body.refresh_token)
    answer = await get({ grant_type: 'refresh_token', ...creds, refresh_token: r2 })
    assert.deepEqual([answer.status, answer.body.error], [400, 'invalid_grant'])

    // Wrong client: 401 invalid_client, and the token is not spent.
    answer = await get({ grant_type: 'refresh_token', client_id: b24.clientId, client_secret: 'wrong', refresh_token: r3 })
    assert.deepEqual([answer.status, answer.body], [401, { error: 'invalid_client', error_description: 'Invalid client' }])
    assert.equal(b24.currentRefreshToken(), r3)
    assert.equal((await get({ grant_type: 'password', ...creds })).body.error, 'invalid_request')
    assert.equal((await get({ grant_type: 'refresh_token', ...creds })).body.error, 'invalid_request')

    // REST: the deal with the newest access token; errors as Bitrix24 documents them.
    answer = await get({ grant_type: 'refresh_token', ...creds, refresh_token: r3 })
    const access = String(answer.body.access_token)
    answer = await call(`${b24.url}/rest/crm.deal.get?id=1001&auth=${access}`)
    assert.equal(answer.status, 200)
    assert.equal((answer.body.result as Record<string, unknown>).ASSIGNED_BY_ID, '1')
    assert.equal(typeof (answer.body.time as Record<string, unknown>).start, 'number')
    answer = await call(`${b24.url}/rest/crm.deal.get.json`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ID: 1002, auth: access })
    })
    assert.equal((answer.body.result as Record<string, unknown>).ID, '1002')
    assert.deepEqual((await call(`${b24.url}/rest/crm.deal.get?id=42&auth=${access}`)).body, { error: '', error_description: 'Not found' })
    assert.equal((await call(`${b24.url}/rest/crm.deal.get?auth=${access}`)).body.error_description, 'ID is not defined or invalid.')
    assert.deepEqual(
      [(await call(`${b24.url}/rest/crm.deal.get?id=1001`)).status, (await call(`${b24.url}/rest/crm.deal.get?id=1001`)).body.error],
      [401, 'NO_AUTH_FOUND']
    )
    assert.equal((await call(`${b24.url}/rest/user.current?auth=${access}`)).status, 404)
    clock += 3600_000
    answer = await call(`${b24.url}/rest/crm.deal.get?id=1001&auth=${access}`)
    assert.deepEqual([answer.status, answer.body.error], [401, 'expired_token'])

    // Idle expiry: 180 days.
    const r4 = b24.currentRefreshToken() ?? ''
    clock += 180 * 24 * 3600_000
    assert.equal((await get({ grant_type: 'refresh_token', ...creds, refresh_token: r4 })).body.error, 'invalid_grant')
    b24.setRefreshToken('seeded')
    assert.equal((await get({ grant_type: 'refresh_token', ...creds, refresh_token: 'seeded' })).status, 200)
    assert.equal((await call(`${b24.url}/oauth/token`)).status, 404)
    assert.equal(b24.issued.length, 6)
  } finally {
    await b24.close()
  }
}

/** A token request as a client of `server` sends it, following its clientAuth and bodyFormat. */
function tokenRequest(server: OAuth2Server, params: Record<string, string>, basic = formEncodedBasic(server)): RequestInit {
  const body: Record<string, string> = { ...params }
  const headers: Record<string, string> = {}
  if (server.clientAuth === 'basic') headers.Authorization = basic
  else Object.assign(body, { client_id: server.clientId, client_secret: server.clientSecret })
  if (server.bodyFormat === 'json')
    return { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify(body) }
  return {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body).toString()
  }
}

function formEncodedBasic(server: { clientId: string; clientSecret: string }): string {
  return `Basic ${Buffer.from(`${formEncode(server.clientId)}:${formEncode(server.clientSecret)}`).toString('base64')}`
}

async function withOAuth2(options: OAuth2Options, body: (server: OAuth2Server, clock: { now: number }) => Promise<void>): Promise<void> {
  const clock = { now: Date.UTC(2026, 0, 10, 9, 0, 0) }
  const server = await startOAuth2({ now: () => clock.now, ...options })
  try {
    await body(server, clock)
  } finally {
    await server.close()
  }
}

async function oauth2Checks(): Promise<void> {
  // Basic + form, rotating (the defaults).
  await withOAuth2({}, async (server, clock) => {
    let answer = await call(server.tokenUrl, tokenRequest(server, { grant_type: 'authorization_code', code: server.issueCode() }))
    assert.equal(answer.status, 200, JSON.stringify(answer.body))
    assert.equal(answer.body.token_type, 'Bearer')
    assert.equal(answer.headers.get('cache-control'), 'no-store')
    const r1 = String(answer.body.refresh_token)
    const access = String(answer.body.access_token)
    answer = await call(server.tokenUrl, tokenRequest(server, { grant_type: 'refresh_token', refresh_token: r1 }))
    assert.equal(answer.status, 200)
    const r2 = String(answer.body.refresh_token)
    assert.notEqual(r1, r2)
    assert.ok(server.isRevoked(r1) && server.currentRefreshToken() === r2)
    answer = await call(server.tokenUrl, tokenRequest(server, { grant_type: 'refresh_token', refresh_token: r1 }))
    assert.deepEqual([answer.status, answer.body.error], [400, 'invalid_grant'])
    // Without reuse detection the spent token alone is refused: the family lives on.
    assert.deepEqual([server.currentRefreshToken(), server.familyRevocations], [r2, []])

    // Basic without form-encoding the secret (its '+' reads as a space): 401 with a challenge.
    const raw = `Basic ${Buffer.from(`${server.clientId}:${server.clientSecret}`).toString('base64')}`
    answer = await call(server.tokenUrl, tokenRequest(server, { grant_type: 'refresh_token', refresh_token: r2 }, raw))
    assert.deepEqual([answer.status, answer.body.error], [401, 'invalid_client'])
    assert.equal(answer.headers.get('www-authenticate'), 'Basic realm="oauth"')
    // Credentials in the body of a Basic server: invalid_client, 400 (no Authorization header).
    answer = await call(
      server.tokenUrl,
      form({ grant_type: 'refresh_token', refresh_token: r2, client_id: server.clientId, client_secret: server.clientSecret })
    )
    assert.deepEqual([answer.status, answer.body.error], [400, 'invalid_client'])
    // Both methods at once: invalid_request.
    answer = await call(
      server.tokenUrl,
      tokenRequest(server, { grant_type: 'refresh_token', refresh_token: r2, client_secret: server.clientSecret })
    )
    assert.deepEqual([answer.status, answer.body.error], [400, 'invalid_request'])
    assert.equal(server.currentRefreshToken(), r2, 'refused requests spend nothing')

    // A JSON body is accepted by a form server when the Content-Type says JSON.
    answer = await call(server.tokenUrl, {
      method: 'POST',
      headers: { Authorization: formEncodedBasic(server), 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: r2 })
    })
    assert.equal(answer.status, 200)
    const r3 = String(answer.body.refresh_token)

    for (const [params, error] of [
      [{ grant_type: 'refresh_token' }, 'invalid_request'],
      [{ refresh_token: r3 }, 'invalid_request'],
      [{ grant_type: 'password', username: 'a', password: 'b' }, 'unsupported_grant_type'],
      [{ grant_type: 'authorization_code', code: 'never-issued' }, 'invalid_grant']
    ] as const) {
      answer = await call(server.tokenUrl, tokenRequest(server, params))
      assert.deepEqual([answer.status, answer.body.error], [400, error], JSON.stringify(params))
    }
    assert.equal((await call(server.tokenUrl)).status, 405)

    // The consumer check, then expiry of the access token and idle expiry of the refresh token.
    assert.equal((await call(`${server.url}/api/me`, { headers: { Authorization: `Bearer ${access}` } })).body.client_id, server.clientId)
    assert.equal((await call(`${server.url}/api/me`)).status, 401)
    clock.now += 3600_000
    answer = await call(`${server.url}/api/me`, { headers: { Authorization: `Bearer ${access}` } })
    assert.deepEqual([answer.status, answer.body.error], [401, 'invalid_token'])
    clock.now += 90 * 24 * 3600_000
    answer = await call(server.tokenUrl, tokenRequest(server, { grant_type: 'refresh_token', refresh_token: r3 }))
    assert.deepEqual([answer.status, answer.body.error], [400, 'invalid_grant'])
    const code = server.issueCode()
    clock.now += 10 * 60_000
    answer = await call(server.tokenUrl, tokenRequest(server, { grant_type: 'authorization_code', code }))
    assert.equal(answer.body.error, 'invalid_grant')
  })

  // Body credentials + JSON only, not rotating, a required scope, a registered redirect URI, JWT access tokens.
  await withOAuth2(
    {
      clientAuth: 'body',
      bodyFormat: 'json',
      rotate: false,
      requireScope: 'offline_access',
      redirectUri: 'https://example.com/cb',
      jwt: true
    },
    async (server, clock) => {
      const code = server.issueCode()
      let answer = await call(
        server.tokenUrl,
        tokenRequest(server, { grant_type: 'authorization_code', code, redirect_uri: 'https://example.com/cb' })
      )
      assert.deepEqual([answer.status, answer.body.error], [400, 'invalid_scope'])
      const exchange = { grant_type: 'authorization_code', code, scope: 'read offline_access' }
      answer = await call(server.tokenUrl, tokenRequest(server, exchange))
      assert.deepEqual([answer.status, answer.body.error], [400, 'invalid_grant'], 'a redirect_uri that does not match')
      answer = await call(
        server.tokenUrl,
        tokenRequest(server, { ...exchange, code: server.issueCode(), redirect_uri: 'https://example.com/cb' })
      )
      assert.equal(answer.status, 200, JSON.stringify(answer.body))
      assert.equal(answer.body.scope, 'read offline_access')
      assert.equal(decodeJwtPayload(String(answer.body.access_token))?.exp, Math.floor(clock.now / 1000) + 3600)
      const refresh = String(answer.body.refresh_token)
      for (let i = 0; i < 2; i++) {
        clock.now += 60 * 24 * 3600_000 // idle time restarts at each use
        answer = await call(server.tokenUrl, tokenRequest(server, { grant_type: 'refresh_token', refresh_token: refresh }))
        assert.equal(answer.status, 200)
        assert.equal('refresh_token' in answer.body, false, 'no new refresh token: the same one stays valid')
      }
      assert.ok(server.currentRefreshToken() === refresh && !server.isRevoked(refresh))
      assert.equal(server.issued.at(-1)?.refresh_token, refresh)
      // A form body to a JSON-only server; Basic to a body-credentials server (401, challenge).
      answer = await call(
        server.tokenUrl,
        form({ grant_type: 'refresh_token', refresh_token: refresh, client_id: server.clientId, client_secret: server.clientSecret })
      )
      assert.deepEqual([answer.status, answer.body.error], [400, 'invalid_request'])
      answer = await call(server.tokenUrl, {
        method: 'POST',
        headers: { Authorization: formEncodedBasic(server), 'Content-Type': 'application/json' },
        body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: refresh })
      })
      assert.deepEqual(
        [answer.status, answer.body.error, answer.headers.get('www-authenticate')],
        [401, 'invalid_client', 'Basic realm="oauth"']
      )
      // A new authorization replaces the refresh token.
      answer = await call(
        server.tokenUrl,
        tokenRequest(server, { ...exchange, code: server.issueCode(), redirect_uri: 'https://example.com/cb' })
      )
      assert.ok(server.isRevoked(refresh) && server.currentRefreshToken() === answer.body.refresh_token)
    }
  )

  await withOAuth2({ path: '/connect/token' }, async (server) => {
    assert.equal(server.tokenUrl, `${server.url}/connect/token`)
    assert.equal(
      (await call(`${server.url}/oauth/token`, tokenRequest(server, { grant_type: 'refresh_token', refresh_token: 'x' }))).status,
      404
    )
  })
}

/**
 * Reuse detection (RFC 9700 §4.14.2, oidc-provider's behaviour) against its absence (the League
 * server's, amoCRM's): a spent refresh token presented again.
 */
async function reuseChecks(): Promise<void> {
  await withOAuth2({ reuseDetection: true }, async (server) => {
    const refresh = (token: string) => call(server.tokenUrl, tokenRequest(server, { grant_type: 'refresh_token', refresh_token: token }))
    const refused = { error: 'invalid_grant', error_description: REUSE_DETECTION_REFUSAL }
    let answer = await call(server.tokenUrl, tokenRequest(server, { grant_type: 'authorization_code', code: server.issueCode() }))
    const r1 = String(answer.body.refresh_token)
    const r2 = String((await refresh(r1)).body.refresh_token)
    const r3 = String((await refresh(r2)).body.refresh_token)
    assert.equal(server.currentRefreshToken(), r3)

    // A token never issued: refused, nothing revoked.
    answer = await refresh('never-issued')
    assert.deepEqual([answer.status, answer.body], [400, refused])
    assert.deepEqual([server.currentRefreshToken(), server.familyRevocations.length], [r3, 0])

    // The spent r1 comes back: refused, and the family goes with it, r3 included.
    answer = await refresh(r1)
    assert.deepEqual([answer.status, answer.body], [400, refused])
    assert.equal(answer.headers.get('cache-control'), 'no-store')
    assert.equal(server.currentRefreshToken(), undefined)
    assert.ok(server.isRevoked(r3))
    assert.deepEqual(
      server.familyRevocations.map(({ presented, revoked }) => ({ presented, revoked })),
      [{ presented: r1, revoked: r3 }]
    )
    assert.equal(server.familyRevocations[0]?.at, Date.UTC(2026, 0, 10, 9, 0, 0), 'at: the stand-in clock')
    // r3 was never spent: a plain refusal; r2 (spent, same family) is forgotten with the family.
    for (const token of [r3, r2, r1]) assert.deepEqual((await refresh(token)).body, refused)
    assert.equal(server.familyRevocations.length, 1)

    // A new authorization starts a new family; a spent token of an older family revokes that one
    // only (it had no live token left), the new family's token stays good.
    answer = await call(server.tokenUrl, tokenRequest(server, { grant_type: 'authorization_code', code: server.issueCode() }))
    const c1 = String(answer.body.refresh_token)
    server.setRefreshToken('seeded-1')
    const s2 = String((await refresh('seeded-1')).body.refresh_token)
    assert.ok(server.isRevoked(c1), 'the seed replaced the code grant’s token')
    answer = await call(server.tokenUrl, tokenRequest(server, { grant_type: 'authorization_code', code: server.issueCode() }))
    const c2 = String(answer.body.refresh_token)
    assert.deepEqual((await refresh('seeded-1')).body, refused)
    const last = server.familyRevocations.at(-1)
    assert.deepEqual([last?.presented, last?.revoked], ['seeded-1', undefined])
    assert.equal(server.currentRefreshToken(), c2)
    assert.deepEqual((await refresh(s2)).body, refused, 's2 was replaced by the code grant, not spent')
    assert.equal((await refresh(c2)).status, 200)
    assert.equal(server.familyRevocations.length, 2)
  })

  // amoCRM (League): the spent token alone is refused, the newest one stays good.
  const amo = await startAmoCrm()
  try {
    const exchange = (params: Record<string, string>) =>
      call(`${amo.url}/oauth2/access_token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ client_id: amo.clientId, client_secret: amo.clientSecret, redirect_uri: amo.redirectUri, ...params })
      })
    const r1 = String((await exchange({ grant_type: 'authorization_code', code: amo.issueCode() })).body.refresh_token)
    const r2 = String((await exchange({ grant_type: 'refresh_token', refresh_token: r1 })).body.refresh_token)
    const answer = await exchange({ grant_type: 'refresh_token', refresh_token: r1 })
    assert.deepEqual([answer.status, answer.body.hint], [401, 'Token has been revoked'])
    assert.deepEqual([amo.currentRefreshToken(), amo.familyRevocations], [r2, []])
    assert.equal((await exchange({ grant_type: 'refresh_token', refresh_token: r2 })).status, 200)
  } finally {
    await amo.close()
  }
}

/** A raw request that keeps the time and size of every body piece as it arrives. */
function rawRequest(
  url: string,
  init: { method: string; headers: Record<string, string>; body: string }
): Promise<{ status: number; contentLength: number; pieces: Array<{ at: number; bytes: number }>; body: string; error?: Error }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method, headers: init.headers }, (res) => {
      const pieces: Array<{ at: number; bytes: number }> = []
      const chunks: Buffer[] = []
      const done = (error?: Error) =>
        resolve({
          status: res.statusCode ?? 0,
          contentLength: Number(res.headers['content-length']),
          pieces,
          body: Buffer.concat(chunks).toString('utf8'),
          ...(error ? { error } : {})
        })
      res.on('data', (chunk: Buffer) => {
        pieces.push({ at: performance.now(), bytes: chunk.length })
        chunks.push(chunk)
      })
      res.on('end', () => done())
      res.on('error', done)
      res.on('aborted', () => done(new Error('aborted')))
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

/** The drip fault: a 2xx whose body trickles in after the server acted. */
async function dripChecks(): Promise<void> {
  const refreshInit = (server: OAuth2Server) => {
    const init = tokenRequest(server, { grant_type: 'refresh_token', refresh_token: server.currentRefreshToken() ?? '' })
    return { method: 'POST', headers: init.headers as Record<string, string>, body: String(init.body) }
  }
  await withOAuth2({}, async (server) => {
    server.setRefreshToken('drip-1')
    // 'finish': every byte arrives, a piece at a time, each at least everyMs after the one before.
    server.faults = faultQueue({ kind: 'drip', bytes: 64, everyMs: 30 })
    const finished = await rawRequest(server.tokenUrl, refreshInit(server))
    assert.equal(finished.status, 200)
    assert.equal(Buffer.byteLength(finished.body), finished.contentLength)
    const rotated = JSON.parse(finished.body) as Record<string, unknown>
    assert.equal(rotated.refresh_token, server.currentRefreshToken())
    const pieces = Math.ceil(finished.contentLength / 64)
    assert.ok(pieces >= 3, `a body of ${finished.contentLength} bytes`)
    assert.ok(finished.pieces.every((piece) => piece.bytes <= 64))
    // Each piece's timer is set when the one before fired: the last piece comes (pieces − 1) ×
    // everyMs after the first at least (a loose bound: a timer may fire a little early against
    // the wall clock, never by a whole period).
    const [first, last] = [finished.pieces[0]?.at ?? 0, finished.pieces.at(-1)?.at ?? 0]
    assert.ok(last - first >= (pieces - 1) * 30 - 10, `the body trickled in: ${Math.round(last - first)} ms`)

    // A client whose timeout is shorter than the trickle gives up; the server has rotated anyway.
    const before = server.currentRefreshToken()
    server.faults = faultQueue({ kind: 'drip', bytes: 16, everyMs: 40 })
    const init = refreshInit(server)
    const gaveUp = await fetch(server.tokenUrl, { ...init, signal: AbortSignal.timeout(60) })
      .then((response) => response.text())
      .then(
        () => 'read the whole body',
        (error: unknown) => (error as Error).name
      )
    assert.equal(gaveUp, 'TimeoutError', 'the client gave up on the body')
    assert.ok(server.currentRefreshToken() !== before && server.isRevoked(before ?? ''), 'the token rotated on the server')

    // 'reset': the body stops short of its end, the token rotated all the same.
    const spent = server.currentRefreshToken()
    server.faults = faultQueue({ kind: 'drip', bytes: 40, everyMs: 5, end: 'reset' })
    const reset = await rawRequest(server.tokenUrl, refreshInit(server))
    assert.ok(reset.error, 'the connection was dropped')
    assert.ok(Buffer.byteLength(reset.body) < reset.contentLength, `short of the end: ${reset.body.length}/${reset.contentLength}`)
    assert.ok(server.isRevoked(spent ?? ''))
  })

  // close() during a drip: the stand-in closes, its drip timer with it, so nothing keeps a process
  // alive (a minute-long piece would): a child process that closes mid-drip exits by itself.
  const child = [
    `import { startOAuth2 } from ${JSON.stringify(new URL('../standins/oauth2.js', import.meta.url).href)}`,
    `const server = await startOAuth2({ faults: () => (${JSON.stringify({ kind: 'drip', bytes: 1, everyMs: 60_000 } satisfies Fault)}) })`,
    `const response = await fetch(server.url + '/api/me')`,
    `const body = response.text().then(() => 'whole', (error) => error.name)`,
    `await server.close()`,
    `console.log(response.status, await body)`
  ].join('\n')
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', child], { timeout: 20_000 })
  assert.equal(stdout.trim(), '401 TypeError', 'headers arrived, the body was cut by close()')
}

interface GitHubAnswer {
  status: number
  headers: Headers
  json: unknown
}

/** The value at `path` inside parsed JSON (undefined where the path breaks). */
function at(value: unknown, ...path: (string | number)[]): unknown {
  let here = value
  for (const key of path) {
    if (here === null || typeof here !== 'object') return undefined
    here = (here as Record<string | number, unknown>)[key]
  }
  return here
}

/** The `number`s of a list of issues, in the order given. */
const numbers = (answer: GitHubAnswer): unknown[] => (Array.isArray(answer.json) ? answer.json.map((item) => at(item, 'number')) : [])

async function gitHubChecks(): Promise<void> {
  let clock = Date.UTC(2026, 0, 10, 9, 0, 0)
  const tick = () => (clock += 60_000)
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')
  const expires = Date.UTC(2027, 0, 7, 10, 0, 0)
  const gh = await startGitHub({
    now: () => clock,
    tokens: {
      [DEMO_GITHUB_TOKEN]: { repoSecrets: true, envSecrets: true, orgSecrets: true, expiresAt: expires },
      [DEMO_JOB_TOKEN]: { actionsRead: true, issues: 'write' },
      ghp_offset: { issues: 'write', login: 'acme-admin', expiresAt: '2027-01-07 10:00:00 +0000' },
      ghs_issues_write: { issues: 'write' },
      ghs_issues_read: { issues: 'read' },
      ghs_nothing: {},
      ghs_actions_write: { actionsWrite: true },
      ghs_billing_only: { issues: 'write', actionsWrite: true, repos: ['acme/billing'] }
    },
    repositories: [
      { owner: 'acme', name: 'crm-sync', id: 700001 },
      { owner: 'acme', name: 'website', id: 700002, visibility: 'public' },
      { owner: 'acme', name: 'billing', id: 700003, visibility: 'internal', hasIssues: false },
      {
        owner: 'acme',
        name: 'tools',
        id: 700004,
        workflows: [{ id: 9001, path: '.github/workflows/nightly.yaml', state: 'disabled_manually' }]
      }
    ]
  })
  const api =
    (token: string | undefined) =>
    async (method: string, path: string, body?: unknown): Promise<GitHubAnswer> => {
      const headers: Record<string, string> = { Accept: 'application/vnd.github+json' }
      if (token !== undefined) headers.Authorization = `Bearer ${token}`
      if (body !== undefined) headers['Content-Type'] = 'application/json'
      const response = await fetch(`${gh.url}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) })
      })
      const text = await response.text()
      return { status: response.status, headers: response.headers, json: text === '' ? undefined : (JSON.parse(text) as unknown) }
    }
  const job = api(DEMO_JOB_TOKEN)
  const pat = api(DEMO_GITHUB_TOKEN)
  const reader = api('ghs_issues_read')
  const nobody = api('ghs_nothing')
  const actions = api('ghs_actions_write')
  const issues = '/repos/acme/crm-sync/issues'
  const denied = (answer: GitHubAnswer, accepted: string, what: string) => {
    assert.equal(answer.status, 403, what)
    assert.equal(at(answer.json, 'message'), 'Resource not accessible by integration', what)
    assert.equal(answer.headers.get('x-accepted-github-permissions'), accepted, what)
  }
  try {
    // Repository JSON: private and visibility (an internal repository is private to outsiders).
    for (const [name, isPrivate, visibility] of [
      ['crm-sync', true, 'private'],
      ['website', false, 'public'],
      ['billing', true, 'internal']
    ] as const) {
      const answer = await job('GET', `/repos/acme/${name}`)
      assert.deepEqual([at(answer.json, 'private'), at(answer.json, 'visibility')], [isPrivate, visibility], name)
    }

    // Create: 201 with GitHub's issue JSON and Location; by the job token's bot; missing labels are created.
    let answer = await job('POST', issues, {
      title: 'Token rotation failed',
      body: 'The run failed.',
      labels: ['token-rotation', { name: 'Alert' }]
    })
    assert.equal(answer.status, 201, JSON.stringify(answer.json))
    assert.equal(answer.headers.get('location'), `${gh.url}/repos/acme/crm-sync/issues/1`)
    const created = answer.json
    assert.deepEqual(
      [at(created, 'number'), at(created, 'title'), at(created, 'body'), at(created, 'state'), at(created, 'state_reason')],
      [1, 'Token rotation failed', 'The run failed.', 'open', null]
    )
    assert.deepEqual([at(created, 'user', 'login'), at(created, 'user', 'type')], ['github-actions[bot]', 'Bot'])
    assert.equal(at(created, 'html_url'), 'https://github.com/acme/crm-sync/issues/1')
    assert.equal(at(created, 'url'), `${gh.url}/repos/acme/crm-sync/issues/1`)
    assert.deepEqual([at(created, 'comments'), at(created, 'created_at'), at(created, 'closed_at')], [0, iso(clock), null])
    assert.deepEqual(
      [
        at(created, 'labels', 0, 'name'),
        at(created, 'labels', 0, 'color'),
        at(created, 'labels', 0, 'description'),
        at(created, 'labels', 1, 'name')
      ],
      ['token-rotation', 'ededed', null, 'Alert']
    )
    const labelId = at(created, 'labels', 0, 'id')
    assert.equal(typeof labelId, 'number')
    // A label is created once: another case names the same one.
    tick()
    answer = await api('ghs_issues_write')('POST', issues, { title: 'By a user', labels: ['TOKEN-ROTATION'] })
    assert.deepEqual(
      [answer.status, at(answer.json, 'labels', 0, 'id'), at(answer.json, 'labels', 0, 'name')],
      [201, labelId, 'token-rotation']
    )
    assert.deepEqual([at(answer.json, 'user', 'login'), at(answer.json, 'user', 'type')], ['octocat', 'User'])

    // Seeded items share the numbers: a pull request (#3) and a closed issue (#4).
    tick()
    const pull = gh.addIssue('acme/crm-sync', {
      title: 'Bump deps',
      pullRequest: true,
      labels: ['token-rotation', 'alert'],
      login: 'github-actions[bot]'
    })
    tick()
    const old = gh.addIssue('acme/crm-sync', {
      title: 'Old alert',
      state: 'closed',
      labels: ['token-rotation'],
      login: 'github-actions[bot]'
    })
    assert.deepEqual([pull.number, old.number, old.stateReason, old.closedAt], [3, 4, 'completed', clock])

    // The list: open by default, newest first; a pull request is listed with a `pull_request` key.
    answer = await job('GET', issues)
    assert.deepEqual(numbers(answer), [3, 2, 1])
    assert.equal(answer.headers.get('link'), null, 'one page: no Link')
    const listedPull = (answer.json as unknown[])[0]
    assert.equal(at(listedPull, 'pull_request', 'html_url'), 'https://github.com/acme/crm-sync/pull/3')
    assert.equal(at(listedPull, 'html_url'), 'https://github.com/acme/crm-sync/pull/3')
    assert.equal(at((answer.json as unknown[])[2], 'pull_request'), undefined)
    assert.deepEqual(numbers(await job('GET', `${issues}?state=closed`)), [4])
    assert.deepEqual(numbers(await job('GET', `${issues}?state=all&direction=asc`)), [1, 2, 3, 4])
    // Labels: every one must match, case-insensitively; creator: a login, case-insensitively.
    assert.deepEqual(numbers(await job('GET', `${issues}?labels=TOKEN-ROTATION,alert`)), [3, 1])
    assert.deepEqual(numbers(await job('GET', `${issues}?labels=token-rotation`)), [3, 2, 1])
    assert.deepEqual(numbers(await job('GET', `${issues}?labels=token-rotation&creator=GitHub-Actions%5Bbot%5D&state=all`)), [4, 3, 1])
    assert.deepEqual(numbers(await job('GET', `${issues}?creator=someone-else`)), [])
    // The same list by repository id.
    assert.deepEqual(numbers(await job('GET', '/repositories/700001/issues?labels=alert')), [3, 1])

    // Pagination: per_page, page and GitHub's Link, which keeps the filters and names the repository by id.
    for (let i = 0; i < 5; i++) gh.addIssue('acme/crm-sync', { title: `Paged ${i}`, labels: ['paged'], createdAt: clock + i })
    answer = await job('GET', `${issues}?labels=paged&per_page=2&page=2`)
    assert.deepEqual(numbers(answer), [7, 6])
    const page = (n: number) => `${gh.url}/repositories/700001/issues?labels=paged&per_page=2&page=${n}`
    assert.equal(
      answer.headers.get('link'),
      `<${page(1)}>; rel="prev", <${page(3)}>; rel="next", <${page(3)}>; rel="last", <${page(1)}>; rel="first"`
    )
    answer = await job('GET', `${issues}?labels=paged&per_page=500`)
    assert.deepEqual([numbers(answer).length, answer.headers.get('link')], [5, null], 'per_page is at most 100')

    // Get, edit, comment, close, reopen.
    assert.equal(at((await job('GET', `${issues}/1`)).json, 'title'), 'Token rotation failed')
    assert.equal((await job('GET', `${issues}/99`)).status, 404)
    tick()
    answer = await job('PATCH', `${issues}/1`, { title: 'Token rotation failed twice', body: 'Again.' })
    assert.deepEqual([answer.status, at(answer.json, 'title'), at(answer.json, 'body')], [200, 'Token rotation failed twice', 'Again.'])
    assert.equal(at(answer.json, 'updated_at'), iso(clock))
    tick()
    answer = await job('POST', `${issues}/1/comments`, { body: 'Still failing.' })
    assert.equal(answer.status, 201, JSON.stringify(answer.json))
    const commentId = at(answer.json, 'id')
    assert.deepEqual(
      [at(answer.json, 'body'), at(answer.json, 'user', 'login'), at(answer.json, 'html_url')],
      ['Still failing.', 'github-actions[bot]', `https://github.com/acme/crm-sync/issues/1#issuecomment-${String(commentId)}`]
    )
    assert.equal(at((await job('GET', `${issues}/1`)).json, 'comments'), 1)
    answer = await job('GET', `${issues}/1/comments`)
    assert.deepEqual([answer.status, at(answer.json, 0, 'id'), at(answer.json, 0, 'body')], [200, commentId, 'Still failing.'])
    tick()
    answer = await job('PATCH', `${issues}/1`, { state: 'closed', state_reason: 'completed' })
    assert.deepEqual(
      [at(answer.json, 'state'), at(answer.json, 'state_reason'), at(answer.json, 'closed_at'), at(answer.json, 'closed_by', 'login')],
      ['closed', 'completed', iso(clock), 'github-actions[bot]']
    )
    assert.deepEqual(numbers(await job('GET', `${issues}?labels=alert`)), [3], 'a closed issue leaves the open list')
    const record = gh.issues('acme/crm-sync')[0]
    assert.deepEqual(
      [record?.state, record?.stateReason, record?.closedAt, record?.labels, record?.comments.map((c) => c.body)],
      ['closed', 'completed', clock, ['token-rotation', 'Alert'], ['Still failing.']]
    )
    answer = await job('PATCH', `${issues}/1`, { state: 'open' })
    assert.deepEqual([at(answer.json, 'state'), at(answer.json, 'state_reason'), at(answer.json, 'closed_at')], ['open', 'reopened', null])

    // Permissions. Writes need issues: write (403 naming it), even in a public repository.
    denied(await reader('POST', issues, { title: 'x' }), 'issues=write', 'create with issues: read')
    denied(await reader('PATCH', `${issues}/1`, { state: 'closed' }), 'issues=write', 'update with issues: read')
    denied(await reader('POST', `${issues}/1/comments`, { body: 'x' }), 'issues=write', 'comment with issues: read')
    denied(await nobody('POST', '/repos/acme/website/issues', { title: 'x' }), 'issues=write', 'create in a public repository')
    // Reads of a private repository need issues: read (or write); a public one's none.
    assert.deepEqual(numbers(await reader('GET', `${issues}?labels=alert`)), [3, 1])
    denied(await nobody('GET', issues), 'issues=read', 'list without issues')
    denied(await nobody('GET', `${issues}/1`), 'issues=read', 'get without issues')
    denied(await nobody('GET', `${issues}/1/comments`), 'issues=read', 'comments without issues')
    gh.addIssue('acme/website', { title: 'Public' })
    answer = await nobody('GET', '/repos/acme/website/issues')
    assert.deepEqual([answer.status, numbers(answer)], [200, [1]], 'a public repository is read without a permission')
    // A repository the token cannot see: 404, as for everything under it.
    assert.equal((await api('ghs_billing_only')('GET', issues)).status, 404)
    assert.equal((await api('ghs_billing_only')('GET', '/repos/acme/crm-sync/actions/workflows/rotate.yml')).status, 404)

    // Issues turned off: 410.
    answer = await api('ghs_billing_only')('POST', '/repos/acme/billing/issues', { title: 'x' })
    assert.deepEqual([answer.status, at(answer.json, 'message')], [410, 'Issues are disabled for this repo'])
    assert.equal((await job('GET', '/repos/acme/billing/issues')).status, 410)

    // Validation: a title is required; a body (or comment) over 65,536 characters is refused in GitHub's words.
    answer = await job('POST', issues, { body: 'no title' })
    assert.deepEqual(
      [answer.status, at(answer.json, 'message'), at(answer.json, 'errors', 0)],
      [422, 'Validation Failed', { resource: 'Issue', code: 'missing_field', field: 'title' }]
    )
    answer = await job('POST', issues, { title: 'Long', body: 'é'.repeat(65_537) })
    assert.deepEqual(
      [answer.status, at(answer.json, 'errors', 0)],
      [422, { resource: 'Issue', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }]
    )
    assert.equal((await job('PATCH', `${issues}/1`, { body: 'x'.repeat(65_537) })).status, 422, 'an edit is held to the same limit')
    answer = await job('POST', issues, { title: 'Exactly the limit', body: '😀'.repeat(65_536) })
    assert.equal(answer.status, 201, 'the limit counts characters, not UTF-16 units')
    answer = await job('POST', `${issues}/1/comments`, { body: 'x'.repeat(65_537) })
    assert.deepEqual(
      [answer.status, at(answer.json, 'errors', 0)],
      [422, { resource: 'IssueComment', code: 'unprocessable', field: 'data', message: 'Body is too long (maximum is 65536 characters)' }]
    )
    assert.equal(at((await job('POST', `${issues}/1/comments`, {})).json, 'errors', 0, 'code'), 'missing_field')
    assert.deepEqual(
      [(await job('POST', issues, '{not json')).status, (await job('PATCH', `${issues}/1`, { state: 'done' })).status],
      [400, 422]
    )

    // The token's expiry: on every answer to a token that expires, errors included; verbatim when given as text;
    // never for the job token, nor on a 401.
    const expiry = (answer: GitHubAnswer) => answer.headers.get('github-authentication-token-expiration')
    assert.equal(expiry(await pat('GET', '/repos/acme/crm-sync')), '2027-01-07 10:00:00 UTC')
    assert.equal(expiry(await pat('POST', issues, { title: 'x' })), '2027-01-07 10:00:00 UTC', 'a 403 carries it')
    assert.equal(expiry(await pat('GET', '/repos/acme/nope')), '2027-01-07 10:00:00 UTC', 'a 404 carries it')
    answer = await api('ghp_offset')('POST', issues, { title: 'By an admin' })
    assert.deepEqual([expiry(answer), at(answer.json, 'user', 'login')], ['2027-01-07 10:00:00 +0000', 'acme-admin'])
    assert.equal(expiry(await job('GET', issues)), null)
    assert.equal(expiry(await api('ghp_unknown')('GET', issues)), null)

    // Workflows: by id or file name; reading needs actions: read in a private repository, none in a public one.
    answer = await job('GET', '/repos/acme/crm-sync/actions/workflows/rotate.yml')
    assert.deepEqual(
      [answer.status, at(answer.json, 'id'), at(answer.json, 'path'), at(answer.json, 'state')],
      [200, 161335, '.github/workflows/rotate.yml', 'active']
    )
    assert.equal(at((await job('GET', '/repos/acme/crm-sync/actions/workflows/161335')).json, 'name'), 'Rotate amoCRM token')
    assert.equal((await job('GET', '/repos/acme/crm-sync/actions/workflows/other.yml')).status, 404)
    assert.equal((await job('GET', '/repos/acme/crm-sync/actions/workflows/99')).status, 404)
    denied(await nobody('GET', '/repos/acme/crm-sync/actions/workflows/rotate.yml'), 'actions=read', 'a workflow without actions: read')
    assert.equal((await nobody('GET', '/repos/acme/website/actions/workflows/rotate.yml')).status, 200, 'public: no permission')
    assert.equal((await actions('GET', '/repos/acme/crm-sync/actions/workflows/rotate.yml')).status, 200, 'write implies read')
    // A repository's own workflows replace the default one.
    answer = await job('GET', '/repos/acme/tools/actions/workflows/nightly.yaml')
    assert.deepEqual(
      [at(answer.json, 'id'), at(answer.json, 'name'), at(answer.json, 'state')],
      [9001, '.github/workflows/nightly.yaml', 'disabled_manually']
    )
    assert.equal((await job('GET', '/repos/acme/tools/actions/workflows/rotate.yml')).status, 404)
    // The run JSON names the default workflow.
    gh.addRun('acme/crm-sync', { id: 42, createdAt: clock })
    answer = await actions('GET', '/repos/acme/crm-sync/actions/runs/42')
    assert.deepEqual(
      [at(answer.json, 'workflow_id'), at(answer.json, 'path')],
      [gh.workflow('acme/crm-sync', 'rotate.yml').id, '.github/workflows/rotate.yml']
    )

    // Enable and disable need actions: write (the job token has actions: read only); 204; unknown → 404.
    gh.setWorkflowState('acme/crm-sync', 'rotate.yml', 'disabled_inactivity')
    assert.equal(at((await job('GET', '/repos/acme/crm-sync/actions/workflows/rotate.yml')).json, 'state'), 'disabled_inactivity')
    denied(await job('PUT', '/repos/acme/crm-sync/actions/workflows/rotate.yml/enable'), 'actions=write', 'enable with actions: read')
    assert.equal(gh.workflow('acme/crm-sync', 161335).state, 'disabled_inactivity', 'a refused enable changes nothing')
    tick()
    answer = await actions('PUT', '/repos/acme/crm-sync/actions/workflows/rotate.yml/enable')
    assert.deepEqual([answer.status, answer.json], [204, undefined])
    assert.deepEqual(
      [gh.workflow('acme/crm-sync', 'rotate.yml').state, gh.workflow('acme/crm-sync', 'rotate.yml').enableCalls],
      ['active', [clock]]
    )
    tick()
    assert.equal((await actions('PUT', '/repos/acme/crm-sync/actions/workflows/161335/disable')).status, 204)
    assert.deepEqual(
      [gh.workflow('acme/crm-sync', 161335).state, gh.workflow('acme/crm-sync', 161335).disableCalls],
      ['disabled_manually', [clock]]
    )
    assert.equal((await actions('PUT', '/repos/acme/crm-sync/actions/workflows/other.yml/enable')).status, 404)
    assert.equal((await actions('GET', '/repos/acme/crm-sync/actions/workflows/rotate.yml/enable')).status, 404, 'enable is a PUT')

    // The event payloads GitHub writes for a run, and the runner's GITHUB_WORKFLOW_REF.
    const scheduled = gh.scheduleEvent('acme/website')
    assert.deepEqual(
      [scheduled.name, scheduled.payload.schedule, scheduled.payload.workflow, at(scheduled.payload, 'repository', 'private')],
      ['schedule', '17 3 * * *', '.github/workflows/rotate.yml', false]
    )
    const dispatched = gh.dispatchEvent('acme/billing')
    assert.deepEqual(
      [dispatched.name, dispatched.payload.inputs, dispatched.payload.ref, at(dispatched.payload, 'sender', 'login')],
      ['workflow_dispatch', {}, 'refs/heads/main', 'acme-bot']
    )
    assert.deepEqual(
      [at(dispatched.payload, 'repository', 'private'), at(dispatched.payload, 'repository', 'visibility')],
      [true, 'internal']
    )
    await runnerChecks(scheduled)
  } finally {
    await gh.close()
  }
}

/** The GitHub stand-in's repository variables: the routes the init command uses, their permission, GitHub's answers. */
async function variablesChecks(): Promise<void> {
  let clock = Date.UTC(2026, 0, 10, 9, 0, 0)
  const gh = await startGitHub({
    now: () => clock,
    tokens: { ghs_variables: { variables: 'write' }, ghs_variables_read: { variables: 'read' }, ghs_secrets_only: { repoSecrets: true } }
  })
  const api =
    (token: string) =>
    async (method: string, path: string, body?: unknown): Promise<GitHubAnswer> => {
      const headers: Record<string, string> = { Accept: 'application/vnd.github+json', Authorization: `Bearer ${token}` }
      const response = await fetch(`${gh.url}/repos/acme/crm-sync/actions/variables${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      const text = await response.text()
      return { status: response.status, headers: response.headers, json: text === '' ? undefined : (JSON.parse(text) as unknown) }
    }
  const writer = api('ghs_variables')
  const reader = api('ghs_variables_read')
  const secretsOnly = api('ghs_secrets_only')
  try {
    // Create: 201, stored upper-case; the same name in any case again: 409 in GitHub's words.
    let answer = await writer('POST', '', { name: 'rescue_key', value: 'first' })
    assert.deepEqual([answer.status, answer.json], [201, {}])
    assert.deepEqual(gh.variable('acme/crm-sync', 'RESCUE_KEY'), {
      value: 'first',
      created_at: '2026-01-10T09:00:00Z',
      updated_at: '2026-01-10T09:00:00Z'
    })
    answer = await writer('POST', '', { name: 'RESCUE_KEY', value: 'again' })
    assert.deepEqual([answer.status, at(answer.json, 'message')], [409, 'Already exists - Variable already exists'])
    assert.equal(gh.variable('acme/crm-sync', 'rescue_key')?.value, 'first', 'a refused create changes nothing')
    // Get: the value (a variable is no secret), by any case.
    answer = await reader('GET', '/Rescue_Key')
    assert.deepEqual(answer.json, {
      name: 'RESCUE_KEY',
      value: 'first',
      created_at: '2026-01-10T09:00:00Z',
      updated_at: '2026-01-10T09:00:00Z'
    })
    assert.equal((await reader('GET', '/NOPE')).status, 404)
    // Update: 204, updated_at moves, created_at stays; an unknown one is 404; a new name renames.
    clock += 60_000
    answer = await writer('PATCH', '/RESCUE_KEY', { name: 'RESCUE_KEY', value: 'second' })
    assert.deepEqual([answer.status, answer.json], [204, undefined])
    assert.deepEqual(gh.variable('acme/crm-sync', 'RESCUE_KEY'), {
      value: 'second',
      created_at: '2026-01-10T09:00:00Z',
      updated_at: '2026-01-10T09:01:00Z'
    })
    assert.equal((await writer('PATCH', '/NOPE', { value: 'x' })).status, 404)
    assert.equal((await writer('PATCH', '/RESCUE_KEY', { name: 'OTHER_KEY' })).status, 204)
    assert.deepEqual([gh.variable('acme/crm-sync', 'RESCUE_KEY'), gh.variable('acme/crm-sync', 'OTHER_KEY')?.value], [undefined, 'second'])
    // Names follow the secrets' rules; a value is required.
    for (const name of ['1ST', 'GITHUB_X', 'has space', '']) {
      answer = await writer('POST', '', { name, value: 'x' })
      assert.equal(answer.status, 422, name)
      assert.equal(at(answer.json, 'errors', 0, 'field'), 'name', name)
    }
    assert.equal(at((await writer('POST', '', { name: 'NO_VALUE' })).json, 'errors', 0, 'field'), 'value')
    // The list: sorted, 10 a page by default, at most 30, with GitHub's Link.
    gh.setVariable('acme/crm-sync', 'A_FIRST', 'a')
    for (let i = 0; i < 31; i++) gh.setVariable('acme/crm-sync', `V${String(i).padStart(2, '0')}`, String(i))
    answer = await reader('GET', '')
    assert.deepEqual([at(answer.json, 'total_count'), at(answer.json, 'variables', 0, 'name')], [33, 'A_FIRST'])
    assert.equal((at(answer.json, 'variables') as unknown[]).length, 10)
    answer = await reader('GET', '?per_page=100&page=2')
    assert.deepEqual(
      [(at(answer.json, 'variables') as unknown[]).length, at(answer.json, 'variables', 0, 'name')],
      [3, 'V28'],
      'A_FIRST, OTHER_KEY, V00…V27 fill page 1'
    )
    assert.match(answer.headers.get('link') ?? '', /per_page=30&page=1>; rel="prev"/)
    // Delete: 204, then 404.
    assert.equal((await writer('DELETE', '/OTHER_KEY')).status, 204)
    assert.equal((await writer('DELETE', '/OTHER_KEY')).status, 404)
    // Permissions: reads need Variables: read, changes Variables: write; a secrets permission is not one.
    answer = await reader('POST', '', { name: 'X', value: 'x' })
    assert.deepEqual(
      [answer.status, at(answer.json, 'message'), answer.headers.get('x-accepted-github-permissions')],
      [403, 'Resource not accessible by integration', 'actions_variables=write']
    )
    assert.equal((await reader('DELETE', '/A_FIRST')).status, 403)
    assert.equal((await reader('PATCH', '/A_FIRST', { value: 'x' })).status, 403)
    answer = await secretsOnly('GET', '')
    assert.deepEqual([answer.status, answer.headers.get('x-accepted-github-permissions')], [403, 'actions_variables=read'])
    assert.equal(gh.variable('acme/crm-sync', 'X'), undefined, 'a refused create stores nothing')
  } finally {
    await gh.close()
  }
}

/** What the emulated runner gives an action: GITHUB_WORKFLOW_REF (defaulted, following GITHUB_REPOSITORY, or as given) and the event. */
async function runnerChecks(event: { name: string; payload: Record<string, unknown> }): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'selftest-runner-'))
  try {
    const entry = join(dir, 'echo.mjs')
    await writeFile(
      entry,
      [
        "import { appendFileSync, readFileSync } from 'node:fs'",
        "const event = readFileSync(process.env.GITHUB_EVENT_PATH, 'utf8')",
        'appendFileSync(process.env.GITHUB_OUTPUT, `ref=${process.env.GITHUB_WORKFLOW_REF}\\nevent=${process.env.GITHUB_EVENT_NAME} ${event}\\n`)'
      ].join('\n')
    )
    let run = await runAction({ inputs: {}, entry, actionYml: false, event })
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.outputs.ref, 'acme/crm-sync/.github/workflows/rotate.yml@refs/heads/main')
    assert.equal(run.outputs.event, `schedule ${JSON.stringify(event.payload)}`)
    run = await runAction({ inputs: {}, entry, actionYml: false, env: { GITHUB_REPOSITORY: 'acme/website' } })
    assert.equal(run.outputs.ref, 'acme/website/.github/workflows/rotate.yml@refs/heads/main')
    run = await runAction({
      inputs: {},
      entry,
      actionYml: false,
      env: { GITHUB_WORKFLOW_REF: 'acme/ops/.github/workflows/x.yml@refs/tags/v1' }
    })
    assert.equal(run.outputs.ref, 'acme/ops/.github/workflows/x.yml@refs/tags/v1')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The Bitrix24 and generic OAuth 2.0 stand-ins. */
export async function providerSelfTest(): Promise<void> {
  await bitrix24Checks()
  await oauth2Checks()
  await reuseChecks()
  await dripChecks()
}

/** The GitHub stand-in (issues, workflows, variables, permissions, the token's expiry) and what the runner adds for it. */
export async function gitHubSelfTest(): Promise<void> {
  await gitHubChecks()
  await variablesChecks()
}

export async function selfTest(): Promise<void> {
  await providerSelfTest()
  await gitHubSelfTest()
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await selfTest()
  console.log('stand-ins: Bitrix24, generic OAuth 2.0 and GitHub answer as documented')
}
