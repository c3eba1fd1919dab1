/**
 * A repository's variables against the GitHub stand-in (its variables routes answer as GitHub's
 * do: sandbox/selftest): create, the 409 of an existing name turned into an update, delete, and a
 * refusal worded with the Variables permission.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createOctokit } from '../../../src/github/client.js'
import { GitHubVariables, variablesPermission } from '../../../src/github/variables.js'
import { faultQueue, onlyWhen } from '../../../sandbox/standins/faults.js'
import { startGitHub, type GitHubServer } from '../../../sandbox/standins/github/github.js'

const REPO = { owner: 'acme', repo: 'crm-sync' }
let gh: GitHubServer

const variables = (token: string, onRetry?: (message: string) => void) =>
  new GitHubVariables(REPO, {
    octokit: createOctokit(token, gh.url),
    retry: { attempts: 3, baseMs: 1, maxWaitMs: 10, isCancelled: () => false, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
    timeoutMs: 5000,
    redact: (text) => text,
    onRetry
  })

before(async () => {
  gh = await startGitHub({ tokens: { writer: { variables: 'write' }, reader: { variables: 'read' }, secrets: { repoSecrets: true } } })
})
after(() => gh.close())

describe('GitHubVariables', () => {
  test('set creates a variable, and updates one that exists (GitHub answers its create 409)', async () => {
    const vars = variables('writer')
    assert.equal(await vars.set('AMOCRM_RESCUE_PUBLIC_KEY', 'first'), 'created')
    assert.equal(gh.variable('acme/crm-sync', 'AMOCRM_RESCUE_PUBLIC_KEY')?.value, 'first')
    assert.equal(await vars.set('AMOCRM_RESCUE_PUBLIC_KEY', 'second'), 'updated')
    assert.equal(gh.variable('acme/crm-sync', 'AMOCRM_RESCUE_PUBLIC_KEY')?.value, 'second')
    assert.equal(vars.describe('X'), 'repository variable X of acme/crm-sync')
  })

  test('delete removes it, and a variable already gone is no error', async () => {
    const vars = variables('writer')
    await vars.set('GONE', 'x')
    await vars.delete('GONE')
    assert.equal(gh.variable('acme/crm-sync', 'GONE'), undefined)
    await vars.delete('GONE')
  })

  test('a create whose answer is lost is retried, meets its own variable and updates it', async () => {
    const retries: string[] = []
    gh.faults = onlyWhen((r) => r.method === 'POST' && r.path.endsWith('/actions/variables'), faultQueue({ kind: 'lost-response' }))
    try {
      assert.equal(await variables('writer', (m) => retries.push(m)).set('LOST', 'value'), 'updated')
    } finally {
      gh.faults = undefined
    }
    assert.equal(gh.variable('acme/crm-sync', 'LOST')?.value, 'value')
    assert.equal(retries.length, 1)
    assert.match(retries[0] ?? '', /attempt 1 to write the repository variable LOST of acme\/crm-sync failed \(no answer/)
  })

  test('a token without Variables: write is refused in words that name the permission', async () => {
    for (const token of ['reader', 'secrets']) {
      await assert.rejects(variables(token).set('NOPE', 'x'), (error: Error) => {
        assert.equal(
          error.message,
          `GitHub refused to write the repository variable NOPE of acme/crm-sync (403: Resource not accessible by integration): 'github-token' lacks the permission — ${variablesPermission(REPO)}.`
        )
        return true
      })
    }
    assert.match(variablesPermission(REPO), /"Variables: Read and write" on acme\/crm-sync/)
    assert.equal(gh.variable('acme/crm-sync', 'NOPE'), undefined)
  })
})
