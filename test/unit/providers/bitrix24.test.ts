import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Grant } from '../../../src/providers/provider.js'
import { BITRIX24_ORIGIN, BITRIX24_REFRESH_DAYS, bitrix24, readBitrix24 } from '../../../src/providers/bitrix24.js'
import { CLIENT, CODE, inputError, reader, REFRESH, same } from './fixtures.js'

describe('bitrix24', () => {
  const p = bitrix24(BITRIX24_ORIGIN)

  test('a GET with the parameters in the query string; only the bare address is ever printed', () => {
    const refresh = p.request(REFRESH, CLIENT)
    assert.equal(refresh.method, 'GET')
    assert.equal(refresh.body, undefined)
    assert.equal(refresh.displayUrl, 'https://oauth.bitrix.info/oauth/token/')
    const url = new URL(refresh.url)
    assert.equal(`${url.origin}${url.pathname}`, refresh.displayUrl)
    assert.deepEqual(Object.fromEntries(url.searchParams), {
      grant_type: 'refresh_token',
      client_id: 'my app',
      client_secret: 's3cr:et+/=',
      refresh_token: 'rt-1'
    })
    const code = Object.fromEntries(new URL(p.request(CODE, CLIENT).url).searchParams)
    assert.equal(code.code, 'c0de')
    assert.equal(code.redirect_uri, 'https://example.com/cb')
  })

  test('facts: expires, member_id and client_endpoint; hostile values are dropped', () => {
    const issued = new Date('2026-03-10T03:00:00Z')
    assert.deepEqual(
      p.facts({ expires: 1773115200, member_id: 'a1b2c3', client_endpoint: 'https://portal.bitrix24.ru/rest/' }, 'opaque', 3600, issued),
      { expiresAt: new Date(1773115200_000), accountId: 'a1b2c3', apiUrl: 'https://portal.bitrix24.ru/rest/' }
    )
    const hostile = p.facts({ member_id: 'x y <z>', client_endpoint: 'javascript:alert(1)' }, 'opaque', 3600, issued)
    assert.deepEqual(hostile, { expiresAt: new Date('2026-03-10T04:00:00Z'), accountId: '', apiUrl: '' })
    assert.equal(p.facts({ client_endpoint: 'http://portal.example/rest/' }, 'o', undefined, issued).apiUrl, '', 'plain http off loopback')
    assert.equal(p.facts({}, 'o', undefined, issued).expiresAt, undefined)
    const jwt = `e30.${Buffer.from(JSON.stringify({ exp: 1773115200 })).toString('base64url')}.sig`
    assert.equal(p.facts({ expires: 1 }, jwt, 3600, issued).expiresAt?.getTime(), 1773115200_000)
  })

  test('refusals: invalid_grant is a dead token (a race is diagnosed), invalid_client names the inputs', () => {
    const refuse = (status: number, body: string, grant: Grant = REFRESH) => p.refusal(status, body, 'application/json', grant, same)
    const dead = refuse(400, '{"error":"invalid_grant","error_description":"Invalid grant"}')
    assert.equal(dead.kind, 'revoked')
    assert.equal(dead.said, 'Bitrix24 says the refresh token is invalid or expired (400 invalid_grant: Invalid grant)')
    assert.match(dead.message, /reinstall the application/)
    assert.match(refuse(400, '{"error":"invalid_grant"}', CODE).message, /a Bitrix24 code lives 30 seconds/)
    assert.match(refuse(401, '{"error":"invalid_client"}').message, /check 'client-id' and 'client-secret'/)
    assert.match(refuse(402, '{"error":"PAYMENT_REQUIRED"}').message, /plan does not allow/)
    assert.match(refuse(400, '{"error":"other"}').message, /Check 'client-id', 'client-secret' and 'base-url'/)
    assert.match(refuse(502, 'Bad Gateway').message, /answered 502 \("Bad Gateway"\), not an OAuth answer\. Check 'base-url'/)
  })

  test('the refresh-by date is the conservative 28 days', () => {
    const issued = new Date('2026-03-10T03:00:00Z')
    assert.equal(BITRIX24_REFRESH_DAYS, 28)
    assert.deepEqual(p.refreshBy(issued)?.date, new Date('2026-04-07T03:00:00Z'))
  })

  test('base-url replaces the origin (the east region), never with a path', () => {
    assert.equal(readBitrix24(reader({})).origin, 'https://oauth.bitrix.info')
    assert.equal(readBitrix24(reader({ 'base-url': 'https://oauth.bitrix24.tech/' })).host, 'oauth.bitrix24.tech')
    inputError(() => readBitrix24(reader({ 'base-url': 'https://proxy.example/bitrix' })), 'base-url', /origin only/)
  })
})
