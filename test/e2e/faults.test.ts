/**
 * Never lose the refresh token (issue "Fault tolerance"): faults injected into the stand-ins while
 * the bundled action runs. After each, the secret holds amoCRM's current refresh token, or the run
 * says exactly where the token is (rescue line, step output) and why.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFile, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { faultQueue, nginxHtml, onlyWhen } from '../../sandbox/standins/faults.js'
import { chainHolds, failure, keygen, putOf, REPO, RESCUE_CLI, sandbox, status, tokenCall, type Sandbox } from './harness.js'

const run = promisify(execFile)

describe('GitHub faults', () => {
  let box: Sandbox
  before(async () => (box = await sandbox()))
  after(async () => box.close())

  test('the secret write fails transiently (502, reset, lost answer, secondary rate limit), then succeeds', async () => {
    box.seed()
    box.gh.faults = onlyWhen(putOf('AMOCRM_REFRESH_TOKEN'), faultQueue(status(502), { kind: 'reset' }, { kind: 'lost-response' }))
    const run1 = await box.run(box.inputs())
    assert.equal(run1.code, 0, run1.log)
    chainHolds(box)
    assert.match(run1.log, /retrying/)

    box.gh.faults = faultQueue(
      status(403, {
        body: JSON.stringify({ message: 'You have exceeded a secondary rate limit.' }),
        contentType: 'application/json',
        headers: { 'retry-after': '0' }
      }),
      status(503),
      status(429, { headers: { 'retry-after': '0' } })
    )
    const run2 = await box.run(box.inputs())
    assert.equal(run2.code, 0, run2.log)
    chainHolds(box)
  })

  test('the public key changes between reading it and writing: read again, write once more', async () => {
    box.seed()
    let rotated = false
    box.gh.faults = (r) => {
      if (!rotated && putOf('AMOCRM_REFRESH_TOKEN')(r)) {
        rotated = true
        box.gh.rotateKey(REPO)
      }
      return undefined
    }
    const result = await box.run(box.inputs())
    assert.equal(result.code, 0, result.log)
    assert.ok(rotated)
    chainHolds(box)
  })

  test('the write fails for good: the pair is rescued, sealed to the rescue key, and opens', async () => {
    box.seed()
    const keys = await keygen()
    box.gh.faults = onlyWhen(putOf('AMOCRM_REFRESH_TOKEN'), () => status(502))
    const result = await box.run(box.inputs({ 'rescue-public-key': keys.publicKey }))
    const message = failure(result)
    assert.match(message, /could not be stored/)
    assert.match(message, /sealed to 'rescue-public-key'/)
    const current = box.amo.currentRefreshToken()
    assert.notEqual(box.gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value, current, 'the write really failed')
    // The output is still set for an if: failure() step.
    assert.equal(result.outputs['refresh-token'], current)

    // One rescue line, in the log and in the summary; the tool opens it with the private key.
    const lines = result.log.split('\n').filter((l) => l.startsWith('amocrm-rescue:v1:'))
    assert.equal(lines.length, 1, result.log)
    assert.ok(result.summary.includes(lines[0] ?? '-'), 'the summary carries the same line')
    const dir = await mkdtemp(join(tmpdir(), 'rescue-'))
    await writeFile(join(dir, 'log.txt'), result.log)
    const opened = await run(process.execPath, [RESCUE_CLI, 'open', join(dir, 'log.txt')], {
      env: { ...process.env, TOKEN_ROTATION_RESCUE_KEY: keys.privateKey }
    })
    const bundle = JSON.parse(opened.stdout) as Record<string, string>
    assert.equal(bundle.refresh_token, current)
    assert.equal(bundle.access_token, box.amo.issued.at(-1)?.access_token)
    assert.equal(bundle.secret, 'AMOCRM_REFRESH_TOKEN')
    assert.match(bundle.expires_at ?? '', /^\d{4}-\d{2}-\d{2}T/)
    assert.equal(bundle.account, 'demo.amocrm.ru')
    await writeFile(join(dir, 'key.txt'), `${keys.privateKey}\n`)
    const field = await run(process.execPath, [
      RESCUE_CLI,
      'open',
      join(dir, 'log.txt'),
      '--field',
      'refresh_token',
      '--key-file',
      join(dir, 'key.txt')
    ])
    assert.equal(field.stdout, `${current}\n`)

    // A wrong private key does not open it, and says so.
    const other = await keygen()
    const wrong = await run(process.execPath, [RESCUE_CLI, 'open', join(dir, 'log.txt')], {
      env: { ...process.env, TOKEN_ROTATION_RESCUE_KEY: other.privateKey }
    }).catch((e: { stderr?: string }) => e)
    assert.match(String((wrong as { stderr?: string }).stderr), /does not open with this private key/)
  })

  test('the write is refused (403) after the write check passed, without a rescue key: the output still carries the token', async () => {
    box.seed()
    box.gh.faults = onlyWhen(putOf('AMOCRM_REFRESH_TOKEN'), () =>
      status(403, { body: JSON.stringify({ message: 'Resource not accessible by integration' }), contentType: 'application/json' })
    )
    const result = await box.run(box.inputs())
    const message = failure(result)
    assert.match(message, /could not be stored: GitHub refused to write .*403.*"Secrets: Read and write"/)
    assert.match(message, /if: failure\(\)/)
    assert.match(message, /rescue-public-key/)
    assert.equal(result.outputs['refresh-token'], box.amo.currentRefreshToken())
  })

  test('only the access-token secret fails: the refresh token is stored and the run fails clearly', async () => {
    box.seed()
    box.gh.faults = onlyWhen(putOf('AMOCRM_ACCESS_TOKEN'), () => status(500))
    const result = await box.run(box.inputs({ 'access-token-secret': 'AMOCRM_ACCESS_TOKEN' }))
    assert.match(failure(result), /The refresh token is safe .* but the access token could not be stored/)
    chainHolds(box)
  })
})

describe('amoCRM faults', () => {
  let box: Sandbox
  // GitHub's clock an hour behind: the seeded secret dates from well before each job.
  before(async () => (box = await sandbox({ gh: { now: () => Date.now() - 3600_000 } })))
  after(async () => box.close())

  test('5xx with an HTML body, a reset and a 429, then success', async () => {
    box.seed()
    box.amo.faults = onlyWhen(
      tokenCall,
      faultQueue(
        status(502, { body: nginxHtml(502), contentType: 'text/html' }),
        { kind: 'reset' },
        status(429, { headers: { 'retry-after': '0' } })
      )
    )
    const result = await box.run(box.inputs())
    assert.equal(result.code, 0, result.log)
    assert.equal(result.tokenRequests, 4)
    chainHolds(box)
  })

  test('down for good: the old token is still in the secret and the message says what that means', async () => {
    const token = box.seed()
    box.amo.faults = onlyWhen(tokenCall, () => status(503, { body: nginxHtml(503), contentType: 'text/html' }))
    const message = failure(await box.run(box.inputs()))
    assert.match(message, /did not issue tokens after 4 attempts/)
    assert.match(message, /may or may not have been spent/)
    assert.equal(box.gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value, token, 'the secret was not touched')
    box.amo.faults = undefined
  })

  test('a 403 HTML block page is explained', async () => {
    box.seed()
    box.amo.faults = onlyWhen(tokenCall, faultQueue(status(403, { body: nginxHtml(403), contentType: 'text/html' })))
    assert.match(failure(await box.run(box.inputs())), /403 with an HTML page.*blocks an address that sends too many requests/)
  })

  test('the answer is lost after the token was spent: the retry meets "revoked" and the message says why', async () => {
    box.seed()
    box.amo.faults = onlyWhen(tokenCall, faultQueue({ kind: 'lost-response' }))
    const message = failure(await box.run(box.inputs()))
    assert.match(message, /It was met on a retry: an earlier attempt of this run may have reached amoCRM and spent the token/)
    assert.match(message, /so no other run rotated it since\. A new authorization code is needed/)
  })
})

describe('"Token has been revoked" is diagnosed', () => {
  test('a token used elsewhere long ago: a new authorization code is needed', async () => {
    // The secret was last written an hour ago, long before this job started.
    const box = await sandbox({ gh: { now: () => Date.now() - 3600_000 } })
    try {
      const stale = box.seed()
      box.amo.setRefreshToken(`def50200${'9'.repeat(64)}`)
      const message = failure(await box.run(box.inputs({ 'refresh-token': stale })))
      assert.match(message, /revoked.*before this run was queued .*so no other run rotated it since/)
      assert.match(message, /A new authorization code is needed/)
    } finally {
      await box.close()
    }
  })

  test('two runs started together with the same token: one rotates, the other says nothing is lost', async () => {
    const box = await sandbox()
    try {
      box.seed()
      const inputs = box.inputs()
      // Both queued before either started, as two runs queued together are on GitHub: whichever
      // process starts first (two busy cores may start one a whole rotation later), the other's
      // diagnosis rests on the queue time, not on the order the processes happened to start in.
      const queuedAt = box.ghNow() - 1000
      const [a, b] = await Promise.all([box.run(inputs, { queuedAt }), box.run(inputs, { queuedAt })])
      const codes = [a.code, b.code].sort()
      assert.deepEqual(codes, [0, 1], `${a.log}\n----\n${b.log}`)
      const loser = a.code === 1 ? a : b
      // Caught before the spend (the secret changed after the loser was queued) or after it (revoked).
      assert.match(failure(loser), /[Aa]nother run rotated the token (first|after this run read it)[^]*[Nn]othing is lost/)
      chainHolds(box)
      // And the chain goes on from there.
      const next = await box.run(box.inputs())
      assert.equal(next.code, 0, next.log)
      chainHolds(box)
    } finally {
      await box.close()
    }
  })
})

describe('cancellation', () => {
  let box: Sandbox
  before(async () => (box = await sandbox()))
  after(async () => box.close())

  test('SIGTERM while the new token is being written: the write finishes, then the run fails', async () => {
    box.seed()
    box.gh.faults = onlyWhen(putOf('AMOCRM_REFRESH_TOKEN'), faultQueue({ kind: 'delay', ms: 800 }))
    const result = await box.run(box.inputs(), {
      signal: { name: 'SIGTERM', when: (out) => out.includes('amoCRM issued a new token pair') }
    })
    assert.match(failure(result), /cancelled \(SIGTERM\) after the token was spent; the new refresh token was stored first/)
    assert.match(result.log, /storing the new token before stopping/)
    chainHolds(box)
  })

  test('SIGINT then SIGTERM while the write is failing and retried: it still lands', async () => {
    box.seed()
    box.gh.faults = onlyWhen(putOf('AMOCRM_REFRESH_TOKEN'), faultQueue(status(502), status(502)))
    const result = await box.run(box.inputs(), {
      env: { TOKEN_ROTATION_BACKOFF_MS: '5000' },
      signal: [
        { name: 'SIGINT', when: (out) => out.includes('amoCRM issued a new token pair') },
        { name: 'SIGTERM', when: (out) => out.includes('retrying') }
      ]
    })
    assert.match(failure(result), /cancelled \(SIGINT\)/)
    // 5 s backoff would outlive the runner's patience; cancelled, the waits are short.
    assert.ok(result.durationMs < 4000, `took ${result.durationMs} ms:\n${result.log}`)
    chainHolds(box)
  })

  test('SIGTERM before the token is spent: stops at once, nothing changed', async () => {
    const token = box.seed()
    box.gh.faults = onlyWhen(putOf('AMOCRM_REFRESH_TOKEN_WRITE_CHECK'), faultQueue({ kind: 'delay', ms: 1500 }))
    const result = await box.run(box.inputs(), { signal: { name: 'SIGTERM', when: (out) => out.includes('amoCRM account') } })
    assert.match(failure(result), /Cancelled \(SIGTERM\) before the token was spent: nothing was changed/)
    assert.equal(result.tokenRequests, 0)
    assert.equal(box.amo.currentRefreshToken(), token)
    assert.equal(box.gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value, token)
  })
})
