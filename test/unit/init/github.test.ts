import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, realpathSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { printableRemote, remoteHost, remotePassword, gitHubHost, localTools, repositoryOfRemote } from '../../../src/init/github.js'

describe('where init finds the repository and the token', () => {
  test("the repository of a git remote's URL, in every form git writes", () => {
    for (const url of [
      'https://github.com/acme/crm-sync.git',
      'https://github.com/acme/crm-sync',
      'https://github.com/acme/crm-sync/',
      'https://user@github.com/acme/crm-sync.git',
      'git@github.com:acme/crm-sync.git',
      'git@github.com:acme/crm-sync',
      'ssh://git@github.com/acme/crm-sync.git',
      'ssh://git@github.com:22/acme/crm-sync.git',
      'https://ghe.example.com/acme/crm-sync.git',
      '  https://github.com/acme/crm-sync.git\n'
    ]) {
      assert.equal(repositoryOfRemote(url), 'acme/crm-sync', url)
    }
    for (const url of ['', 'not a url', 'https://github.com/acme', '/srv/git/crm-sync.git', 'git@github.com:']) {
      assert.equal(repositoryOfRemote(url), undefined, url)
    }
  })

  test('the host whose `gh auth token` is asked', () => {
    assert.equal(gitHubHost('https://api.github.com'), 'github.com')
    assert.equal(gitHubHost('https://ghe.example.com/api/v3'), 'ghe.example.com')
    assert.equal(gitHubHost('http://127.0.0.1:8080'), '127.0.0.1:8080')
  })

  test("git: a clone's origin and top; outside one, nothing", () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'init-git-')))
    assert.deepEqual(localTools.git(dir), { origin: undefined, top: undefined })
    execFileSync('git', ['init', '-q'], { cwd: dir })
    assert.deepEqual(localTools.git(dir), { origin: undefined, top: dir })
    execFileSync('git', ['remote', 'add', 'origin', 'git@github.com:acme/crm-sync.git'], { cwd: dir })
    execFileSync('mkdir', ['sub'], { cwd: dir })
    assert.deepEqual(localTools.git(join(dir, 'sub')), { origin: 'git@github.com:acme/crm-sync.git', top: dir })
  })

  test('gh: no token for a host nobody is logged in to (or without the GitHub CLI)', () => {
    assert.equal(localTools.ghToken('nobody.invalid'), undefined)
  })
})

describe("a remote's URL, printed", () => {
  test('without its user and password; with its host and the password to mask', () => {
    const cases: Array<[string, string, string | undefined, string | undefined]> = [
      ['https://user:PAT@dev.azure.com/org/_git/repo', 'https://dev.azure.com/org/_git/repo', 'PAT', 'dev.azure.com'],
      ['https://ghp_token@github.com/acme/crm-sync.git', 'https://github.com/acme/crm-sync.git', undefined, 'github.com'],
      ['https://u:p@ss/w@ghe.example.com/a/b', 'https://ghe.example.com/a/b', 'p@ss/w', 'ghe.example.com'],
      ['git@github.com:acme/crm-sync.git', 'git@github.com:acme/crm-sync.git', undefined, 'github.com'],
      ['u:pw@GHE.example.com:acme/x.git', 'GHE.example.com:acme/x.git', 'pw', 'ghe.example.com'],
      ['ssh://git@ssh.github.com:443/acme/x.git', 'ssh://ssh.github.com:443/acme/x.git', undefined, 'ssh.github.com'],
      ['https://user:@example.com/a/b', 'https://example.com/a/b', undefined, 'example.com'],
      ['/srv/crm.git', '/srv/crm.git', undefined, undefined],
      ['https://[bad/a/b', 'https://[bad/a/b', undefined, undefined]
    ]
    for (const [url, shown, password, host] of cases) {
      assert.equal(printableRemote(url), shown, url)
      assert.equal(remotePassword(url), password, url)
      assert.equal(remoteHost(url), host, url)
    }
  })
})
