import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { oauthError } from '../../../src/providers/rfc6749.js'
import { same } from './fixtures.js'

describe('rfc6749 errors', () => {
  test('a JSON error is read; anything else, or an absurd error name, is not', () => {
    assert.deepEqual(oauthError('{"error":"invalid_grant","error_description":"x ##[warning]y"}', same), {
      error: 'invalid_grant',
      description: 'x ##\u200b[warning]y'
    })
    assert.equal(oauthError('not json', same), undefined)
    assert.equal(oauthError(JSON.stringify({ error: 'e'.repeat(200) }), same), undefined)
    assert.equal(oauthError('{"error":""}', same), undefined)
  })
})
