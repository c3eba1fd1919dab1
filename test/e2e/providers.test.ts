/**
 * Any rotating OAuth provider (issue "Any rotating OAuth provider"): Bitrix24 and the generic
 * OAuth 2.0 mode, the bundled action against their stand-ins and the GitHub stand-in. Every
 * guarantee of the amoCRM tests holds for each: write proof, masking (checked on every run),
 * rescue, signal-safe store, race diagnosis, a stale token never spent.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { bitrix24Inputs, startBitrix24, type Bitrix24Options, type Bitrix24Server } from '../../sandbox/bitrix24.js'
import { faultQueue, onlyWhen, type Fault, type RequestInfo } from '../../sandbox/faults.js'
import { DEMO_GITHUB_TOKEN, DEMO_JOB_TOKEN, startGitHub, type GitHubServer } from '../../sandbox/github.js'
import { oauth2Inputs, startOAuth2, type OAuth2Options, type OAuth2Server } from '../../sandbox/oauth2.js'
import { leakedSecrets, runAction, type ActionRun, type RunOptions } from '../../sandbox/runner.js'
import { errors, keygen, openRescueLine } from './harness.js'

const REPO = { repo: 'acme/crm-sync' }

type TokenServer = Bitrix24Server | OAuth2Server

interface Box<S extends TokenServer> {
  server: S
  gh: GitHubServer
  secret: string
  inputs(extra?: Record<string, string>): Record<string, string>
  run(
    inputs: Record<string, string>,
    options?: Omit<RunOptions, 'inputs'> & { queuedAt?: number }
  ): Promise<ActionRun & { tokenRequests: number }>
  /** A valid refresh token in the stand-in and in the secret (written an hour ago). */
  seed(): string
  chainHolds(): void
  close(): Promise<void>
}

let runSeq = 0

async function box<S extends TokenServer>(
  server: S,
  secret: string,
  inputsOf: (s: S, extra: Record<string, string>) => Record<string, string>
): Promise<Box<S>> {
  const gh = await startGitHub()
  const known = new Set<string>([server.clientSecret, DEMO_GITHUB_TOKEN, DEMO_JOB_TOKEN])
  const tokenRequests = (): number => server.requests.filter((r) => r.path.includes('/oauth/token')).length
  const b: Box<S> = {
    server,
    gh,
    secret,
    inputs: (extra = {}) => inputsOf(server, { 'refresh-token': server.currentRefreshToken() ?? '', ...extra }),
    async run(inputs, { queuedAt, ...options } = {}) {
      runSeq += 1
      const runId = String(7_000_000 + runSeq)
      gh.addRun(REPO.repo, { id: runId, createdAt: queuedAt ?? Date.now() })
      const before = tokenRequests()
      const run = await runAction({
        ...options,
        inputs,
        env: { GITHUB_API_URL: gh.url, AMOCRM_TOKEN_ACTION_BACKOFF_MS: '5', GITHUB_RUN_ID: runId, ...options.env }
      })
      for (const value of Object.values(inputs))
        if (value.length >= 12 && value !== server.url && !value.startsWith('http')) known.add(value)
      for (const pair of server.issued) {
        known.add(pair.access_token)
        known.add(pair.refresh_token)
      }
      assert.deepEqual(leakedSecrets(run, [...known]), [], `a secret was printed:\n${run.stdout}\n${run.stderr}\n${run.summary}`)
      return { ...run, tokenRequests: tokenRequests() - before }
    },
    seed() {
      const token =
        server instanceof Object && 'memberId' in server
          ? 'f'.repeat(6) + Math.random().toString(16).slice(2).padEnd(64, '0')
          : `seeded-${Math.random().toString(36).slice(2)}-${'x'.repeat(20)}`
      server.setRefreshToken(token)
      gh.setSecret(REPO, secret, token, undefined, Date.now() - 3600_000)
      known.add(token)
      return token
    },
    chainHolds() {
      const current = server.currentRefreshToken()
      assert.ok(current, 'the provider has a valid refresh token')
      assert.equal(gh.secret(REPO, secret)?.value, current, 'the secret holds the provider’s current refresh token')
    },
    async close() {
      await Promise.all([server.close(), gh.close()])
    }
  }
  return b
}

const bitrix = async (options: Bitrix24Options = {}) => box(await startBitrix24(options), 'BITRIX24_REFRESH_TOKEN', bitrix24Inputs)
const generic = async (options: OAuth2Options = {}) => box(await startOAuth2(options), 'OAUTH_REFRESH_TOKEN', oauth2Inputs)

/** The one failure of a run: exit 1, one error line. */
function failure(run: ActionRun): string {
  assert.equal(run.code, 1, `expected a failure:\n${run.log}`)
  const lines = errors(run)
  assert.equal(lines.length, 1, run.log)
  return lines[0] ?? ''
}

const tokenCall = (r: RequestInfo) => r.path.includes('/oauth/token')
const putOf = (name: string) => (r: RequestInfo) => r.method === 'PUT' && r.path.endsWith(`/secrets/${name}`)
const status = (code: number): Fault => ({ kind: 'status', status: code })

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
      const [x, y] = await Promise.all([b.run(inputs), b.run(inputs)])
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
