import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, realpathSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gitHubHost, localTools, repositoryOfRemote } from '../../../src/init/github.js'

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
