import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Octokit } from '@octokit/rest'
import { alertMarker, type AlertAction } from '../../../src/alert.js'
import {
  Housekeeping,
  parseWorkflowRef,
  publicFromEvent,
  startHousekeeping,
  type HousekeepingPlan
} from '../../../src/github/housekeeping.js'

type Answer = { data: unknown } | { error: unknown }

/** A fake Octokit: `answers[route]` in order (the last one repeats); every call recorded. */
function fake(answers: Record<string, Answer[]>): { octokit: Octokit; calls: Array<{ route: string; params: Record<string, unknown> }> } {
  const calls: Array<{ route: string; params: Record<string, unknown> }> = []
  const request = async (route: string, params: Record<string, unknown>) => {
    const rest = Object.fromEntries(Object.entries(params).filter(([key]) => key !== 'request'))
    calls.push({ route, params: rest })
    const queue = answers[route]
    if (!queue || queue.length === 0) throw new Error(`no answer for ${route}`)
    const answer = queue.length > 1 ? queue.shift() : queue[0]
    if (!answer) throw new Error(`no answer for ${route}`)
    if ('error' in answer) throw answer.error
    return { status: 200, data: answer.data, headers: {} }
  }
  return { octokit: { request } as unknown as Octokit, calls }
}

const httpError = (status: number, headers: Record<string, string> = {}): Error =>
  Object.assign(new Error(`status ${status}`), { status, response: { status, headers, data: { message: 'x' } } })
const noAnswer = (): Error => Object.assign(new Error('connect ECONNREFUSED'), { status: 500 })

const REPO = { owner: 'acme', repo: 'crm-sync' }
const LIST = 'GET /repos/{owner}/{repo}/issues'
const MARKER = alertMarker('repository secret X of acme/crm-sync')

describe('parseWorkflowRef', () => {
  test('owner, repository and the file of GITHUB_WORKFLOW_REF', () => {
    assert.deepEqual(parseWorkflowRef('acme/crm-sync/.github/workflows/rotate.yml@refs/heads/main'), {
      owner: 'acme',
      repo: 'crm-sync',
      file: 'rotate.yml'
    })
    assert.equal(parseWorkflowRef('acme/crm-sync/.github/workflows/nightly.yaml@refs/tags/v1')?.file, 'nightly.yaml')
    for (const bad of [
      undefined,
      '',
      'acme/crm-sync@refs/heads/main',
      'acme/crm-sync/.github/workflows/x.txt@r',
      'acme/crm-sync/.github/workflows/x.yml'
    ]) {
      assert.equal(parseWorkflowRef(bad), undefined, String(bad))
    }
  })
})

describe('publicFromEvent', () => {
  test('the payload’s repository.visibility or private; unknown without them', () => {
    assert.equal(publicFromEvent({ repository: { private: false } }), true)
    assert.equal(publicFromEvent({ repository: { visibility: 'public', private: true } }), true)
    assert.equal(publicFromEvent({ repository: { private: true } }), false)
    assert.equal(publicFromEvent({ repository: { visibility: 'internal' } }), false)
    assert.equal(publicFromEvent({ repository: {} }), undefined)
    assert.equal(publicFromEvent({}), undefined)
    assert.equal(publicFromEvent(null), undefined)
  })
})

describe('Housekeeping.findAlert', () => {
  test('the open issue with the label and this secret’s marker; pull requests and other secrets skipped', async () => {
    const { octokit, calls } = fake({
      [LIST]: [
        {
          data: [
            { number: 1, body: `${MARKER} but a pull request`, pull_request: {} },
            { number: 2, body: alertMarker('another secret') },
            { number: 3, body: null },
            { number: 4, body: `x\n${MARKER}\ny` }
          ]
        }
      ]
    })
    assert.deepEqual(await new Housekeeping(octokit, REPO, 1000).findAlert(MARKER), { number: 4, body: `x\n${MARKER}\ny` })
    assert.deepEqual(calls[0]?.params, {
      owner: 'acme',
      repo: 'crm-sync',
      state: 'open',
      labels: 'token-rotation',
      per_page: 100,
      page: 1,
      sort: 'created',
      direction: 'asc'
    })
    assert.equal(await new Housekeeping(fake({ [LIST]: [{ data: [] }] }).octokit, REPO, 1000).findAlert(MARKER), undefined)
    assert.equal(await new Housekeeping(fake({ [LIST]: [{ data: 'odd' }] }).octokit, REPO, 1000).findAlert(MARKER), undefined)
  })

  test('more than a page of alerts open (many accounts): the next pages are read until this secret’s is found', async () => {
    const others = (from: number) => Array.from({ length: 100 }, (_, i) => ({ number: from + i, body: alertMarker(`secret ${from + i}`) }))
    const { octokit, calls } = fake({ [LIST]: [{ data: others(1) }, { data: others(101) }, { data: [{ number: 250, body: MARKER }] }] })
    assert.deepEqual(await new Housekeeping(octokit, REPO, 1000).findAlert(MARKER), { number: 250, body: MARKER })
    assert.deepEqual(
      calls.map((call) => call.params.page),
      [1, 2, 3]
    )
    const short = fake({ [LIST]: [{ data: others(1).slice(0, 40) }] })
    assert.equal(await new Housekeeping(short.octokit, REPO, 1000).findAlert(MARKER), undefined)
    assert.equal(short.calls.length, 1, 'a page that is not full is the last')
  })

  for (const [error, words] of [
    [httpError(403, { 'x-accepted-github-permissions': 'issues=read' }), /lacks 'issues: write'.* \(GitHub asks for issues=read\)\.$/],
    [httpError(403), /lacks 'issues: write': give the job `permissions: issues: write`.*set `alert: none`\.$/],
    [httpError(404), /cannot see this repository/],
    [httpError(410), /issues are disabled in this repository/],
    [httpError(401), /'job-token' is invalid or expired/],
    [httpError(502), /GitHub answered 502/],
    [noAnswer(), /GitHub did not answer/]
  ] as const) {
    test(`a failed lookup is one sentence: ${String((error as { status?: unknown }).status)}`, async () => {
      await assert.rejects(new Housekeeping(fake({ [LIST]: [{ error }] }).octokit, REPO, 1000).findAlert(MARKER), (e: Error) => {
        assert.match(e.message, /^Could not look for an open alert issue: /)
        assert.match(e.message, words)
        return true
      })
    })
  }
})

describe('Housekeeping.apply', () => {
  const routes = {
    'POST /repos/{owner}/{repo}/issues': [{ data: { number: 9, html_url: 'https://github.com/acme/crm-sync/issues/9' } }],
    'PATCH /repos/{owner}/{repo}/issues/{issue_number}': [{ data: {} }],
    'POST /repos/{owner}/{repo}/issues/{issue_number}/comments': [{ data: {} }]
  }

  test('create, update (with and without a comment), close (a comment, then closed as completed)', async () => {
    const { octokit, calls } = fake(routes)
    const h = new Housekeeping(octokit, REPO, 1000)
    assert.equal(await h.apply({ kind: 'none' }), undefined)
    assert.equal(
      await h.apply({ kind: 'create', title: 't', body: 'b', labels: ['token-rotation'] }),
      'opened alert issue #9 (https://github.com/acme/crm-sync/issues/9)'
    )
    assert.equal(await h.apply({ kind: 'update', number: 9, title: 't', body: 'b', comment: undefined }), 'updated alert issue #9')
    assert.equal(
      await h.apply({ kind: 'update', number: 9, title: 't', body: 'b', comment: 'c' }),
      'updated alert issue #9 (with a comment: the diagnosis changed)'
    )
    assert.equal(await h.apply({ kind: 'close', number: 9, comment: 'ok' }), 'closed alert issue #9: healthy again')
    assert.deepEqual(
      calls.map((c) => c.route),
      [
        'POST /repos/{owner}/{repo}/issues',
        'PATCH /repos/{owner}/{repo}/issues/{issue_number}',
        'PATCH /repos/{owner}/{repo}/issues/{issue_number}',
        'POST /repos/{owner}/{repo}/issues/{issue_number}/comments',
        'POST /repos/{owner}/{repo}/issues/{issue_number}/comments',
        'PATCH /repos/{owner}/{repo}/issues/{issue_number}'
      ]
    )
    assert.deepEqual(calls.at(-1)?.params, { owner: 'acme', repo: 'crm-sync', issue_number: 9, state: 'closed', state_reason: 'completed' })
  })

  test('a refusal is one sentence naming the permission', async () => {
    const { octokit } = fake({ 'POST /repos/{owner}/{repo}/issues': [{ error: httpError(403) }] })
    await assert.rejects(
      new Housekeeping(octokit, REPO, 1000).apply({ kind: 'create', title: 't', body: 'b', labels: [] }),
      /^Error: Could not open the alert issue: the job token lacks 'issues: write'/
    )
  })
})

describe('Housekeeping: the schedule', () => {
  const ENABLE = 'PUT /repos/{owner}/{repo}/actions/workflows/{workflow_id}/enable'
  test('enableWorkflow by file name; a 403 names actions: write; a 404 the workflow; no answer is said', async () => {
    const ok = fake({ [ENABLE]: [{ data: '' }] })
    await new Housekeeping(ok.octokit, REPO, 1000).enableWorkflow('rotate.yml')
    assert.equal(ok.calls[0]?.params.workflow_id, 'rotate.yml')
    for (const [error, words] of [
      [httpError(403), /lacks 'actions: write'\. Give the job `permissions: actions: write`/],
      [httpError(404), /does not know the workflow rotate\.yml here \(404\)/],
      [httpError(500), /GitHub answered 500/],
      [noAnswer(), /GitHub did not answer/]
    ] as const) {
      await assert.rejects(new Housekeeping(fake({ [ENABLE]: [{ error }] }).octokit, REPO, 1000).enableWorkflow('rotate.yml'), words)
    }
  })

  test('isPublic asks GitHub when the event does not say', async () => {
    assert.equal(
      await new Housekeeping(fake({ 'GET /repos/{owner}/{repo}': [{ data: { private: false } }] }).octokit, REPO, 1000).isPublic(),
      true
    )
    assert.equal(
      await new Housekeeping(fake({ 'GET /repos/{owner}/{repo}': [{ data: { visibility: 'private' } }] }).octokit, REPO, 1000).isPublic(),
      false
    )
  })
})

describe('startHousekeeping', () => {
  function plan(octokit: Octokit | undefined, extra: Partial<HousekeepingPlan> = {}): HousekeepingPlan {
    return {
      housekeeping: octokit ? new Housekeeping(octokit, REPO, 1000) : undefined,
      alertFor: MARKER,
      event: { name: 'workflow_dispatch', payload: {} },
      workflow: { owner: 'acme', repo: 'crm-sync', file: 'rotate.yml' },
      finishWithinMs: 1000,
      ...extra
    }
  }
  function say() {
    const said: string[] = []
    return {
      said,
      say: {
        info: (m: string) => void said.push(`info ${m}`),
        notice: (m: string) => void said.push(`notice ${m}`),
        warning: (m: string) => void said.push(`warning ${m}`)
      }
    }
  }

  test('the lookup starts at once; finish decides with what it found and applies it', async () => {
    const { octokit, calls } = fake({
      [LIST]: [{ data: [{ number: 5, body: MARKER }] }],
      'PATCH /repos/{owner}/{repo}/issues/{issue_number}': [{ data: {} }]
    })
    const s = say()
    const started = startHousekeeping(plan(octokit), s.say)
    assert.equal(calls.length, 1, 'the list request is on its way before the run goes on')
    const seen: unknown[] = []
    const done = await started.finish((open) => {
      seen.push(open)
      return { kind: 'update', number: 5, title: 't', body: 'b', comment: undefined } satisfies AlertAction
    }, true)
    assert.deepEqual(seen, [{ number: 5, body: MARKER }])
    assert.equal(done.alert, 'updated alert issue #5')
    assert.deepEqual(s.said, ['info Alert: updated alert issue #5.'])
  })

  test('a failed lookup opens nothing (never a second issue) and warns once', async () => {
    const s = say()
    const done = await startHousekeeping(plan(fake({ [LIST]: [{ error: httpError(403) }] }).octokit), s.say).finish(
      () => assert.fail('not decided'),
      true
    )
    assert.match(done.alert ?? '', /lacks 'issues: write'/)
    assert.equal(s.said.length, 1)
    assert.match(s.said[0] ?? '', /^warning .* No alert issue was opened or closed by this run\.$/)
  })

  test('a decision that throws is a warning: the outcome of the run is not touched', async () => {
    const s = say()
    const done = await startHousekeeping(plan(fake({ [LIST]: [{ data: [] }] }).octokit), s.say).finish(() => {
      throw new RangeError('Invalid time value')
    }, true)
    assert.equal(done.alert, 'not written: Invalid time value')
    assert.deepEqual(s.said, ['warning The alert issue was not written: Invalid time value.'])
  })

  test('a failed write warns once; no job token warns only for a failure; alert: none says nothing', async () => {
    const s = say()
    const write = fake({ [LIST]: [{ data: [] }], 'POST /repos/{owner}/{repo}/issues': [{ error: httpError(410) }] })
    await startHousekeeping(plan(write.octokit), s.say).finish(() => ({ kind: 'create', title: 't', body: 'b', labels: [] }), true)
    assert.deepEqual(s.said.length, 1)
    assert.match(s.said[0] ?? '', /issues are disabled/)
    const t = say()
    await startHousekeeping(plan(undefined), t.say).finish(() => ({ kind: 'none' }), false)
    assert.deepEqual(t.said, [])
    const done = await startHousekeeping(plan(undefined), t.say).finish(() => ({ kind: 'none' }), true)
    assert.match(done.alert ?? '', /'job-token' is empty/)
    assert.match(t.said[0] ?? '', /^warning The alert issue was not written: 'job-token' is empty/)
    const u = say()
    await startHousekeeping(plan(fake({}).octokit, { alertFor: undefined }), u.say).finish(() => assert.fail('not decided'), true)
    assert.deepEqual(u.said, [])
  })

  test('an answer that does not come in time: finish waits no longer than finishWithinMs', async () => {
    const never: Octokit = { request: () => new Promise(() => undefined) } as unknown as Octokit
    const s = say()
    const done = await startHousekeeping(plan(never, { finishWithinMs: 20 }), s.say).finish(() => assert.fail('not decided'), true)
    assert.match(done.alert ?? '', /no answer in time/)
  })

  test('a scheduled run keeps a public repository’s schedule alive; a private one is left alone', async () => {
    const ENABLE = 'PUT /repos/{owner}/{repo}/actions/workflows/{workflow_id}/enable'
    const pub = fake({ [ENABLE]: [{ data: '' }] })
    const s = say()
    const done = await startHousekeeping(
      plan(pub.octokit, { alertFor: undefined, event: { name: 'schedule', payload: { repository: { private: false } } } }),
      s.say
    ).finish(() => ({ kind: 'none' }), false)
    assert.match(done.schedule ?? '', /^kept alive: this run re-enabled rotate\.yml/)
    assert.deepEqual(
      pub.calls.map((c) => c.route),
      [ENABLE]
    )
    // The event does not say: GitHub is asked.
    const asked = fake({ 'GET /repos/{owner}/{repo}': [{ data: { private: true } }] })
    const quiet = await startHousekeeping(
      plan(asked.octokit, { alertFor: undefined, event: { name: 'schedule', payload: {} } }),
      s.say
    ).finish(() => ({ kind: 'none' }), false)
    assert.equal(quiet.schedule, undefined)
    assert.deepEqual(
      asked.calls.map((c) => c.route),
      ['GET /repos/{owner}/{repo}']
    )
    const refused = fake({ [ENABLE]: [{ error: httpError(403) }] })
    const t = say()
    const no = await startHousekeeping(
      plan(refused.octokit, { alertFor: undefined, event: { name: 'schedule', payload: { repository: { visibility: 'public' } } } }),
      t.say
    ).finish(() => ({ kind: 'none' }), false)
    assert.match(no.schedule ?? '', /lacks 'actions: write'/)
    assert.match(t.said[0] ?? '', /^notice Could not keep the schedule alive/)
  })
})
