/**
 * npm run demo: the whole product on this machine, in seconds, without an amoCRM account.
 *
 * Starts the amoCRM and GitHub stand-ins on 127.0.0.1 and runs the bundled dist/index.js as a
 * runner would (INPUT_* variables, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY): the first exchange with an
 * authorization code, then scheduled refreshes, then the README's consumer step. It shows the log as
 * the runner displays it (masked values as ***), the outputs, the job summary, and proof that the
 * secret — decrypted with the stand-in's private key — holds the newest refresh token while the old
 * ones are revoked. Exits non-zero if any proof fails.
 */
import { standInInputs, startAmoCrm } from './amocrm.js'
import { leadPeople } from './consumer.js'
import { DEMO_GITHUB_TOKEN, startGitHub } from './github.js'
import { leakedSecrets, runAction, type ActionRun, type RunOptions } from './runner.js'

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
const gh = await startGitHub()
const repo = { repo: 'acme/crm-sync' }
const seen = new Set<string>([amo.clientSecret, DEMO_GITHUB_TOKEN])

/** The first exchange is started by hand; the refreshes by the workflow's cron. */
const DISPATCH: RunOptions['event'] = { name: 'workflow_dispatch', payload: {} }
const SCHEDULE: RunOptions['event'] = { name: 'schedule', payload: { schedule: '0 3 * * *' } }

async function rotation(title: string, inputs: Record<string, string>, event: RunOptions['event']): Promise<ActionRun> {
  console.log(`\n${bold(`━━ ${title}`)}`)
  const run = await runAction({
    inputs: standInInputs(amo, { 'access-token-secret': 'AMOCRM_ACCESS_TOKEN', ...inputs }),
    env: { GITHUB_API_URL: gh.url },
    event
  })
  for (const pair of amo.issued) [pair.access_token, pair.refresh_token].forEach((t) => seen.add(t))
  Object.values(inputs).forEach((v) => v && seen.add(v))
  console.log(dim('  log, as the runner shows it:'))
  console.log(indent(run.log))
  console.log(dim('  outputs (masked values show as *** in any log):'))
  for (const [name, value] of Object.entries(run.outputs)) {
    console.log(`    ${name.padEnd(14)} ${run.masked.includes(value) ? `*** (${value.length} characters, masked)` : value}`)
  }
  console.log(dim('  job summary:'))
  console.log(indent(renderMarkdown(run.summary)))
  console.log(dim(`  exit code ${run.code}, ${Math.round(run.durationMs)} ms`))
  check(run.code === 0, 'the run succeeded')
  check(leakedSecrets(run, [...seen]).length === 0, 'no secret value in the log, the outputs file aside, or the summary')
  return run
}

console.log(bold('amoCRM / Kommo token rotation — local demo'))
console.log(`Stand-ins on 127.0.0.1: amoCRM ${amo.url} (account demo.amocrm.ru), GitHub API ${gh.url}`)
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
} finally {
  await Promise.all([amo.close(), gh.close()])
}
console.log(
  failures === 0 ? green(bold('\nThe chain holds: every token was stored, nothing printed.')) : red(bold(`\n${failures} check(s) failed.`))
)
process.exitCode = failures === 0 ? 0 : 1
