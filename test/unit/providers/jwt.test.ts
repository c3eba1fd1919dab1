import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { accountIdOf } from '../../../src/providers/amocrm.js'
import { decodeJwtPayload, jwtExpiry } from '../../../src/providers/jwt.js'

const b64url = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

/** A token shaped like amoCRM's: RS256 header, claims, and a (fake) signature. */
function jwt(payload: unknown): string {
  return `${b64url({ typ: 'JWT', alg: 'RS256', jti: 'a1b2c3' })}.${b64url(payload)}.${Buffer.from('not-a-real-signature-but-bytes').toString('base64url')}`
}

const CLAIMS = {
  aud: '0b8f3c1e-5a1d-4c6e-9b2a-7d3e4f5a6b7c',
  jti: '5b3e8d6c2f1a',
  iat: 1767225600,
  nbf: 1767225600,
  exp: 1767312000,
  sub: '9876543',
  grant_type: '',
  account_id: 31234567,
  base_domain: 'amocrm.ru',
  version: 2,
  scopes: ['crm', 'files', 'notifications'],
  api_domain: 'api-b.amocrm.ru'
}

describe('decodeJwtPayload', () => {
  test('decodes a real-shaped JWT', () => {
    const token = jwt(CLAIMS)
    assert.match(token, /^eyJ/)
    assert.deepEqual(decodeJwtPayload(token), CLAIMS)
  })

  test('decodes UTF-8 claims and payloads whose base64url uses - and _', () => {
    const payload = { name: 'Компания ~~~ ???', exp: 1 }
    const part = b64url(payload)
    assert.match(part, /[-_]/, 'the test payload must exercise the url-safe alphabet')
    assert.deepEqual(decodeJwtPayload(`e30.${part}.sig`), payload)
  })

  test('returns undefined for garbage', () => {
    for (const token of [
      '',
      'def50200a1b2c3d4e5f6',
      'a.b',
      'a.b.c.d',
      'a..c',
      `x.${b64url('not json')}.y`,
      `x.${b64url('{"exp": 1')}.y`,
      'x.!!!!.y'
    ]) {
      assert.equal(decodeJwtPayload(token), undefined, token)
    }
  })

  test('returns undefined for payloads that are not objects', () => {
    for (const payload of ['"text"', '42', 'null', 'true', '[1,2,3]', '[]']) {
      assert.equal(decodeJwtPayload(`x.${b64url(payload)}.y`), undefined, payload)
    }
  })
})

/** What 1.1's tokenFacts returned: the JWT's expiry (jwt.ts) and amoCRM's account id (amocrm.ts). */
const tokenFacts = (token: string, expiresIn: number | undefined, issuedAt: Date) => ({
  expiresAt: jwtExpiry(token, expiresIn, issuedAt),
  accountId: accountIdOf(token)
})

describe('jwtExpiry, and amoCRM’s account_id claim', () => {
  const issuedAt = new Date('2026-01-01T00:00:00.000Z')

  test('the exp claim is preferred over expires_in', () => {
    const facts = tokenFacts(jwt({ exp: 1767312000, account_id: 31234567 }), 3600, issuedAt)
    assert.equal(facts.expiresAt?.toISOString(), '2026-01-02T00:00:00.000Z')
    assert.equal(facts.accountId, '31234567')
  })

  test('without exp: issue time + expires_in', () => {
    const facts = tokenFacts(jwt({ account_id: '31234567' }), 86400, issuedAt)
    assert.equal(facts.expiresAt?.toISOString(), '2026-01-02T00:00:00.000Z')
    assert.equal(facts.accountId, '31234567')
  })

  test('an exp that is not a positive number falls back to expires_in', () => {
    for (const exp of ['1767312000', 0, -5, null, 'soon']) {
      const facts = tokenFacts(jwt({ exp }), 60, issuedAt)
      assert.equal(facts.expiresAt?.toISOString(), '2026-01-01T00:01:00.000Z', String(exp))
    }
  })

  test('not a JWT: expires_in decides, account-id is empty', () => {
    const facts = tokenFacts('opaque-access-token', 86400, issuedAt)
    assert.deepEqual(facts, { expiresAt: new Date('2026-01-02T00:00:00.000Z'), accountId: '' })
  })

  test('neither exp nor expires_in: no expiry', () => {
    assert.deepEqual(tokenFacts('opaque', undefined, issuedAt), { expiresAt: undefined, accountId: '' })
    assert.deepEqual(tokenFacts(jwt({ account_id: 5 }), undefined, issuedAt), { expiresAt: undefined, accountId: '5' })
  })

  test('account_id: a number or a numeric string, else empty', () => {
    const id = (accountId: unknown): string => tokenFacts(jwt({ exp: 1767312000, account_id: accountId }), 1, issuedAt).accountId
    assert.equal(id(31234567), '31234567')
    assert.equal(id('31234567'), '31234567')
    assert.equal(id(1.5), '')
    assert.equal(id('31234567abc'), '')
    assert.equal(id(''), '')
    assert.equal(id(null), '')
    assert.equal(id({ id: 1 }), '')
    assert.equal(id(Number.MAX_SAFE_INTEGER + 2), '')
    assert.equal(tokenFacts(jwt({ exp: 1767312000 }), 1, issuedAt).accountId, '')
  })
})
