/**
 * The init command's flow, called directly: a scripted terminal (each prompt expected in turn, and
 * answered), the local tools faked, and the GitHub, amoCRM and Bitrix24 stand-ins on loopback, so
 * that what init stores is opened for real. test/e2e/init.test.ts runs the bundle as a user does.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runInit, type InitDeps } from '../../../src/init/init.js'
import type { Terminal } from '../../../src/init/terminal.js'
import { Cancelled } from '../../../src/init/terminal.js'
import { generateKeyPair } from '../../../src/rescue/sealing.js'
import { startAmoCrm, type AmoCrmServer } from '../../../sandbox/standins/amocrm.js'
import { startBitrix24, type Bitrix24Server } from '../../../sandbox/standins/bitrix24.js'
import { faultQueue, onlyWhen } from '../../../sandbox/standins/faults.js'
import { DEMO_GITHUB_TOKEN, startGitHub, type GitHubServer } from '../../../sandbox/standins/github/github.js'

const REPO = { repo: 'acme/crm-sync' }

/** A terminal that expects its prompts in order and gives the scripted answers. */
class Scripted implements Terminal {
  readonly lines: string[] = []
  readonly errors: string[] = []
  readonly asked: string[] = []

  constructor(
    private readonly answers: Array<[string, string | Error | (() => string)]>,
    readonly interactive = true,
    readonly screen = true
  ) {}

  print(text: string): void {
    this.lines.push(text)
  }

  error(text: string): void {
    this.errors.push(text)
  }

  async ask(label: string, options: { hidden?: boolean } = {}): Promise<string> {
    this.asked.push(`${label}${options.hidden ? '(hidden)' : ''}`)
    const next = this.answers.shift()
    assert.ok(next, `an unexpected prompt: ${label}\n${this.lines.join('\n')}`)
    assert.equal(label, next[0])
    if (next[1] instanceof Error) throw next[1]
    return typeof next[1] === 'function' ? next[1]() : next[1]
  }

  get all(): string {
    return [...this.lines, ...this.errors].join('\n')
  }

  done(): void {
    assert.deepEqual(this.answers, [], 'every scripted answer was asked for')
  }
}

let amo: AmoCrmServer
let b24: Bitrix24Server

before(async () => {
  amo = await startAmoCrm()
  b24 = await startBitrix24()
})
after(async () => {
  await Promise.all([amo.close(), b24.close()])
})

async function github(t: { after(fn: () => Promise<void>): void }): Promise<GitHubServer> {
  const gh = await startGitHub({
    tokens: { [DEMO_GITHUB_TOKEN]: { repoSecrets: true, variables: 'write' }, ghs_no_secrets: { variables: 'write' } }
  })
  t.after(() => gh.close())
  return gh
}

function deps(gh: GitHubServer, terminal: Terminal, argv: string[], env: NodeJS.ProcessEnv = {}, extra: Partial<InitDeps> = {}): InitDeps {
  const cwd = mkdtempSync(join(tmpdir(), 'init-unit-'))
  let n = 0
  return {
    argv,
    env: { GITHUB_API_URL: gh.url, TOKEN_ROTATION_BACKOFF_MS: '1', ...env },
    cwd,
    terminal,
    tools: { git: () => ({ origin: 'https://github.com/acme/crm-sync.git', top: cwd }), ghToken: () => undefined },
    // 1, 2, 3, …: the schedule's minute is 1 + something, never 0.
    random: (min, max) => min + (n++ % (max - min)),
    now: () => new Date('2026-01-07T10:00:00Z'),
    localOffset: () => 180,
    exit: (code) => {
      throw new Error(`exit ${code}`)
    },
    ...extra
  }
}

const amoFlags = (keyFile?: string) => [
  '--subdomain',
  'demo',
  '--base-url',
  amo.url,
  '--client-id',
  amo.clientId,
  '--redirect-uri',
  amo.redirectUri,
  ...(keyFile ? ['--rescue-key-file', keyFile] : [])
]

describe('init, called directly', () => {
  test('--help prints the flags and does nothing else', async (t) => {
    const gh = await github(t)
    const terminal = new Scripted([])
    assert.equal(await runInit(deps(gh, terminal, ['--help'])), 0)
    assert.match(terminal.all, /usage: token-rotation-rescue init/)
    assert.equal(gh.requests.length, 0)
  })

  test('without a terminal: every answer given, everything written, the refresh token stored', async (t) => {
    const gh = await github(t)
    const terminal = new Scripted([], false, false)
    const d = deps(gh, terminal, [...amoFlags(join(tmpdir(), `init-unit-key-${process.pid}-${Date.now()}`)), '--store-token'], {
      GH_TOKEN: DEMO_GITHUB_TOKEN,
      TOKEN_ROTATION_CLIENT_SECRET: amo.clientSecret,
      TOKEN_ROTATION_CODE: amo.issueCode()
    })
    assert.equal(await runInit(d), 0, terminal.all)
    assert.equal(gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value, amo.currentRefreshToken())
    assert.equal(gh.secret(REPO, 'SECRETS_TOKEN')?.value, DEMO_GITHUB_TOKEN)
    const workflow = readFileSync(join(d.cwd, '.github', 'workflows', 'amocrm-token.yml'), 'utf8')
    assert.match(workflow, /- cron: '1 1 \* \* \*'/)
    assert.match(terminal.all, /the first scheduled run: 2026-01-08 01:01 UTC \(04:01 on 2026-01-08 local time, UTC\+03:00\)/)
    assert.deepEqual(terminal.asked, [])
    assert.doesNotMatch(terminal.all, new RegExp(amo.clientSecret))
  })

  test('at a terminal: the token typed, a refused answer asked again, an existing workflow kept, the key shown once', async (t) => {
    const gh = await github(t)
    const code = amo.issueCode()
    const terminal = new Scripted([
      ['GitHub token: ', 'has space'],
      ['GitHub token: ', DEMO_GITHUB_TOKEN],
      ['Provider [amocrm]: ', 'amoCRM'],
      ['Account (subdomain): ', 'www'],
      ['Account (subdomain): ', 'demo'],
      ['Domain [amocrm.ru]: ', ''],
      ['Integration ID: ', ''],
      ['Integration ID: ', amo.clientId],
      ['Secret key: ', amo.clientSecret],
      ['Redirect URI: ', amo.redirectUri],
      ['.github/workflows/amocrm-token.yml exists. Overwrite it? [y/N]: ', ''],
      ['Store this token as the secret SECRETS_TOKEN? [Y/n]: ', 'n'],
      ['Authorization code: ', 'with space'],
      ['Authorization code: ', code]
    ])
    const d = deps(gh, terminal, ['--base-url', amo.url])
    mkdirSync(join(d.cwd, '.github', 'workflows'), { recursive: true })
    writeFileSync(join(d.cwd, '.github', 'workflows', 'amocrm-token.yml'), 'name: mine\n')
    assert.equal(await runInit(d), 0, terminal.all)
    terminal.done()
    assert.ok(terminal.asked.includes('Secret key: (hidden)') && terminal.asked.includes('GitHub token: (hidden)'))
    assert.match(terminal.all, /That contains whitespace: paste the token again/)
    assert.match(terminal.all, /'www' is not an account/)
    assert.match(terminal.all, /An answer is needed here/)
    assert.match(terminal.all, /authorization-code|contains whitespace: copy the value again/)
    assert.match(terminal.all, /Kept \.github\/workflows\/amocrm-token\.yml as it is/)
    assert.equal(readFileSync(join(d.cwd, '.github', 'workflows', 'amocrm-token.yml'), 'utf8'), 'name: mine\n')
    assert.match(terminal.all, /Its private key, shown this once/)
    assert.match(terminal.all, /gh secret set SECRETS_TOKEN --repo acme\/crm-sync/)
    assert.equal(gh.secret(REPO, 'SECRETS_TOKEN'), undefined)
    assert.equal(gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value, amo.currentRefreshToken())
    for (const secret of [DEMO_GITHUB_TOKEN, amo.clientSecret, code]) assert.ok(!terminal.all.includes(secret))
  })

  test("Bitrix24 at a terminal: the first token chosen, the GitHub CLI's token not stored by default, an existing key reused", async (t) => {
    const gh = await github(t)
    const install = 'e'.repeat(70)
    b24.setRefreshToken(install)
    gh.setSecret(REPO, 'SECRETS_TOKEN', 'an earlier token')
    const { publicKey } = await generateKeyPair()
    const terminal = new Scripted([
      ['Provider [amocrm]: ', 'nope'],
      ['Provider [amocrm]: ', 'bitrix24'],
      ['Authorization server [https://oauth.bitrix.info]: ', b24.url],
      ['Application code (client_id): ', b24.clientId],
      ['Secret key (client_secret): ', b24.clientSecret],
      ['First token: code or refresh-token [refresh-token]: ', 'maybe'],
      ['First token: code or refresh-token [refresh-token]: ', ''],
      ['Refresh token of the install: ', install]
    ])
    const d = deps(
      gh,
      terminal,
      ['--rescue-public-key', publicKey],
      {},
      { tools: { git: () => ({ origin: 'git@github.com:acme/crm-sync.git', top: undefined }), ghToken: () => DEMO_GITHUB_TOKEN } }
    )
    assert.equal(await runInit(d), 0, terminal.all)
    terminal.done()
    assert.match(terminal.all, /must be one of amocrm, kommo, bitrix24, oauth2; got 'nope'/)
    assert.match(terminal.all, /Answer code or refresh-token/)
    assert.match(terminal.all, /The token from `gh auth token`/)
    assert.match(terminal.all, /SECRETS_TOKEN of acme\/crm-sync exists: left as it is/)
    assert.equal(gh.secret(REPO, 'SECRETS_TOKEN')?.value, 'an earlier token')
    assert.equal(gh.variable('acme/crm-sync', 'BITRIX24_RESCUE_PUBLIC_KEY')?.value, publicKey)
    assert.doesNotMatch(terminal.all, /private key/)
    assert.equal(gh.secret(REPO, 'BITRIX24_REFRESH_TOKEN')?.value, b24.currentRefreshToken())
    assert.ok(existsSync(join(d.cwd, '.github', 'workflows', 'bitrix24-token.yml')), 'outside a clone: the current folder')
  })

  test("the CLI's token, not stored unless the answer says so", async (t) => {
    const gh = await github(t)
    const terminal = new Scripted([
      ['Store this token as the secret SECRETS_TOKEN? [y/N]: ', 'yes'],
      ['Authorization code: ', amo.issueCode()]
    ])
    const d = deps(
      gh,
      terminal,
      [...amoFlags(), '--domain', 'amocrm.ru', '--provider', 'amocrm'],
      { TOKEN_ROTATION_CLIENT_SECRET: amo.clientSecret },
      {
        tools: { git: () => ({ origin: 'https://github.com/acme/crm-sync', top: undefined }), ghToken: () => DEMO_GITHUB_TOKEN }
      }
    )
    assert.equal(await runInit(d), 0, terminal.all)
    terminal.done()
    assert.equal(gh.secret(REPO, 'SECRETS_TOKEN')?.value, DEMO_GITHUB_TOKEN)
  })

  test('mistakes found before any request: exit 2, one sentence naming where the value came from', async (t) => {
    const gh = await github(t)
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp, Partial<InitDeps>?]> = [
      [['--colour'], {}, /^init: --colour is not a flag of init/],
      [['--subdomain', 'x y'], {}, /^init: --subdomain must be the account's subdomain/],
      [[], { TOKEN_ROTATION_SUBDOMAIN: 'x y' }, /^init: TOKEN_ROTATION_SUBDOMAIN must be/],
      [[], { GITHUB_API_URL: 'ftp://x' }, /^init: GITHUB_API_URL must use https:\/\//],
      [['--repo', 'a/b/c'], {}, /^init: --repo 'a\/b\/c' is not a repository/],
      [
        [],
        {},
        /^init: The git remote 'origin' of this folder \(\/srv\/crm\.git\) does not name a GitHub repository: pass --repo/,
        { tools: { git: () => ({ origin: '/srv/crm.git', top: undefined }), ghToken: () => undefined } }
      ],
      [
        [],
        {},
        /^init: The git remote 'origin' \(https:\/\/example\.com\/bad%20owner\/crm\) 'bad%20owner\/crm' is not a repository: expected the format owner\/name\.$/,
        { tools: { git: () => ({ origin: 'https://example.com/bad%20owner/crm', top: undefined }), ghToken: () => undefined } }
      ],
      [['--rescue-public-key', 'AAAA'], {}, /^init: --rescue-public-key must be a base64 X25519 public key/],
      [['--workflow-file', '../x.yml'], {}, /^init: --workflow-file must be a file name ending in \.yml/],
      [
        ['--rescue-key-file', '/nonexistent/dir/key'],
        {},
        /^init: --rescue-key-file \/nonexistent\/dir\/key: its folder \/nonexistent\/dir does not exist/
      ],
      [
        ['--non-interactive', '--rescue-key-file', join(tmpdir(), 'never-written.key')],
        {},
        /^init: --subdomain \(or TOKEN_ROTATION_SUBDOMAIN\) is required/
      ],
      [
        ['--non-interactive', ...amoFlags(join(tmpdir(), 'never-written.key'))],
        { TOKEN_ROTATION_CLIENT_SECRET: 's3cret-value-x' },
        /^init: TOKEN_ROTATION_CODE is required/
      ],
      [
        ['--non-interactive', ...amoFlags(join(tmpdir(), 'never-written.key'))],
        { TOKEN_ROTATION_CODE: 'code-0123456789' },
        /^init: TOKEN_ROTATION_CLIENT_SECRET is required/
      ],
      [
        ['--non-interactive', ...amoFlags(join(tmpdir(), 'never-written.key'))],
        { TOKEN_ROTATION_CODE: 'code-0123456789', TOKEN_ROTATION_CLIENT_SECRET: 's3cret-value-x' },
        /^init: No GitHub token: set GH_TOKEN/
      ],
      [
        ['--non-interactive', ...amoFlags(join(tmpdir(), 'never-written.key'))],
        { TOKEN_ROTATION_CODE: 'code-0123456789', TOKEN_ROTATION_CLIENT_SECRET: 's3cret-value-x', GH_TOKEN: 'two words' },
        /^init: GH_TOKEN contains whitespace/
      ]
    ]
    for (const [argv, env, expected, extra] of cases) {
      const terminal = new Scripted([], true, true)
      assert.equal(await runInit(deps(gh, terminal, argv, env, extra)), 2, `${argv.join(' ')} ${JSON.stringify(env)}\n${terminal.all}`)
      assert.match(terminal.errors.join('\n'), expected)
      assert.equal(terminal.errors.length, 1)
    }
    // Without a screen, the private key needs a file.
    const terminal = new Scripted([], false, false)
    assert.equal(await runInit(deps(gh, terminal, amoFlags())), 2)
    assert.match(terminal.errors[0] ?? '', /init needs --rescue-key-file PATH/)
    assert.equal(gh.requests.length, 0, 'no request was made')
  })

  test("a remote's credentials are never shown; a remote not on github.com, without an API address, is stopped naming --api-url", async (t) => {
    const gh = await github(t)
    const pat = 'azdo-pat-0123456789abcdefghij'
    const run = async (origin: string, env: NodeJS.ProcessEnv = {}): Promise<string> => {
      const terminal = new Scripted([], true, true)
      const tools = { git: () => ({ origin, top: undefined }), ghToken: () => undefined }
      assert.equal(await runInit(deps(gh, terminal, [], env, { tools })), 2, terminal.all)
      assert.equal(terminal.errors.length, 1, terminal.all)
      assert.ok(!terminal.all.includes(pat) && !terminal.all.includes('user:'), terminal.all)
      return terminal.all
    }
    assert.match(
      await run(`https://user:${pat}@example.com/only-one`),
      /^init: The git remote 'origin' of this folder \(https:\/\/example\.com\/only-one\) does not name a GitHub repository/
    )
    assert.match(
      await run(`https://user:${pat}@ghe.example.com/bad%20owner/crm`),
      /^init: The git remote 'origin' \(https:\/\/ghe\.example\.com\/bad%20owner\/crm\) 'bad%20owner\/crm' is not a repository/
    )
    // No --api-url and no GITHUB_API_URL: api.github.com would be the wrong GitHub.
    assert.match(
      await run(`https://user:${pat}@dev.azure.com/org/_git/repo`, { GITHUB_API_URL: '' }),
      /^init: The git remote 'origin' \(https:\/\/dev\.azure\.com\/org\/_git\/repo\) is on dev\.azure\.com, not github\.com, and no --api-url was given: .* pass --repo OWNER\/NAME\.$/
    )
    assert.match(
      await run('git@ghe.example.com:acme/crm-sync.git', { GITHUB_API_URL: '' }),
      /is on ghe\.example\.com, not github\.com, .*pass --api-url https:\/\/ghe\.example\.com\/api\/v3 \(or set GITHUB_API_URL\)/
    )
    assert.equal(gh.requests.length, 0, 'no request was made')
  })

  test('a flag the answer at a prompt makes wrong: named, exit 2', async (t) => {
    const gh = await github(t)
    const terminal = new Scripted([['Provider [amocrm]: ', 'kommo']])
    const code = await runInit(deps(gh, terminal, ['--domain', 'amocrm.com'], { GH_TOKEN: DEMO_GITHUB_TOKEN }))
    assert.equal(code, 2, terminal.all)
    assert.match(terminal.errors[0] ?? '', /^init: --domain is amocrm\.com, but provider: kommo means kommo\.com/)
  })

  test("GitHub's refusals at step 1: said of the token's source; nothing else asked", async (t) => {
    const gh = await github(t)
    let terminal = new Scripted([])
    assert.equal(await runInit(deps(gh, terminal, [], { GH_TOKEN: 'ghs_unknown' })), 1)
    assert.match(terminal.errors[0] ?? '', /^init: GitHub refused the token from GH_TOKEN \(401\): it is invalid, expired or revoked/)
    terminal = new Scripted([])
    assert.equal(await runInit(deps(gh, terminal, ['--prefix', 'acme'], { GITHUB_TOKEN: 'ghs_no_secrets' })), 1)
    assert.match(
      terminal.errors[0] ?? '',
      /ACME_REFRESH_TOKEN_WRITE_CHECK .*: the token from GITHUB_TOKEN lacks the permission — .*"Secrets: Read and write"/
    )
    assert.match(terminal.errors[0] ?? '', /Nothing was asked or changed: give a token that has it/)
    assert.deepEqual(terminal.asked, [])
    terminal = new Scripted([])
    assert.equal(await runInit(deps(gh, terminal, ['--repo', 'acme/elsewhere'], { GH_TOKEN: DEMO_GITHUB_TOKEN })), 1)
    assert.match(
      terminal.errors[0] ?? '',
      /404.*repository acme\/elsewhere does not exist or the token from GH_TOKEN cannot see it.*Nothing was asked or changed\.$/
    )
  })

  test('a code the provider refuses: nothing stored, and what to do', async (t) => {
    const gh = await github(t)
    const terminal = new Scripted([], false, false)
    const d = deps(gh, terminal, amoFlags(join(mkdtempSync(join(tmpdir(), 'k-')), 'key')), {
      GH_TOKEN: DEMO_GITHUB_TOKEN,
      TOKEN_ROTATION_CLIENT_SECRET: amo.clientSecret,
      TOKEN_ROTATION_CODE: 'def50200not-a-code'
    })
    assert.equal(await runInit(d), 1)
    assert.match(terminal.errors[0] ?? '', /^init: amoCRM refused the authorization code/)
    assert.match(terminal.all, /Run init again with a new authorization code/)
    assert.equal(gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN'), undefined)
  })

  test('a store that fails after the exchange: the sealed rescue line, and how to open it', async (t) => {
    const gh = await github(t)
    gh.faults = onlyWhen(
      (r) => r.method === 'PUT' && r.path.endsWith('/secrets/AMOCRM_REFRESH_TOKEN'),
      faultQueue({ kind: 'status', status: 404, body: '{"message":"Not Found"}' })
    )
    const terminal = new Scripted([], false, false)
    const keyFile = join(mkdtempSync(join(tmpdir(), 'k-')), 'key')
    const d = deps(gh, terminal, amoFlags(keyFile), {
      GH_TOKEN: DEMO_GITHUB_TOKEN,
      TOKEN_ROTATION_CLIENT_SECRET: amo.clientSecret,
      TOKEN_ROTATION_CODE: amo.issueCode()
    })
    assert.equal(await runInit(d), 1)
    assert.match(terminal.all, /amocrm-rescue:v1:/)
    assert.match(terminal.errors[0] ?? '', /^init: The new refresh token could not be stored/)
    assert.match(terminal.errors[0] ?? '', /printed above as one amocrm-rescue:v1:… line: open it with the action's rescue tool/)
    assert.match(
      terminal.all,
      new RegExp(
        `open rescue\\.txt --key-file ${keyFile} --field refresh_token \\|\\n\\s+gh secret set AMOCRM_REFRESH_TOKEN --repo acme/crm-sync`
      )
    )
    assert.ok(!terminal.all.includes(amo.currentRefreshToken() ?? '?'))
  })

  test('a failure after the refresh token was stored: said, then what is next; no new code asked for', async (t) => {
    const gh = await github(t)
    gh.faults = onlyWhen(
      (r) => r.method === 'PUT' && r.path.endsWith('/secrets/AMOCRM_ACCESS_TOKEN'),
      () => ({ kind: 'status', status: 404, body: '{"message":"Not Found"}' })
    )
    const terminal = new Scripted([], false, false)
    const d = deps(gh, terminal, amoFlags(join(mkdtempSync(join(tmpdir(), 'k-')), 'key')), {
      GH_TOKEN: DEMO_GITHUB_TOKEN,
      TOKEN_ROTATION_CLIENT_SECRET: amo.clientSecret,
      TOKEN_ROTATION_CODE: amo.issueCode()
    })
    assert.equal(await runInit(d), 1, terminal.all)
    assert.equal(gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value, amo.currentRefreshToken())
    assert.equal(terminal.errors.length, 1, terminal.all)
    assert.match(terminal.errors[0] ?? '', /^init: .*AMOCRM_ACCESS_TOKEN/)
    assert.doesNotMatch(terminal.all, /new authorization code|Run init again/)
    assert.match(terminal.all, /6\. The refresh token is stored in AMOCRM_REFRESH_TOKEN; only the failure above is left to fix\./)
    assert.match(terminal.all, /git add \.github\/workflows\/amocrm-token\.yml/)
    assert.match(terminal.all, /the first scheduled run: /)
    assert.doesNotMatch(terminal.all, /has the secrets [^\n]*AMOCRM_ACCESS_TOKEN/)
  })

  test('run again with the --rescue-key-file an earlier init wrote: its key used again; one of another key refused', async (t) => {
    const gh = await github(t)
    const env = { GH_TOKEN: DEMO_GITHUB_TOKEN, TOKEN_ROTATION_CLIENT_SECRET: amo.clientSecret }
    const earlier = await generateKeyPair()
    const keyFile = join(mkdtempSync(join(tmpdir(), 'k-')), 'key')
    writeFileSync(keyFile, `${earlier.privateKey}\n`, { mode: 0o600 })
    // The earlier run stopped after its key file, before the variable: the file's key is used.
    let terminal = new Scripted([], false, false)
    assert.equal(await runInit(deps(gh, terminal, amoFlags(keyFile), { ...env, TOKEN_ROTATION_CODE: amo.issueCode() })), 0, terminal.all)
    assert.match(terminal.all, /The rescue key pair whose private key is in .*key, which an earlier init wrote: used again/)
    assert.equal(gh.variable('acme/crm-sync', 'AMOCRM_RESCUE_PUBLIC_KEY')?.value, earlier.publicKey)
    assert.equal(readFileSync(keyFile, 'utf8'), `${earlier.privateKey}\n`)
    assert.equal(gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value, amo.currentRefreshToken())
    // Again, the variable holding its public half: used again.
    terminal = new Scripted([], false, false)
    assert.equal(
      await runInit(deps(gh, terminal, [...amoFlags(keyFile), '--yes'], { ...env, TOKEN_ROTATION_CODE: amo.issueCode() })),
      0,
      terminal.all
    )
    assert.match(terminal.all, /used again/)
    // A variable with another key: the file is not this set-up's; refused before anything is written.
    const other = await generateKeyPair()
    gh.setVariable('acme/crm-sync', 'AMOCRM_RESCUE_PUBLIC_KEY', other.publicKey)
    const writes = gh.writes.length
    terminal = new Scripted([], false, false)
    const d = deps(gh, terminal, [...amoFlags(keyFile), '--yes'], { ...env, TOKEN_ROTATION_CODE: 'code-never-spent-0123' })
    assert.equal(await runInit(d), 2, terminal.all)
    assert.match(
      terminal.errors[0] ?? '',
      /^init: --rescue-key-file .*key exists, and its public half is not the key in the repository variable AMOCRM_RESCUE_PUBLIC_KEY of acme\/crm-sync: init never overwrites a key file; name a new one with --rescue-key-file/
    )
    assert.deepEqual(
      gh.writes
        .slice(writes)
        .map((w) => w.name)
        .filter((name) => !name.endsWith('_WRITE_CHECK')),
      [],
      'no secret written'
    )
    assert.equal(existsSync(join(d.cwd, '.github')), false, 'no workflow written')
    assert.equal(gh.variable('acme/crm-sync', 'AMOCRM_RESCUE_PUBLIC_KEY')?.value, other.publicKey)
    // A file that holds no key is refused before any request.
    const requests = gh.requests.length
    writeFileSync(keyFile, '')
    terminal = new Scripted([], false, false)
    assert.equal(await runInit(deps(gh, terminal, amoFlags(keyFile), { ...env, TOKEN_ROTATION_CODE: 'code-never-spent-0123' })), 2)
    assert.match(
      terminal.errors[0] ?? '',
      /^init: --rescue-key-file .*key exists and is not a rescue private key \(.*\): init never overwrites/
    )
    assert.equal(gh.requests.length, requests)
  })

  test("init's own files: a folder that cannot hold them is refused up front, a write that fails is said with its path", async (t) => {
    const gh = await github(t)
    const env = {
      GH_TOKEN: DEMO_GITHUB_TOKEN,
      TOKEN_ROTATION_CLIENT_SECRET: amo.clientSecret,
      TOKEN_ROTATION_CODE: 'code-never-spent-0123'
    }
    // .github is a file: the workflow's folder cannot be made.
    let terminal = new Scripted([], false, false)
    let d = deps(gh, terminal, amoFlags(join(mkdtempSync(join(tmpdir(), 'k-')), 'key')), env)
    writeFileSync(join(d.cwd, '.github'), '')
    assert.equal(await runInit(d), 2, terminal.all)
    assert.match(
      terminal.errors[0] ?? '',
      /^init: .*\.github is a file, not a folder: init writes the workflow to .*\.github\/workflows; move the file away\.$/
    )
    assert.equal(gh.requests.length, 0)
    // The key file's write fails (a dangling link is there): the path and what to do, not "a bug"; nothing spent.
    const keyFile = join(mkdtempSync(join(tmpdir(), 'k-')), 'key')
    symlinkSync(join(tmpdir(), `nowhere-${process.pid}`, 'key'), keyFile)
    terminal = new Scripted([], false, false)
    d = deps(gh, terminal, amoFlags(keyFile), env)
    assert.equal(await runInit(d), 1, terminal.all)
    assert.match(
      terminal.errors[0] ?? '',
      /^init: Could not write the rescue key file .*key \(EEXIST\): .*\. No token was spent: free the space or fix the permissions, and run init again\.$/
    )
    assert.doesNotMatch(terminal.all, /bug/i)
  })

  test('outside a clone, or over an existing workflow without --yes: refused before any request', async (t) => {
    const gh = await github(t)
    let terminal = new Scripted([], false, false)
    const none = { git: () => ({ origin: undefined, top: undefined }), ghToken: () => undefined }
    assert.equal(await runInit(deps(gh, terminal, [], {}, { tools: none })), 2)
    assert.match(
      terminal.errors[0] ?? '',
      /^init: This folder has no git remote 'origin' to name the repository: run init in a clone of it, or pass --repo OWNER\/NAME\.$/
    )
    terminal = new Scripted([], false, false)
    const key = join(mkdtempSync(join(tmpdir(), 'k-')), 'key')
    const d = deps(gh, terminal, [...amoFlags(key), '--workflow-file', 'mine.yaml'], {
      TOKEN_ROTATION_CLIENT_SECRET: 's3cret-value-x',
      TOKEN_ROTATION_CODE: 'code-0123456789'
    })
    mkdirSync(join(d.cwd, '.github', 'workflows'), { recursive: true })
    writeFileSync(join(d.cwd, '.github', 'workflows', 'mine.yaml'), 'name: mine\n')
    assert.equal(await runInit(d), 2)
    assert.match(
      terminal.errors[0] ?? '',
      /mine\.yaml exists: pass --yes to overwrite it, or --workflow-file NAME to write another file\.$/
    )
    assert.equal(gh.requests.length, 0)
  })

  test("a probe secret that is someone else's is left alone: the write check uses a name of its own", async (t) => {
    const gh = await github(t)
    gh.setSecret(REPO, 'AMOCRM_REFRESH_TOKEN_WRITE_CHECK', 'not ours')
    const terminal = new Scripted([], false, false)
    const d = deps(gh, terminal, [...amoFlags(join(mkdtempSync(join(tmpdir(), 'k-')), 'key')), '--provider', 'amocrm'], {
      GH_TOKEN: DEMO_GITHUB_TOKEN,
      TOKEN_ROTATION_CLIENT_SECRET: amo.clientSecret,
      TOKEN_ROTATION_CODE: amo.issueCode()
    })
    assert.equal(await runInit(d), 0, terminal.all)
    assert.equal(gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN_WRITE_CHECK')?.value, 'not ours')
    assert.match(terminal.all, /the write check uses AMOCRM_REFRESH_TOKEN_WRITE_CHECK_\d+ instead/)
  })

  test('a signal before the first token is spent: the same words, exit 130', async (t) => {
    const gh = await github(t)
    const exits: number[] = []
    const terminal = new Scripted([
      [
        'Provider [amocrm]: ',
        () => {
          // What Ctrl-C outside a prompt does: the signal handler ends the process.
          assert.throws(() => process.emit('SIGINT', 'SIGINT'), /exit 130/)
          return 'amocrm'
        }
      ],
      ['Account (subdomain): ', new Cancelled()]
    ])
    const d = deps(
      gh,
      terminal,
      [],
      { GH_TOKEN: DEMO_GITHUB_TOKEN },
      {
        exit: (code) => {
          exits.push(code)
          throw new Error(`exit ${code}`)
        }
      }
    )
    assert.equal(await runInit(d), 130)
    assert.deepEqual(exits, [130])
    assert.match(terminal.errors[0] ?? '', /^Stopped before the first token was spent/)
    assert.equal(
      process.listenerCount('SIGINT') > 0 && process.listeners('SIGINT').some((l) => l.name === 'handler'),
      false,
      'the handler is removed'
    )
  })

  test('stopped at a prompt: nothing spent, exit 130; anything unforeseen is one sentence', async (t) => {
    const gh = await github(t)
    let terminal = new Scripted([['Provider [amocrm]: ', new Cancelled()]])
    assert.equal(await runInit(deps(gh, terminal, [], { GH_TOKEN: DEMO_GITHUB_TOKEN })), 130)
    assert.match(terminal.errors[0] ?? '', /^Stopped before the first token was spent: nothing is lost/)
    terminal = new Scripted([['Provider [amocrm]: ', new Error('the terminal went away')]])
    assert.equal(await runInit(deps(gh, terminal, [], { GH_TOKEN: DEMO_GITHUB_TOKEN })), 1)
    assert.match(terminal.errors[0] ?? '', /^init: Unexpected error: the terminal went away\. This is a bug/)
  })
})
