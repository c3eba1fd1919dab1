/**
 * Right against the real services (issue "Right against the real services"): what amoCRM answers
 * for an expired or damaged refresh token, and GitHub's rule that repository secrets are read when
 * a run is queued — the bundled action, the stand-ins, and the message a user gets.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { onlyWhen } from '../../sandbox/standins/faults.js'
import { failure, REPO, sandbox, tokenCall } from './harness.js'

const SECRET = 'AMOCRM_REFRESH_TOKEN'
const DAY = 24 * 3600 * 1000

describe('amoCRM: tokens that can no longer be spent', () => {
  test('a refresh token unused for 3 months: "went unused too long", a new code, never "check client-id"', async () => {
    let clock = Date.now()
    const box = await sandbox({ amo: { now: () => clock } })
    try {
      box.seed()
      clock += 91 * DAY
      const run = await box.run(box.inputs())
      const message = failure(run)
      assert.match(message, /401 Token has expired\): the refresh token went unused too long/)
      assert.match(message, /Take a new authorization code/)
      assert.doesNotMatch(message, /check 'client-id'/)
    } finally {
      await box.close()
    }
  })

  test('a damaged refresh token: "damaged", a new code, not "copy the code again"', async () => {
    const box = await sandbox()
    try {
      box.seed()
      const run = await box.run(box.inputs({ 'refresh-token': 'def50200-cut-in-the-middle-by-a-copy' }))
      const message = failure(run)
      assert.match(message, /Cannot decrypt the refresh token\): the refresh token is damaged/)
      assert.doesNotMatch(message, /copy it again/)
    } finally {
      await box.close()
    }
  })

  test('a 5xx, then "revoked" on the retry: the message is true whether or not the first attempt spent it', async () => {
    const box = await sandbox()
    try {
      box.seed()
      let first = true
      // The first attempt reaches amoCRM and spends the token (another pair becomes current), but
      // the answer is a server error.
      box.amo.faults = onlyWhen(tokenCall, () => {
        if (!first) return undefined
        first = false
        box.amo.setRefreshToken(`def50200${'0'.repeat(64)}`)
        return { kind: 'status', status: 502 }
      })
      const message = failure(await box.run(box.inputs()))
      assert.match(
        message,
        /It was met on a retry: an earlier attempt of this run may have reached amoCRM and spent the token \(its answer was lost or was a server error\)/
      )
      assert.doesNotMatch(message, /got no answer/)
    } finally {
      await box.close()
    }
  })
})

describe('GitHub: repository secrets are read when the run is queued', () => {
  test('queued before another run rotated: the stale token is not spent, nothing is stored, nothing is lost', async () => {
    const box = await sandbox()
    try {
      const stale = box.seed()
      // Another run, ahead in the queue, rotated after this one was queued.
      const newer = `def50200${'c'.repeat(64)}`
      box.amo.setRefreshToken(newer)
      box.gh.setSecret(REPO, SECRET, newer, undefined, box.ghNow() - 30_000)
      const run = await box.run(box.inputs({ 'refresh-token': stale }), { queuedAt: box.ghNow() - 60_000 })
      const message = failure(run)
      assert.match(message, /^Another run rotated the token after this run read it: .* was updated at .*, after this run was queued/)
      assert.match(message, /it was not sent and nothing was stored: nothing is lost/)
      assert.match(message, /environment secret, which a job reads when it starts/)
      assert.equal(run.tokenRequests, 0, 'the stale token was never sent (RFC 9700: reuse may revoke the family)')
      assert.equal(box.gh.secret(REPO, SECRET)?.value, newer)
      assert.equal(box.amo.currentRefreshToken(), newer)
      assert.equal(box.gh.writes.length, 0, 'not even the probe')
    } finally {
      await box.close()
    }
  })

  test("the same, without the run's times (no actions: read): spent, revoked, and the message names both outcomes", async () => {
    const box = await sandbox()
    try {
      const stale = box.seed()
      const newer = `def50200${'d'.repeat(64)}`
      box.amo.setRefreshToken(newer)
      box.gh.setSecret(REPO, SECRET, newer, undefined, box.ghNow() - 30_000)
      const run = await box.run(box.inputs({ 'refresh-token': stale }), { queuedAt: box.ghNow() - 60_000, jobToken: 'ghs_no_actions_read' })
      const message = failure(run)
      assert.match(
        run.log,
        /This run's times could not be read \(.*\), so the check .* is skipped\. Give the job 'permissions: actions: read'/
      )
      assert.match(
        message,
        /could not tell whether that was after it was queued .*if another run rotated the token after this run was queued, nothing is lost/
      )
      assert.equal(box.gh.secret(REPO, SECRET)?.value, newer, 'the newer token is untouched')
    } finally {
      await box.close()
    }
  })

  test('an environment secret is read when the job starts: an update after the queue time is no reason to stop', async () => {
    const box = await sandbox()
    try {
      box.seed()
      const env = { repo: 'acme/crm-sync', environment: 'production' }
      const current = box.amo.currentRefreshToken() ?? ''
      box.gh.setSecret(env, SECRET, current, undefined, box.ghNow() - 30_000)
      const run = await box.run(box.inputs({ environment: 'production' }), { queuedAt: box.ghNow() - 60_000 })
      assert.equal(run.code, 0, run.log)
      assert.equal(box.gh.secret(env, SECRET)?.value, box.amo.currentRefreshToken())
    } finally {
      await box.close()
    }
  })

  test('a later step of the same job spends the token an earlier step stored: not stale', async () => {
    const box = await sandbox()
    try {
      const code = box.amo.issueCode()
      const first = await box.run(box.inputs({ 'authorization-code': code, 'refresh-token': '' }), { queuedAt: box.ghNow() - 60_000 })
      assert.equal(first.code, 0, first.log)
      const marks = Object.entries(first.exportedEnv).filter(([name]) => name.startsWith('TOKEN_ROTATION_STORED_'))
      assert.equal(marks.length, 1, 'the stored token is marked for later steps, one mark for this target and secret')
      const second = await box.run(box.inputs({ 'refresh-token': first.outputs['refresh-token'] ?? '' }), {
        queuedAt: box.ghNow() - 60_000,
        env: Object.fromEntries(marks)
      })
      assert.equal(second.code, 0, second.log)
      assert.match(second.log, /stored by an earlier step of this job/)
      assert.equal(box.gh.secret(REPO, SECRET)?.value, box.amo.currentRefreshToken())
    } finally {
      await box.close()
    }
  })
})
