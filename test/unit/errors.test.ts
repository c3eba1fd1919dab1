import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { ActionError, errorMessage, InputError } from '../../src/errors.js'

describe('InputError', () => {
  test('names the input at the start of the message', () => {
    const error = new InputError('subdomain', 'is required.')
    assert.equal(error.message, "Input 'subdomain' is required.")
    assert.equal(error.input, 'subdomain')
    assert.ok(error instanceof ActionError)
    assert.equal(error.name, 'ActionError')
  })
})

describe('errorMessage', () => {
  test('an Error gives its message', () => {
    assert.equal(errorMessage(new TypeError('boom')), 'boom')
  })

  test('non-Error throws', () => {
    assert.equal(errorMessage('plain text'), 'plain text')
    assert.equal(errorMessage({ status: 500, reason: 'x' }), '{"status":500,"reason":"x"}')
    assert.equal(errorMessage(42), '42')
    assert.equal(errorMessage(null), 'null')
    assert.equal(errorMessage(undefined), 'undefined')
    assert.equal(errorMessage(10n), '10')
    assert.equal(errorMessage(Symbol('s')), 'Symbol(s)')
  })

  test('a circular object does not throw', () => {
    const circular: Record<string, unknown> = { a: 1 }
    circular.self = circular
    assert.equal(errorMessage(circular), '[object Object]')
  })
})
