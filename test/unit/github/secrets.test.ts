import { before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Octokit } from '@octokit/rest'
import { ActionError } from '../../../src/errors.js'
import type { Target } from '../../../src/github/targets.js'
import type { RetryPolicy } from '../../../src/retry.js'
import { generateKeyPair, unseal } from '../../../src/rescue/sealing.js'
import { describeGitHubError, GitHubError } from '../../../src/github/errors.js'
import { GitHubSecretStore, lastPage } from '../../../src/github/secrets.js'
import { requiredPermission } from '../../../src/github/targets.js'

// ---------------------------------------------------------------------------------------------
// A fake Octokit: answers are scripted per route ("METHOD /template"), in order; the last answer
// of a route repeats. Errors are thrown shaped like Octokit's RequestError.
// ---------------------------------------------------------------------------------------------

type Reply = { status: number; data?: unknown; headers?: Record<string, string> } | { throws: unknown }
type Step = Reply | ((params: Record<string, unknown>) => Reply | Promise<Reply>)

interface Call {
  route: string
  /** The params without `request` (the per-request options). */
  params: Record<string, unknown>
  signal: unknown
}

function fakeOctokit(script: Record<string, Step[]>): { octokit: Octokit; calls: Call[] } {
  const calls: Call[] = []
  const queues = new Map(Object.entries(script).map(([route, steps]) => [route, [...steps]]))
  const request = async (route: string, params: Record<string, unknown>) => {
    const { request: options, ...rest } = params
    calls.push({ route, params: rest, signal: (options as { signal?: unknown } | undefined)?.signal })
    const queue = queues.get(route)
    // An ActionError is neither retried nor reworded: a test that sends an unscripted request fails plainly.
    if (!queue || queue.length === 0) throw new ActionError(`fake Octokit: no answer scripted for ${route}`)
    const step = queue.length > 1 ? queue.shift() : queue[0]
    if (step === undefined) throw new ActionError(`fake Octokit: no answer scripted for ${route}`)
    const reply = typeof step === 'function' ? await step(rest) : step
    if ('throws' in reply) throw reply.throws
    return { status: reply.status, data: reply.data, headers: reply.headers ?? {} }
  }
  return { octokit: { request } as unknown as Octokit, calls }
}

/** Shaped like Octokit's RequestError. */
function httpError(status: number, message: string, headers: Record<string, string> = {}): Reply {
  return { throws: Object.assign(new Error(message), { status, response: { status, headers, data: { message } } }) }
}

/** Octokit's report of a request that got no answer: status 500 and no response. */
const noAnswer = (): Reply => ({ throws: Object.assign(new Error('connect ECONNREFUSED'), { status: 500 }) })

const REPO: Target = { kind: 'repository', owner: 'acme', repo: 'crm-sync' }
const ENVIRONMENT: Target = { kind: 'environment', environment: 'production', owner: 'acme', repo: 'crm-sync' }
const ORG_ALL: Target = { kind: 'organization', org: 'acme', visibility: 'all', selectedRepositories: [] }
const ORG_PRIVATE: Target = { kind: 'organization', org: 'acme', visibility: 'private', selectedRepositories: [] }
const ORG_SELECTED: Target = {
  kind: 'organization',
  org: 'acme',
  visibility: 'selected',
  selectedRepositories: [
    { owner: 'acme', repo: 'crm-sync' },
    { owner: 'acme', repo: 'billing' },
    { owner: 'acme', repo: 'reports' }
  ]
}

const REPO_KEY = 'GET /repos/{owner}/{repo}/actions/secrets/public-key'
const REPO_SECRET = (method: string) => `${method} /repos/{owner}/{repo}/actions/secrets/{secret_name}`
const ENV_KEY = 'GET /repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key'
const ENV_SECRET = (method: string) => `${method} /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}`
const ORG_KEY = 'GET /orgs/{org}/actions/secrets/public-key'
const ORG_SECRET = (method: string) => `${method} /orgs/{org}/actions/secrets/{secret_name}`
const GET_REPO = 'GET /repos/{owner}/{repo}'
const ORG_REPOS = 'GET /orgs/{org}/repos'

const SECRET = 'AMOCRM_REFRESH_TOKEN'
const VALUE = 'def50200-new-refresh-token-0123456789'

let pair: { publicKey: string; privateKey: string }
let pair2: { publicKey: string; privateKey: string }
let key: Reply
let key2: Reply

before(async () => {
  pair = await generateKeyPair()
  pair2 = await generateKeyPair()
  key = { status: 200, data: { key_id: 'key-1', key: pair.publicKey } }
  key2 = { status: 200, data: { key_id: 'key-2', key: pair2.publicKey } }
})

function setup(target: Target, script: Record<string, Step[]>, retry: Partial<RetryPolicy> = {}) {
  const { octokit, calls } = fakeOctokit(script)
  const retries: string[] = []
  const slept: number[] = []
  const policy: RetryPolicy = {
    attempts: 4,
    baseMs: 0,
    maxWaitMs: 0,
    isCancelled: () => false,
    sleep: async (ms) => {
      slept.push(ms)
    },
    ...retry
  }
  const store = new GitHubSecretStore(target, {
    octokit,
    retry: policy,
    timeoutMs: 5000,
    redact: (text: string) => text,
    onRetry: (message: string) => retries.push(message)
  })
  return { store, calls, retries, slept }
}

/** The params of a call, the sealed value left out (it is checked by opening it). */
function withoutValue(call: Call | undefined): Record<string, unknown> {
  assert.ok(call, 'expected a call')
  const rest = { ...call.params }
  delete rest.encrypted_value
  return rest
}

async function opened(call: Call | undefined, keys = pair): Promise<string> {
  assert.ok(call, 'expected a call')
  const sealed = call.params.encrypted_value
  assert.equal(typeof sealed, 'string')
  return unseal(sealed as string, keys.publicKey, keys.privateKey)
}

/** Asserts that `promise` rejects with a GitHubError of this status and message. */
async function rejectsWith(promise: Promise<unknown>, status: number | undefined, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof GitHubError, `expected a GitHubError, got ${String(error)}`)
    assert.equal(error.status, status)
    if (typeof message === 'string') assert.equal(error.message, message)
    else assert.match(error.message, message)
    return true
  })
}

describe('SecretStore: routes and params per target', () => {
  test('repository: public key, then a sealed PUT with key_id', async () => {
    const { store, calls } = setup(REPO, { [REPO_KEY]: [key], [REPO_SECRET('PUT')]: [{ status: 201 }] })
    assert.equal(await store.write(SECRET, VALUE), 'created')
    assert.deepEqual(
      calls.map((c) => c.route),
      [REPO_KEY, REPO_SECRET('PUT')]
    )
    assert.deepEqual(calls[0]?.params, { owner: 'acme', repo: 'crm-sync' })
    assert.deepEqual(withoutValue(calls[1]), { owner: 'acme', repo: 'crm-sync', secret_name: SECRET, key_id: 'key-1' })
    assert.equal(await opened(calls[1]), VALUE)
    assert.ok(!JSON.stringify(calls).includes(VALUE), 'the plaintext never leaves the store')
  })

  test('every request carries a timeout signal', async () => {
    const { store, calls } = setup(REPO, { [REPO_KEY]: [key], [REPO_SECRET('PUT')]: [{ status: 204 }] })
    await store.write(SECRET, VALUE)
    for (const call of calls) assert.ok(call.signal instanceof AbortSignal, call.route)
  })

  test('environment: the environment routes', async () => {
    const { store, calls } = setup(ENVIRONMENT, {
      [ENV_KEY]: [key],
      [ENV_SECRET('PUT')]: [{ status: 201 }],
      [ENV_SECRET('GET')]: [{ status: 200, data: { name: SECRET, updated_at: '2026-03-10T03:00:12Z' } }],
      [ENV_SECRET('DELETE')]: [{ status: 204 }]
    })
    assert.equal(await store.write(SECRET, VALUE), 'created')
    await store.metadata(SECRET)
    await store.delete(SECRET)
    const base = { owner: 'acme', repo: 'crm-sync', environment_name: 'production' }
    assert.deepEqual(
      calls.map((c) => c.route),
      [ENV_KEY, ENV_SECRET('PUT'), ENV_SECRET('GET'), ENV_SECRET('DELETE')]
    )
    assert.deepEqual(calls[0]?.params, base)
    assert.deepEqual(withoutValue(calls[1]), { ...base, secret_name: SECRET, key_id: 'key-1' })
    assert.equal(await opened(calls[1]), VALUE)
    assert.deepEqual(calls[2]?.params, { ...base, secret_name: SECRET })
    assert.deepEqual(calls[3]?.params, { ...base, secret_name: SECRET })
  })

  for (const target of [ORG_ALL, ORG_PRIVATE]) {
    const visibility = target.kind === 'organization' ? target.visibility : ''
    test(`organization, visibility ${visibility}: the org routes, visibility sent, no repository ids`, async () => {
      const { store, calls } = setup(target, { [ORG_KEY]: [key], [ORG_SECRET('PUT')]: [{ status: 204 }] })
      assert.equal(await store.write(SECRET, VALUE), 'updated')
      assert.deepEqual(
        calls.map((c) => c.route),
        [ORG_KEY, ORG_SECRET('PUT')]
      )
      assert.deepEqual(calls[0]?.params, { org: 'acme' })
      assert.deepEqual(withoutValue(calls[1]), { org: 'acme', secret_name: SECRET, key_id: 'key-1', visibility })
      assert.equal(await opened(calls[1]), VALUE)
      assert.deepEqual(await store.selectedRepositoryIds(), [])
    })
  }

  test('organization, visibility selected: repository ids resolved in the listed order, sent with the write', async () => {
    const ids: Record<string, number> = { 'crm-sync': 101, billing: 202, reports: 303 }
    // The first repository answers last: the ids must still come in the order of the input.
    const answerRepo = async (params: Record<string, unknown>): Promise<Reply> => {
      if (params.repo === 'crm-sync') await new Promise((resolve) => setTimeout(resolve, 5))
      return { status: 200, data: { id: ids[String(params.repo)], full_name: `acme/${String(params.repo)}` } }
    }
    const { store, calls } = setup(ORG_SELECTED, {
      [ORG_KEY]: [key],
      [GET_REPO]: [answerRepo],
      [ORG_SECRET('PUT')]: [{ status: 201 }, { status: 204 }]
    })
    assert.equal(await store.write(SECRET, VALUE), 'created')
    const repoCalls = calls.filter((c) => c.route === GET_REPO)
    assert.deepEqual(
      repoCalls.map((c) => c.params),
      [
        { owner: 'acme', repo: 'crm-sync' },
        { owner: 'acme', repo: 'billing' },
        { owner: 'acme', repo: 'reports' }
      ]
    )
    const put = calls.find((c) => c.route === ORG_SECRET('PUT'))
    assert.deepEqual(withoutValue(put), {
      org: 'acme',
      secret_name: SECRET,
      key_id: 'key-1',
      visibility: 'selected',
      selected_repository_ids: [101, 202, 303]
    })
    assert.equal(await opened(put), VALUE)

    // The ids are resolved once.
    assert.equal(await store.write('AMOCRM_ACCESS_TOKEN', 'access'), 'updated')
    assert.deepEqual(await store.selectedRepositoryIds(), [101, 202, 303])
    assert.equal(calls.filter((c) => c.route === GET_REPO).length, 3)
    assert.equal(calls.filter((c) => c.route === ORG_KEY).length, 1)
  })

  test('organization, visibility selected: a 404 on a repository names the input', async () => {
    const { store, calls } = setup(ORG_SELECTED, {
      [ORG_KEY]: [key],
      [GET_REPO]: [(params) => (params.repo === 'billing' ? httpError(404, 'Not Found') : { status: 200, data: { id: 1 } })],
      [ORG_SECRET('PUT')]: [{ status: 201 }]
    })
    await rejectsWith(
      store.write(SECRET, VALUE),
      404,
      "Input 'selected-repositories' names acme/billing, which does not exist or which 'github-token' cannot see (the token needs read access to every listed repository)."
    )
    assert.equal(calls.filter((c) => c.route === ORG_SECRET('PUT')).length, 0, 'nothing is written when a repository does not resolve')
  })

  test('organization, visibility selected: a 403 on a repository is not reworded as a missing repository', async () => {
    const { store } = setup(ORG_SELECTED, {
      [ORG_KEY]: [key],
      [GET_REPO]: [httpError(403, 'Resource not accessible by personal access token')]
    })
    await rejectsWith(
      store.selectedRepositoryIds(),
      403,
      /^GitHub refused to read repository acme\/crm-sync \(403: Resource not accessible by personal access token\): 'github-token' lacks the permission/
    )
  })
})

describe('SecretStore: the public key', () => {
  test('is fetched once and cached across writes, concurrent ones included', async () => {
    const { store, calls } = setup(REPO, { [REPO_KEY]: [key], [REPO_SECRET('PUT')]: [{ status: 201 }] })
    await Promise.all([store.write(SECRET, VALUE), store.write('AMOCRM_ACCESS_TOKEN', 'access-value')])
    await store.write(SECRET, VALUE)
    assert.deepEqual(await store.publicKey(), { key_id: 'key-1', key: pair.publicKey })
    assert.equal(calls.filter((c) => c.route === REPO_KEY).length, 1)
    assert.equal(calls.filter((c) => c.route === REPO_SECRET('PUT')).length, 3)
  })

  test('a failed lookup is not cached: the next call asks again', async () => {
    const { store, calls } = setup(REPO, {
      [REPO_KEY]: [httpError(403, 'Resource not accessible by personal access token'), key],
      [REPO_SECRET('PUT')]: [{ status: 201 }]
    })
    await rejectsWith(store.publicKey(), 403, /^GitHub refused to read the public key of repository acme\/crm-sync \(403: /)
    assert.deepEqual(await store.publicKey(), { key_id: 'key-1', key: pair.publicKey })
    assert.equal(await store.write(SECRET, VALUE), 'created')
    assert.equal(calls.filter((c) => c.route === REPO_KEY).length, 2)
  })

  test('an answer without a key is a failure, not retried', async () => {
    const { store, calls } = setup(REPO, { [REPO_KEY]: [{ status: 200, data: { key_id: 'key-1' } }] })
    await rejectsWith(store.publicKey(), 200, 'GitHub answered the public key request of repository acme/crm-sync without a key.')
    assert.equal(calls.length, 1)
  })
})

describe('SecretStore: write', () => {
  test('201 → created, 204 → updated', async () => {
    const { store } = setup(REPO, { [REPO_KEY]: [key], [REPO_SECRET('PUT')]: [{ status: 201 }, { status: 204 }] })
    assert.equal(await store.write(SECRET, VALUE), 'created')
    assert.equal(await store.write(SECRET, VALUE), 'updated')
  })

  test('another 2xx is an unexpected answer', async () => {
    const { store } = setup(REPO, { [REPO_KEY]: [key], [REPO_SECRET('PUT')]: [{ status: 200 }] })
    await rejectsWith(
      store.write(SECRET, VALUE),
      200,
      'GitHub answered write the repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync with an unexpected status 200.'
    )
  })

  test('422: the key is read again and the write retried once with the new key', async () => {
    const { store, calls } = setup(REPO, {
      [REPO_KEY]: [key, key2],
      [REPO_SECRET('PUT')]: [httpError(422, 'Bad request - bad key_id'), { status: 204 }]
    })
    assert.equal(await store.write(SECRET, VALUE), 'updated')
    assert.deepEqual(
      calls.map((c) => c.route),
      [REPO_KEY, REPO_SECRET('PUT'), REPO_KEY, REPO_SECRET('PUT')]
    )
    assert.equal(calls[1]?.params.key_id, 'key-1')
    assert.equal(await opened(calls[1], pair), VALUE)
    assert.equal(calls[3]?.params.key_id, 'key-2')
    assert.equal(await opened(calls[3], pair2), VALUE)
    // The new key is the cached one from now on.
    assert.deepEqual(await store.publicKey(), { key_id: 'key-2', key: pair2.publicKey })
    assert.equal(calls.filter((c) => c.route === REPO_KEY).length, 2)
  })

  test('a second 422 fails', async () => {
    const { store, calls } = setup(REPO, {
      [REPO_KEY]: [key, key2],
      [REPO_SECRET('PUT')]: [httpError(422, 'Bad request - bad key_id')]
    })
    await rejectsWith(
      store.write(SECRET, VALUE),
      422,
      "GitHub refused to write the repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync (422: Bad request - bad key_id): GitHub rejected the request as invalid; check the secret names and, for organizations, 'visibility' and 'selected-repositories'."
    )
    assert.equal(calls.filter((c) => c.route === REPO_SECRET('PUT')).length, 2)
    assert.equal(calls.filter((c) => c.route === REPO_KEY).length, 2)
  })

  const transient: Array<[string, () => Reply, string]> = [
    ['502', () => httpError(502, 'Bad Gateway'), '502: Bad Gateway'],
    ['no answer', noAnswer, 'no answer: the connection failed (connect ECONNREFUSED)'],
    ['429', () => httpError(429, 'Too Many Requests', { 'retry-after': '1' }), '429: Too Many Requests'],
    [
      'a secondary rate limit (403)',
      () => httpError(403, 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.'),
      '403: You have exceeded a secondary rate limit. Please wait a few minutes before you try again.'
    ]
  ]
  for (const [name, failure, said] of transient) {
    test(`retried after ${name}, then succeeds; onRetry is told`, async () => {
      const { store, calls, retries, slept } = setup(REPO, {
        [REPO_KEY]: [key],
        [REPO_SECRET('PUT')]: [failure(), { status: 201 }]
      })
      assert.equal(await store.write(SECRET, VALUE), 'created')
      assert.equal(calls.filter((c) => c.route === REPO_SECRET('PUT')).length, 2)
      assert.deepEqual(retries, [
        `GitHub: attempt 1 to write the repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync failed (${said}); retrying in 0.0 s.`
      ])
      assert.deepEqual(slept, [0])
    })
  }

  test('mixed transient failures within the attempts: one onRetry message per retry', async () => {
    const { store, calls, retries } = setup(REPO, {
      [REPO_KEY]: [noAnswer(), key],
      [REPO_SECRET('PUT')]: [httpError(502, 'Bad Gateway'), noAnswer(), httpError(429, 'Too Many Requests'), { status: 204 }]
    })
    assert.equal(await store.write(SECRET, VALUE), 'updated')
    assert.equal(calls.length, 6)
    assert.deepEqual(retries, [
      'GitHub: attempt 1 to read the public key of repository acme/crm-sync failed (no answer: the connection failed (connect ECONNREFUSED)); retrying in 0.0 s.',
      'GitHub: attempt 1 to write the repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync failed (502: Bad Gateway); retrying in 0.0 s.',
      'GitHub: attempt 2 to write the repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync failed (no answer: the connection failed (connect ECONNREFUSED)); retrying in 0.0 s.',
      'GitHub: attempt 3 to write the repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync failed (429: Too Many Requests); retrying in 0.0 s.'
    ])
  })

  test("a 429's Retry-After sets the wait (within maxWaitMs)", async () => {
    const { store, retries, slept } = setup(
      REPO,
      { [REPO_KEY]: [key], [REPO_SECRET('PUT')]: [httpError(429, 'Too Many Requests', { 'retry-after': '3' }), { status: 201 }] },
      { maxWaitMs: 60_000 }
    )
    assert.equal(await store.write(SECRET, VALUE), 'created')
    assert.deepEqual(slept, [3000])
    assert.match(retries[0] ?? '', /retrying in 3\.0 s\.$/)
  })

  test('a 5xx on every attempt fails after `attempts` tries', async () => {
    const { store, calls, retries } = setup(REPO, { [REPO_KEY]: [key], [REPO_SECRET('PUT')]: [httpError(503, 'Service Unavailable')] })
    await rejectsWith(
      store.write(SECRET, VALUE),
      503,
      'GitHub refused to write the repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync (503: Service Unavailable), also after retries: the GitHub API may be down or unreachable from this runner; try again later.'
    )
    assert.equal(calls.filter((c) => c.route === REPO_SECRET('PUT')).length, 4)
    assert.equal(retries.length, 3)
  })

  test('no answer on every attempt: "did not answer", status undefined', async () => {
    const { store, calls } = setup(REPO, { [REPO_KEY]: [key], [REPO_SECRET('PUT')]: [noAnswer()] })
    await rejectsWith(
      store.write(SECRET, VALUE),
      undefined,
      "Could not write the repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync: GitHub's API at GITHUB_API_URL did not answer (the connection failed (connect ECONNREFUSED)), also after retries. Check that the runner can reach it (GITHUB_API_URL, proxy settings) and try again."
    )
    assert.equal(calls.filter((c) => c.route === REPO_SECRET('PUT')).length, 4)
  })

  test('a plain 403 is final and names the permission', async () => {
    const { store, calls, retries } = setup(REPO, {
      [REPO_KEY]: [key],
      [REPO_SECRET('PUT')]: [httpError(403, 'Resource not accessible by personal access token')]
    })
    await rejectsWith(
      store.write(SECRET, VALUE),
      403,
      `GitHub refused to write the repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync (403: Resource not accessible by personal access token): 'github-token' lacks the permission — ${requiredPermission(REPO)}. The workflow's default GITHUB_TOKEN can never write secrets.`
    )
    assert.match(requiredPermission(REPO), /"Secrets: Read and write" on acme\/crm-sync/)
    assert.equal(calls.filter((c) => c.route === REPO_SECRET('PUT')).length, 1)
    assert.deepEqual(retries, [])
  })

  // BUG (src/secrets.ts:125-127): a 403 that is a rate limit, still there after the retries, is
  // described as a missing permission, sending the user to change a token that is fine.
  test('a rate limit that outlasts the retries is not reported as a missing permission', async () => {
    const limited = httpError(403, 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.')
    const { store, calls } = setup(REPO, { [REPO_KEY]: [key], [REPO_SECRET('PUT')]: [limited] })
    await assert.rejects(store.write(SECRET, VALUE), (error: unknown) => {
      assert.ok(error instanceof GitHubError)
      assert.equal(error.status, 403)
      assert.match(error.message, /also after waiting: GitHub's rate limit for 'github-token' was reached/)
      assert.doesNotMatch(error.message, /lacks the permission/)
      return true
    })
    assert.equal(calls.filter((c) => c.route === REPO_SECRET('PUT')).length, 4)
  })

  test('401 is final: the token is invalid', async () => {
    const { store, calls } = setup(REPO, { [REPO_KEY]: [httpError(401, 'Bad credentials')] })
    await rejectsWith(
      store.write(SECRET, VALUE),
      401,
      "GitHub refused to read the public key of repository acme/crm-sync (401: Bad credentials): 'github-token' is invalid, expired or revoked: renew github-token — create a new token with the same permissions and update the secret that holds it."
    )
    assert.equal(calls.length, 1)
  })
})

describe('SecretStore: 404 per kind of target', () => {
  test('repository', async () => {
    const { store } = setup(REPO, { [REPO_KEY]: [httpError(404, 'Not Found')] })
    await rejectsWith(
      store.publicKey(),
      404,
      `GitHub refused to read the public key of repository acme/crm-sync (404: Not Found): repository acme/crm-sync does not exist or 'github-token' cannot see it; check 'repository' and the repositories the token is granted (${requiredPermission(REPO)}).`
    )
  })

  test('environment', async () => {
    const { store } = setup(ENVIRONMENT, { [ENV_KEY]: [httpError(404, 'Not Found')] })
    await rejectsWith(
      store.publicKey(),
      404,
      `GitHub refused to read the public key of environment 'production' of acme/crm-sync (404: Not Found): environment 'production' does not exist in acme/crm-sync (create it under Settings → Environments), or 'github-token' cannot see it (${requiredPermission(ENVIRONMENT)}).`
    )
  })

  test('organization', async () => {
    const { store } = setup(ORG_PRIVATE, { [ORG_KEY]: [httpError(404, 'Not Found')] })
    await rejectsWith(
      store.publicKey(),
      404,
      `GitHub refused to read the public key of organization acme (404: Not Found): organization 'acme' does not exist or 'github-token' cannot manage its secrets (${requiredPermission(ORG_PRIVATE)}).`
    )
  })

  test('organization 403 names the organization permission', async () => {
    const { store } = setup(ORG_PRIVATE, { [ORG_KEY]: [key], [ORG_SECRET('PUT')]: [httpError(403, 'Must have admin rights')] })
    await rejectsWith(
      store.write(SECRET, VALUE),
      403,
      /^GitHub refused to write the organization secret AMOCRM_REFRESH_TOKEN of acme \(visibility: private\) \(403: Must have admin rights\): 'github-token' lacks the permission — a fine-grained token needs the organization permission "Secrets: Read and write" on acme, a GitHub App token "organization_secrets: write", a classic token the "admin:org" scope \(and "repo" when a selected repository is private\)\./
    )
  })
})

describe('SecretStore: metadata', () => {
  test('parses updated_at', async () => {
    const { store, calls } = setup(REPO, {
      [REPO_SECRET('GET')]: [
        { status: 200, data: { name: SECRET, created_at: '2025-12-01T00:00:00Z', updated_at: '2026-03-10T03:00:12Z' } }
      ]
    })
    assert.deepEqual(await store.metadata(SECRET), { name: SECRET, exists: true, updatedAt: new Date('2026-03-10T03:00:12.000Z') })
    assert.deepEqual(calls[0]?.params, { owner: 'acme', repo: 'crm-sync', secret_name: SECRET })
  })

  test('404: no such secret', async () => {
    const { store, calls } = setup(REPO, { [REPO_SECRET('GET')]: [httpError(404, 'Not Found')] })
    assert.deepEqual(await store.metadata(SECRET), { name: SECRET, exists: false, updatedAt: undefined })
    assert.equal(calls.length, 1)
  })

  test('a missing or unreadable updated_at gives updatedAt undefined', async () => {
    const { store } = setup(REPO, {
      [REPO_SECRET('GET')]: [
        { status: 200, data: { name: SECRET } },
        { status: 200, data: { name: SECRET, updated_at: 'yesterday-ish' } }
      ]
    })
    assert.deepEqual(await store.metadata(SECRET), { name: SECRET, exists: true, updatedAt: undefined })
    assert.deepEqual(await store.metadata(SECRET), { name: SECRET, exists: true, updatedAt: undefined })
  })

  test('retried after no answer; a 403 fails', async () => {
    const { store } = setup(REPO, {
      [REPO_SECRET('GET')]: [noAnswer(), { status: 200, data: { updated_at: '2026-03-10T03:00:12Z' } }]
    })
    assert.equal((await store.metadata(SECRET))?.updatedAt?.toISOString(), '2026-03-10T03:00:12.000Z')
    const failing = setup(REPO, { [REPO_SECRET('GET')]: [httpError(403, 'Forbidden')] })
    await rejectsWith(
      failing.store.metadata(SECRET),
      403,
      /^GitHub refused to read the repository secret AMOCRM_REFRESH_TOKEN of acme\/crm-sync \(403: Forbidden\)/
    )
  })
})

describe('SecretStore: delete', () => {
  test('204 resolves', async () => {
    const { store, calls } = setup(REPO, { [REPO_SECRET('DELETE')]: [{ status: 204 }] })
    await store.delete('AMOCRM_REFRESH_TOKEN_WRITE_CHECK')
    assert.deepEqual(calls[0]?.params, { owner: 'acme', repo: 'crm-sync', secret_name: 'AMOCRM_REFRESH_TOKEN_WRITE_CHECK' })
  })

  test('404 is accepted: already gone', async () => {
    const { store, calls } = setup(REPO, { [REPO_SECRET('DELETE')]: [httpError(404, 'Not Found')] })
    await store.delete(SECRET)
    assert.equal(calls.length, 1)
  })

  test('a lost first answer, then 404 on the retry: accepted', async () => {
    const { store, calls, retries } = setup(REPO, { [REPO_SECRET('DELETE')]: [noAnswer(), httpError(404, 'Not Found')] })
    await store.delete(SECRET)
    assert.equal(calls.length, 2)
    assert.equal(retries.length, 1)
  })

  test('403 fails with the permission', async () => {
    const { store } = setup(ENVIRONMENT, { [ENV_SECRET('DELETE')]: [httpError(403, 'Resource not accessible by integration')] })
    await rejectsWith(
      store.delete(SECRET),
      403,
      /^GitHub refused to delete the secret AMOCRM_REFRESH_TOKEN of environment 'production' in acme\/crm-sync \(403: Resource not accessible by integration\): 'github-token' lacks the permission — .*"Environments: Read and write"/
    )
  })
})

describe('SecretStore: describe', () => {
  test('per kind of target', () => {
    const octokit = fakeOctokit({}).octokit
    const deps = {
      octokit,
      retry: { attempts: 1, baseMs: 0, maxWaitMs: 0, isCancelled: () => false, sleep: async () => {} },
      timeoutMs: 1000,
      redact: (text: string) => text
    }
    assert.equal(new GitHubSecretStore(REPO, deps).describe(SECRET), 'repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync')
    assert.equal(
      new GitHubSecretStore(ENVIRONMENT, deps).describe(SECRET),
      "secret AMOCRM_REFRESH_TOKEN of environment 'production' in acme/crm-sync"
    )
    assert.equal(
      new GitHubSecretStore(ORG_ALL, deps).describe(SECRET),
      'organization secret AMOCRM_REFRESH_TOKEN of acme (visibility: all)'
    )
    assert.equal(
      new GitHubSecretStore(ORG_PRIVATE, deps).describe(SECRET),
      'organization secret AMOCRM_REFRESH_TOKEN of acme (visibility: private)'
    )
    assert.equal(
      new GitHubSecretStore(ORG_SELECTED, deps).describe(SECRET),
      'organization secret AMOCRM_REFRESH_TOKEN of acme (visibility: selected)'
    )
    assert.equal(new GitHubSecretStore(REPO, deps).target, REPO)
  })
})

describe('SecretStore: a write whose outcome is unknown is never repeated over a newer value', () => {
  const BEFORE = { name: SECRET, exists: true, updatedAt: new Date('2026-03-09T03:00:00Z') }

  test('no answer, and the secret changed since: the attempt landed (inferred), nothing is written again', async () => {
    const { store, calls, retries } = setup(REPO, {
      [REPO_KEY]: [key],
      [REPO_SECRET('PUT')]: [noAnswer(), { status: 204 }],
      [REPO_SECRET('GET')]: [{ status: 200, data: { updated_at: '2026-03-10T03:00:12Z' } }]
    })
    // Not 'updated': no answer said so, and anyone else's change would look the same.
    assert.equal(await store.write(SECRET, VALUE, BEFORE), 'inferred')
    assert.equal(calls.filter((c) => c.route === REPO_SECRET('PUT')).length, 1)
    assert.match(retries.at(-1) ?? '', /it landed \(or a newer value came after it\), so it is not written again/)
  })

  test('a 5xx, and the secret unchanged: written again', async () => {
    const { store, calls } = setup(REPO, {
      [REPO_KEY]: [key],
      [REPO_SECRET('PUT')]: [httpError(502, 'Bad Gateway'), { status: 204 }],
      [REPO_SECRET('GET')]: [{ status: 200, data: { updated_at: '2026-03-09T03:00:00Z' } }]
    })
    assert.equal(await store.write(SECRET, VALUE, BEFORE), 'updated')
    assert.equal(calls.filter((c) => c.route === REPO_SECRET('PUT')).length, 2)
  })

  test('a new secret that exists after a lost answer: inferred, not written again', async () => {
    const { store, calls } = setup(REPO, {
      [REPO_KEY]: [key],
      [REPO_SECRET('PUT')]: [noAnswer(), { status: 204 }],
      [REPO_SECRET('GET')]: [{ status: 200, data: { updated_at: '2026-03-10T03:00:12Z' } }]
    })
    assert.equal(await store.write(SECRET, VALUE, { name: SECRET, exists: false, updatedAt: undefined }), 'inferred')
    assert.equal(calls.filter((c) => c.route === REPO_SECRET('PUT')).length, 1)
  })

  test('the secret cannot be read to check: not written blindly', async () => {
    const { store, calls } = setup(REPO, {
      [REPO_KEY]: [key],
      [REPO_SECRET('PUT')]: [noAnswer(), { status: 204 }],
      [REPO_SECRET('GET')]: [httpError(403, 'Forbidden')]
    })
    await assert.rejects(store.write(SECRET, VALUE, BEFORE), /not written again blindly, so that an old value never goes over a newer one/)
    assert.equal(calls.filter((c) => c.route === REPO_SECRET('PUT')).length, 1)
  })

  test('a rate limit is a clear "no": retried without looking', async () => {
    const { store, calls } = setup(REPO, {
      [REPO_KEY]: [key],
      [REPO_SECRET('PUT')]: [httpError(429, 'Too Many Requests', { 'retry-after': '0' }), { status: 204 }]
    })
    assert.equal(await store.write(SECRET, VALUE, BEFORE), 'updated')
    assert.equal(calls.filter((c) => c.route === REPO_SECRET('GET')).length, 0)
  })
})

describe('SecretStore: an organization secret keeps its audience', () => {
  const ORG_KEEP: Target = { kind: 'organization', org: 'acme', visibility: undefined, selectedRepositories: [] }
  const ORG_SELECTED_KEEP: Target = { kind: 'organization', org: 'acme', visibility: 'selected', selectedRepositories: [] }
  const REPOS = `${ORG_SECRET('GET')}/repositories`

  test('no visibility given: a selected secret is written back selected, with the same repositories (all pages)', async () => {
    const page = (from: number, count: number) => ({
      status: 200,
      data: { total_count: 130, repositories: Array.from({ length: count }, (_, i) => ({ id: from + i })) }
    })
    const { store, calls } = setup(ORG_KEEP, {
      [ORG_KEY]: [key],
      [ORG_SECRET('GET')]: [{ status: 200, data: { updated_at: '2026-03-09T03:00:00Z', visibility: 'selected' } }],
      [REPOS]: [page(1000, 100), page(1100, 30)],
      [ORG_SECRET('PUT')]: [{ status: 204 }]
    })
    const before = await store.inspect(SECRET)
    assert.equal(before.visibility, 'selected')
    assert.equal(before.selectedIds?.length, 130)
    await store.write(SECRET, VALUE, before)
    const put = calls.find((c) => c.route === ORG_SECRET('PUT'))
    assert.equal(put?.params.visibility, 'selected')
    assert.deepEqual(put?.params.selected_repository_ids, before.selectedIds)
    assert.deepEqual(
      calls.filter((c) => c.route === REPOS).map((c) => c.params.page),
      [1, 2]
    )
  })

  test('no visibility given: an "all" secret stays all; a new secret is private', async () => {
    const { store, calls } = setup(ORG_KEEP, {
      [ORG_KEY]: [key],
      [ORG_SECRET('GET')]: [{ status: 200, data: { updated_at: '2026-03-09T03:00:00Z', visibility: 'all' } }, httpError(404, 'Not Found')],
      [ORG_SECRET('PUT')]: [{ status: 204 }]
    })
    await store.write(SECRET, VALUE, await store.inspect(SECRET))
    await store.write('OTHER', VALUE, await store.inspect('OTHER'))
    const puts = calls.filter((c) => c.route === ORG_SECRET('PUT'))
    assert.deepEqual(
      puts.map((c) => c.params.visibility),
      ['all', 'private']
    )
  })

  test('visibility: selected without a list, for a secret that does not exist yet: an error before anything is written', async () => {
    const { store } = setup(ORG_SELECTED_KEEP, { [ORG_KEY]: [key], [ORG_SECRET('GET')]: [httpError(404, 'Not Found')] })
    await assert.rejects(
      store.inspect(SECRET),
      /Input 'selected-repositories' is needed: 'visibility' is selected and the organization secret/
    )
  })
})

describe('SecretStore: selected repositories are looked up safely', () => {
  // Duplicate names are collapsed once, where the list is read (inputs.ts; its test).
  test('names the organization’s list lacks: looked up one by one, at most LOOKUP_CONCURRENCY at a time, ids in order', async () => {
    const names = Array.from({ length: 120 }, (_, i) => ({ owner: 'acme', repo: `repo-${i}` }))
    const target: Target = { kind: 'organization', org: 'acme', visibility: 'selected', selectedRepositories: names }
    let inFlight = 0
    let most = 0
    const { store, calls } = setup(target, {
      // The token sees none of them in the organization's list (a fine-grained token may not list).
      [ORG_REPOS]: [{ status: 200, data: [] }],
      [GET_REPO]: [
        async (params) => {
          inFlight += 1
          most = Math.max(most, inFlight)
          await new Promise((resolve) => setImmediate(resolve))
          inFlight -= 1
          return { status: 200, data: { id: 5000 + Number(String(params.repo).slice(5)), owner: { login: 'acme' } } }
        }
      ]
    })
    const ids = await store.selectedRepositoryIds()
    assert.equal(ids.length, 120)
    assert.equal(ids[0], 5000)
    assert.equal(ids[119], 5119)
    assert.equal(calls.filter((c) => c.route === GET_REPO).length, 120)
    assert.ok(most <= 20, `${most} lookups at once`)
  })

  test('an organization with more repositories than named: the pages past the named ones read at once after the first', async () => {
    const names = Array.from({ length: 120 }, (_, i) => ({ owner: 'acme', repo: `repo-${i}` }))
    const target: Target = { kind: 'organization', org: 'acme', visibility: 'selected', selectedRepositories: names }
    const waves: number[][] = [[]]
    let pending = 0
    const { store, calls } = setup(target, {
      [ORG_REPOS]: [
        async (params): Promise<Reply> => {
          const page = Number(params.page)
          waves[waves.length - 1]?.push(page)
          pending += 1
          await new Promise((resolve) => setImmediate(resolve))
          pending -= 1
          if (pending === 0) waves.push([])
          return {
            status: 200,
            // The organization's 500 repositories: the named ones on pages 3 and 4.
            data: Array.from({ length: 100 }, (_, i) => ({ id: 9000 + (page - 1) * 100 + i, name: `repo-${(page - 3) * 100 + i}` })),
            headers: page === 1 ? { link: '<https://api.github.com/organizations/1/repos?per_page=100&page=5>; rel="last"' } : {}
          }
        }
      ]
    })
    const ids = await store.selectedRepositoryIds()
    assert.deepEqual([ids[0], ids[119]], [9200, 9319])
    assert.deepEqual(
      waves.filter((w) => w.length > 0).map((w) => [...w].sort()),
      [
        [1, 2, 3],
        [4, 5]
      ]
    )
    assert.equal(calls.filter((c) => c.route === GET_REPO).length, 0)
  })

  test('many names: the organization’s list, as many pages as the names fill read at once; only the names it lacks looked up', async () => {
    const names = Array.from({ length: 250 }, (_, i) => ({ owner: 'acme', repo: `Repo-${i}` }))
    const target: Target = { kind: 'organization', org: 'acme', visibility: 'selected', selectedRepositories: names }
    const listed = (page: number) =>
      Array.from({ length: page < 3 ? 100 : page === 3 ? 49 : 0 }, (_, i) => ({
        id: 9000 + (page - 1) * 100 + i,
        name: `repo-${(page - 1) * 100 + i}`
      }))
    let inFlight = 0
    let most = 0
    const { store, calls } = setup(target, {
      [ORG_REPOS]: [
        async (params): Promise<Reply> => {
          inFlight += 1
          most = Math.max(most, inFlight)
          await new Promise((resolve) => setImmediate(resolve))
          inFlight -= 1
          const page = Number(params.page)
          const headers: Record<string, string> =
            page === 1 ? { link: '<https://api.github.com/organizations/1/repos?per_page=100&page=3>; rel="last"' } : {}
          return {
            status: 200,
            data: listed(page),
            headers
          }
        }
      ],
      // repo-249 is not in the list (249 of 250 are): it is looked up.
      [GET_REPO]: [{ status: 200, data: { id: 7777, owner: { login: 'acme' } } }]
    })
    const ids = await store.selectedRepositoryIds()
    assert.equal(ids.length, 250)
    assert.deepEqual([ids[0], ids[248], ids[249]], [9000, 9248, 7777])
    assert.deepEqual(
      calls.filter((c) => c.route === ORG_REPOS).map((c) => [c.params.org, c.params.page, c.params.per_page]),
      [
        ['acme', 1, 100],
        ['acme', 2, 100],
        ['acme', 3, 100],
        ['acme', 4, 100]
      ]
    )
    assert.equal(most, 4, '250 names: pages 1 to 4 at once (the fourth is empty)')
    assert.deepEqual(
      calls.filter((c) => c.route === GET_REPO).map((c) => c.params.repo),
      ['Repo-249']
    )
  })

  test('lastPage reads GitHub’s Link header', () => {
    assert.equal(lastPage({ link: '<https://x/r?per_page=100&page=2>; rel="next", <https://x/r?per_page=100&page=14>; rel="last"' }), 14)
    assert.equal(lastPage({}), 1)
    assert.equal(lastPage({ link: '<https://x/r?page=2>; rel="next"' }), 1)
  })

  test('a repository that now belongs to another owner (transferred) is refused', async () => {
    const target: Target = {
      kind: 'organization',
      org: 'acme',
      visibility: 'selected',
      selectedRepositories: [{ owner: 'acme', repo: 'old-tool' }]
    }
    const { store } = setup(target, {
      [GET_REPO]: [{ status: 200, data: { id: 77, full_name: 'elsewhere/old-tool', owner: { login: 'elsewhere' } } }]
    })
    await assert.rejects(
      store.selectedRepositoryIds(),
      /names acme\/old-tool, which is now elsewhere\/old-tool \(it was transferred or renamed\)/
    )
  })
})

describe('SecretStore: odd answers while checking a write', () => {
  test('GitHub does not say when the secret was updated: not written again, and said why', async () => {
    const { store, calls } = setup(REPO, {
      [REPO_KEY]: [key],
      [REPO_SECRET('PUT')]: [noAnswer(), { status: 204 }],
      [REPO_SECRET('GET')]: [{ status: 200, data: { name: SECRET } }]
    })
    await assert.rejects(
      store.write(SECRET, VALUE, { name: SECRET, exists: true, updatedAt: new Date('2026-03-09T03:00:00Z') }),
      /GitHub did not say when the secret was last updated/
    )
    assert.equal(calls.filter((c) => c.route === REPO_SECRET('PUT')).length, 1)
  })

  test('an error body that is plain text is quoted (inert), and a request URL that is no URL is named GITHUB_API_URL', () => {
    const error = Object.assign(new Error('x'), {
      status: 418,
      request: { url: 'not a url' },
      response: { status: 418, url: 'also not', headers: {}, data: 'teapot ##[warning]x' }
    })
    const message = describeGitHubError(error, 'write the secret', REPO)
    assert.match(message, /^GitHub refused to write the secret \(418: teapot ##\u200b\[warning\]x\)\.$/)
  })
})

describe('SecretStore: a redirect that was not followed (it pointed away from the API)', () => {
  test('a 307 on the write is a failure that says where it pointed, never "stored", and is not retried', async () => {
    const { store, calls } = setup(REPO, {
      [REPO_KEY]: [key],
      [REPO_SECRET('PUT')]: [
        { status: 307, data: '', headers: { location: 'https://evil.example:8443/repos/acme/crm-sync/actions/secrets/X' } }
      ]
    })
    await assert.rejects(
      store.write(SECRET, VALUE),
      /^ActionError: GitHub's API answered the request to write the repository secret AMOCRM_REFRESH_TOKEN of acme\/crm-sync with a redirect to evil\.example:8443, which is not followed: .* nothing was done there/
    )
    assert.equal(calls.filter((c) => c.route === REPO_SECRET('PUT')).length, 1)
  })

  test('a redirect without a usable Location says "another address"', async () => {
    const { store } = setup(REPO, { [REPO_SECRET('GET')]: [{ status: 302, data: '', headers: { location: '::nonsense' } }] })
    await assert.rejects(store.metadata(SECRET), /with a redirect to another address, which is not followed/)
  })
})
