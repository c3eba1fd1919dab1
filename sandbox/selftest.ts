/**
 * node .build/sandbox/selftest.js: checks the Bitrix24 and generic OAuth 2.0 stand-ins over HTTP,
 * without the action — each documented answer, the chain (single use, rotation or not, idle
 * expiry, code lifetime, reuse detection or its absence) and the client-authentication rules —
 * and the `drip` fault. Exits 1 on the first failure. `selfTest()` is exported so a test file can
 * run the same checks.
 *
 * Emulates: nothing (a client of the stand-ins). Deliberately not emulated: the action itself
 * (the e2e tests run it against the same stand-ins), the rest of the amoCRM stand-in (covered by
 * the e2e suite; only its refusal of a spent token, which keeps the family, is checked here).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { BITRIX24_TOKEN_SHAPE, startBitrix24 } from './bitrix24.js'
import { decodeJwtPayload, startAmoCrm } from './amocrm.js'
import { faultQueue, type Fault } from './faults.js'
import { formEncode, REUSE_DETECTION_REFUSAL, startOAuth2, type OAuth2Options, type OAuth2Server } from './oauth2.js'

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
    `import { startOAuth2 } from ${JSON.stringify(new URL('./oauth2.js', import.meta.url).href)}`,
    `const server = await startOAuth2({ faults: () => (${JSON.stringify({ kind: 'drip', bytes: 1, everyMs: 60_000 } satisfies Fault)}) })`,
    `const response = await fetch(server.url + '/api/me')`,
    `const body = response.text().then(() => 'whole', (error) => error.name)`,
    `await server.close()`,
    `console.log(response.status, await body)`
  ].join('\n')
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', child], { timeout: 20_000 })
  assert.equal(stdout.trim(), '401 TypeError', 'headers arrived, the body was cut by close()')
}

export async function selfTest(): Promise<void> {
  await bitrix24Checks()
  await oauth2Checks()
  await reuseChecks()
  await dripChecks()
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await selfTest()
  console.log('stand-ins: Bitrix24 and generic OAuth 2.0 answer as documented')
}
