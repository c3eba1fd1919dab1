import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { ActionError } from '../../../src/errors.js'
import type { Target } from '../../../src/github/targets.js'
import { classifyGitHubError, describeGitHubError, RATE_LIMIT_FALLBACK_MS } from '../../../src/github/errors.js'
import { requiredPermission } from '../../../src/github/targets.js'

/** Shaped like Octokit's RequestError. */
function httpError(
  status: number,
  message: string,
  headers: Record<string, string> = {},
  url = 'https://api.github.com/repos/acme/crm-sync/actions/secrets/public-key'
) {
  return Object.assign(new Error(`${message} - https://docs.github.com/rest`), {
    name: 'HttpError',
    status,
    request: { method: 'GET', url, headers: {} },
    response: { status, url, headers, data: { message, documentation_url: 'https://docs.github.com/rest' } }
  })
}

/** Octokit's report of a request that got no answer: status 500 and no response. */
function noAnswer(message = 'fetch failed', url = 'https://ghe.example.com/api/v3/repos/acme/crm-sync/actions/secrets/public-key') {
  return Object.assign(new Error(message), { name: 'HttpError', status: 500, request: { method: 'GET', url, headers: {} } })
}

const REPO: Target = { kind: 'repository', owner: 'acme', repo: 'crm-sync' }
const ENVIRONMENT: Target = { kind: 'environment', environment: 'production', owner: 'acme', repo: 'crm-sync' }
const ORG: Target = {
  kind: 'organization',
  org: 'acme',
  visibility: 'selected',
  selectedRepositories: [{ owner: 'acme', repo: 'crm-sync' }]
}
const TARGETS = [REPO, ENVIRONMENT, ORG]

const NOW = 1_767_225_600_000

describe('classifyGitHubError', () => {
  test('500 and 502 are retried, with Retry-After when sent', () => {
    assert.deepEqual(classifyGitHubError(httpError(500, 'Server Error'), NOW), { retry: true, afterMs: undefined })
    assert.deepEqual(classifyGitHubError(httpError(502, 'Bad Gateway', { 'retry-after': '3' }), NOW), { retry: true, afterMs: 3000 })
  })

  test('429 is retried after Retry-After', () => {
    assert.deepEqual(classifyGitHubError(httpError(429, 'Too Many Requests', { 'retry-after': '10' }), NOW), {
      retry: true,
      afterMs: 10_000
    })
  })

  test('403 secondary rate limit is retried, after a minute unless Retry-After says otherwise', () => {
    const message = 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.'
    assert.deepEqual(classifyGitHubError(httpError(403, message), NOW), { retry: true, afterMs: 60_000 })
    assert.deepEqual(classifyGitHubError(httpError(403, message, { 'retry-after': '30' }), NOW), { retry: true, afterMs: 30_000 })
  })

  test('403 with x-ratelimit-remaining 0 is retried after the reset', () => {
    const headers = { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW / 1000 + 120) }
    assert.deepEqual(classifyGitHubError(httpError(403, 'Forbidden', headers), NOW), { retry: true, afterMs: 121_000 })
    assert.deepEqual(classifyGitHubError(httpError(403, 'Forbidden', { 'x-ratelimit-remaining': '0' }), NOW), {
      retry: true,
      afterMs: 60_000
    })
  })

  test('a plain 403 is final', () => {
    assert.deepEqual(classifyGitHubError(httpError(403, 'Resource not accessible by personal access token'), NOW), { retry: false })
    assert.deepEqual(classifyGitHubError(httpError(403, 'Forbidden', { 'x-ratelimit-remaining': '4999' }), NOW), { retry: false })
  })

  test('404, 422 and 401 are final', () => {
    assert.deepEqual(classifyGitHubError(httpError(404, 'Not Found'), NOW), { retry: false })
    assert.deepEqual(classifyGitHubError(httpError(422, 'Bad request - bad key_id'), NOW), { retry: false })
    assert.deepEqual(classifyGitHubError(httpError(401, 'Bad credentials'), NOW), { retry: false })
  })

  test('no status (no answer) is retried, an ActionError is not', () => {
    assert.deepEqual(classifyGitHubError(new TypeError('fetch failed'), NOW), { retry: true })
    assert.deepEqual(classifyGitHubError(noAnswer(), NOW), { retry: true })
    assert.deepEqual(classifyGitHubError(new ActionError('ours'), NOW), { retry: false })
    assert.deepEqual(classifyGitHubError('a string', NOW), { retry: true })
  })
})

describe('describeGitHubError', () => {
  for (const target of TARGETS) {
    test(`401 for the ${target.kind}: the token is invalid`, () => {
      const message = describeGitHubError(httpError(401, 'Bad credentials'), 'read the public key', target)
      assert.equal(
        message,
        "GitHub refused to read the public key (401: Bad credentials): 'github-token' is invalid, expired or revoked: renew github-token — create a new token with the same permissions and update the secret that holds it."
      )
    })

    test(`403 for the ${target.kind}: names the permission`, () => {
      const message = describeGitHubError(httpError(403, 'Resource not accessible by personal access token'), 'write the secret', target)
      assert.ok(message.startsWith('GitHub refused to write the secret (403: Resource not accessible by personal access token): '), message)
      assert.ok(message.includes(requiredPermission(target)), message)
      assert.match(message, /"Secrets: Read and write"/)
      assert.match(message, /GITHUB_TOKEN can never write secrets/)
      if (target.kind === 'environment') assert.match(message, /"Environments: Read and write"/)
      if (target.kind === 'organization') assert.match(message, /organization_secrets: write/)
    })
  }

  test('404 for a repository', () => {
    assert.equal(
      describeGitHubError(httpError(404, 'Not Found'), 'read the public key of repository acme/crm-sync', REPO),
      `GitHub refused to read the public key of repository acme/crm-sync (404: Not Found): repository acme/crm-sync does not exist or 'github-token' cannot see it; check 'repository' and the repositories the token is granted (${requiredPermission(REPO)}).`
    )
  })

  test('404 for an environment', () => {
    assert.equal(
      describeGitHubError(httpError(404, 'Not Found'), 'read the public key', ENVIRONMENT),
      `GitHub refused to read the public key (404: Not Found): environment 'production' does not exist in acme/crm-sync (create it under Settings → Environments), or 'github-token' cannot see it (${requiredPermission(ENVIRONMENT)}).`
    )
  })

  test('404 for an organization', () => {
    assert.equal(
      describeGitHubError(httpError(404, 'Not Found'), 'read the public key', ORG),
      `GitHub refused to read the public key (404: Not Found): organization 'acme' does not exist or 'github-token' cannot manage its secrets (${requiredPermission(ORG)}).`
    )
  })

  test('422 points at the secret names and the organization settings', () => {
    assert.match(
      describeGitHubError(httpError(422, 'Validation Failed'), 'write the secret', ORG),
      /^GitHub refused to write the secret \(422: Validation Failed\): .*'visibility' and 'selected-repositories'\.$/
    )
  })

  test('5xx after retries is "down"; a 429 is a rate limit, never "down or unreachable"', () => {
    assert.equal(
      describeGitHubError(httpError(503, 'Service Unavailable'), 'write the secret', REPO),
      'GitHub refused to write the secret (503: Service Unavailable), also after retries: the GitHub API may be down or unreachable from this runner; try again later.'
    )
    const limited = describeGitHubError(httpError(429, 'Too Many Requests'), 'write the secret', REPO)
    assert.match(limited, /also after waiting: GitHub's rate limit for 'github-token' was reached/)
    assert.doesNotMatch(limited, /down or unreachable/)
  })

  test('no answer names the API address', () => {
    assert.equal(
      describeGitHubError(noAnswer('connect ETIMEDOUT'), 'read the public key', REPO),
      "Could not read the public key: GitHub's API at https://ghe.example.com did not answer (the connection failed (connect ETIMEDOUT)), also after retries. Check that the runner can reach it (GITHUB_API_URL, proxy settings) and try again."
    )
    assert.match(
      describeGitHubError(new TypeError('fetch failed'), 'read the public key', REPO),
      /GitHub's API at GITHUB_API_URL did not answer \(the connection failed \(fetch failed\)\)/
    )
  })

  test('an ActionError passes through unchanged', () => {
    assert.equal(describeGitHubError(new ActionError('already explained'), 'write the secret', REPO), 'already explained')
  })
})

describe('GitHub errors: rate limits and redirects', () => {
  const limited = (status: number, headers: Record<string, string>, message = 'API rate limit exceeded') =>
    Object.assign(new Error(message), { status, response: { status, headers, data: { message } } })

  test('retry-after, then x-ratelimit-reset, then a minute; 403 and 429 alike', () => {
    const now = Date.parse('2026-03-10T03:00:00Z')
    assert.deepEqual(classifyGitHubError(limited(429, { 'retry-after': '7' }), now), { retry: true, afterMs: 7000 })
    assert.deepEqual(
      classifyGitHubError(limited(429, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 30) }), now),
      { retry: true, afterMs: 31_000 }
    )
    assert.deepEqual(classifyGitHubError(limited(429, {}), now), { retry: true, afterMs: RATE_LIMIT_FALLBACK_MS })
    assert.deepEqual(classifyGitHubError(limited(403, {}, 'You have exceeded a secondary rate limit'), now), {
      retry: true,
      afterMs: 60_000
    })
    assert.deepEqual(classifyGitHubError(limited(403, {}, 'Resource not accessible by integration'), now), { retry: false })
  })

  test('a redirect to another origin says what happened, not "invalid token"', () => {
    const error = Object.assign(new Error('Requires authentication'), {
      status: 401,
      request: { url: 'https://api.github.com/repos/acme/x' },
      response: { status: 401, url: 'https://elsewhere.example/repos/acme/x', headers: {}, data: { message: 'Requires authentication' } }
    })
    const message = describeGitHubError(error, 'read repository acme/x', REPO)
    assert.match(message, /redirected from https:\/\/api\.github\.com to https:\/\/elsewhere\.example/)
    assert.doesNotMatch(message, /invalid, expired or revoked/)
  })

  test('server text in a GitHub error is made inert', () => {
    const error = Object.assign(new Error('x'), {
      status: 422,
      response: { status: 422, headers: {}, data: { message: 'bad ##[stop-commands]abc ::add-mask::y' } }
    })
    const message = describeGitHubError(error, 'write the secret', REPO)
    assert.ok(!message.includes('##['), message)
    assert.ok(!message.includes('::'), message)
  })
})
