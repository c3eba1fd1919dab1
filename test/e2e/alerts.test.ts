/**
 * The chain never dies silently (issue "The chain never dies silently"): the bundled action opens
 * one alert issue per secret when a run fails, keeps it to one through failing nights, closes it
 * when a run is healthy again, warns about an expiring github-token, and keeps a public
 * repository's schedule alive — all with the job token, and none of it changing a run's outcome.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { faultQueue, onlyWhen } from '../../sandbox/standins/faults.js'
import { DEMO_GITHUB_TOKEN, DEMO_JOB_TOKEN, type GitHubOptions, type IssueRecord } from '../../sandbox/standins/github/github.js'
import { chainHolds, errors, failure, REPO, sandbox, tokenCall, type Sandbox } from './harness.js'

const SECRET_WORDS = 'repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync'
/** A refresh token amoCRM never issued: it answers "Token has been revoked". */
const DEAD = `def50200${'0d'.repeat(60)}`

const alerts = (box: Sandbox): IssueRecord[] => box.gh.issues(REPO.repo).filter((i) => i.labels.includes('token-rotation'))
const warnings = (log: string): string[] => log.split('\n').filter((l) => l.startsWith('Warning: '))

/** Every secret this box knows, for a 12-character check of what went to GitHub. */
function knownSecrets(box: Sandbox, ...more: string[]): string[] {
  return [
    box.amo.clientSecret,
    DEMO_GITHUB_TOKEN,
    DEMO_JOB_TOKEN,
    ...box.amo.issued.flatMap((p) => [p.access_token, p.refresh_token]),
    ...more
  ]
}

/** No run of 12 characters of any of `secrets` in `text`. */
function noPieces(text: string, secrets: string[]): void {
  for (const secret of secrets) {
    for (let i = 0; i + 12 <= secret.length; i++) {
      assert.ok(!text.includes(secret.slice(i, i + 12)), `12 characters of a secret went to GitHub:\n${text}`)
    }
  }
}

/** The text of an issue outside its fenced blocks: what GitHub renders as Markdown. */
const outsideFences = (body: string): string => body.replace(/(`{3,})text\n[\s\S]*?\n\1/g, '')

async function withBox(options: { gh?: GitHubOptions }, body: (box: Sandbox) => Promise<void>): Promise<void> {
  const box = await sandbox(options)
  try {
    await body(box)
  } finally {
    await box.close()
  }
}

describe('the alert issue', () => {
  test('a failing run opens one issue: the secret, what happened, what to do, the last day, the run’s link, no secret', () =>
    withBox({}, async (box) => {
      box.seed()
      const run = await box.run(box.inputs({ 'refresh-token': DEAD }))
      assert.match(failure(run), /Token has been revoked/)
      const [issue, ...more] = alerts(box)
      assert.equal(more.length, 0)
      assert.ok(issue)
      assert.equal(issue.state, 'open')
      assert.equal(issue.login, 'github-actions[bot]', 'written with the job token')
      assert.equal(issue.title, `Token rotation failing: ${SECRET_WORDS}`)
      const body = issue.body ?? ''
      assert.match(body, /\*\*Secret:\*\* repository secret AMOCRM_REFRESH_TOKEN of acme\/crm-sync/)
      assert.match(body, /### What happened\n\n```+text\namoCRM says the refresh token has been revoked/)
      assert.match(body, /no longer works\. A new authorization code is needed/)
      assert.match(
        body,
        /\[the workflow\]\(https:\/\/github\.com\/acme\/crm-sync\/actions\/workflows\/rotate\.yml\) and use \*\*Run workflow\*\*/
      )
      assert.match(body, /\*\*Last run:\*\* \[[^\]]+\]\(https:\/\/github\.com\/acme\/crm-sync\/actions\/runs\/\d+\)/)
      assert.match(body, /### Rescue\n\nNo rescue line was printed \(no `rescue-public-key` is set\)/)
      noPieces(`${issue.title}\n${body}`, knownSecrets(box, DEAD))
      assert.match(run.log, /^Alert: opened alert issue #\d+/m)
      assert.match(run.summary, /\| Alert issue \| opened alert issue #\d+/)
    }))

  test('three failing nights leave one issue, updated; a healthy run closes it with a word', () =>
    withBox({}, async (box) => {
      box.seed()
      for (let night = 1; night <= 3; night++) {
        const run = await box.run(box.inputs({ 'refresh-token': DEAD }))
        assert.equal(run.code, 1)
      }
      const [issue, ...more] = alerts(box)
      assert.equal(more.length, 0, 'never an issue a night')
      assert.ok(issue)
      assert.match(issue.body ?? '', /\*\*Failing since:\*\* .* \(3 runs\)/)
      assert.equal(issue.comments.length, 0, 'the same diagnosis each night: the body is updated, no comment')
      // The token is renewed (a new authorization): the next night is healthy.
      const code = box.amo.issueCode()
      const healthy = await box.run(box.inputs({ 'authorization-code': code, 'refresh-token': '' }))
      assert.equal(healthy.code, 0, healthy.log)
      chainHolds(box)
      const closed = alerts(box)[0]
      assert.equal(closed?.state, 'closed')
      assert.equal(closed?.stateReason, 'completed')
      assert.equal(closed?.comments.length, 1)
      assert.match(
        closed?.comments[0]?.body ?? '',
        /^Healthy again: \[this run\]\(.*\) at .* kept the repository secret AMOCRM_REFRESH_TOKEN of acme\/crm-sync working; the refresh token can now be used until \d{4}-\d{2}-\d{2}\. Closing\.$/
      )
      // And a healthy run with nothing open writes nothing.
      const before = box.gh.requests.length
      const quiet = await box.run(box.inputs())
      assert.equal(quiet.code, 0)
      assert.ok(box.gh.requests.slice(before).every((r) => r.method === 'GET' || !r.path.includes('/issues')))
    }))

  test('another diagnosis on a later night: one comment says so', () =>
    withBox({}, async (box) => {
      box.seed()
      assert.equal((await box.run(box.inputs({ 'refresh-token': DEAD }))).code, 1)
      box.amo.faults = onlyWhen(tokenCall, () => ({ kind: 'status', status: 503 }))
      const run = await box.run(box.inputs())
      box.amo.faults = undefined
      assert.match(failure(run), /did not issue tokens after 4 attempts/)
      const issue = alerts(box)[0]
      assert.equal(issue?.comments.length, 1)
      assert.match(issue?.comments[0]?.body ?? '', /failed with another diagnosis:\n\n```+text\namoCRM did not issue tokens/)
      // 503s may come after the provider acted: the run cannot say the token is unspent, so it says to read the message.
      assert.match(issue?.body ?? '', /Read the message: it says whether anything is lost and what to do\./)
      assert.match(
        issue?.body ?? '',
        /The refresh token can still be used until \*\*\d{4}-\d{2}-\d{2}\*\* \(amoCRM lets a refresh token expire/
      )
    }))

  test('without issues: write — the same exit code and one warning that names it', () =>
    withBox({ gh: { tokens: { [DEMO_GITHUB_TOKEN]: { repoSecrets: true }, ghs_job_no_issues: { actionsRead: true } } } }, async (box) => {
      box.seed()
      const run = await box.run(box.inputs({ 'refresh-token': DEAD }), { jobToken: 'ghs_job_no_issues' })
      assert.equal(run.code, 1)
      assert.equal(errors(run).length, 1)
      const said = warnings(run.log)
      assert.equal(said.length, 1, run.log)
      assert.match(said[0] ?? '', /the job token lacks 'issues: write': give the job `permissions: issues: write`/)
      assert.deepEqual(alerts(box), [])
      // A healthy run says it too: the safety net is broken before it is needed.
      const healthy = await box.run(box.inputs(), { jobToken: 'ghs_job_no_issues' })
      assert.equal(healthy.code, 0)
      assert.match(warnings(healthy.log).join('\n'), /issues: write/)
    }))

  test('alert: none writes nothing to the issues API', () =>
    withBox({}, async (box) => {
      box.seed()
      const before = box.gh.requests.length
      assert.equal((await box.run(box.inputs({ 'refresh-token': DEAD, alert: 'none' }))).code, 1)
      assert.ok(box.gh.requests.slice(before).every((r) => !r.path.includes('/issues')))
    }))

  test('hostile server text is inert in the issue: no mention, link, image or HTML outside a fenced block, no secret', () =>
    withBox({}, async (box) => {
      box.seed()
      const hostile = {
        hint: '@octocat @acme/owners see https://evil.example/x and [here](https://evil.example/y) ![i](https://evil.example/i.png) <img src=x onerror=alert(1)> ``` #1',
        title: `Unauthorized ${box.amo.clientSecret}`,
        detail: '</details><script>x</script>',
        status: 400
      }
      box.amo.faults = onlyWhen(
        tokenCall,
        faultQueue({ kind: 'status', status: 400, body: JSON.stringify(hostile), contentType: 'application/problem+json' })
      )
      const run = await box.run(box.inputs())
      box.amo.faults = undefined
      assert.equal(run.code, 1)
      const body = alerts(box)[0]?.body ?? ''
      assert.match(body, /@octocat/, 'the words are there, in the fence')
      const live = outsideFences(body)
      for (const pattern of [/@\w/, /https?:\/\/evil/, /!\[/, /<img|<script|<\/details/i]) assert.doesNotMatch(live, pattern)
      noPieces(body, knownSecrets(box))
    }))
})

describe('github-token’s expiry', () => {
  const expiring = (days: number): GitHubOptions => ({
    tokens: {
      [DEMO_GITHUB_TOKEN]: { repoSecrets: true, envSecrets: true, orgSecrets: true, expiresAt: Date.now() + days * 86_400_000 },
      [DEMO_JOB_TOKEN]: { actionsRead: true, issues: 'write' }
    }
  })

  test('5 days left: the run succeeds with a warning and the date in the summary and an issue', () =>
    withBox({ gh: expiring(5) }, async (box) => {
      box.seed()
      const run = await box.run(box.inputs())
      assert.equal(run.code, 0, run.log)
      chainHolds(box)
      const date = new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 10)
      const said = warnings(run.log)
      assert.equal(said.length, 1, run.log)
      assert.match(said[0] ?? '', new RegExp(`'github-token' expires on (${date}|\\d{4}-\\d{2}-\\d{2}) \\(in [45] days\\): renew it`))
      assert.match(run.summary, /\| github-token expires \| \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC \|/)
      const [issue] = alerts(box)
      assert.match(issue?.title ?? '', /^Token rotation needs you before \d{4}-\d{2}-\d{2}: repository secret AMOCRM_REFRESH_TOKEN/)
      assert.match(issue?.body ?? '', /'github-token' expires on/)
    }))

  test('200 days left: the date in the summary, no warning, no issue', () =>
    withBox({ gh: expiring(200) }, async (box) => {
      box.seed()
      const run = await box.run(box.inputs())
      assert.equal(run.code, 0, run.log)
      assert.deepEqual(warnings(run.log), [])
      assert.match(run.summary, /\| github-token expires \| \d{4}-\d{2}-\d{2}/)
      assert.deepEqual(alerts(box), [])
    }))

  test('an expired or revoked github-token (401): stops before spending and says to renew it', () =>
    withBox({}, async (box) => {
      box.seed()
      const run = await box.run(box.inputs({ 'github-token': 'github_pat_revoked_0000' }))
      assert.match(failure(run), /'github-token' is invalid, expired or revoked: renew github-token/)
      assert.equal(run.tokenRequests, 0, 'nothing was spent')
      assert.match(alerts(box)[0]?.body ?? '', /Renew `github-token`/)
    }))
})

describe('keeping the schedule alive', () => {
  const publicRepo: GitHubOptions['repositories'] = [{ owner: 'acme', name: 'crm-sync', id: 700001, visibility: 'public' }]
  const withJob = (grant: { actionsWrite?: boolean }): GitHubOptions => ({
    repositories: publicRepo,
    tokens: { [DEMO_GITHUB_TOKEN]: { repoSecrets: true }, [DEMO_JOB_TOKEN]: { actionsRead: true, issues: 'write', ...grant } }
  })

  test('a public repository’s scheduled run re-enables its workflow', () =>
    withBox({ gh: withJob({ actionsWrite: true }) }, async (box) => {
      box.seed()
      const run = await box.run(box.inputs(), { event: box.gh.scheduleEvent(REPO.repo) })
      assert.equal(run.code, 0, run.log)
      assert.equal(box.gh.workflow(REPO.repo, 'rotate.yml').enableCalls.length, 1)
      assert.match(run.log, /Schedule kept alive: this run re-enabled rotate\.yml/)
      assert.match(run.summary, /\| Schedule \| kept alive/)
    }))

  test('without actions: write: a notice that names it, and the run succeeds', () =>
    withBox({ gh: withJob({}) }, async (box) => {
      box.seed()
      const run = await box.run(box.inputs(), { event: box.gh.scheduleEvent(REPO.repo) })
      assert.equal(run.code, 0, run.log)
      assert.match(run.log, /^Notice: Could not keep the schedule alive: the job token lacks 'actions: write'/m)
      assert.equal(box.gh.workflow(REPO.repo, 'rotate.yml').enableCalls.length, 0)
    }))

  test('no call in a private repository, nor on a run that is not scheduled', () =>
    withBox({}, async (box) => {
      box.seed()
      const scheduled = await box.run(box.inputs(), { event: box.gh.scheduleEvent(REPO.repo) })
      assert.equal(scheduled.code, 0)
      assert.equal(box.gh.workflow(REPO.repo, 'rotate.yml').enableCalls.length, 0)
      assert.ok(!box.gh.requests.some((r) => r.path.includes('/enable')))
    }))
})
