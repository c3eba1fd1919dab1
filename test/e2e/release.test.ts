/**
 * scripts/release.sh as the release workflow runs it: in a fresh clone on a machine with no git
 * identity (HOME empty, no system config, identity guessing off, as on a runner where git says
 * "empty ident name ... not allowed"). The clone's origin is a temporary bare repository, `gh` is a
 * stand-in that records its arguments, and scripts/check-dist.sh is a stand-in too (npm test runs
 * the real one): what is under test is the script's tagging, pushing and refusals.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { PROJECT_ROOT } from '../../sandbox/runner/runner.js'

const exec = promisify(execFile)
const BOT = 'github-actions[bot]'
const BOT_EMAIL = '41898282+github-actions[bot]@users.noreply.github.com'

describe('scripts/release.sh in a fresh clone with no git identity', () => {
  let root: string
  let bare: string
  let home: string
  let bin: string
  let ghLog: string

  /** The environment of a fresh runner: no identity anywhere, and git may not guess one. */
  function env(): NodeJS.ProcessEnv {
    const clean: NodeJS.ProcessEnv = {}
    for (const [key, value] of Object.entries(process.env)) if (!/^(GIT_|XDG_CONFIG_HOME$|EMAIL$)/.test(key)) clean[key] = value
    return {
      ...clean,
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'user.useConfigOnly',
      GIT_CONFIG_VALUE_0: 'true',
      GIT_TERMINAL_PROMPT: '0',
      GH_LOG: ghLog,
      PATH: `${bin}:${process.env.PATH ?? ''}`
    }
  }

  async function git(cwd: string, ...args: string[]): Promise<string> {
    return (await exec('git', args, { cwd, env: env() })).stdout.trim()
  }

  /** A commit made with an identity given for that one command only. */
  async function commit(cwd: string, message: string): Promise<void> {
    await exec('git', ['-c', 'user.name=Maintainer', '-c', 'user.email=maintainer@example.com', 'commit', '-q', '-m', message], {
      cwd,
      env: env()
    })
  }

  function writeVersion(dir: string, version: string, changes: string): void {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'release-test', version }, null, 2) + '\n')
    const previous = (() => {
      try {
        return readFileSync(join(dir, 'CHANGELOG.md'), 'utf8').replace(/^# Changelog\n\n/, '')
      } catch {
        return ''
      }
    })()
    writeFileSync(join(dir, 'CHANGELOG.md'), `# Changelog\n\n## [${version}] - 2026-11-27\n\n- ${changes}\n\n${previous}`)
  }

  async function release(cwd: string, version: string): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await exec('bash', ['scripts/release.sh', version], { cwd, env: env() })
      return { code: 0, stdout, stderr }
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string }
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
    }
  }

  async function freshClone(name: string): Promise<string> {
    const dir = join(root, name)
    await exec('git', ['clone', '-q', bare, dir], { env: env() })
    return dir
  }

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'release-test-'))
    bare = join(root, 'origin.git')
    home = join(root, 'home')
    bin = join(root, 'bin')
    ghLog = join(root, 'gh.log')
    mkdirSync(home)
    mkdirSync(bin)
    // gh: records each call, its arguments NUL-terminated, the call ended by a record separator.
    writeFileSync(join(bin, 'gh'), '#!/usr/bin/env bash\nprintf "%s\\0" "$@" >> "$GH_LOG"\nprintf "\\036" >> "$GH_LOG"\n')
    chmodSync(join(bin, 'gh'), 0o755)

    await exec('git', ['init', '-q', '--bare', '--initial-branch=main', bare], { env: env() })
    const seed = join(root, 'seed')
    await exec('git', ['init', '-q', '--initial-branch=main', seed], { env: env() })
    mkdirSync(join(seed, 'scripts'))
    copyFileSync(join(PROJECT_ROOT, 'scripts', 'release.sh'), join(seed, 'scripts', 'release.sh'))
    writeFileSync(join(seed, 'scripts', 'check-dist.sh'), '#!/usr/bin/env bash\necho "check-dist: (stand-in) ok"\n')
    writeVersion(seed, '1.2.3', 'First release.')
    await git(seed, 'add', '-A')
    await commit(seed, 'Release 1.2.3')
    await git(seed, 'remote', 'add', 'origin', bare)
    await git(seed, 'push', '-q', 'origin', 'main')
  })
  after(() => rmSync(root, { recursive: true, force: true }))

  test('the clone really has no identity: a plain annotated tag fails', async () => {
    const dir = await freshClone('no-identity')
    await assert.rejects(exec('git', ['tag', '-a', 'probe', '-m', 'probe'], { cwd: dir, env: env() }))
  })

  test('tags vX.Y.Z and vX as github-actions[bot], pushes both, creates the release; the next release moves vX', async () => {
    const dir = await freshClone('release')
    const first = await release(dir, '1.2.3')
    assert.equal(first.code, 0, first.stdout + first.stderr)

    const head = await git(bare, 'rev-parse', 'refs/heads/main')
    assert.equal(await git(bare, 'rev-parse', 'refs/tags/v1.2.3^{commit}'), head)
    assert.equal(await git(bare, 'rev-parse', 'refs/tags/v1^{commit}'), head)
    assert.equal(await git(bare, 'cat-file', '-t', 'refs/tags/v1.2.3'), 'tag', 'an annotated tag')
    assert.equal(await git(bare, 'for-each-ref', '--format=%(taggername) %(taggeremail)', 'refs/tags/v1.2.3'), `${BOT} <${BOT_EMAIL}>`)
    assert.equal(await git(bare, 'for-each-ref', '--format=%(taggername)', 'refs/tags/v1'), BOT)

    const calls = readFileSync(ghLog, 'utf8').split('\x1e').filter(Boolean)
    assert.equal(calls.length, 1)
    const args = (calls[0] ?? '').split('\0').slice(0, -1)
    assert.deepEqual(args.slice(0, 5), ['release', 'create', 'v1.2.3', '--title', 'v1.2.3'])
    assert.equal(args[5], '--notes')
    assert.match(args[6] ?? '', /First release\./)
    assert.equal(args.at(-1), '--verify-tag')

    // The next version, committed and pushed to main, then released from another fresh clone.
    writeVersion(dir, '1.2.4', 'A fix.')
    await git(dir, 'add', '-A')
    await commit(dir, 'Release 1.2.4')
    await git(dir, 'push', '-q', 'origin', 'main')
    const next = await release(await freshClone('release-next'), '1.2.4')
    assert.equal(next.code, 0, next.stdout + next.stderr)
    const newHead = await git(bare, 'rev-parse', 'refs/heads/main')
    assert.notEqual(newHead, head)
    assert.equal(await git(bare, 'rev-parse', 'refs/tags/v1.2.4^{commit}'), newHead)
    assert.equal(await git(bare, 'rev-parse', 'refs/tags/v1^{commit}'), newHead, 'v1 moved to the new release')
    assert.equal(await git(bare, 'rev-parse', 'refs/tags/v1.2.3^{commit}'), head, 'v1.2.3 stays where it was')
  })

  test('an identity that is configured is kept', async () => {
    const dir = await freshClone('own-identity')
    await git(dir, 'config', 'user.name', 'Release Manager')
    await git(dir, 'config', 'user.email', 'rm@example.com')
    writeVersion(dir, '1.3.0', 'A feature.')
    await git(dir, 'add', '-A')
    await commit(dir, 'Release 1.3.0')
    await git(dir, 'push', '-q', 'origin', 'main')
    const result = await release(dir, '1.3.0')
    assert.equal(result.code, 0, result.stdout + result.stderr)
    assert.equal(
      await git(bare, 'for-each-ref', '--format=%(taggername) %(taggeremail)', 'refs/tags/v1.3.0'),
      'Release Manager <rm@example.com>'
    )
  })

  test('refuses a branch other than main, and a main that is not origin/main; pushes nothing', async () => {
    const dir = await freshClone('refusals')
    const tagsBefore = await git(bare, 'tag', '--list')
    writeVersion(dir, '9.9.9', 'Never released.')
    await git(dir, 'add', '-A')
    await commit(dir, 'Release 9.9.9')

    const ahead = await release(dir, '9.9.9')
    assert.notEqual(ahead.code, 0)
    assert.match(ahead.stderr, /HEAD is not origin\/main/)

    await git(dir, 'switch', '-q', '-c', 'topic')
    const topic = await release(dir, '9.9.9')
    assert.notEqual(topic.code, 0)
    assert.match(topic.stderr, /from main only \(HEAD is topic\)/)

    assert.equal(await git(bare, 'tag', '--list'), tagsBefore)
    assert.equal(await git(dir, 'tag', '--list', 'v9*'), '', 'no local tag either')
  })
})
