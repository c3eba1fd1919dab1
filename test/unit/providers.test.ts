import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { InputError } from '../../src/errors.js'
import type { Grant } from '../../src/providers/provider.js'
import { BITRIX24_ORIGIN, BITRIX24_REFRESH_DAYS, bitrix24, readBitrix24 } from '../../src/providers/bitrix24.js'
import { PROVIDERS, readProvider } from '../../src/providers/index.js'
import { basicAuth, oauth2, readOAuth2, type OAuth2Options } from '../../src/providers/oauth2.js'
import { oauthError } from '../../src/providers/rfc6749.js'

const same = (text: string): string => text
const CLIENT = { clientId: 'my app', clientSecret: 's3cr:et+/=', redirectUri: 'https://example.com/cb' }
const REFRESH: Grant = { type: 'refresh_token', refreshToken: 'rt-1' }
const CODE: Grant = { type: 'authorization_code', code: 'c0de' }
const reader = (values: Record<string, string>) => (name: string) => values[name] ?? ''
const required = (values: Record<string, string>) => (name: string, what: string) => {
  const value = values[name]
  if (!value) throw new InputError(name, `is required: ${what}.`)
  return value
}
const provider = (values: Record<string, string>) => readProvider(reader(values), required(values))
const inputError = (fn: () => unknown, input: string, pattern: RegExp): void => {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof InputError, String(error))
    assert.equal(error.input, input)
    assert.match(error.message, pattern)
    return true
  })
}

describe('readProvider', () => {
  test('amocrm by default, kommo means kommo.com, anything else named', () => {
    assert.equal(provider({ subdomain: 'acme' }).name, 'amocrm')
    assert.equal(provider({ subdomain: 'acme' }).host, 'acme.amocrm.ru')
    const kommo = provider({ provider: 'Kommo', subdomain: 'acme' })
    assert.equal(kommo.host, 'acme.kommo.com')
    assert.equal(PROVIDERS.kommo.defaultSecret, 'KOMMO_REFRESH_TOKEN')
    assert.equal(kommo.label, 'Kommo')
    inputError(() => provider({ provider: 'kommo', subdomain: 'acme', domain: 'amocrm.ru' }), 'domain', /provider: kommo means kommo\.com/)
    inputError(() => provider({ provider: 'hubspot' }), 'provider', /must be one of amocrm, kommo, bitrix24, oauth2/)
  })

  test('an input of another provider is an error, not silently ignored', () => {
    inputError(() => provider({ provider: 'bitrix24', subdomain: 'acme' }), 'subdomain', /not used with provider: bitrix24/)
    inputError(() => provider({ subdomain: 'acme', 'token-url': 'https://x.example/token' }), 'token-url', /not used with provider: amocrm/)
    inputError(
      () => provider({ provider: 'oauth2', 'token-url': 'https://x.example/token', 'base-url': 'https://y.example' }),
      'base-url',
      /not used/
    )
    inputError(() => provider({ subdomain: 'acme', 'client-auth': 'body' }), 'client-auth', /only with provider: oauth2/)
    inputError(() => provider({ subdomain: 'acme', 'body-format': 'json' }), 'body-format', /only with provider: oauth2/)
    // The defaults of client-auth and body-format are no reason to complain.
    assert.equal(provider({ subdomain: 'acme', 'client-auth': 'basic', 'body-format': 'form' }).name, 'amocrm')
  })
})

describe('oauth2', () => {
  const options = (extra: Partial<OAuth2Options> = {}): OAuth2Options => ({
    tokenUrl: 'https://auth.example.com/oauth/token',
    clientAuth: 'basic',
    bodyFormat: 'form',
    scope: undefined,
    ...extra
  })

  test('Basic and form: RFC 6749 §2.3.1 (each part form-encoded) and §6', () => {
    const spec = oauth2(options({ scope: 'offline_access accounting' })).request(REFRESH, CLIENT)
    assert.equal(spec.method, 'POST')
    assert.equal(spec.url, 'https://auth.example.com/oauth/token')
    assert.equal(spec.headers['content-type'], 'application/x-www-form-urlencoded')
    assert.equal(spec.headers.authorization, `Basic ${Buffer.from('my+app:s3cr%3Aet%2B%2F%3D').toString('base64')}`)
    assert.equal(basicAuth(CLIENT), spec.headers.authorization)
    assert.deepEqual(Object.fromEntries(new URLSearchParams(spec.body)), {
      grant_type: 'refresh_token',
      refresh_token: 'rt-1',
      scope: 'offline_access accounting'
    })
  })

  test('body credentials and JSON; redirect_uri only with the code grant', () => {
    const p = oauth2(options({ clientAuth: 'body', bodyFormat: 'json' }))
    const code = p.request(CODE, CLIENT)
    assert.equal(code.headers.authorization, undefined)
    assert.equal(code.headers['content-type'], 'application/json')
    assert.deepEqual(JSON.parse(code.body ?? ''), {
      grant_type: 'authorization_code',
      code: 'c0de',
      redirect_uri: 'https://example.com/cb',
      client_id: 'my app',
      client_secret: 's3cr:et+/='
    })
    assert.equal(JSON.parse(p.request(REFRESH, CLIENT).body ?? '').redirect_uri, undefined)
  })

  test('facts: a JWT exp when there is one, else expires_in; no account, no API address', () => {
    const p = oauth2(options())
    const issued = new Date('2026-03-10T03:00:00Z')
    assert.deepEqual(p.facts({}, 'opaque', 1800, issued), { expiresAt: new Date('2026-03-10T03:30:00Z'), accountId: '', apiUrl: '' })
    const jwt = `e30.${Buffer.from(JSON.stringify({ exp: 1773115200 })).toString('base64url')}.sig`
    assert.equal(p.facts({}, jwt, 1800, issued).expiresAt?.getTime(), 1773115200_000)
    assert.equal(p.refreshBy(issued), undefined)
    assert.equal(p.alwaysRotates, false)
  })

  test('refusals the RFC 6749 way', () => {
    const p = oauth2(options())
    const refuse = (status: number, body: string, grant: Grant = REFRESH) => p.refusal(status, body, 'application/json', grant, same)
    const grant = refuse(400, '{"error":"invalid_grant","error_description":"Token expired"}')
    assert.equal(grant.kind, 'revoked')
    assert.equal(grant.said, 'auth.example.com says the refresh token is invalid, expired or revoked (400 invalid_grant: Token expired)')
    assert.match(grant.message, /invalid, expired, revoked or already used\. A new authorization is needed/)
    assert.match(
      refuse(400, '{"error":"invalid_grant"}', CODE).message,
      /the code is invalid, expired or already used, or 'redirect-uri' differs/
    )
    assert.equal(refuse(400, '{"error":"invalid_grant"}', CODE).kind, 'rejected')
    assert.match(
      refuse(401, '{"error":"invalid_client"}').message,
      /check 'client-id' and 'client-secret', and 'client-auth' \(now basic\)/
    )
    assert.match(refuse(400, '{"error":"unauthorized_client"}').message, /may not use this grant/)
    assert.match(refuse(400, '{"error":"unsupported_grant_type"}').message, /does not offer this grant/)
    assert.match(refuse(400, '{"error":"invalid_scope"}').message, /check 'scope' \(now empty\)/)
    assert.match(refuse(400, '{"error":"invalid_request"}').message, /check 'body-format' \(now form\)/)
    assert.match(refuse(400, '{"error":"server_said_what"}').message, /Check 'token-url', 'client-id'/)
    assert.match(refuse(401, 'Unauthorized').message, /\(401 "Unauthorized"\): check 'client-id'/)
    assert.match(
      refuse(404, '<html>Not Found</html>').message,
      /answered 404 with an HTML page \("Not Found"\), not an OAuth answer\. Check 'token-url'/
    )
  })

  test('readOAuth2: token-url required and secure; client-auth, body-format and scope checked', () => {
    inputError(() => readOAuth2(reader({})), 'token-url', /is required with provider: oauth2/)
    inputError(() => readOAuth2(reader({ 'token-url': 'http://auth.example.com/token' })), 'token-url', /https/)
    inputError(
      () => readOAuth2(reader({ 'token-url': 'https://a.example/t', 'client-auth': 'digest' })),
      'client-auth',
      /must be basic or body/
    )
    inputError(
      () => readOAuth2(reader({ 'token-url': 'https://a.example/t', 'body-format': 'xml' })),
      'body-format',
      /must be form or json/
    )
    inputError(() => readOAuth2(reader({ 'token-url': 'https://a.example/t', scope: 'a\nb' })), 'scope', /one line/)
    const p = readOAuth2(
      reader({ 'token-url': 'http://127.0.0.1:9/t', 'client-auth': 'BODY', 'body-format': 'json', scope: ' offline_access ' })
    )
    assert.equal(p.host, '127.0.0.1:9')
    assert.equal(p.origin, 'http://127.0.0.1:9')
    assert.equal(PROVIDERS.oauth2.defaultSecret, 'OAUTH_REFRESH_TOKEN')
    assert.equal(JSON.parse(p.request(REFRESH, CLIENT).body ?? '').scope, 'offline_access')
  })
})

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
