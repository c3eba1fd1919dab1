import { afterEach, beforeEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { CancelGuard } from '../../src/critical.js'
import { CANCELLED_MAX_WAIT_MS } from '../../src/retry.js'

describe('CancelGuard', () => {
  let aborts: string[]
  let notices: string[]
  let guard: CancelGuard
  let before: { SIGINT: number; SIGTERM: number }

  beforeEach(() => {
    aborts = []
    notices = []
    before = { SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') }
    guard = new CancelGuard(
      (signal) => aborts.push(signal),
      (message) => notices.push(message)
    )
    guard.install()
  })

  afterEach(() => {
    guard.uninstall()
  })

  test('install adds one listener per signal, uninstall removes them', () => {
    assert.equal(process.listenerCount('SIGINT'), before.SIGINT + 1)
    assert.equal(process.listenerCount('SIGTERM'), before.SIGTERM + 1)
    guard.uninstall()
    assert.equal(process.listenerCount('SIGINT'), before.SIGINT)
    assert.equal(process.listenerCount('SIGTERM'), before.SIGTERM)
    process.emit('SIGTERM', 'SIGTERM')
    assert.deepEqual(aborts, [])
    assert.equal(guard.isCancelled(), false)
  })

  test('nothing received: not cancelled, entering says nothing', () => {
    assert.equal(guard.isCancelled(), false)
    assert.equal(guard.signal, undefined)
    guard.enter()
    assert.deepEqual(notices, [])
    assert.deepEqual(aborts, [])
  })

  test('a signal before enter() ends the run at once', () => {
    process.emit('SIGTERM', 'SIGTERM')
    assert.deepEqual(aborts, ['SIGTERM'])
    assert.deepEqual(notices, [])
    assert.equal(guard.isCancelled(), true)
    assert.equal(guard.signal, 'SIGTERM')
  })

  test('SIGINT before enter() ends the run too', () => {
    process.emit('SIGINT', 'SIGINT')
    assert.deepEqual(aborts, ['SIGINT'])
    assert.equal(guard.signal, 'SIGINT')
  })

  test('after enter(), a signal is only noticed', () => {
    guard.enter()
    process.emit('SIGTERM', 'SIGTERM')
    assert.deepEqual(aborts, [])
    assert.equal(guard.isCancelled(), true)
    assert.equal(guard.signal, 'SIGTERM')
    assert.deepEqual(notices, [
      'Received SIGTERM after the token was spent: storing the new token before stopping, so that it is not lost.'
    ])
  })

  test('after enter(), a second signal is noticed again and the first one is kept', () => {
    guard.enter()
    process.emit('SIGINT', 'SIGINT')
    process.emit('SIGTERM', 'SIGTERM')
    assert.deepEqual(aborts, [])
    assert.equal(guard.signal, 'SIGINT')
    assert.equal(notices.length, 2)
    assert.match(notices[0] ?? '', /^Received SIGINT after the token was spent/)
    assert.equal(notices[1], 'Received SIGTERM again: still storing the new token.')
  })

  test('a signal that came before enter() is reported when entering', () => {
    process.emit('SIGINT', 'SIGINT')
    guard.enter()
    assert.deepEqual(aborts, ['SIGINT'])
    assert.deepEqual(notices, ['Cancellation (SIGINT) arrived as the token request was sent: storing the new token first.'])
  })
})

describe('CancelGuard: waits, listeners and the deadline', () => {
  const events: string[] = []
  const make = (budget = { budgetMs: 60_000, afterTermMs: 60_000 }): CancelGuard =>
    new CancelGuard(
      (signal) => events.push(`abort ${signal}`),
      (message) => events.push(message),
      budget
    )

  test('sleep: a wait already running is cut to CANCELLED_MAX_WAIT_MS by a signal', async () => {
    const guard = make()
    guard.install()
    try {
      guard.enter()
      const started = performance.now()
      const waiting = guard.sleep(600_000)
      process.emit('SIGINT', 'SIGINT')
      await waiting
      // A ten-minute wait ended: it could only have ended because the signal shortened it.
      assert.ok(performance.now() - started < 600_000)
      assert.equal(guard.isCancelled(), true)
    } finally {
      guard.uninstall()
    }
  })

  test('sleep: once cancelled, a new wait is short from the start, and a short wait is kept as it is', async () => {
    const guard = make()
    guard.install()
    try {
      guard.enter()
      process.emit('SIGINT', 'SIGINT')
      await guard.sleep(600_000) // would hang the test if not capped
      await guard.sleep(0)
      assert.ok(CANCELLED_MAX_WAIT_MS < 1000)
    } finally {
      guard.uninstall()
    }
  })

  test('cancelled aborts at the first signal; deadline only after the budget', async () => {
    const guard = make({ budgetMs: 30, afterTermMs: 10 })
    guard.install()
    try {
      guard.enter()
      assert.equal(guard.cancelled.aborted, false)
      const deadline = new Promise<void>((resolve) => guard.deadline.addEventListener('abort', () => resolve()))
      process.emit('SIGINT', 'SIGINT')
      assert.equal(guard.cancelled.aborted, true)
      assert.equal(guard.deadline.aborted, false)
      await deadline
      assert.equal(guard.deadline.aborted, true)
    } finally {
      guard.uninstall()
    }
  })

  test('a SIGTERM brings the deadline closer (the kill comes 2.5 s after it)', async () => {
    const guard = make({ budgetMs: 600_000, afterTermMs: 5 })
    guard.install()
    try {
      guard.enter()
      process.emit('SIGINT', 'SIGINT')
      const deadline = new Promise<void>((resolve) => guard.deadline.addEventListener('abort', () => resolve()))
      process.emit('SIGTERM', 'SIGTERM')
      await deadline // would hang for ten minutes if SIGTERM did not shorten it
    } finally {
      guard.uninstall()
    }
  })

  test('onSpentSignal: called once at the first signal after the spend, at once if it already came, never before the spend', () => {
    const guard = make()
    guard.install()
    try {
      const heard: string[] = []
      guard.onSpentSignal((signal) => heard.push(`early ${signal}`))
      guard.enter()
      process.emit('SIGINT', 'SIGINT')
      process.emit('SIGTERM', 'SIGTERM')
      assert.deepEqual(heard, ['early SIGINT'])
      guard.onSpentSignal((signal) => heard.push(`late ${signal}`))
      assert.deepEqual(heard, ['early SIGINT', 'late SIGINT'])
      const stop = make()
      stop.install()
      try {
        const none: string[] = []
        stop.onSpentSignal((signal) => none.push(signal))()
        stop.enter()
        process.emit('SIGINT', 'SIGINT')
        assert.deepEqual(none, [], 'an unsubscribed listener is not called')
      } finally {
        stop.uninstall()
      }
    } finally {
      guard.uninstall()
    }
  })
})
