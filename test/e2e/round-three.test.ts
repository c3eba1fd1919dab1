/**
 * Round three (issue "Round three: seven ways the new token still slips…"): the bundled action
 * against answers that a review found still losing the new refresh token, or calling it safe when
 * it is not. Each test here failed on the bundle before that issue (checked with ACTION_UNDER_TEST,
 * test/README.md): the promise is that the new token is stored or rescued, never printed, and
 * never called safe when it is not.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { faultQueue, onlyWhen } from '../../sandbox/standins/faults.js'
import {
  chainHolds,
  errors,
  failure,
  generic,
  keygen,
  openRescueLine,
  putOf,
  REPO,
  RESCUE_CLI,
  sandbox,
  tokenCall,
  UNDER_TEST,
  type Sandbox
} from './harness.js'
import { startOidcProvider } from './oidc-provider.js'
import { DEMO_GITHUB_TOKEN, startGitHub } from '../../sandbox/standins/github/github.js'
import { runAction } from '../../sandbox/runner/runner.js'

const SECRET = 'AMOCRM_REFRESH_TOKEN'
const exec = promisify(execFile)

/** The run's printed text as a person could read it: the log as displayed, the summary, stderr (the mask commands aside). */
const shown = (run: { log: string; summary: string; stderr: string }): string =>
  [run.log, run.summary, run.stderr].join('\n').replace(/^::add-mask::.*$/gm, '')

/** Every 12-character piece of `secret` that shows in `text`: none may (the redactor's rule). */
function pieces(text: string, secret: string): string[] {
  const found: string[] = []
  for (let i = 0; i + 12 <= secret.length; i++) if (text.includes(secret.slice(i, i + 12))) found.push(secret.slice(i, i + 12))
  return found
}

describe('the answer: echoes, copies and cuts are not the new token', () => {
  let box: Sandbox
  before(async () => (box = await sandbox()))
  after(async () => box.close())

  test('debug text before the JSON that echoes the request: the token of the answer is stored, not the spent one', async () => {
    const spent = box.seed()
    const echo = `DEBUG request body: {"client_id":"x","grant_type":"refresh_token","refresh_token":"${spent}"}\n`
    box.amo.faults = onlyWhen(tokenCall, faultQueue({ kind: 'transform', body: (json) => `${echo}${json}` }))
    const run = await box.run(box.inputs())
    box.amo.faults = undefined
    assert.equal(run.code, 0, run.log)
    chainHolds(box)
    assert.notEqual(box.gh.secret(REPO, SECRET)?.value, spent)
    assert.match(run.log, /^Warning: .*was not clean JSON/m)
  })

  test('the spent token handed back as the "new" one: never stored as new; the run fails and says so', async () => {
    const spent = box.seed()
    const keys = await keygen()
    box.amo.faults = onlyWhen(
      tokenCall,
      faultQueue({ kind: 'transform', body: (json) => JSON.stringify({ ...(JSON.parse(json) as object), refresh_token: spent }) })
    )
    const writes = box.gh.writes.length
    const run = await box.run(box.inputs({ 'rescue-public-key': keys.publicKey }))
    box.amo.faults = undefined
    assert.match(failure(run), /answered with the very refresh token this run sent: amoCRM always issues a new one/)
    assert.equal(box.gh.writes.slice(writes).filter((w) => w.name === SECRET).length, 0, 'the spent token is not written back as new')
    assert.equal(box.gh.secret(REPO, SECRET)?.value, spent)
  })

  test('a body labelled content-encoding: br that is plain JSON: the pair is read as it came and stored', async () => {
    box.seed()
    box.amo.faults = onlyWhen(tokenCall, faultQueue({ kind: 'transform', body: (json) => json, headers: { 'Content-Encoding': 'br' } }))
    const run = await box.run(box.inputs())
    box.amo.faults = undefined
    assert.equal(run.code, 0, run.log)
    chainHolds(box)
    assert.match(run.log, /^Warning: .*labelled content-encoding: br but was not so encoded/m)
  })
})

describe('a token pair inside an error answer', () => {
  test('a 502 whose body is the new pair: not quoted (no 12 characters of it), not retried, rescued and in the outputs', async () => {
    const box = await sandbox()
    try {
      box.seed()
      const keys = await keygen()
      // The provider acted (the pair was issued, the old token spent); a proxy turned the answer into a 502.
      box.amo.faults = onlyWhen(tokenCall, faultQueue({ kind: 'transform', status: 502, body: (json) => json }))
      const run = await box.run(box.inputs({ 'rescue-public-key': keys.publicKey }))
      const message = failure(run)
      assert.match(message, /answered 502, an error status, with what looks like a new token pair in the body/)
      assert.equal(run.tokenRequests, 1, 'never retried: the retry would spend nothing and lose the pair')
      const current = box.amo.currentRefreshToken() ?? ''
      const pair = box.amo.issued.at(-1)
      assert.ok(pair && pair.refresh_token === current)
      for (const token of [pair.refresh_token, pair.access_token]) assert.deepEqual(pieces(shown(run), token), [])
      assert.equal(run.outputs['refresh-token'], current)
      assert.equal(await openRescueLine(run.log, keys.privateKey, 'refresh_token'), `${current}\n`)
    } finally {
      await box.close()
    }
  })
})

describe('a second look: the pair in other shapes', () => {
  let box: Sandbox
  before(async () => (box = await sandbox()))
  after(async () => box.close())

  test('a gateway 502 that carries the answer as an escaped JSON string: a pair in an error — not quoted, not retried, rescued', async () => {
    box.seed()
    const keys = await keygen()
    box.amo.faults = onlyWhen(
      tokenCall,
      faultQueue({ kind: 'transform', status: 502, body: (json) => JSON.stringify({ message: 'Bad gateway', upstream: json }) })
    )
    const run = await box.run(box.inputs({ 'rescue-public-key': keys.publicKey }))
    box.amo.faults = undefined
    assert.match(failure(run), /answered 502, an error status, with what looks like a new token pair in the body/)
    assert.equal(run.tokenRequests, 1)
    const pair = box.amo.issued.at(-1)
    assert.ok(pair)
    for (const token of [pair.refresh_token, pair.access_token]) assert.deepEqual(pieces(shown(run), token), [])
    assert.equal(await openRescueLine(run.log, keys.privateKey, 'refresh_token'), `${pair.refresh_token}\n`)
  })

  test('a 200 with the pair in an envelope and a content-encoding that names no encoding: read and stored', async () => {
    box.seed()
    box.amo.faults = onlyWhen(
      tokenCall,
      faultQueue({ kind: 'transform', body: (json) => `{"data":${json}}`, headers: { 'Content-Encoding': 'constructor' } })
    )
    const run = await box.run(box.inputs())
    box.amo.faults = undefined
    assert.equal(run.code, 0, run.log)
    chainHolds(box)
  })

  test('a 200 whose tokens cannot be read (PHP print_r): the run fails, and no piece of them is printed', async () => {
    box.seed()
    box.amo.faults = onlyWhen(
      tokenCall,
      faultQueue({
        kind: 'transform',
        body: (json) => {
          const { access_token, refresh_token } = JSON.parse(json) as Record<string, string>
          return `Array\n(\n    [access_token] => ${access_token}\n    [refresh_token] => ${refresh_token}\n)\n`
        }
      })
    )
    const run = await box.run(box.inputs())
    box.amo.faults = undefined
    assert.match(failure(run), /answered 200 without a readable token pair \(\d+ characters of application\/json, not shown\)/)
    const pair = box.amo.issued.at(-1)
    assert.ok(pair)
    for (const token of [pair.refresh_token, pair.access_token]) assert.deepEqual(pieces(shown(run), token), [])
  })
})

describe('GitHub: only GitHub can say "stored"', () => {
  let elsewhere: Server
  let elsewhereUrl = ''
  const seen: string[] = []
  before(async () => {
    elsewhere = createServer((req, res) => {
      seen.push(`${req.method ?? ''} ${req.url ?? ''}`)
      req.resume()
      res.writeHead(204).end()
    })
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve))
    elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`
  })
  after(async () => new Promise<void>((resolve) => elsewhere.close(() => resolve())))

  test('the secret PUT redirected (307) to another origin that answers 204: not stored, nothing sent there, rescued', async () => {
    const box = await sandbox()
    try {
      const old = box.seed()
      const keys = await keygen()
      box.gh.faults = onlyWhen(
        putOf(SECRET),
        faultQueue({
          kind: 'status',
          status: 307,
          body: '',
          headers: { Location: `${elsewhereUrl}/repos/acme/crm-sync/actions/secrets/${SECRET}` }
        })
      )
      const run = await box.run(box.inputs({ 'rescue-public-key': keys.publicKey }))
      const message = failure(run)
      assert.match(
        message,
        /^The new refresh token could not be stored: GitHub's API answered the request to write .* with a redirect to 127\.0\.0\.1:\d+, which is not followed/
      )
      assert.deepEqual(seen, [], 'nothing went to the other origin')
      assert.equal(box.gh.secret(REPO, SECRET)?.value, old, 'the real secret keeps the spent token: the run must not be green')
      assert.equal(await openRescueLine(run.log, keys.privateKey, 'refresh_token'), `${box.amo.currentRefreshToken() ?? ''}\n`)
    } finally {
      await box.close()
    }
  })

  test('a write with no answer while someone else changed the secret: "most likely landed", never silently — the rescue line is printed', async () => {
    const box = await sandbox()
    try {
      box.seed()
      const keys = await keygen()
      let done = false
      box.gh.faults = (r) => {
        if (done || !putOf(SECRET)(r)) return undefined
        done = true
        // The write never lands; a person's `gh secret set` changes the secret meanwhile.
        box.gh.setSecret(REPO, SECRET, 'a value someone else set', undefined, box.ghNow() + 2000)
        return { kind: 'reset' }
      }
      const run = await box.run(box.inputs({ 'rescue-public-key': keys.publicKey }))
      assert.equal(run.code, 0, run.log)
      assert.match(
        run.log,
        /^Warning: The write of the repository secret AMOCRM_REFRESH_TOKEN of acme\/crm-sync got no answer, and the secret changed after this run read it/m
      )
      assert.equal(box.gh.secret(REPO, SECRET)?.value, 'a value someone else set')
      assert.equal(await openRescueLine(run.log, keys.privateKey, 'refresh_token'), `${box.amo.currentRefreshToken() ?? ''}\n`)
      assert.match(run.summary, /most likely: the write got no answer/)
    } finally {
      await box.close()
    }
  })

  test('an organization secret with visibility: selected and no list keeps its selection with the write check on (the probe is private)', async () => {
    const box = await sandbox()
    try {
      const token = box.seed()
      const org = { org: 'acme' }
      box.gh.setSecret(org, SECRET, token, { visibility: 'selected', selected_repository_ids: [700001, 700002] }, box.ghNow() - 3600_000)
      const run = await box.run(box.inputs({ organization: 'acme', visibility: 'selected' }))
      assert.equal(run.code, 0, run.log)
      const stored = box.gh.secret(org, SECRET)
      assert.equal(stored?.value, box.amo.currentRefreshToken())
      assert.equal(stored?.visibility, 'selected')
      assert.deepEqual(stored?.selected_repository_ids, [700001, 700002])
      const probe = box.gh.requests.find((r) => putOf(`${SECRET}_WRITE_CHECK`)(r))
      assert.equal((probe?.body as { visibility?: string } | undefined)?.visibility, 'private', 'the probe holds no credential')
    } finally {
      await box.close()
    }
  })
})

describe('a refresh token with a space in it (RFC 6749 VSCHAR)', () => {
  test('is stored by one run and accepted as input by the next', async () => {
    let n = 0
    const box = await sandbox({ amo: { newRefreshToken: () => `def50200 spaced ${++n} ${'c'.repeat(40)}` } })
    try {
      box.seed()
      const first = await box.run(box.inputs())
      assert.equal(first.code, 0, first.log)
      const spaced = box.gh.secret(REPO, SECRET)?.value ?? ''
      assert.match(spaced, / spaced 1 /)
      const second = await box.run(box.inputs({ 'refresh-token': spaced }))
      assert.equal(second.code, 0, second.log)
      chainHolds(box)
    } finally {
      await box.close()
    }
  })
})

describe('generic OAuth 2.0: a cut refresh token is a lost one, never a kept one', () => {
  test('an answer cut inside refresh_token: the run fails, the access token is rescued, and a new authorization is named', async () => {
    const b = await generic()
    try {
      b.seed()
      const keys = await keygen()
      b.server.faults = onlyWhen(
        (r) => r.path.includes('/oauth/token'),
        faultQueue({ kind: 'transform', body: (json) => json.slice(0, json.indexOf('"refresh_token"') + '"refresh_token":"'.length + 12) })
      )
      const run = await b.run(b.inputs({ 'rescue-public-key': keys.publicKey }))
      const message = failure(run)
      assert.match(message, /answer carried a refresh token that did not arrive whole/)
      assert.match(message, /authorize the application again/)
      const pair = b.server.issued.at(-1)
      assert.equal(run.outputs['access-token'], pair?.access_token)
      assert.equal(await openRescueLine(run.log, keys.privateKey, 'access_token'), `${pair?.access_token ?? ''}\n`)
    } finally {
      await b.close()
    }
  })
})

describe('the rescue tool opens every rescue line of a log', () => {
  test('two failed writes in one job: both lines open, one refresh token per line with --field', async () => {
    const box = await sandbox()
    try {
      box.seed()
      const keys = await keygen()
      box.gh.faults = onlyWhen(putOf(SECRET), () => ({ kind: 'status', status: 403 }))
      const first = await box.run(box.inputs({ 'rescue-public-key': keys.publicKey }))
      const firstToken = box.amo.currentRefreshToken() ?? ''
      const second = await box.run(box.inputs({ 'rescue-public-key': keys.publicKey, 'refresh-token': firstToken }))
      box.gh.faults = undefined
      assert.equal(errors(first).length + errors(second).length, 2)
      const secondToken = box.amo.currentRefreshToken() ?? ''
      const log = `${first.log}\n${second.log}\n${second.summary}`
      assert.equal(await openRescueLine(log, keys.privateKey, 'refresh_token'), `${firstToken}\n${secondToken}\n`)
      const opened = JSON.parse(await openRescueLine(log, keys.privateKey)) as Array<{ refresh_token: string }>
      assert.deepEqual(
        opened.map((b) => b.refresh_token),
        [firstToken, secondToken]
      )
      // A line sealed to another key is not this key's: it is skipped, not an error.
      const dir = await mkdtemp(join(tmpdir(), 'rescue-'))
      const foreign = (await keygen()).privateKey
      await writeFile(join(dir, 'log.txt'), log)
      await assert.rejects(
        exec(process.execPath, [RESCUE_CLI, 'open', join(dir, 'log.txt')], { env: { ...process.env, TOKEN_ROTATION_RESCUE_KEY: foreign } }),
        /do not open with this private key/
      )
    } finally {
      await box.close()
    }
  })
})

describe('a 2xx whose body trickles in', () => {
  test('longer than the 30 s request time-out, never silent for long: the whole pair is read and stored', async () => {
    const box = await sandbox()
    try {
      box.seed()
      // About 1,100 bytes, 16 every half second: over 30 s in all.
      box.amo.faults = onlyWhen(tokenCall, faultQueue({ kind: 'drip', bytes: 16, everyMs: 500 }))
      const run = await box.run(box.inputs(), { timeoutMs: 90_000 })
      assert.equal(run.code, 0, run.log)
      assert.ok(run.durationMs > 30_000, `the body took ${run.durationMs} ms: the case is a body longer than the time-out`)
      chainHolds(box)
    } finally {
      await box.close()
    }
  })
})

describe('a server that revokes the whole grant when a spent token comes back (RFC 9700 §4.14.2)', () => {
  test('the stand-in: without this run’s times a possibly stale token is never sent, and the newer token lives', async () => {
    const b = await generic({ reuseDetection: true })
    try {
      const stale = b.seed()
      // Another run rotated: the provider and the secret hold the newer token.
      const newer = b.server.currentRefreshToken() === stale ? await rotateOnce(b.server.tokenUrl, b.server, stale) : ''
      b.gh.setSecret(REPO, b.secret, newer, undefined, Date.now() - 30_000)
      const run = await b.run(b.inputs({ 'refresh-token': stale }), { jobToken: 'ghs_no_actions_read' })
      const message = failure(run)
      assert.match(
        message,
        /^This run's times could not be read .* is not known to keep the newer token .* So nothing was sent: nothing is lost/
      )
      assert.match(message, /'permissions: actions: read'/)
      assert.equal(run.tokenRequests, 0)
      assert.deepEqual(b.server.familyRevocations, [])
      assert.equal(b.server.currentRefreshToken(), newer, 'the newer token is alive')
      assert.equal(b.gh.secret(REPO, b.secret)?.value, newer)
    } finally {
      await b.close()
    }
  })

  test('oidc-provider, the real one: the same — nothing is sent, the grant is not revoked', async () => {
    const op = await startOidcProvider()
    const gh = await startGitHub()
    try {
      const stale = await op.issueRefreshToken()
      const rotated = await op.refresh(stale)
      const newer = String(rotated.body.refresh_token)
      assert.ok(rotated.status === 200 && newer && newer !== stale)
      gh.setSecret(REPO, 'OAUTH_REFRESH_TOKEN', newer, undefined, Date.now() - 30_000)
      const run = await runAction({
        ...UNDER_TEST,
        inputs: {
          provider: 'oauth2',
          'token-url': op.tokenUrl,
          'client-id': op.clientId,
          'client-secret': op.clientSecret,
          'github-token': DEMO_GITHUB_TOKEN,
          'refresh-token': stale
        },
        // A job token that cannot read the run (no actions: read).
        jobToken: 'ghs_no_actions_read',
        env: { GITHUB_API_URL: gh.url, TOKEN_ROTATION_BACKOFF_MS: '5' }
      })
      assert.equal(run.code, 1, run.log)
      assert.match(run.log, /So nothing was sent: nothing is lost/)
      assert.deepEqual(op.revokedGrants, [], 'the grant was not revoked')
      assert.equal((await op.refresh(newer)).status, 200, 'the newer token still works')
    } finally {
      await Promise.all([op.close(), gh.close()])
    }
  })
})

/** Spends `token` at the generic stand-in's token endpoint, as another run would: the newer token. */
async function rotateOnce(tokenUrl: string, server: { clientId: string; clientSecret: string }, token: string): Promise<string> {
  const response = await fetch(tokenUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(server.clientId)}:${encodeURIComponent(server.clientSecret)}`).toString('base64')}`
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString()
  })
  const body = (await response.json()) as { refresh_token?: string }
  assert.equal(response.status, 200)
  return body.refresh_token ?? ''
}

describe('the 1.1 names still work', () => {
  test('AMOCRM_TOKEN_ACTION_BACKOFF_MS sets the retry wait, AMOCRM_RESCUE_PRIVATE_KEY opens a rescue line', async () => {
    const box = await sandbox()
    try {
      box.seed()
      const keys = await keygen()
      box.amo.faults = onlyWhen(tokenCall, faultQueue({ kind: 'status', status: 503 }))
      box.gh.faults = onlyWhen(putOf(SECRET), () => ({ kind: 'status', status: 403 }))
      const run = await box.run(box.inputs({ 'rescue-public-key': keys.publicKey }), {
        env: { TOKEN_ROTATION_BACKOFF_MS: '', AMOCRM_TOKEN_ACTION_BACKOFF_MS: '5' }
      })
      box.amo.faults = box.gh.faults = undefined
      assert.match(run.log, /attempt 1 got 503 .*; retrying in 0\.0 s\./)
      const dir = await mkdtemp(join(tmpdir(), 'rescue-'))
      await writeFile(join(dir, 'log.txt'), run.log)
      const { stdout } = await exec(process.execPath, [RESCUE_CLI, 'open', join(dir, 'log.txt'), '--field', 'refresh_token'], {
        env: { ...process.env, AMOCRM_RESCUE_PRIVATE_KEY: keys.privateKey }
      })
      assert.equal(stdout, `${box.amo.currentRefreshToken() ?? ''}\n`)
    } finally {
      await box.close()
    }
  })
})
