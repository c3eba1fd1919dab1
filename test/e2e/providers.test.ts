/**
 * Any rotating OAuth provider (issue "Any rotating OAuth provider"): Bitrix24 and the generic
 * OAuth 2.0 mode, the bundled action against their stand-ins and the GitHub stand-in. Every
 * guarantee of the amoCRM tests holds for each: write proof, masking (checked on every run),
 * rescue, signal-safe store, race diagnosis, a stale token never spent.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Bitrix24Server } from '../../sandbox/standins/bitrix24.js'
import { faultQueue, onlyWhen, type RequestInfo } from '../../sandbox/standins/faults.js'
import {
  bitrix,
  failure,
  generic,
  keygen,
  openRescueLine,
  putOf,
  status,
  REPO,
  type ProviderBox as Box,
  type TokenServer
} from './harness.js'

/** A request to the Bitrix24 or OAuth 2.0 stand-in's token endpoint. */
const tokenCall = (r: RequestInfo) => r.path.includes('/oauth/token')

describe('Bitrix24', () => {
  let b: Box<Bitrix24Server>
  before(async () => (b = await bitrix()))
  after(async () => b.close())

  test('the first exchange and a refresh: GET with the query string, the secret, every output', async () => {
    const code = b.server.issueCode()
    const first = await b.run(b.inputs({ 'authorization-code': code, 'refresh-token': '' }))
    assert.equal(first.code, 0, first.log)
    b.chainHolds()
    const pair = b.server.issued.at(-1)
    assert.ok(pair)
    assert.equal(first.outputs['access-token'], pair.access_token)
    assert.equal(first.outputs['refresh-token'], pair.refresh_token)
    assert.equal(first.outputs['api-url'], b.server.clientEndpoint)
    assert.equal(first.outputs['account-id'], b.server.memberId)
    assert.match(first.outputs['expires-at'] ?? '', /^\d{4}-\d{2}-\d{2}T/)
    assert.ok(first.masked.includes(pair.refresh_token) && first.masked.includes(pair.access_token))
    assert.match(first.summary, /^## Bitrix24 tokens rotated$/m)
    assert.match(
      first.summary,
      /Refresh again before \| \d{4}-\d{2}-\d{2} \(Bitrix24's current docs give a refresh token 180 days, older ones 28/
    )

    const previous = b.server.currentRefreshToken() ?? ''
    const second = await b.run(b.inputs())
    assert.equal(second.code, 0, second.log)
    b.chainHolds()
    assert.ok(b.server.isRevoked(previous))
    const request = b.server.requests.filter(tokenCall).at(-1)
    assert.equal(request?.method, 'GET')
    assert.match(request?.path ?? '', /^\/oauth\/token\/\?grant_type=refresh_token&client_id=/)
    assert.ok(!second.log.includes('client_secret='), 'the query string is never printed')
  })

  test('invalid_client: nothing spent, the inputs named', async () => {
    const token = b.seed()
    const run = await b.run(b.inputs({ 'client-secret': 'wrong-secret-of-some-length' }))
    assert.match(failure(run), /Bitrix24 refused the refresh token \(401 invalid_client.*check 'client-id' and 'client-secret'/)
    assert.equal(b.server.currentRefreshToken(), token)
  })

  test('a dead refresh token: invalid_grant, a new refresh token is needed', async () => {
    b.seed()
    const run = await b.run(b.inputs({ 'refresh-token': 'f'.repeat(70) }))
    const message = failure(run)
    assert.match(message, /^Bitrix24 says the refresh token is invalid or expired \(400 invalid_grant/)
    assert.match(message, /reinstall the application/)
  })
})

describe('generic OAuth 2.0', () => {
  test('Basic + form, rotating: first exchange and refresh into OAUTH_REFRESH_TOKEN; no api-url, no account-id', async () => {
    const b = await generic({ clientAuth: 'basic', bodyFormat: 'form' })
    try {
      const first = await b.run(b.inputs({ 'authorization-code': b.server.issueCode(), 'refresh-token': '' }))
      assert.equal(first.code, 0, first.log)
      b.chainHolds()
      const second = await b.run(b.inputs())
      assert.equal(second.code, 0, second.log)
      b.chainHolds()
      assert.equal(second.outputs['api-url'], '')
      assert.equal(second.outputs['account-id'], '')
      const request = b.server.requests.filter(tokenCall).at(-1)
      assert.match(String(request?.headers.authorization), /^Basic /)
      assert.match(second.summary, /tokens rotated$/m)
      assert.doesNotMatch(second.summary, /Refresh again before/, 'no refresh-by rule for a generic provider')
    } finally {
      await b.close()
    }
  })

  test('body credentials + JSON', async () => {
    const b = await generic({ clientAuth: 'body', bodyFormat: 'json' })
    try {
      b.seed()
      const run = await b.run(b.inputs())
      assert.equal(run.code, 0, run.log)
      b.chainHolds()
      const request = b.server.requests.filter(tokenCall).at(-1)
      assert.equal(request?.headers['content-type'], 'application/json')
      assert.equal(request?.headers.authorization, undefined)
    } finally {
      await b.close()
    }
  })

  test('the wrong client-auth: invalid_client names client-auth, nothing spent', async () => {
    const b = await generic({ clientAuth: 'body' })
    try {
      const token = b.seed()
      const run = await b.run(b.inputs({ 'client-auth': 'basic' }))
      assert.match(failure(run), /refused the refresh token \(40[01] invalid_client.*'client-auth' \(now basic\)/)
      assert.equal(b.server.currentRefreshToken(), token)
    } finally {
      await b.close()
    }
  })

  test('a provider that does not rotate: the secret is left alone, the run succeeds and says so', async () => {
    const b = await generic({ rotate: false })
    try {
      const token = b.seed()
      const writes = b.gh.writes.length
      const run = await b.run(b.inputs())
      assert.equal(run.code, 0, run.log)
      assert.match(run.log, /kept the refresh token \(its answer carried no new one\)/)
      assert.equal(run.outputs['refresh-token'], token)
      assert.equal(b.gh.secret(REPO, b.secret)?.value, token)
      assert.ok(!b.gh.writes.slice(writes).some((w) => w.name === b.secret), 'the refresh secret was not written')
      assert.match(run.summary, /unchanged: .* kept it/)
    } finally {
      await b.close()
    }
  })

  test('invalid_grant: a new authorization is needed', async () => {
    const b = await generic()
    try {
      b.seed()
      const message = failure(await b.run(b.inputs({ 'refresh-token': 'not-a-token-of-this-server' })))
      assert.match(message, /says the refresh token is invalid, expired or revoked \(400 invalid_grant/)
      assert.match(message, /A new authorization is needed/)
    } finally {
      await b.close()
    }
  })
})

for (const [name, make] of [
  ['Bitrix24', () => bitrix()],
  ['generic OAuth 2.0', () => generic()]
] as const) {
  describe(`${name}: every guarantee of the amoCRM tests`, () => {
    let b: Box<TokenServer>
    before(async () => (b = (await make()) as Box<TokenServer>))
    after(async () => b.close())

    test('a stale token (the secret updated after the run was queued) is never sent', async () => {
      const stale = b.seed()
      const newer = b.seed()
      b.gh.setSecret(REPO, b.secret, newer, undefined, Date.now() - 30_000)
      const run = await b.run(b.inputs({ 'refresh-token': stale }), { queuedAt: Date.now() - 60_000 })
      assert.match(failure(run), /^Another run rotated the token after this run read it: .*nothing is lost/)
      assert.equal(run.tokenRequests, 0)
      assert.equal(b.server.currentRefreshToken(), newer)
    })

    test('every write fails: the pair is rescued under the provider’s prefix, and the rescue tool opens it', async () => {
      b.seed()
      const { publicKey, privateKey } = await keygen()
      b.gh.faults = onlyWhen(putOf(b.secret), () => status(502))
      const run = await b.run(b.inputs({ 'rescue-public-key': publicKey }))
      b.gh.faults = undefined
      assert.match(failure(run), /could not be stored.*sealed to 'rescue-public-key'/)
      const prefix = name === 'Bitrix24' ? 'bitrix24-rescue:v1:' : 'oauth2-rescue:v1:'
      const line = run.log.split('\n').find((l) => l.startsWith(prefix))
      assert.ok(line, run.log)
      const opened = await openRescueLine(run.log, privateKey, 'refresh_token')
      assert.equal(opened, `${b.server.currentRefreshToken()}\n`)
      // What the README says to do with it.
      b.gh.setSecret(REPO, b.secret, opened.trim())
      b.chainHolds()
    })

    test('SIGTERM while the new token is written: the write finishes, then the run fails', async () => {
      b.seed()
      b.gh.faults = onlyWhen(putOf(b.secret), faultQueue({ kind: 'delay', ms: 800 }))
      const run = await b.run(b.inputs(), { signal: { name: 'SIGTERM', when: (out) => /issued a new token pair/.test(out) } })
      b.gh.faults = undefined
      assert.match(failure(run), /cancelled \(SIGTERM\) after the token was spent; the new refresh token was stored first/)
      b.chainHolds()
    })

    test('two runs at once with the same token: one rotates, the other says nothing is lost', async () => {
      b.seed()
      const inputs = b.inputs()
      // Both queued before either started (see the same test in faults.test.ts): the diagnosis rests
      // on the queue time, not on which process two busy cores happened to start first.
      const queuedAt = Date.now() - 1000
      const [x, y] = await Promise.all([b.run(inputs, { queuedAt }), b.run(inputs, { queuedAt })])
      assert.deepEqual([x.code, y.code].sort(), [0, 1], `${x.log}\n----\n${y.log}`)
      const loser = x.code === 1 ? x : y
      // Either the loser saw the newer token before spending (nothing sent), or it sent the spent one
      // in the same moment: then the message says what a server that detects reuse would have done.
      assert.match(
        failure(loser),
        /[Aa]nother run rotated the token (first|after this run read it)[^]*([Nn]othing is lost|is not known to keep the newer token when a spent one comes back)/
      )
      b.chainHolds()
    })

    test('the answer is lost after the token was spent: the retry is refused and the message says why', async () => {
      b.seed()
      b.server.faults = onlyWhen(tokenCall, faultQueue({ kind: 'lost-response' }))
      const message = failure(await b.run(b.inputs()))
      b.server.faults = undefined
      assert.match(message, /It was met on a retry: an earlier attempt of this run may have reached .* and spent the token/)
    })
  })
}
