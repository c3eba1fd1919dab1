import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { alertMarker, decideAlert, type AlertContext } from '../../src/alert.js'

const SECRET = 'repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync'
const NOW = new Date('2026-12-05T03:17:12Z')

function context(overrides: Partial<AlertContext> = {}): AlertContext {
  return {
    label: 'amoCRM',
    secret: SECRET,
    failure: 'amoCRM says the refresh token has been revoked (401 Token has been revoked).',
    needs: 'authorization',
    attention: [],
    lastDay: undefined,
    lastDayWhy: undefined,
    newAuthorization: 'A new authorization code is needed.',
    rescueLine: undefined,
    spent: true,
    runUrl: 'https://github.com/acme/crm-sync/actions/runs/42',
    workflowUrl: 'https://github.com/acme/crm-sync/actions/workflows/rotate.yml',
    now: NOW,
    ...overrides
  }
}

function created(c: AlertContext): { title: string; body: string } {
  const action = decideAlert(c, undefined)
  assert.equal(action.kind, 'create')
  return action.kind === 'create' ? action : { title: '', body: '' }
}

describe('decideAlert', () => {
  test('a failure with nothing open: one issue, labelled, with the marker and the state', () => {
    const action = decideAlert(context(), undefined)
    assert.equal(action.kind, 'create')
    if (action.kind !== 'create') return
    assert.deepEqual(action.labels, ['token-rotation'])
    assert.equal(action.title, `Token rotation failing: ${SECRET}`)
    assert.ok(
      action.body.startsWith(`${alertMarker(SECRET)}\n<!-- token-rotation-state: {"since":"2026-12-05T03:17:12.000Z","runs":1,"sig":"`)
    )
    assert.match(action.body, /\*\*Failing since:\*\* 2026-12-05 03:17 UTC \(1 run\)/)
  })

  test('a healthy run with nothing open does nothing; with one open, comments once and closes', () => {
    const healthy = context({ failure: undefined, needs: undefined, lastDay: new Date('2027-03-05T03:17:12Z') })
    assert.deepEqual(decideAlert(healthy, undefined), { kind: 'none' })
    const close = decideAlert(healthy, { number: 7, body: created(context()).body })
    assert.equal(close.kind, 'close')
    if (close.kind === 'close') {
      assert.equal(close.number, 7)
      assert.match(
        close.comment,
        /^Healthy again: \[this run\]\(https:\/\/github\.com\/acme\/crm-sync\/actions\/runs\/42\) at 2026-12-05 03:17 UTC kept the .* working; the refresh token can now be used until 2027-03-05\. Closing\.$/
      )
    }
  })

  test('the same diagnosis the next night: the body is updated (2 runs, the first date kept), no comment', () => {
    const first = created(context())
    const next = decideAlert(context({ now: new Date('2026-12-06T03:17:40Z'), failure: context().failure?.replace('401', '401') }), {
      number: 3,
      body: first.body
    })
    assert.equal(next.kind, 'update')
    if (next.kind !== 'update') return
    assert.equal(next.comment, undefined)
    assert.match(next.body, /\*\*Failing since:\*\* 2026-12-05 03:17 UTC \(2 runs\)/)
    assert.match(next.body, /\*\*Last run:\*\* \[2026-12-06 03:17 UTC\]/)
  })

  test('numbers and dates that change from night to night are the same diagnosis; another kind is not', () => {
    const first = created(context({ failure: 'x was updated at 2026-12-05T03:00:00Z (401)' }))
    const dates = decideAlert(context({ failure: 'x was updated at 2026-12-06T03:00:01Z (401)' }), { number: 1, body: first.body })
    assert.equal(dates.kind === 'update' && dates.comment, undefined)
    const other = decideAlert(context({ needs: 'nothing', failure: 'amoCRM did not issue tokens after 4 attempts' }), {
      number: 1,
      body: first.body
    })
    assert.equal(other.kind, 'update')
    assert.match(
      other.kind === 'update' ? (other.comment ?? '') : '',
      /failed with another diagnosis:\n\n```text\namoCRM did not issue tokens/
    )
  })

  test('an issue whose state marker was edited away starts its count again, and still updates', () => {
    const next = decideAlert(context(), { number: 2, body: `${alertMarker(SECRET)}\nsomeone edited this` })
    assert.equal(next.kind, 'update')
    if (next.kind === 'update') {
      assert.match(next.body, /\(1 run\)/)
      assert.ok(next.comment, 'no known diagnosis: this one is news')
    }
    assert.equal(decideAlert(context(), { number: 2, body: '<!-- token-rotation-state: {"since":1} -->' }).kind, 'update')
    assert.equal(decideAlert(context(), { number: 2, body: '<!-- token-rotation-state: {not json} -->' }).kind, 'update')
    // A person's edit that leaves no date: the count starts again instead of the decision throwing.
    const edited = decideAlert(context(), { number: 2, body: '<!-- token-rotation-state: {"since":"last week","runs":3,"sig":"x"} -->' })
    assert.equal(edited.kind, 'update')
    if (edited.kind === 'update') assert.match(edited.body, /\(1 run\)/)
  })

  test('the last day: known → the date and its rule; then remembered by the issue; for a dead token, none', () => {
    const first = created(context({ needs: 'nothing', lastDay: new Date('2027-02-28T00:00:00Z'), lastDayWhy: 'the rule' }))
    assert.match(first.body, /can still be used until \*\*2027-02-28\*\* \(the rule\)/)
    const later = decideAlert(context({ needs: 'github-token' }), { number: 1, body: first.body })
    assert.match(later.kind === 'update' ? later.body : '', /can still be used until \*\*2027-02-28\*\*: a working run/)
    assert.match(created(context({ needs: 'nothing' })).body, /The last day the refresh token can still be used is not known/)
    assert.match(created(context()).body, /no longer works: it has no last day to wait for/)
  })

  for (const [needs, words] of [
    ['authorization', /no longer works\. A new authorization code is needed\. Open \[the workflow\]/],
    ['github-token', /Renew `github-token`/],
    ['permission', /Give the token the permission the message names/],
    ['inputs', /Fix the workflow's inputs/],
    ['rescue', /is \*\*not\*\* in the repository secret .*: it is in the rescue line below/],
    ['nothing', /Nothing is lost/],
    ['read', /Read the message/]
  ] as const) {
    test(`what to do, for ${needs}`, () => {
      assert.match(created(context({ needs })).body, words)
    })
  }

  test('without the workflow’s address: the way to it in words', () => {
    assert.match(created(context({ workflowUrl: undefined, runUrl: undefined })).body, /Actions → the workflow → \*\*Run workflow\*\*/)
  })

  test('the rescue section: the sealed line in a fence; none printed after a spend; none needed', () => {
    assert.match(created(context({ rescueLine: 'amocrm-rescue:v1:QUJD', needs: 'rescue' })).body, /```+text\namocrm-rescue:v1:QUJD\n```/)
    assert.match(created(context()).body, /No rescue line was printed \(no `rescue-public-key` is set\)/)
    assert.match(created(context({ spent: false, needs: 'permission' })).body, /No rescue line was needed/)
  })

  test('a date to act on, the run healthy: "needs you before" that date, then closed when it is gone', () => {
    const attention = ["'github-token' expires on 2026-12-10 (in 5 days): renew it …"]
    const action = decideAlert(context({ failure: undefined, needs: undefined, attention }), undefined)
    assert.equal(action.kind, 'create')
    if (action.kind !== 'create') return
    assert.equal(action.title, `Token rotation needs you before 2026-12-10: ${SECRET}`)
    assert.match(action.body, /## amoCRM token rotation needs you before a date/)
    assert.match(action.body, /\*\*Open since:\*\*/)
    assert.match(action.body, /The line above says what to do, and by when\./)
    assert.equal(decideAlert(context({ failure: undefined, needs: undefined }), { number: 4, body: action.body }).kind, 'close')
    const two = decideAlert(context({ failure: undefined, needs: undefined, attention: ['a', 'b'] }), undefined)
    assert.match(two.kind === 'create' ? two.title : '', /needs you before 2026-12-05/)
    assert.match(two.kind === 'create' ? two.body : '', /Each line above says/)
  })

  test('server text stays in its fence however many backticks it holds; a huge message is cut', () => {
    const hostile = 'a ```` b @octocat ![x](https://evil.example/x.png)'
    const body = created(context({ failure: hostile })).body
    assert.match(body, /`{5}text\na ```` b @octocat/)
    const long = created(context({ failure: 'x'.repeat(30_000) })).body
    assert.ok(long.length < 25_000)
    assert.match(long, /x…\n```/)
  })
})
