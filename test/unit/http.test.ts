import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { networkReason } from '../../src/http.js'

const failed = (cause: unknown): TypeError => new TypeError('fetch failed', { cause })

describe('networkReason', () => {
  test('a time-out or an abort is "no answer within the time limit"', () => {
    assert.equal(networkReason(new DOMException('timed out', 'TimeoutError')), 'no answer within the time limit')
    assert.equal(networkReason(new DOMException('aborted', 'AbortError')), 'no answer within the time limit')
  })

  test('a proxy that wants credentials (undici: InvalidArgumentError "Proxy Authentication Required (407)") is named as such', () => {
    const reason = networkReason(failed(new Error('Proxy Authentication Required (407)')))
    assert.match(reason, /^the proxy asked for authentication \(407 Proxy Authentication Required\): put the credentials in HTTPS_PROXY/)
    assert.doesNotMatch(reason, /cancelled/i)
  })

  test('the chain undici really throws for a 407 ("Request was cancelled." around the proxy response)', () => {
    const undici = failed(
      Object.assign(new Error('Request was cancelled.', { cause: new Error('Proxy response (407) !== 200 when HTTP Tunneling') }), {
        code: 0
      })
    )
    assert.match(networkReason(undici), /^the proxy asked for authentication \(407/)
  })

  test('a proxy that refuses the tunnel with another status', () => {
    assert.equal(
      networkReason(failed(new Error('Proxy response (403) !== 200 when HTTP Tunneling'))),
      'the proxy refused the connection (403): check HTTPS_PROXY and NO_PROXY'
    )
  })

  test("the connection's error code, else its message; anything else", () => {
    assert.equal(
      networkReason(failed(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }))),
      'the connection failed (ECONNREFUSED)'
    )
    assert.equal(networkReason(failed(new Error('other side closed'))), 'the connection failed (other side closed)')
    assert.equal(networkReason(new Error('plain')), 'the connection failed (plain)')
    assert.equal(networkReason('a string'), 'the connection failed')
  })
})
