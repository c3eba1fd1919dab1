import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { backoffBaseMs, backoffMs, CANCELLED_MAX_WAIT_MS, parseRetryAfter, withRetries, within, type RetryPolicy } from '../../src/retry.js'

function policy(overrides: Partial<RetryPolicy> = {}): RetryPolicy & { slept: number[] } {
  const slept: number[] = []
  return {
    attempts: 3,
    baseMs: 0,
    maxWaitMs: 60_000,
    isCancelled: () => false,
    sleep: async (ms) => {
      slept.push(ms)
    },
    ...overrides,
    slept
  }
}

const retryAll = () => ({ retry: true })

describe('withRetries', () => {
  test('returns the first success without waiting', async () => {
    const p = policy()
    const attempts: number[] = []
    const result = await withRetries(p, retryAll, async (attempt) => {
      attempts.push(attempt)
      return 'ok'
    })
    assert.equal(result, 'ok')
    assert.deepEqual(attempts, [1])
    assert.deepEqual(p.slept, [])
  })

  test('retries a retryable failure and passes 1-based attempt numbers', async () => {
    const p = policy()
    const attempts: number[] = []
    const retried: Array<[unknown, number, number]> = []
    const result = await withRetries(
      p,
      retryAll,
      async (attempt) => {
        attempts.push(attempt)
        if (attempt < 3) throw new Error(`fail ${attempt}`)
        return attempt
      },
      (error, attempt, waitMs) => retried.push([error instanceof Error ? error.message : error, attempt, waitMs])
    )
    assert.equal(result, 3)
    assert.deepEqual(attempts, [1, 2, 3])
    assert.deepEqual(retried, [
      ['fail 1', 1, 0],
      ['fail 2', 2, 0]
    ])
    assert.deepEqual(p.slept, [0, 0])
  })

  test('throws the last error itself once the attempts run out', async () => {
    const p = policy({ attempts: 4 })
    const errors: Error[] = []
    let calls = 0
    await assert.rejects(
      withRetries(p, retryAll, async () => {
        calls++
        const error = new Error(`fail ${calls}`)
        errors.push(error)
        throw error
      }),
      (error: unknown) => {
        assert.equal(error, errors[3])
        return true
      }
    )
    assert.equal(calls, 4)
    assert.equal(p.slept.length, 3)
  })

  test('a final error is thrown at once', async () => {
    const p = policy()
    let calls = 0
    const final = new Error('final')
    await assert.rejects(
      withRetries(
        p,
        (error) => ({ retry: error !== final }),
        async () => {
          calls++
          throw calls === 1 ? new Error('transient') : final
        }
      ),
      (error: unknown) => error === final
    )
    assert.equal(calls, 2)
    assert.equal(p.slept.length, 1)
  })

  test("a server's Retry-After is waited for", async () => {
    const p = policy({ maxWaitMs: 10_000 })
    let calls = 0
    await withRetries(
      p,
      () => ({ retry: true, afterMs: 2500 }),
      async () => {
        if (++calls === 1) throw new Error('429')
      }
    )
    assert.deepEqual(p.slept, [2500])
  })

  test('one attempt means no retry', async () => {
    const p = policy({ attempts: 1 })
    let calls = 0
    await assert.rejects(
      withRetries(p, retryAll, async () => {
        calls++
        throw new Error('x')
      }),
      /x/
    )
    assert.equal(calls, 1)
    assert.deepEqual(p.slept, [])
  })
})

describe('backoffMs', () => {
  test('doubles per failed attempt, with jitter between 0.75 and 1.25', (t) => {
    const p = policy({ baseMs: 1000 })
    t.mock.method(Math, 'random', () => 0)
    assert.equal(backoffMs(p, 1), 750)
    assert.equal(backoffMs(p, 2), 1500)
    assert.equal(backoffMs(p, 3), 3000)
    t.mock.method(Math, 'random', () => 0.5)
    assert.equal(backoffMs(p, 1), 1000)
    assert.equal(backoffMs(p, 4), 8000)
    t.mock.method(Math, 'random', () => 1)
    assert.equal(backoffMs(p, 1), 1250)
  })

  test('stays within the jitter range with the real Math.random', () => {
    const p = policy({ baseMs: 400 })
    for (let i = 0; i < 200; i++) {
      const wait = backoffMs(p, 2)
      assert.ok(wait >= 600 && wait <= 1000, String(wait))
    }
  })

  test('never waits longer than maxWaitMs', (t) => {
    t.mock.method(Math, 'random', () => 0.5)
    const p = policy({ baseMs: 1000, maxWaitMs: 5000 })
    assert.equal(backoffMs(p, 10), 5000)
    assert.equal(backoffMs(p, 1, 120_000), 5000)
  })

  test('honours Retry-After when it is longer than the backoff', (t) => {
    t.mock.method(Math, 'random', () => 0.5)
    const p = policy({ baseMs: 1000, maxWaitMs: 30_000 })
    assert.equal(backoffMs(p, 1, 7000), 7000)
    assert.equal(backoffMs(p, 3, 100), 4000)
  })

  test(`once cancelled, waits at most ${CANCELLED_MAX_WAIT_MS} ms`, (t) => {
    t.mock.method(Math, 'random', () => 0.5)
    assert.equal(CANCELLED_MAX_WAIT_MS, 250)
    const p = policy({ baseMs: 1000, maxWaitMs: 30_000, isCancelled: () => true })
    assert.equal(backoffMs(p, 3), 250)
    assert.equal(backoffMs(p, 1, 20_000), 250)
    const short = policy({ baseMs: 100, isCancelled: () => true })
    assert.equal(backoffMs(short, 1), 100)
  })

  test('withRetries uses the cancelled cap', async () => {
    let cancelled = false
    const p = policy({ baseMs: 10_000, isCancelled: () => cancelled })
    let calls = 0
    await withRetries(p, retryAll, async () => {
      calls++
      if (calls === 1) {
        cancelled = true
        throw new Error('once')
      }
    })
    assert.deepEqual(p.slept, [250])
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00.000Z')

  test('seconds', () => {
    assert.equal(parseRetryAfter('120', now), 120_000)
    assert.equal(parseRetryAfter('0', now), 0)
    assert.equal(parseRetryAfter('1.5', now), 1500)
  })

  test('an HTTP date, relative to now', () => {
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000)
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:02:00 GMT', now), 120_000)
  })

  test('a date in the past means no wait', () => {
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now), 0)
  })

  test('absent or unreadable', () => {
    assert.equal(parseRetryAfter(null, now), undefined)
    assert.equal(parseRetryAfter(undefined, now), undefined)
    assert.equal(parseRetryAfter('', now), undefined)
    assert.equal(parseRetryAfter('soon', now), undefined)
  })
})

describe('backoffBaseMs', () => {
  test('1000 ms unless a test rig sets TOKEN_ROTATION_BACKOFF_MS (or its 1.1 name)', () => {
    assert.equal(backoffBaseMs({}), 1000)
    assert.equal(backoffBaseMs({ TOKEN_ROTATION_BACKOFF_MS: '5' }), 5)
    assert.equal(backoffBaseMs({ AMOCRM_TOKEN_ACTION_BACKOFF_MS: '7' }), 7)
    assert.equal(backoffBaseMs({ TOKEN_ROTATION_BACKOFF_MS: '0' }), 0)
    for (const bad of ['', '-1', 'soon']) assert.equal(backoffBaseMs({ TOKEN_ROTATION_BACKOFF_MS: bad }), 1000, bad)
  })
})

describe('within', () => {
  test("the work's result when it settles first, the fallback when it never does", async () => {
    assert.equal(await within(Promise.resolve('done'), 60_000, 'late'), 'done')
    assert.equal(await within(new Promise<string>(() => undefined), 1, 'late'), 'late')
  })
})
