import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Grant } from '../../../src/providers/provider.js'
import { basicAuth, oauth2, readOAuth2, type OAuth2Options } from '../../../src/providers/oauth2.js'
import { PROVIDERS } from '../../../src/providers/registry.js'
import { CLIENT, CODE, inputError, reader, REFRESH, same } from './fixtures.js'

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
