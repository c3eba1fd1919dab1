/**
 * npm run demo: the whole product on this machine, in seconds, without an amoCRM account.
 *
 * Starts the amoCRM, Bitrix24, generic OAuth 2.0 and GitHub stand-ins on 127.0.0.1 and runs the
 * bundled dist/index.js as a runner would (INPUT_* variables, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY):
 * for amoCRM the first exchange with an authorization code, then scheduled refreshes, then the
 * README's consumer step; then for Bitrix24 and for a generic OAuth 2.0 server (HTTP Basic, form
 * body, rotating refresh tokens) one first exchange and one refresh each, with a call of the
 * provider's API with the new access token; last, the set-up of a new account with `init` (the
 * bundled dist/rescue/index.js, without a terminal). It shows the log as the runner displays it (masked
 * values as ***), the outputs, the job summary, and proof that each secret — decrypted with the
 * stand-in's private key — holds the provider's newest refresh token while the old ones are
 * revoked. Exits non-zero if any proof fails.
 *
 * The runs are a user's workflows (workflow_dispatch for the first exchange, schedule for the
 * refreshes) and their next steps. The Bitrix24 and OAuth 2.0 parts pass no
 * `refresh-token-secret`: their secrets get the action's default names.
 */
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { standInInputs, startAmoCrm } from '../standins/amocrm.js'
import { bitrix24Inputs, startBitrix24 } from '../standins/bitrix24.js'
import type { IssuedPair } from '../standins/chain.js'
import { leadPeople } from './consumer.js'
import { DEMO_GITHUB_TOKEN, startGitHub } from '../standins/github/github.js'
import { oauth2Inputs, startOAuth2 } from '../standins/oauth2.js'
import { leakedSecrets, PROJECT_ROOT, runAction, type ActionRun, type RunOptions } from '../runner/runner.js'

const REFRESHES = 3
const tty = process.stdout.isTTY
const paint = (code: string) => (text: string) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text)
const bold = paint('1')
const dim = paint('2')
const green = paint('32')
const red = paint('31')
const indent = (text: string, pad = '    ') =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `${pad}${l}`)
    .join('\n')

/** The job summary's markdown, as a terminal can show it. */
function renderMarkdown(markdown: string): string {
  return markdown
    .split('\n')
    .filter((l) => !/^\| (---|) \|/.test(l) && !/^\| \| \|$/.test(l) && !/^\| --- \| --- \|$/.test(l))
    .map((l) => {
      const row = /^\| (.*?) \| (.*) \|$/.exec(l)
      if (row) return `${(row[1] ?? '').padEnd(22)} ${(row[2] ?? '').replace(/\\\|/g, '|')}`
      return l
        .replace(/^#+ /, '')
        .replace(/\*\*(.*?)\*\*/g, '$1')
        .replace(/`/g, '')
    })
    .filter((l, i, all) => l !== '' || all[i - 1] !== '')
    .join('\n')
}

let failures = 0
function check(ok: boolean, what: string): void {
  if (!ok) failures++
  console.log(`  ${ok ? green('✓') : red('✗')} ${what}`)
}

const amo = await startAmoCrm()
const b24 = await startBitrix24()
const oauth = await startOAuth2()
const gh = await startGitHub()
const repo = { repo: 'acme/crm-sync' }
const seen = new Set<string>([amo.clientSecret, b24.clientSecret, oauth.clientSecret, DEMO_GITHUB_TOKEN])
const issuedLists: IssuedPair[][] = [amo.issued, b24.issued, oauth.issued]

/** The first exchange is started by hand; the refreshes by the workflow's cron. */
const DISPATCH: RunOptions['event'] = { name: 'workflow_dispatch', payload: {} }
const SCHEDULE: RunOptions['event'] = { name: 'schedule', payload: { schedule: '0 3 * * *' } }

/** The amoCRM part's inputs: the stand-in's, and the access token stored too. */
const amoInputs = (extra: Record<string, string>) => standInInputs(amo, { 'access-token-secret': 'AMOCRM_ACCESS_TOKEN', ...extra })

let runCount = 0

/** Runs the action with `toInputs(secrets)`; `secrets` (a code or a refresh token) count as secrets in the leak check. */
async function rotation(
  title: string,
  secrets: Record<string, string>,
  event: RunOptions['event'],
  toInputs: (extra: Record<string, string>) => Record<string, string> = amoInputs,
  expectedCode = 0
): Promise<ActionRun> {
  console.log(`\n${bold(`━━ ${title}`)}`)
  // Each rotation is a run of its own, queued now: the action reads its times (the queued-run check).
  runCount += 1
  const runId = String(9_100_000_000 + runCount)
  // A second on: on GitHub a run is queued seconds after the previous one stored its token.
  gh.addRun('acme/crm-sync', { id: runId, createdAt: Date.now() + 1000, event: event?.name ?? 'workflow_dispatch' })
  const run = await runAction({ inputs: toInputs(secrets), env: { GITHUB_API_URL: gh.url, GITHUB_RUN_ID: runId }, event })
  for (const pair of issuedLists.flat()) [pair.access_token, pair.refresh_token].forEach((t) => seen.add(t))
  Object.values(secrets).forEach((v) => v && seen.add(v))
  console.log(dim('  log, as the runner shows it:'))
  console.log(indent(run.log))
  console.log(dim('  outputs (masked values show as *** in any log):'))
  for (const [name, value] of Object.entries(run.outputs)) {
    console.log(`    ${name.padEnd(14)} ${run.masked.includes(value) ? `*** (${value.length} characters, masked)` : value}`)
  }
  console.log(dim('  job summary:'))
  console.log(indent(renderMarkdown(run.summary)))
  console.log(dim(`  exit code ${run.code}, ${Math.round(run.durationMs)} ms`))
  check(run.code === expectedCode, expectedCode === 0 ? 'the run succeeded' : 'the run failed, as it must')
  check(leakedSecrets(run, [...seen]).length === 0, 'no secret value in the log, the outputs file aside, or the summary')
  return run
}

/** True when the secret exists and holds the provider's current refresh token. */
function holds(secret: string, server: { currentRefreshToken(): string | undefined }): boolean {
  const value = gh.secret(repo, secret)?.value
  return value !== undefined && value === server.currentRefreshToken()
}

/** Runs one provider's part; an exception (e.g. a call with an empty output) is a failed check, and the next part still runs. */
async function part(body: () => Promise<void>): Promise<void> {
  try {
    await body()
  } catch (error) {
    check(false, `the part stopped: ${error instanceof Error ? error.message : String(error)}`)
  }
}

/** The alert issue: a failing night opens it, the next healthy night closes it. */
async function alertPart(): Promise<void> {
  // Someone authorized the integration again elsewhere: the stored refresh token is dead.
  amo.setRefreshToken(`def50200${'e'.repeat(64)}`)
  const stored = gh.secret(repo, 'AMOCRM_REFRESH_TOKEN')?.value ?? ''
  await rotation(
    'A failing night · schedule: the integration was authorized again elsewhere',
    { 'refresh-token': stored },
    SCHEDULE,
    amoInputs,
    1
  )
  const [opened, ...more] = gh.issues('acme/crm-sync').filter((issue) => issue.labels.includes('token-rotation'))
  console.log(dim('  the alert issue it opened (the job token, permissions: issues: write):'))
  console.log(
    indent(`#${opened?.number ?? '?'} ${opened?.title ?? ''}

${renderMarkdown(opened?.body ?? '')}`)
  )
  check(opened?.state === 'open' && more.length === 0, 'one alert issue is open for the secret, with what happened and what to do')
  const code = amo.issueCode()
  await rotation('The next morning · workflow_dispatch with a new authorization code', { 'authorization-code': code }, DISPATCH)
  const closed = gh.issues('acme/crm-sync').find((issue) => issue.number === opened?.number)
  console.log(dim('  the alert issue now:'))
  console.log(
    indent(`#${closed?.number ?? '?'} ${closed?.state ?? ''} (${closed?.stateReason ?? ''}): ${closed?.comments.at(-1)?.body ?? ''}`)
  )
  check(
    closed?.state === 'closed' && holds('AMOCRM_REFRESH_TOKEN', amo),
    'the healthy run closed it with a word, and the chain holds again'
  )
}

/** Bitrix24: the first exchange and one refresh, then the next step's REST call. */
async function bitrix24Part(): Promise<void> {
  console.log(
    `\n${bold('Bitrix24')} ${dim(`— stand-in ${b24.url} in place of https://oauth.bitrix.info (base-url), portal REST ${b24.clientEndpoint}`)}`
  )
  const b24Inputs = (extra: Record<string, string>) => bitrix24Inputs(b24, extra)
  let run = await rotation(
    'Bitrix24 · workflow_dispatch with an authorization code (30 s to use it)',
    { 'authorization-code': b24.issueCode() },
    DISPATCH,
    b24Inputs
  )
  check(
    holds('BITRIX24_REFRESH_TOKEN', b24),
    'secret BITRIX24_REFRESH_TOKEN (the default name for bitrix24) holds Bitrix24’s current refresh token'
  )
  check(run.outputs['api-url'] === b24.clientEndpoint, 'api-url is the portal’s REST base (the answer’s client_endpoint)')
  check(run.outputs['account-id'] === b24.memberId, 'account-id is the portal’s member_id')
  const previous = gh.secret(repo, 'BITRIX24_REFRESH_TOKEN')?.value ?? ''
  run = await rotation(
    'Bitrix24 · schedule: refresh with ${{ secrets.BITRIX24_REFRESH_TOKEN }}',
    { 'refresh-token': previous },
    SCHEDULE,
    b24Inputs
  )
  check(previous !== '' && b24.isRevoked(previous), 'the refresh token it spent is now revoked by Bitrix24')
  check(holds('BITRIX24_REFRESH_TOKEN', b24), 'the secret holds the newest refresh token')

  console.log(`\n${bold('━━ Next step in the same job: deal 1001 through the portal’s REST API')}`)
  // The access token in a form body rather than in the URL, where logs would keep it.
  const deal = await fetch(`${run.outputs['api-url'] ?? ''}crm.deal.get`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ id: '1001', auth: run.outputs['access-token'] ?? '' }).toString()
  })
  const body = (await deal.json()) as { result?: { ID?: string; TITLE?: string; ASSIGNED_BY_ID?: string } }
  const { ID, TITLE, ASSIGNED_BY_ID } = body.result ?? {}
  console.log(indent(`POST {api-url}crm.deal.get id=1001 → ${deal.status}\n${JSON.stringify({ ID, TITLE, ASSIGNED_BY_ID }, null, 2)}`))
  console.log(dim('  with steps.<id>.outputs.api-url and access-token'))
  check(deal.status === 200 && ASSIGNED_BY_ID === '1', 'the new access token reads deal 1001 (responsible user 1)')
}

/** A generic OAuth 2.0 server: the first exchange and one refresh, then a call of its API. */
async function oauth2Part(): Promise<void> {
  console.log(
    `\n${bold('Generic OAuth 2.0')} ${dim(`— token-url ${oauth.tokenUrl}, client-auth ${oauth.clientAuth}, body-format ${oauth.bodyFormat}, rotating refresh tokens`)}`
  )
  const oauthInputs = (extra: Record<string, string>) => oauth2Inputs(oauth, extra)
  let run = await rotation(
    'OAuth 2.0 · workflow_dispatch with an authorization code',
    { 'authorization-code': oauth.issueCode() },
    DISPATCH,
    oauthInputs
  )
  check(
    holds('OAUTH_REFRESH_TOKEN', oauth),
    'secret OAUTH_REFRESH_TOKEN (the default name for oauth2) holds the server’s current refresh token'
  )
  const previous = gh.secret(repo, 'OAUTH_REFRESH_TOKEN')?.value ?? ''
  run = await rotation(
    'OAuth 2.0 · schedule: refresh with ${{ secrets.OAUTH_REFRESH_TOKEN }}',
    { 'refresh-token': previous },
    SCHEDULE,
    oauthInputs
  )
  check(previous !== '' && oauth.isRevoked(previous), 'the refresh token it spent is now revoked by the server (rotation)')
  check(holds('OAUTH_REFRESH_TOKEN', oauth), 'the secret holds the newest refresh token')

  console.log(`\n${bold('━━ Next step in the same job: the API with the new access token')}`)
  const me = await fetch(`${oauth.url}/api/me`, { headers: { Authorization: `Bearer ${run.outputs['access-token'] ?? ''}` } })
  const body = (await me.json()) as { client_id?: string }
  console.log(indent(`GET /api/me → ${me.status}\n${JSON.stringify(body, null, 2)}`))
  check(me.status === 200 && body.client_id === oauth.clientId, 'the new access token is accepted by the API')
}

/**
 * The set-up of a new account with `init` (dist/rescue/index.js, as a user runs it from a clone of
 * the action), without a terminal: every answer a flag or a variable. Its own stand-ins: a new
 * amoCRM account and a GitHub with nothing in it yet.
 */
async function initPart(): Promise<void> {
  const newAmo = await startAmoCrm({ subdomain: 'newco' })
  const newGh = await startGitHub()
  try {
    const clone = mkdtempSync(join(tmpdir(), 'demo-clone-'))
    execFileSync('git', ['init', '-q'], { cwd: clone })
    execFileSync('git', ['remote', 'add', 'origin', 'https://github.com/acme/crm-sync.git'], { cwd: clone })
    const keyFile = join(mkdtempSync(join(tmpdir(), 'demo-key-')), 'rescue.key')
    const code = newAmo.issueCode()
    const args = ['--subdomain', 'newco', '--base-url', newAmo.url, '--client-id', newAmo.clientId, '--redirect-uri', newAmo.redirectUri]
    console.log(`\n${bold('━━ Setting up a new account with init, without a terminal: every answer a flag or a variable')}`)
    console.log(
      dim(
        `  in a clone of acme/crm-sync: GH_TOKEN=… TOKEN_ROTATION_CLIENT_SECRET=… TOKEN_ROTATION_CODE=… node dist/rescue/index.js init ${args.join(' ')} --rescue-key-file ${keyFile} --store-token`
      )
    )
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GITHUB_API_URL: newGh.url,
      GH_TOKEN: DEMO_GITHUB_TOKEN,
      TOKEN_ROTATION_CLIENT_SECRET: newAmo.clientSecret,
      TOKEN_ROTATION_CODE: code
    }
    // Asynchronously: the stand-ins answer from this very process.
    const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [join(PROJECT_ROOT, 'dist', 'rescue', 'index.js'), 'init', ...args, '--rescue-key-file', keyFile, '--store-token'],
        { cwd: clone, env },
        (_error, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr })
      )
      child.stdin?.end()
    })
    console.log(indent(`${run.stdout}${run.stderr}`))
    const printed = `${run.stdout}${run.stderr}`
    const secrets = [
      newAmo.clientSecret,
      code,
      DEMO_GITHUB_TOKEN,
      ...newAmo.issued.flatMap((pair) => [pair.access_token, pair.refresh_token])
    ]
    const workflow = readFileSync(join(clone, '.github', 'workflows', 'amocrm-token.yml'), 'utf8')
    const cron = /- cron: '(\d+) (\d+) /.exec(workflow)
    check(run.status === 0, 'init succeeded')
    check(
      secrets.every((secret) => !printed.includes(secret)),
      'it printed no secret'
    )
    check(
      newGh.secret(repo, 'AMOCRM_REFRESH_TOKEN')?.value === newAmo.currentRefreshToken(),
      'AMOCRM_REFRESH_TOKEN, decrypted by the GitHub stand-in, is the new account’s current refresh token'
    )
    check(
      ['AMOCRM_CLIENT_ID', 'AMOCRM_CLIENT_SECRET', 'AMOCRM_REDIRECT_URI', 'SECRETS_TOKEN'].every(
        (name) => newGh.secret(repo, name) !== undefined
      ) && newGh.variable('acme/crm-sync', 'AMOCRM_RESCUE_PUBLIC_KEY') !== undefined,
      'the secrets the workflow reads, and the rescue key’s variable'
    )
    check(
      cron !== null && cron[1] !== '0',
      `the workflow runs daily at a time of its own (cron '${cron?.[1] ?? '?'} ${cron?.[2] ?? '?'} * * *'), never at minute 0`
    )
  } finally {
    await Promise.all([newAmo.close(), newGh.close()])
  }
}

console.log(bold('OAuth refresh token rotation (amoCRM / Kommo, Bitrix24, any OAuth 2.0) — local demo'))
console.log(
  `Stand-ins on 127.0.0.1: amoCRM ${amo.url} (account demo.amocrm.ru), Bitrix24 ${b24.url}, OAuth 2.0 ${oauth.url}, GitHub API ${gh.url}`
)
console.log(`The action: dist/index.js, run as a runner runs it. No credentials, no network.`)

try {
  const code = amo.issueCode()
  let run = await rotation(
    'Run 1 · workflow_dispatch with an authorization code: the first exchange',
    { 'authorization-code': code },
    DISPATCH
  )
  check(
    gh.secret(repo, 'AMOCRM_REFRESH_TOKEN')?.value === amo.currentRefreshToken(),
    'secret AMOCRM_REFRESH_TOKEN, decrypted by the GitHub stand-in, is amoCRM’s current refresh token'
  )

  for (let i = 1; i <= REFRESHES; i++) {
    const previous = gh.secret(repo, 'AMOCRM_REFRESH_TOKEN')?.value ?? ''
    run = await rotation(
      `Run ${i + 1} · schedule: refresh with \${{ secrets.AMOCRM_REFRESH_TOKEN }}`,
      { 'refresh-token': previous },
      SCHEDULE
    )
    check(amo.isRevoked(previous), 'the refresh token it spent is now revoked by amoCRM (single use)')
    check(gh.secret(repo, 'AMOCRM_REFRESH_TOKEN')?.value === amo.currentRefreshToken(), 'the secret holds the newest refresh token')
    check(
      gh.secret(repo, 'AMOCRM_ACCESS_TOKEN')?.value === run.outputs['access-token'],
      'AMOCRM_ACCESS_TOKEN holds the new access token, for other workflows'
    )
  }

  console.log(`\n${bold('━━ Next step in the same job: lead 1001 — responsible user and main contact')}`)
  const { result, how } = await leadPeople(run.outputs['api-url'] ?? '', run.outputs['access-token'] ?? '', '1001')
  console.log(indent(JSON.stringify(result, null, 2)))
  console.log(dim(`  via ${how}, with steps.amocrm.outputs.api-url and access-token`))
  check(result.responsible_user_id === 8000001 && result.main_contact_id === 5000001, 'responsible user 8000001, main contact 5000001')
  const revoked = amo.issued.slice(0, -1).every((pair) => amo.isRevoked(pair.refresh_token))
  console.log()
  check(revoked, `all ${amo.issued.length - 1} earlier refresh tokens are revoked; only the stored one is valid`)

  await part(alertPart)
  await part(bitrix24Part)
  await part(oauth2Part)
  await part(initPart)
} finally {
  await Promise.all([amo.close(), b24.close(), oauth.close(), gh.close()])
}
console.log(
  failures === 0 ? green(bold('\nThe chain holds: every token was stored, nothing printed.')) : red(bold(`\n${failures} check(s) failed.`))
)
process.exitCode = failures === 0 ? 0 : 1
