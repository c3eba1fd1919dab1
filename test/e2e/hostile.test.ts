/**
 * The promise under hostile and broken answers (issue "The promise under hostile and broken
 * answers"): the bundled action against stand-ins that answer the way a broken proxy, a hostile
 * server or GitHub under load would, and against the runner's real cancel sequence. After each,
 * the refresh token is in the secret or, said plainly, in the rescue line and the step outputs;
 * and no secret was shown (the harness checks every run, the runner's `##[` rule included).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { faultQueue, onlyWhen } from '../../sandbox/standins/faults.js'
import {
  besidesAlert,
  chainHolds,
  errors,
  failure,
  keygen,
  openRescueLine,
  putOf,
  REPO,
  sandbox,
  status,
  tokenCall,
  type Sandbox
} from './harness.js'
const SECRET = 'AMOCRM_REFRESH_TOKEN'
const PROBE = 'AMOCRM_REFRESH_TOKEN_WRITE_CHECK'

/** A promise and the function that settles it: the test decides when. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

describe('lost: the runner cancels while GitHub hangs', () => {
  let box: Sandbox
  before(async () => (box = await sandbox()))
  after(async () => box.close())

  test('SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after: the pair is rescued and the outputs set before the kill', async () => {
    box.seed()
    const keys = await keygen()
    // The secret write never gets an answer (and never lands).
    box.gh.faults = onlyWhen(putOf(SECRET), () => ({ kind: 'hold', until: new Promise<'reset'>(() => undefined), process: false }))
    const run = await box.run(box.inputs({ 'rescue-public-key': keys.publicKey }), {
      cancel: { when: (out) => out.includes('amoCRM issued a new token pair') }
    })
    box.gh.faults = undefined
    assert.equal(run.killed, false, `the runner had to kill the step:\n${run.log}`)
    const message = failure(run)
    assert.match(message, /was not confirmed in the time the runner leaves before it kills the step, so it may or may not have landed/)
    const current = box.amo.currentRefreshToken()
    assert.ok(current)
    assert.equal(run.outputs['refresh-token'], current)
    assert.equal(run.log.split('\n').filter((l) => l.startsWith('amocrm-rescue:v1:')).length, 1, run.log)
    assert.equal(await openRescueLine(run.log, keys.privateKey, 'refresh_token'), `${current}\n`)
    assert.notEqual(box.gh.secret(REPO, SECRET)?.value, current, 'the write really never landed')
  })

  test('without a rescue key the outputs are set before the write, so an if: failure() step has the token', async () => {
    box.seed()
    box.gh.faults = onlyWhen(putOf(SECRET), () => ({ kind: 'hold', until: new Promise<'reset'>(() => undefined), process: false }))
    const run = await box.run(box.inputs(), { cancel: { when: (out) => out.includes('amoCRM issued a new token pair') } })
    box.gh.faults = undefined
    assert.equal(run.killed, false, run.log)
    assert.match(failure(run), /if: failure\(\) can save steps\.<id>\.outputs\.refresh-token/)
    assert.equal(run.outputs['refresh-token'], box.amo.currentRefreshToken())
  })
})

describe('lost: a late answer never lets a retry write an old token over a newer one', () => {
  test('run A’s write lands but its answer is lost after run B rotated: A does not write T1 back', async () => {
    const box = await sandbox()
    try {
      box.seed()
      const arrived = deferred<void>()
      const release = deferred<'answer' | 'reset'>()
      let held = false
      box.gh.faults = (r) => {
        if (held || !putOf(SECRET)(r)) return undefined
        held = true
        arrived.resolve()
        // A's write lands at once; its answer waits for the test, then is lost.
        return { kind: 'hold', until: release.promise }
      }
      const runA = box.run(box.inputs())
      await arrived.promise
      const t1 = box.gh.secret(REPO, SECRET)?.value
      assert.ok(t1 && t1 === box.amo.currentRefreshToken(), 'A’s write landed')
      // B starts (a manual run, no concurrency group) with what the secret holds now.
      const runB = await box.run(box.inputs({ 'refresh-token': t1 }))
      assert.equal(runB.code, 0, runB.log)
      const t2 = box.amo.currentRefreshToken()
      assert.notEqual(t2, t1)
      release.resolve('reset')
      const a = await runA
      assert.equal(a.code, 0, a.log)
      assert.match(a.log, /it landed \(or a newer value came after it\), so it is not written again/)
      chainHolds(box)
      assert.deepEqual(
        box.gh.writes.filter((w) => w.name === SECRET).map((w) => w.value),
        [t1, t2],
        'no third write: T1 never went back over T2'
      )
    } finally {
      await box.close()
    }
  })
})

describe('lost: a 2xx is the new pair, however it looks', () => {
  let box: Sandbox
  before(async () => (box = await sandbox()))
  after(async () => box.close())

  for (const [name, body, warned] of [
    ['trailing junk (a proxy’s comment)', (json: string) => `${json}\n<!-- cache: HIT -->`, true],
    [
      'a PHP notice before the JSON',
      (json: string) => `<br />\n<b>Notice</b>:  Undefined index: state in <b>/var/www/oauth.php</b> on line <b>7</b><br />\n${json}`,
      true
    ],
    // Clean JSON whose optional fields are null: nothing to warn about; the outputs say what is unknown.
    [
      'null optional fields',
      (json: string) => JSON.stringify({ ...(JSON.parse(json) as object), token_type: null, expires_in: null }),
      false
    ]
  ] as const) {
    test(`${name}: stored${warned ? ', then a warning' : ''}`, async () => {
      box.seed()
      box.amo.faults = onlyWhen(tokenCall, faultQueue({ kind: 'transform', body }))
      const run = await box.run(box.inputs())
      assert.equal(run.code, 0, run.log)
      assert.equal(run.tokenRequests, 1)
      chainHolds(box)
      const warning = /Warning: amoCRM's answer \(200\) was not clean JSON.*They are stored/
      if (warned) assert.match(run.log, warning)
      else assert.doesNotMatch(run.log, warning)
      assert.equal(run.outputs['token-type'], 'Bearer')
    })
  }

  test('a null access token: the refresh token is still stored, then the run fails and says why', async () => {
    box.seed()
    box.amo.faults = onlyWhen(
      tokenCall,
      faultQueue({ kind: 'transform', body: (json) => JSON.stringify({ ...(JSON.parse(json) as object), access_token: null }) })
    )
    const run = await box.run(box.inputs({ 'access-token-secret': 'AMOCRM_ACCESS_TOKEN' }))
    assert.match(failure(run), /answered without an access token: the new refresh token is safe/)
    chainHolds(box)
    assert.notEqual(box.gh.secret(REPO, 'AMOCRM_ACCESS_TOKEN')?.value, '', 'no empty value is written over the access-token secret')
  })

  test('cut off after the tokens: recovered, stored, never retried', async () => {
    box.seed()
    // The stand-in answers token_type, expires_in, access_token, refresh_token, server_time: cut just before server_time.
    let cutAt = 0
    box.amo.faults = onlyWhen(
      tokenCall,
      faultQueue({
        kind: 'transform',
        body: (json) => {
          cutAt = json.indexOf('"server_time"')
          return json
        }
      })
    )
    // First learn where the refresh token ends in an answer of this stand-in, then cut the next one there.
    await box.run(box.inputs())
    assert.ok(cutAt > 0)
    box.amo.faults = onlyWhen(tokenCall, faultQueue({ kind: 'cut', bytes: cutAt }))
    const run = await box.run(box.inputs())
    assert.equal(run.code, 0, run.log)
    assert.equal(run.tokenRequests, 1, 'a cut 2xx is never retried with the spent token')
    chainHolds(box)
    assert.match(run.log, /was cut off .* the tokens were recovered/)
  })

  test('cut off before the tokens: one request, and a message that says the token may be spent', async () => {
    box.seed()
    box.amo.faults = onlyWhen(tokenCall, faultQueue({ kind: 'cut', bytes: 40 }))
    const run = await box.run(box.inputs())
    assert.equal(run.tokenRequests, 1)
    assert.match(failure(run), /without a readable token pair \(the answer was cut off/)
  })
})

describe('printed: server text cannot switch masking off', () => {
  let box: Sandbox
  before(async () => (box = await sandbox()))
  after(async () => box.close())

  test('##[stop-commands] in an amoCRM error body, then success: the new tokens are still masked', async () => {
    box.seed()
    box.amo.faults = onlyWhen(
      tokenCall,
      faultQueue(status(502, { body: 'upstream ##[stop-commands]pwned ::add-mask::x', contentType: 'text/plain' }))
    )
    // The harness fails the run if any secret is shown (it renders the log by the runner's rules).
    const run = await box.run(box.inputs())
    assert.equal(run.code, 0, run.log)
    assert.ok(!run.stdout.includes('##[stop-commands]'), 'printed raw')
    chainHolds(box)
  })

  test('##[stop-commands] in a GitHub error message before the spend: the new tokens are still masked', async () => {
    box.seed()
    box.gh.faults = onlyWhen(
      putOf(PROBE),
      faultQueue(status(502, { body: JSON.stringify({ message: 'Server Error ##[stop-commands]pwned' }), contentType: 'application/json' }))
    )
    const run = await box.run(box.inputs())
    assert.equal(run.code, 0, run.log)
    assert.ok(!run.stdout.includes('##[stop-commands]'))
    chainHolds(box)
  })

  test('secrets echoed in error bodies at many offsets: no 12 consecutive characters of one are shown', async () => {
    const token = box.seed()
    const secret = box.amo.clientSecret
    for (const offset of [0, 1, 17, 60, 100, 118, 119, 150, 199, 230]) {
      const body = `${'e'.repeat(offset)} client_secret=${secret}&refresh_token=${token} rest`
      box.amo.faults = onlyWhen(tokenCall, faultQueue(status(400, { body, contentType: 'text/plain' })))
      const run = await box.run(box.inputs())
      const shown = `${run.log}\n${run.summary}\n${run.stderr}`
      for (const value of [secret, token]) {
        for (let i = 0; i + 12 <= value.length; i++) {
          assert.ok(
            !shown.includes(value.slice(i, i + 12)),
            `offset ${offset}: 12 characters of a secret shown:\n${errors(run).join('\n')}`
          )
        }
      }
    }
    box.amo.faults = undefined
  })

  test('a 400 KB error body is handled in seconds, not minutes', async () => {
    box.seed()
    box.amo.faults = onlyWhen(tokenCall, faultQueue(status(400, { body: '<'.repeat(400 * 1024), contentType: 'text/html' })))
    const run = await box.run(box.inputs())
    assert.match(failure(run), /amoCRM refused the refresh token/)
    // Quadratic excerpting took 46 s for 0.7 MB; bounded, this is milliseconds of work.
    assert.ok(run.durationMs < 20_000, `${run.durationMs} ms`)
  })

  test('a hostile answer cannot plant a live link in the job summary', async () => {
    box.seed()
    box.amo.faults = onlyWhen(
      tokenCall,
      faultQueue(
        status(400, { body: JSON.stringify({ hint: 'Re-authorize [here](https://evil.example/login) ![x](https://evil.example/p.png)' }) })
      )
    )
    const run = await box.run(box.inputs())
    failure(run)
    const fenced = run.summary.match(/^(`{3,})text\n([^]*?)\n\1$/m)
    assert.ok(fenced, run.summary)
    assert.match(fenced[2] ?? '', /\[here\]\(https:\/\/evil\.example\/login\)/, 'the server text is inside the code block')
    assert.equal(run.summary.replace(fenced[0], '').includes('evil.example'), false, 'and nowhere else')
  })
})

describe('GitHub under load and organizations', () => {
  let box: Sandbox
  before(async () => (box = await sandbox()))
  after(async () => box.close())

  test('a 429 without retry-after, with a reset time, after the spend: waited for, then stored', async () => {
    box.seed()
    const reset = Math.floor(box.ghNow() / 1000) + 2
    box.gh.faults = onlyWhen(
      putOf(SECRET),
      faultQueue(
        status(429, {
          body: JSON.stringify({ message: 'API rate limit exceeded for installation.' }),
          contentType: 'application/json',
          headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) }
        })
      )
    )
    const run = await box.run(box.inputs())
    assert.equal(run.code, 0, run.log)
    chainHolds(box)
    const puts = box.gh.requests.filter(putOf(SECRET)).slice(-2)
    assert.equal(puts.length, 2)
    assert.ok((puts[1]?.at ?? 0) - (puts[0]?.at ?? 0) >= 1000, 'the reset time was honoured, not a short backoff')
    assert.match(run.log, /failed \(429: API rate limit exceeded/)
  })

  test('a "selected" organization secret rotated by a run that names no visibility keeps its repositories', async () => {
    const org = { org: 'acme' }
    const token = box.seed()
    box.gh.setSecret(org, SECRET, token, { visibility: 'selected', selected_repository_ids: [700001, 700003] }, box.ghNow() - 3600_000)
    const run = await box.run(box.inputs({ organization: 'acme' }))
    assert.equal(run.code, 0, run.log)
    const stored = box.gh.secret(org, SECRET)
    assert.equal(stored?.value, box.amo.currentRefreshToken())
    assert.equal(stored?.visibility, 'selected')
    assert.deepEqual(stored?.selected_repository_ids, [700001, 700003])
  })

  test('a pre-existing secret with the probe’s name is never overwritten or deleted', async () => {
    box.seed()
    box.gh.setSecret(REPO, PROBE, 'not the action’s')
    const [before, requestsBefore] = [box.gh.writes.length, box.gh.requests.length]
    const run = await box.run(box.inputs())
    assert.equal(run.code, 0, run.log)
    const writes = box.gh.writes.slice(before)
    assert.equal(box.gh.secret(REPO, PROBE)?.value, 'not the action’s')
    assert.equal(writes.filter((w) => w.name === PROBE).length, 0)
    assert.ok(
      !box.gh.requests.slice(requestsBefore).some((r) => r.method === 'DELETE' && r.path.endsWith(`/secrets/${PROBE}`)),
      'never deleted'
    )
    const own = writes.filter((w) => w.name.startsWith(`${PROBE}_`))
    assert.equal(own.length, 1, 'a run-unique probe was used')
    assert.equal(box.gh.secret(REPO, own[0]?.name ?? ''), undefined, 'and deleted')
    chainHolds(box)
  })
})

describe('organization lookups', () => {
  test('120 selected repositories: read from the organization’s list, duplicates once; a transferred one is refused before the spend', async () => {
    const repositories = [
      { owner: 'acme', name: 'crm-sync', id: 700001 },
      ...Array.from({ length: 120 }, (_, i) => ({ owner: 'acme', name: `repo-${i}`, id: 710000 + i })),
      { owner: 'elsewhere', name: 'old-tool', id: 720000, transferredFrom: 'acme/old-tool' }
    ]
    const box = await sandbox({ gh: { repositories, organizations: ['acme', 'elsewhere'] } })
    try {
      box.seed()
      const names = repositories.slice(1, 121).map((r) => r.name)
      box.gh.resetMaxInFlight()
      const run = await box.run(
        box.inputs({ organization: 'acme', visibility: 'selected', 'selected-repositories': [...names, ...names.slice(0, 10)].join(',') })
      )
      assert.equal(run.code, 0, run.log)
      assert.ok(box.gh.maxInFlight <= 16, `${box.gh.maxInFlight} requests at once`)
      // 121 repositories of acme: its list's two pages and a third (asked at once in case there are more), no lookup one by one.
      assert.deepEqual(
        box.gh.requests
          .filter((r) => r.path.startsWith('/orgs/acme/repos'))
          .map((r) => new URL(r.path, 'http://x').searchParams.get('page'))
          .sort(),
        ['1', '2', '3']
      )
      assert.equal(box.gh.requests.filter((r) => /^\/repos\/acme\/repo-\d+$/.test(r.path)).length, 0)
      assert.equal(box.gh.secret({ org: 'acme' }, SECRET)?.selected_repository_ids?.length, 120)

      const spent = box.amo.issued.length
      const moved = await box.run(
        box.inputs({ organization: 'acme', visibility: 'selected', 'selected-repositories': 'crm-sync, old-tool' })
      )
      assert.match(failure(moved), /names acme\/old-tool, which is now elsewhere\/old-tool \(it was transferred or renamed\)/)
      assert.equal(box.amo.issued.length, spent, 'the token was not spent')
    } finally {
      await box.close()
    }
  })
})

describe('inputs refused before any request', () => {
  let box: Sandbox
  before(async () => (box = await sandbox()))
  after(async () => box.close())

  for (const [name, extra, pattern] of [
    [
      'an all-zero rescue-public-key',
      { 'rescue-public-key': Buffer.alloc(32).toString('base64') },
      /Input 'rescue-public-key' is not a usable public key/
    ],
    ['environment ".."', { environment: '..' }, /Input 'environment' '\.\.' is not an environment name/],
    ['environment "a/../b"', { environment: 'a/../b' }, /is not an environment name/]
  ] as const) {
    test(name, async () => {
      box.seed()
      const [gh, amo] = [box.gh.requests.length, box.amo.requests.length]
      const run = await box.run(box.inputs(extra))
      assert.match(failure(run), pattern)
      assert.deepEqual(besidesAlert(box.gh.requests.slice(gh)), [], 'no request to GitHub but the alert issue')
      assert.equal(box.amo.requests.length, amo, 'no request to amoCRM')
    })
  }
})

describe('the rescue tool', () => {
  test('--field prints only real fields; a base64url private key opens the line', async () => {
    const box = await sandbox()
    try {
      box.seed()
      const keys = await keygen()
      box.gh.faults = onlyWhen(putOf(SECRET), () => status(502))
      const run = await box.run(box.inputs({ 'rescue-public-key': keys.publicKey }))
      failure(run)
      const urlKey = Buffer.from(keys.privateKey, 'base64').toString('base64url')
      assert.equal(await openRescueLine(run.log, urlKey, 'refresh_token'), `${box.amo.currentRefreshToken()}\n`)
      const inherited = await openRescueLine(run.log, keys.privateKey, 'constructor').then(
        () => 'exit 0',
        (error: { code?: number; stderr?: string }) => `exit ${error.code}: ${error.stderr}`
      )
      assert.match(inherited, /^exit 1: token-rotation-rescue: no field 'constructor' in the rescue/)
    } finally {
      await box.close()
    }
  })
})

describe('GitHub answers of any size', () => {
  test('a 403 with a 50 MB body: one clear sentence, nothing spent, and the memory of a small answer', async () => {
    const box = await sandbox()
    try {
      box.seed()
      const baseline = await box.run(box.inputs(), { measureMemory: true })
      assert.equal(baseline.code, 0, baseline.log)
      box.seed()
      const huge = `<html><body>${'x'.repeat(50 * 1024 * 1024)}</body></html>`
      box.gh.faults = onlyWhen(
        (r) => r.path.endsWith('/actions/secrets/public-key'),
        () => status(403, { body: huge, contentType: 'text/html' })
      )
      const run = await box.run(box.inputs(), { measureMemory: true })
      box.gh.faults = undefined
      assert.match(failure(run), /^GitHub refused to read the public key of repository acme\/crm-sync \(403: /)
      assert.equal(run.tokenRequests, 0)
      const [before, after] = [baseline.maxRssKiB ?? 0, run.maxRssKiB ?? 0]
      assert.ok(before > 0 && after > 0, 'both runs measured')
      // Read up to 1 MiB (it was 300 MB for this answer): within 32 MiB of a healthy run.
      assert.ok(after - before < 32 * 1024, `peak ${Math.round(after / 1024)} MiB against ${Math.round(before / 1024)} MiB`)
    } finally {
      await box.close()
    }
  })
})
