import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Octokit } from '@octokit/rest'
import type { RunRef } from '../../../src/github/run.js'
import { readRunTimes } from '../../../src/github/run.js'

const RUN: RunRef = { owner: 'acme', repo: 'crm-sync', runId: '42', attempt: 1 }

function octokit(answer: () => Promise<{ data: unknown }>): {
  octokit: Octokit
  calls: Array<{ route: string; params: Record<string, unknown> }>
} {
  const calls: Array<{ route: string; params: Record<string, unknown> }> = []
  const request = async (route: string, params: Record<string, unknown>) => {
    calls.push({ route, params })
    return answer()
  }
  return { octokit: { request } as unknown as Octokit, calls }
}

const httpError = (status: number | undefined, withResponse = true): Error =>
  Object.assign(new Error('GitHub said ##[stop-commands]x with a long story'), {
    status,
    ...(withResponse ? { response: { status } } : {})
  })

describe('readRunTimes', () => {
  test('reads created_at, run_started_at and run_attempt of this run', async () => {
    const fake = octokit(async () => ({
      data: { created_at: '2026-03-10T03:00:01Z', run_started_at: '2026-03-10T03:05:00Z', run_attempt: 2 }
    }))
    assert.deepEqual(await readRunTimes(fake.octokit, RUN, 1000), {
      createdAt: new Date('2026-03-10T03:00:01Z'),
      runStartedAt: new Date('2026-03-10T03:05:00Z'),
      attempt: 2
    })
    assert.equal(fake.calls[0]?.route, 'GET /repos/{owner}/{repo}/actions/runs/{run_id}')
    assert.equal(fake.calls[0]?.params.run_id, 42)
    assert.ok((fake.calls[0]?.params.request as { signal?: unknown }).signal instanceof AbortSignal)
  })

  test('a missing attempt falls back to GITHUB_RUN_ATTEMPT; a missing start is undefined', async () => {
    const fake = octokit(async () => ({ data: { created_at: '2026-03-10T03:00:01Z' } }))
    assert.deepEqual(await readRunTimes(fake.octokit, { ...RUN, attempt: 3 }, 1000), {
      createdAt: new Date('2026-03-10T03:00:01Z'),
      runStartedAt: undefined,
      attempt: 3
    })
  })

  test('unreadable, with a reason and never the server text', async () => {
    const cases: Array<[() => Promise<{ data: unknown }>, RegExp]> = [
      [async () => ({ data: { created_at: 'not a date' } }), /no created_at/],
      [() => Promise.reject(httpError(403)), /^GitHub answered 403: the token cannot read this run \(actions: read\)$/],
      [() => Promise.reject(httpError(404)), /^GitHub answered 404: no such run, or the token cannot see it/],
      [() => Promise.reject(httpError(502)), /^GitHub answered 502$/],
      [() => Promise.reject(httpError(500, false)), /^no answer$/]
    ]
    for (const [answer, pattern] of cases) {
      const result = await readRunTimes(octokit(answer).octokit, RUN, 1000)
      assert.ok('unreadable' in result)
      assert.match(result.unreadable, pattern)
      assert.doesNotMatch(result.unreadable, /stop-commands/)
    }
  })

  test('no run or no token: unreadable without a request', async () => {
    const fake = octokit(async () => ({ data: {} }))
    assert.deepEqual(await readRunTimes(fake.octokit, undefined, 1000), { unreadable: 'GITHUB_RUN_ID or GITHUB_REPOSITORY is not set' })
    assert.deepEqual(await readRunTimes(undefined, RUN, 1000), { unreadable: "'job-token' is empty" })
    assert.equal(fake.calls.length, 0)
  })
})

describe('readRunTimes: retried where an answer may still come', () => {
  const policy = { attempts: 3, baseMs: 0, maxWaitMs: 0, isCancelled: () => false, sleep: async () => undefined }

  test('a 502, then the run: read on the second attempt', async () => {
    let n = 0
    const fake = octokit(async () => {
      if (n++ === 0) throw httpError(502)
      return { data: { created_at: '2026-03-10T03:00:01Z', run_attempt: 1 } }
    })
    const times = await readRunTimes(fake.octokit, RUN, 1000, policy)
    assert.deepEqual(times, { createdAt: new Date('2026-03-10T03:00:01Z'), runStartedAt: undefined, attempt: 1 })
    assert.equal(fake.calls.length, 2)
  })

  test('a 403 is final: one request, and the reason names the permission', async () => {
    const fake = octokit(async () => {
      throw httpError(403)
    })
    assert.deepEqual(await readRunTimes(fake.octokit, RUN, 1000, policy), {
      unreadable: 'GitHub answered 403: the token cannot read this run (actions: read)'
    })
    assert.equal(fake.calls.length, 1)
  })
})
