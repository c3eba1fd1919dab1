import { afterEach, beforeEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { CancelGuard } from '../../src/critical.js'

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
