import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { ActionError, errorMessage, excerpt, InputError, SecretRegistry } from '../../src/errors.js'

describe('InputError', () => {
  test('names the input at the start of the message', () => {
    const error = new InputError('subdomain', 'is required.')
    assert.equal(error.message, "Input 'subdomain' is required.")
    assert.equal(error.input, 'subdomain')
    assert.ok(error instanceof ActionError)
    assert.equal(error.name, 'ActionError')
  })
})

describe('SecretRegistry', () => {
  test('add: true only for a new, non-empty value', () => {
    const registry = new SecretRegistry()
    assert.equal(registry.add('s3cret'), true)
    assert.equal(registry.add('s3cret'), false)
    assert.equal(registry.add(''), false)
    assert.equal(registry.add('other'), true)
  })

  test('redact replaces every occurrence of every value', () => {
    const registry = new SecretRegistry()
    registry.add('def50200aaa')
    registry.add('Zx8Qw3')
    assert.equal(
      registry.redact('refresh def50200aaa, secret Zx8Qw3, again def50200aaa and Zx8Qw3Zx8Qw3'),
      'refresh ***, secret ***, again *** and ******'
    )
  })

  test('redact leaves text without secrets alone', () => {
    const registry = new SecretRegistry()
    assert.equal(registry.redact('nothing registered'), 'nothing registered')
    registry.add('abc')
    assert.equal(registry.redact('a b c ab bc'), 'a b c ab bc')
  })

  test('a secret that contains another is replaced whole, whatever the order they were added in', () => {
    for (const order of [
      ['abc', 'xxabcxx'],
      ['xxabcxx', 'abc']
    ]) {
      const registry = new SecretRegistry()
      for (const value of order) registry.add(value)
      assert.equal(registry.redact('[xxabcxx] [abc]'), '[***] [***]', order.join(' then '))
    }
  })

  test('overlapping secrets: neither appears in the output', () => {
    const access = 'eyJhbGciOiJSUzI1NiJ9.payload'
    const refresh = 'payload.def50200'
    const registry = new SecretRegistry()
    registry.add(refresh)
    registry.add(access)
    const out = registry.redact(`tokens: ${access}.def50200 and ${refresh}`)
    assert.ok(!out.includes(access), out)
    assert.ok(!out.includes(refresh), out)
    assert.equal(out, 'tokens: ***.def50200 and ***')
  })

  test('regular-expression characters in a secret are taken literally', () => {
    const registry = new SecretRegistry()
    registry.add('a.b*c+$')
    assert.equal(registry.redact('x a.b*c+$ y aXbbc+$'), 'x *** y aXbbc+$')
  })
})

describe('excerpt', () => {
  test('an HTML page becomes its visible text', () => {
    const page = `<!DOCTYPE html>
<html><head><title>403 Forbidden</title>
<style>body { color: red }</style>
<script>var token = "<secret>";</script></head>
<body><h1>Access&nbsp;denied</h1>\t<p>Your IP was blocked.</p></body></html>`
    assert.equal(excerpt(page), '403 Forbidden Access denied Your IP was blocked.')
  })

  test('control characters and runs of blanks collapse to one space', () => {
    assert.equal(excerpt('  a\r\n\u0000b\u007f   c  '), 'a b c')
  })

  test('long text is cut to max characters with an ellipsis', () => {
    const out = excerpt('x'.repeat(500), 20)
    assert.equal(out, `${'x'.repeat(19)}…`)
    assert.equal(out.length, 20)
    assert.equal(excerpt('x'.repeat(160)).length, 160)
    assert.equal(excerpt('x'.repeat(161)).length, 160)
    assert.equal(excerpt('short', 20), 'short')
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
