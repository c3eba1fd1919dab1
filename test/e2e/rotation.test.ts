/**
 * The action end to end (issue "The action"): both grants, every target, every output, the summary,
 * masking — the bundled dist/index.js as a child process against the stand-ins, with the secrets
 * decrypted by the GitHub stand-in's private keys.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { decodeJwtPayload } from '../../sandbox/standins/amocrm.js'
import { DEMO_JOB_TOKEN } from '../../sandbox/standins/github/github.js'
import { besidesAlert, errors, failure, REPO, sandbox, type Sandbox } from './harness.js'

describe('first exchange and scheduled refreshes', () => {
  let box: Sandbox
  before(async () => (box = await sandbox()))
  after(async () => box.close())

  test('an authorization code creates the secret with the issued refresh token', async () => {
    const code = box.amo.issueCode()
    const run = await box.run(box.inputs({ 'authorization-code': code, 'refresh-token': '' }))
    assert.equal(run.code, 0, run.log)
    const pair = box.amo.issued.at(-1)
    assert.ok(pair, 'amoCRM issued a pair')
    assert.equal(pair.grant, 'authorization_code')
    assert.equal(box.gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value, pair.refresh_token)
    assert.equal(box.amo.currentRefreshToken(), pair.refresh_token)

    // Outputs: every one of the contract.
    const claims = decodeJwtPayload(pair.access_token)
    assert.equal(run.outputs['access-token'], pair.access_token)
    assert.equal(run.outputs['refresh-token'], pair.refresh_token)
    assert.equal(run.outputs['token-type'], 'Bearer')
    assert.equal(run.outputs['expires-in'], '86400')
    assert.equal(run.outputs['expires-at'], new Date(Number(claims?.exp) * 1000).toISOString())
    assert.equal(run.outputs['api-url'], `${box.amo.url}/api/v4`)
    assert.equal(run.outputs['account-id'], String(box.amo.accountId))

    // Masked: the code, the client secret, the GitHub token and both new tokens.
    for (const value of [code, box.amo.clientSecret, 'ghs_demo_write_token', pair.access_token, pair.refresh_token]) {
      assert.ok(run.masked.includes(value), `not masked: ${value.slice(0, 12)}…`)
    }
    // The new tokens are masked before the outputs are written (the file command comes after the mask line).
    assert.ok(run.stdout.indexOf(`::add-mask::${pair.refresh_token}`) >= 0)

    // The write check: the probe was written, then deleted; the real secret was written once, with the new token.
    const probe = box.gh.writes.filter((w) => w.name === 'AMOCRM_REFRESH_TOKEN_WRITE_CHECK')
    assert.equal(probe.length, 1)
    assert.equal(box.gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN_WRITE_CHECK'), undefined)
    assert.deepEqual(
      box.gh.writes.filter((w) => w.name === 'AMOCRM_REFRESH_TOKEN').map((w) => w.value),
      [pair.refresh_token]
    )

    // Summary: what happened, no values.
    assert.match(run.summary, /amoCRM tokens rotated/)
    assert.match(run.summary, /repository secret AMOCRM_REFRESH_TOKEN of acme\/crm-sync \(created\)/)
    assert.match(run.summary, /Refresh again before \| \d{4}-\d{2}-\d{2}/)
    assert.match(run.summary, /authorization code/)
  })

  test('a refresh spends the stored token, stores the next one and the access token', async () => {
    const before = box.amo.currentRefreshToken()
    assert.ok(before)
    const run = await box.run(box.inputs({ 'access-token-secret': 'AMOCRM_ACCESS_TOKEN' }))
    assert.equal(run.code, 0, run.log)
    const pair = box.amo.issued.at(-1)
    assert.ok(pair)
    assert.equal(pair.grant, 'refresh_token')
    assert.ok(box.amo.isRevoked(before), 'the old token is revoked')
    assert.equal(box.gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value, pair.refresh_token)
    assert.equal(box.gh.secret(REPO, 'AMOCRM_ACCESS_TOKEN')?.value, pair.access_token)
    assert.match(run.summary, /\(updated\)/)
    assert.match(run.log, /Stored the access token/)
  })

  test('with step debug logging on, still nothing secret is printed', async () => {
    // box.run asserts that no known secret appears in stdout, stderr or the summary.
    const run = await box.run(box.inputs({ 'access-token-secret': 'AMOCRM_ACCESS_TOKEN' }), {
      env: { ACTIONS_STEP_DEBUG: 'true', RUNNER_DEBUG: '1', NODE_DEBUG: '' }
    })
    assert.equal(run.code, 0, run.log)
    assert.equal(box.gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value, box.amo.currentRefreshToken())
  })

  test('ten refreshes in a row keep the chain', async () => {
    for (let i = 0; i < 10; i++) {
      const run = await box.run(box.inputs({ 'refresh-token': box.gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value ?? '' }))
      assert.equal(run.code, 0, run.log)
    }
    assert.equal(box.gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value, box.amo.currentRefreshToken())
  })
})

describe('targets', () => {
  let box: Sandbox
  before(async () => (box = await sandbox({ gh: { prefix: '/api/v3' } })))
  after(async () => box.close())

  test('environment secrets, on a GitHub Enterprise-style API prefix', async () => {
    box.amo.setRefreshToken(`def50200${'1'.repeat(64)}`)
    const run = await box.run(box.inputs({ environment: 'production', 'access-token-secret': 'AMO_ACCESS' }))
    assert.equal(run.code, 0, run.log)
    const scope = { repo: 'acme/crm-sync', environment: 'production' }
    assert.equal(box.gh.secret(scope, 'AMOCRM_REFRESH_TOKEN')?.value, box.amo.currentRefreshToken())
    assert.equal(box.gh.secret(scope, 'AMO_ACCESS')?.value, box.amo.issued.at(-1)?.access_token)
    assert.equal(box.gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN'), undefined, 'no repository secret')
    assert.ok(box.gh.requests.every((r) => r.path.startsWith('/api/v3/')))
  })

  test('organization secrets with visibility selected resolve repository ids', async () => {
    const run = await box.run(
      box.inputs({
        organization: 'acme',
        visibility: 'selected',
        'selected-repositories': 'crm-sync,\nacme/billing',
        'refresh-token-secret': 'amo_refresh'
      })
    )
    assert.equal(run.code, 0, run.log)
    const stored = box.gh.secret({ org: 'acme' }, 'AMO_REFRESH')
    assert.equal(stored?.value, box.amo.currentRefreshToken())
    assert.equal(stored?.visibility, 'selected')
    assert.deepEqual(stored?.selected_repository_ids, [700001, 700003])
    const lookups = box.gh.requests.filter((r) => r.method === 'GET' && /^\/api\/v3\/repos\/acme\/[a-z-]+(\?|$)/.test(r.path))
    assert.deepEqual(lookups.map((r) => r.path).sort(), ['/api/v3/repos/acme/billing', '/api/v3/repos/acme/crm-sync'])
  })

  test('organization secrets with visibility all', async () => {
    const run = await box.run(box.inputs({ organization: 'acme', visibility: 'all' }))
    assert.equal(run.code, 0, run.log)
    assert.equal(box.gh.secret({ org: 'acme' }, 'AMOCRM_REFRESH_TOKEN')?.visibility, 'all')
  })

  test('`github-api-url` overrides the runner’s GITHUB_API_URL', async () => {
    const run = await box.run(box.inputs({ 'github-api-url': box.gh.url }), { env: { GITHUB_API_URL: 'http://127.0.0.1:65535' } })
    assert.equal(run.code, 0, run.log)
    assert.equal(box.gh.secret(REPO, 'AMOCRM_REFRESH_TOKEN')?.value, box.amo.currentRefreshToken())
  })

  test('another repository named by `repository`', async () => {
    const run = await box.run(box.inputs({ repository: 'acme/website' }))
    assert.equal(run.code, 0, run.log)
    assert.equal(box.gh.secret({ repo: 'acme/website' }, 'AMOCRM_REFRESH_TOKEN')?.value, box.amo.currentRefreshToken())
  })
})

describe('tokens that are not JWTs', () => {
  let box: Sandbox
  before(async () => (box = await sandbox({ amo: { jwt: false, expiresIn: 3600 } })))
  after(async () => box.close())

  test('expires-at comes from issue time + expires-in; account-id is empty', async () => {
    box.seed()
    const started = Date.now()
    const run = await box.run(box.inputs())
    assert.equal(run.code, 0, run.log)
    const expiresAt = Date.parse(run.outputs['expires-at'] ?? '')
    assert.ok(expiresAt >= started + 3600_000 - 1000 && expiresAt <= Date.now() + 3600_000, run.outputs['expires-at'])
    assert.equal(run.outputs['account-id'], '')
    assert.equal(run.outputs['expires-in'], '3600')
  })
})

describe('input errors stop the run before any request', () => {
  let box: Sandbox
  before(async () => (box = await sandbox()))
  after(async () => box.close())

  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['no grant', { 'refresh-token': '' }, /Input 'refresh-token' .*'authorization-code'/],
    ['bad subdomain', { subdomain: 'my company' }, /Input 'subdomain'/],
    ['unknown domain', { subdomain: 'demo', domain: 'amocrm.de' }, /Input 'domain'/],
    ['http base-url off loopback', { 'base-url': 'http://example.com' }, /Input 'base-url' must use https/],
    ['http github-api-url off loopback', { 'github-api-url': 'http://github.example.com/api/v3' }, /Input 'github-api-url' must use https/],
    [
      'environment and organization',
      { environment: 'production', organization: 'acme' },
      /Input 'environment' cannot be combined with 'organization'/
    ],
    ['visibility without organization', { visibility: 'all' }, /Input 'visibility'/],
    ['secret name', { 'refresh-token-secret': 'GITHUB_TOKEN_X' }, /Input 'refresh-token-secret'/],
    ['repository format', { repository: 'acme' }, /Input 'repository'/],
    ['rescue key', { 'rescue-public-key': 'abc' }, /Input 'rescue-public-key'/],
    ['missing github-token', { 'github-token': '' }, /Input 'github-token' is required/]
  ]
  for (const [name, inputs, message] of cases) {
    test(name, async () => {
      box.seed()
      const before = box.gh.requests.length
      const run = await box.run(box.inputs(inputs))
      assert.match(failure(run), message)
      assert.equal(box.amo.requests.length, 0, 'nothing sent to amoCRM')
      // Only the alert issue, with the job token: a workflow broken by a deleted secret says so.
      const sent = box.gh.requests.slice(before)
      assert.deepEqual(besidesAlert(sent), [], 'nothing sent to GitHub but the alert issue')
      assert.ok(sent.every((r) => r.headers.authorization === `token ${DEMO_JOB_TOKEN}`))
      assert.match(run.summary, /Nothing was sent to the provider/)
    })
  }

  test('with alert: none, nothing at all is sent', async () => {
    box.seed()
    const run = await box.run(box.inputs({ 'refresh-token': '', alert: 'none' }))
    assert.match(failure(run), /Input 'refresh-token'/)
    assert.equal(run.githubRequests, 0)
  })
})

describe('errors from amoCRM and GitHub are one clear sentence', () => {
  let box: Sandbox
  before(
    async () =>
      (box = await sandbox({
        gh: { tokens: { ghs_demo_write_token: { repoSecrets: true, envSecrets: true }, ghs_read_only: {}, ghs_org: { orgSecrets: true } } }
      }))
  )
  after(async () => box.close())

  test('a token without the secrets permission fails before the refresh token is spent', async () => {
    const token = box.seed()
    const run = await box.run(box.inputs({ 'github-token': 'ghs_read_only' }))
    const message = failure(run)
    assert.equal(run.tokenRequests, 0, 'the token was not spent')
    assert.match(message, /403/)
    assert.match(message, /"Secrets: Read and write"/)
    assert.match(message, /GITHUB_TOKEN can never write secrets/)
    assert.equal(box.amo.currentRefreshToken(), token)
  })

  test('an unknown environment fails before the token is spent, naming it', async () => {
    box.seed()
    const run = await box.run(box.inputs({ environment: 'staging' }))
    assert.match(failure(run), /environment 'staging' does not exist in acme\/crm-sync/)
    assert.equal(run.tokenRequests, 0)
  })

  test('org secrets without the organization permission', async () => {
    box.seed()
    const run = await box.run(box.inputs({ organization: 'acme' }))
    assert.match(failure(run), /organization permission "Secrets: Read and write" on acme/)
    assert.equal(run.tokenRequests, 0)
  })

  test('a selected repository that does not exist', async () => {
    box.seed()
    const run = await box.run(
      box.inputs({ organization: 'acme', visibility: 'selected', 'selected-repositories': 'nope', 'github-token': 'ghs_org' })
    )
    assert.match(failure(run), /selected-repositories/)
    assert.equal(run.tokenRequests, 0)
  })

  test('a wrong client secret', async () => {
    box.seed()
    const message = failure(await box.run(box.inputs({ 'client-secret': 'wrong-secret-value' })))
    assert.match(message, /amoCRM refused the refresh token \(400 .*client_secret.*\): the secret key is wrong/)
  })

  test('a redirect URI that differs by a trailing slash', async () => {
    box.seed()
    const message = failure(await box.run(box.inputs({ 'redirect-uri': `${box.amo.redirectUri}/` })))
    assert.match(message, /'redirect-uri' differs from the integration's/)
  })

  test('a used authorization code', async () => {
    const code = box.amo.issueCode()
    assert.equal((await box.run(box.inputs({ 'authorization-code': code }))).code, 0)
    const message = failure(await box.run(box.inputs({ 'authorization-code': code })))
    assert.match(message, /already used/)
    assert.deepEqual(errors(await box.run(box.inputs({ 'authorization-code': 'garbage' }))).length, 1)
  })

  test('GitHub unreachable: a sentence, not a stack trace, and nothing spent', async () => {
    box.seed()
    const run = await box.run(box.inputs(), { env: { GITHUB_API_URL: 'http://127.0.0.1:65535' } })
    assert.match(failure(run), /did not answer/)
    assert.equal(run.tokenRequests, 0)
  })
})
