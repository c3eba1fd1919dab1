/**
 * The command docs/development.md hands a developer, `npm run local-action` with a `.env` made from
 * `.env.example`, run as they would run it (GitHub's @github/local-action on src/main.ts) against
 * the stand-ins. It stopped working once without anyone noticing: local-action passes the default
 * `${{ github.token }}` through as text, which the action must treat as unset.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { PROJECT_ROOT } from '../../sandbox/runner/runner.js'
import { REPO, sandbox } from './harness.js'

const exec = promisify(execFile)

/** `.env.example` with these values in place of its own (and any key it lacks added). */
async function envFrom(values: Record<string, string>): Promise<string> {
  const example = await readFile(join(PROJECT_ROOT, '.env.example'), 'utf8')
  const left = new Map(Object.entries(values))
  const lines = example.split('\n').map((line) => {
    const key = /^([A-Z_][A-Z0-9_-]*)=/.exec(line)?.[1]
    if (key === undefined || !left.has(key)) return line
    const value = left.get(key) ?? ''
    left.delete(key)
    return `${key}=${value}`
  })
  return [...lines, ...[...left].map(([key, value]) => `${key}=${value}`)].join('\n')
}

test('npm run local-action with a .env from .env.example: the first exchange stores the refresh token', async () => {
  const box = await sandbox()
  try {
    const code = box.amo.issueCode()
    const dir = await mkdtemp(join(tmpdir(), 'local-action-'))
    const envFile = join(dir, '.env')
    await writeFile(
      envFile,
      await envFrom({
        INPUT_SUBDOMAIN: 'demo',
        'INPUT_BASE-URL': box.amo.url,
        'INPUT_CLIENT-ID': box.amo.clientId,
        'INPUT_CLIENT-SECRET': box.amo.clientSecret,
        'INPUT_REDIRECT-URI': box.amo.redirectUri,
        'INPUT_AUTHORIZATION-CODE': code,
        'INPUT_GITHUB-TOKEN': 'ghs_demo_write_token',
        INPUT_REPOSITORY: REPO.repo,
        GITHUB_API_URL: box.gh.url
      })
    )
    // The script as package.json has it, with the .env argument pointed at this one.
    const script = (JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts[
      'local-action'
    ]
    const words = (script ?? '').split(' ')
    assert.equal(words.at(-1), '.env')
    const [command = '', ...args] = [...words.slice(0, -1), envFile]
    const { stdout } = await exec(command, args, {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      timeout: 120_000
    })
    assert.match(stdout, /::notice::Input 'job-token' is an unevaluated \$\{\{ … \}\} expression, not a value/)
    assert.match(stdout, /Stored the new refresh token in the repository secret AMOCRM_REFRESH_TOKEN of acme\/crm-sync/)
    const current = box.amo.currentRefreshToken() ?? ''
    assert.equal(box.gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value, current)
    assert.ok(!stdout.includes(current) && !stdout.includes(box.amo.clientSecret), 'no secret was printed')
  } finally {
    await box.close()
  }
})
