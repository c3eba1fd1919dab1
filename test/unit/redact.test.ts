import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { excerpt, inert, inertBlock, inertOldCommands, SecretRegistry, SERVER_TEXT_MAX } from '../../src/redact.js'

const same = (text: string): string => text

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

  test('any run of 12 or more characters of a secret is hidden; 11 may show', () => {
    const secret = 'def50200a1b2c3d4e5f6a7b8c9d0e1f2'
    const registry = new SecretRegistry()
    registry.add(secret)
    for (let start = 0; start + 12 <= secret.length; start += 3) {
      const piece = secret.slice(start, start + 12 + (start % 5))
      const out = registry.redact(`echo: ${piece}!`)
      assert.equal(out, 'echo: ***!', piece)
    }
    assert.equal(registry.redact(`x ${secret.slice(0, 11)} y`), `x ${secret.slice(0, 11)} y`)
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
    assert.equal(excerpt(page, 160, same), '403 Forbidden Access denied Your IP was blocked.')
  })

  test('a script that never closes hides everything after it', () => {
    assert.equal(excerpt('before <script>var x = 1; visible?', 160, same), 'before')
  })

  test('control characters and runs of blanks collapse to one space', () => {
    assert.equal(excerpt('  a\r\n\u0000b\u007f   c  ', 160, same), 'a b c')
  })

  test('long text is cut to max characters with an ellipsis', () => {
    const out = excerpt('x'.repeat(500), 20, same)
    assert.equal(out, `${'x'.repeat(19)}…`)
    assert.equal(out.length, 20)
    assert.equal(excerpt('x'.repeat(160), 160, same).length, 160)
    assert.equal(excerpt('x'.repeat(161), 160, same).length, 160)
    assert.equal(excerpt('short', 20, same), 'short')
  })
})

describe('excerpt of hostile text', () => {
  test('redacted before it is cut: an echoed secret shows no 12 characters at any offset', () => {
    const secret = 'Zx8Qw3Rt5Yu7Io9Pa1Sd2Fg4Hj6Kl8Mn0Bv'
    const registry = new SecretRegistry()
    registry.add(secret)
    const redact = (text: string) => registry.redact(text)
    for (let offset = 0; offset < 200; offset++) {
      const out = excerpt(`${'a'.repeat(offset)} client_secret=${secret}&more`, 120, redact)
      for (let i = 0; i + 12 <= secret.length; i++) assert.ok(!out.includes(secret.slice(i, i + 12)), `offset ${offset}: ${out}`)
    }
  })

  test('workflow commands in server text are made inert, old syntax and new', () => {
    const out = excerpt('error ##[stop-commands]abc then ::add-mask::x and :::', 200, same)
    assert.ok(!out.includes('##['), out)
    assert.ok(!out.includes('::'), out)
    assert.equal(out.replace(/\u200b/g, ''), 'error ##[stop-commands]abc then ::add-mask::x and :::')
    assert.equal(inert('a ##[warning]b'), 'a ##\u200b[warning]b')
    // The action's own lines keep their '::' (an address such as [::1]), never an old-syntax command.
    assert.equal(inertOldCommands('http://[::1]/ ##[error]x'), 'http://[::1]/ ##\u200b[error]x')
  })

  test('a huge body is bounded before any pattern runs over it (no quadratic time)', () => {
    for (const body of ['<'.repeat(700_000), '<script'.repeat(100_000), `${'<a '.repeat(200_000)}`]) {
      const started = performance.now()
      const out = excerpt(body, 120, same)
      assert.ok(out.length <= 120)
      assert.ok(performance.now() - started < 5000, `took ${performance.now() - started} ms`)
    }
    assert.equal(SERVER_TEXT_MAX, 16 * 1024)
  })
})

describe('inertBlock: server text in the summary is inert', () => {
  test('a failure quoting a hostile answer cannot plant a link, an image or break out of its block', () => {
    const hostile =
      'amoCRM refused (400 ```\n[Re-authorize here](https://evil.example) ![x](https://evil.example/p.png) <a href="https://evil.example">x</a>)'
    const block = inertBlock(hostile)
    const fence = block.split('\n')[0] ?? ''
    assert.match(fence, /^````+text$/, 'the fence is longer than any run of backticks inside')
    assert.ok(block.endsWith(`\n${fence.replace('text', '')}`))
    assert.equal(block.split('\n').filter((line) => line.startsWith(fence.replace('text', ''))).length, 2)
  })
})
