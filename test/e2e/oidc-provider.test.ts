/**
 * The real oidc-provider (test/e2e/oidc-provider.ts) as the action meets it: the fixture works,
 * and the fact the action must live with holds — with rotation on, a spent refresh token
 * presented again is refused AND revokes the grant, so the newest refresh token dies with it
 * (RFC 9700 §4.14.2). Then the generic stand-in's `reuseDetection` is held against it, and the
 * bundled action rotates a token of it in `provider: oauth2` mode. Everything is awaited: the
 * provider revokes the grant before it answers, so no test waits on a timer.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { DEMO_GITHUB_TOKEN, DEMO_JOB_TOKEN, startGitHub } from '../../sandbox/standins/github/github.js'
import { startOAuth2 } from '../../sandbox/standins/oauth2.js'
import { leakedSecrets, runAction } from '../../sandbox/runner/runner.js'
import { REPO, UNDER_TEST } from './harness.js'
import { basicAuthorization, startOidcProvider, type OidcProviderServer } from './oidc-provider.js'

/** oidc-provider's answer to every refused grant (its InvalidGrant): the cause is not told. */
const INVALID_GRANT = { error: 'invalid_grant', error_description: 'grant request is invalid' }

describe('oidc-provider, the real one', () => {
  let op: OidcProviderServer
  before(async () => (op = await startOidcProvider()))
  after(async () => op.close())

  test('a fresh grant gives a refresh token; a refresh rotates it', async () => {
    assert.match(op.tokenUrl, /^http:\/\/127\.0\.0\.1:\d+\/token$/)
    const first = await op.issueRefreshToken()
    const answer = await op.refresh(first)
    assert.equal(answer.status, 200, JSON.stringify(answer.body))
    assert.equal(answer.body.token_type, 'Bearer')
    assert.equal(typeof answer.body.access_token, 'string')
    const second = answer.body.refresh_token
    assert.equal(typeof second, 'string')
    assert.notEqual(second, first, 'rotation is on: every refresh answers a new refresh token')
    assert.equal((await op.refresh(String(second))).status, 200)
  })

  test('a spent refresh token presented again: invalid_grant, and the grant is revoked — the newest token too', async () => {
    const first = await op.issueRefreshToken()
    const rotated = await op.refresh(first)
    assert.equal(rotated.status, 200)
    const newest = String(rotated.body.refresh_token)
    const revokedBefore = op.revokedGrants.length

    const replay = await op.refresh(first)
    assert.deepEqual([replay.status, replay.body], [400, INVALID_GRANT])
    assert.equal(op.revokedGrants.length, revokedBefore + 1, 'the provider revoked the grant')

    const afterwards = await op.refresh(newest)
    assert.deepEqual([afterwards.status, afterwards.body], [400, INVALID_GRANT], 'the newest refresh token died with the grant')
    // The spent token went with the grant: presenting it once more finds nothing, revokes nothing.
    assert.deepEqual((await op.refresh(first)).body, INVALID_GRANT)
    assert.equal(op.revokedGrants.length, revokedBefore + 1)
  })

  test('a token it never issued: invalid_grant, nothing revoked', async () => {
    const live = await op.issueRefreshToken()
    const revokedBefore = op.revokedGrants.length
    const answer = await op.refresh('never-issued-by-this-provider-0123456789abcdef')
    assert.deepEqual([answer.status, answer.body], [400, INVALID_GRANT])
    assert.equal(op.revokedGrants.length, revokedBefore)
    assert.equal((await op.refresh(live)).status, 200)
  })

  test("the action's request form (POST form, Basic with form-encoded credentials, accept: application/json) gets a token pair", async () => {
    const token = await op.issueRefreshToken()
    assert.match(op.clientSecret, /[+/:]/, 'a secret that Basic must form-encode (RFC 6749 §2.3.1)')
    // As src/providers/oauth2.ts builds it for `client-auth: basic`, `body-format: form`.
    const response = await fetch(op.tokenUrl, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        authorization: basicAuthorization(op.clientId, op.clientSecret),
        'content-type': 'application/x-www-form-urlencoded'
      },
      body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`
    })
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/)
    assert.equal(response.headers.get('cache-control'), 'no-store')
    const body = (await response.json()) as Record<string, unknown>
    for (const field of ['access_token', 'refresh_token', 'token_type', 'expires_in'])
      assert.ok(field in body, `${field} in ${Object.keys(body)}`)
    assert.notEqual(body.refresh_token, token)
  })
})

describe("the generic stand-in's reuseDetection answers as oidc-provider does", () => {
  test('the same sequence, the same answers and one revocation each', async () => {
    const op = await startOidcProvider()
    const standIn = await startOAuth2({ reuseDetection: true })
    try {
      const standInRefresh = async (token: string) => {
        const response = await fetch(standIn.tokenUrl, {
          method: 'POST',
          headers: {
            accept: 'application/json',
            authorization: basicAuthorization(standIn.clientId, standIn.clientSecret),
            'content-type': 'application/x-www-form-urlencoded'
          },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString()
        })
        return { status: response.status, body: (await response.json()) as Record<string, unknown> }
      }
      /** Issue, rotate, replay the spent one, try the newest, replay again, try one never issued. */
      const script = async (first: string, refresh: (token: string) => Promise<{ status: number; body: Record<string, unknown> }>) => {
        const rotated = await refresh(first)
        const newest = String(rotated.body.refresh_token)
        const answers: unknown[] = [rotated.status]
        for (const token of [first, newest, first, 'never-issued-0123456789']) {
          const { status, body } = await refresh(token)
          answers.push([status, body.error, body.error_description])
        }
        return answers
      }
      standIn.setRefreshToken('stand-in-first')
      const real = await script(await op.issueRefreshToken(), (token) => op.refresh(token))
      const emulated = await script('stand-in-first', standInRefresh)
      assert.deepEqual(emulated, real)
      assert.deepEqual([standIn.familyRevocations.length, op.revokedGrants.length], [1, 1])
      assert.equal(standIn.currentRefreshToken(), undefined)
    } finally {
      await Promise.all([op.close(), standIn.close()])
    }
  })
})

describe('the bundled action against oidc-provider', () => {
  test('provider: oauth2 rotates its refresh token into the secret, and the grant stays alive', async () => {
    const op = await startOidcProvider()
    const gh = await startGitHub()
    try {
      const first = await op.issueRefreshToken()
      gh.setSecret(REPO, 'OAUTH_REFRESH_TOKEN', first, undefined, Date.now() - 3600_000)
      const inputs = {
        provider: 'oauth2',
        'token-url': op.tokenUrl,
        'client-auth': 'basic',
        'body-format': 'form',
        'client-id': op.clientId,
        'client-secret': op.clientSecret,
        'github-token': DEMO_GITHUB_TOKEN,
        'refresh-token': first
      }
      // The run's times are readable (queued now): at a server that revokes a grant on reuse, the
      // action spends a refresh token only when it knows the token is not stale.
      gh.addRun(REPO.repo, { id: 9_100_001, createdAt: Date.now() + 1000 })
      const run = await runAction({
        ...UNDER_TEST,
        inputs,
        env: { GITHUB_API_URL: gh.url, TOKEN_ROTATION_BACKOFF_MS: '5', GITHUB_RUN_ID: '9100001' }
      })
      assert.equal(run.code, 0, run.log)
      const stored = gh.secret(REPO, 'OAUTH_REFRESH_TOKEN')?.value ?? ''
      assert.ok(stored !== '' && stored !== first, 'the secret holds the rotated refresh token')
      assert.equal(run.outputs['refresh-token'], stored)
      const known = [first, stored, run.outputs['access-token'] ?? '', op.clientSecret, DEMO_GITHUB_TOKEN, DEMO_JOB_TOKEN].filter(Boolean)
      assert.deepEqual(leakedSecrets(run, known), [], `a secret was printed:\n${run.log}`)
      assert.deepEqual(op.revokedGrants, [], 'the action presented no spent token')
      assert.equal((await op.refresh(stored)).status, 200, 'the stored token is the live one')
    } finally {
      await Promise.all([op.close(), gh.close()])
    }
  })
})
