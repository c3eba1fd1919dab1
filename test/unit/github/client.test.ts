import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseTokenExpiration } from '../../../src/github/client.js'

describe('parseTokenExpiration', () => {
  test('both forms GitHub sends, and nothing else', () => {
    assert.deepEqual(parseTokenExpiration('2027-01-07 10:00:00 UTC'), new Date('2027-01-07T10:00:00Z'))
    assert.deepEqual(parseTokenExpiration('2023-04-26 20:23:26 +0200'), new Date('2023-04-26T18:23:26Z'))
    assert.deepEqual(parseTokenExpiration(' 2027-01-07 10:00:00 +0000 '), new Date('2027-01-07T10:00:00Z'))
    for (const bad of [undefined, 12, '', 'tomorrow', '2027-01-07', '2027-13-45 99:99:99 UTC']) {
      assert.equal(parseTokenExpiration(bad), undefined, String(bad))
    }
  })
})
