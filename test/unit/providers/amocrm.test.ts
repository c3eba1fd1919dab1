import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  accountHost,
  DOMAINS,
  parseBaseUrl,
  parseDomain,
  refreshDeadline,
  requestBody,
  resolveAccount
} from '../../../src/providers/amocrm.js'
import { grantName, type Grant } from '../../../src/providers/provider.js'
import { InputError } from '../../../src/errors.js'

function inputError(input: string, pattern?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`)
    assert.equal(error.input, input)
    assert.ok(error.message.startsWith(`Input '${input}' `), error.message)
    if (pattern) assert.match(error.message, pattern)
    return true
  }
}

const REFRESH_GRANT: Grant = { type: 'refresh_token', refreshToken: 'def50200oldrefresh' }
const CODE_GRANT: Grant = { type: 'authorization_code', code: 'def50200authcode' }

const CLIENT = {
  clientId: '0b8f3c1e-5a1d-4c6e-9b2a-7d3e4f5a6b7c',
  clientSecret: 'Zx8Qw3Rt5Yu7Io9Pa1Sd2Fg4Hj6Kl8',
  redirectUri: 'https://example.com/'
}

describe('parseDomain', () => {
  test('knows exactly the three domains', () => {
    assert.deepEqual([...DOMAINS], ['amocrm.ru', 'amocrm.com', 'kommo.com'])
    for (const domain of DOMAINS) assert.equal(parseDomain(domain), domain)
  })

  test('ignores case, surrounding blanks and a leading dot', () => {
    assert.equal(parseDomain(' Kommo.COM '), 'kommo.com')
    assert.equal(parseDomain('.amocrm.com'), 'amocrm.com')
  })

  test('rejects anything else, quoting the value', () => {
    assert.throws(() => parseDomain('kommo.ru'), inputError('domain', /got 'kommo\.ru'/))
    assert.throws(() => parseDomain('evil.example'), inputError('domain'))
    assert.throws(() => parseDomain(''), inputError('domain'))
  })
})

describe('accountHost', () => {
  test('bare subdomain + domain', () => {
    assert.equal(accountHost('mycompany', 'amocrm.ru'), 'mycompany.amocrm.ru')
    assert.equal(accountHost('mycompany', 'amocrm.com'), 'mycompany.amocrm.com')
    assert.equal(accountHost(' MyCompany ', 'kommo.com'), 'mycompany.kommo.com')
  })

  test('a host keeps its own domain', () => {
    assert.equal(accountHost('mycompany.kommo.com', 'amocrm.ru'), 'mycompany.kommo.com')
    assert.equal(accountHost('mycompany.amocrm.com', 'kommo.com'), 'mycompany.amocrm.com')
    assert.equal(accountHost('mycompany.amocrm.ru', 'amocrm.com'), 'mycompany.amocrm.ru')
  })

  test('an https address, with or without trailing slash', () => {
    assert.equal(accountHost('https://mycompany.kommo.com', 'amocrm.ru'), 'mycompany.kommo.com')
    assert.equal(accountHost('https://mycompany.kommo.com/', 'amocrm.ru'), 'mycompany.kommo.com')
    assert.equal(accountHost('HTTPS://MyCompany.amoCRM.ru/', 'kommo.com'), 'mycompany.amocrm.ru')
  })

  test('rejects http, paths, ports, credentials and queries', () => {
    for (const value of [
      'http://mycompany.amocrm.ru',
      'https://mycompany.amocrm.ru/api/v4',
      'https://mycompany.amocrm.ru:444',
      'https://user:pw@mycompany.amocrm.ru',
      'https://mycompany.amocrm.ru/?a=b',
      'https://mycompany.amocrm.ru/#top'
    ]) {
      assert.throws(() => accountHost(value, 'amocrm.ru'), inputError('subdomain', /base-url/), value)
    }
  })

  test("rejects amoCRM's own hosts", () => {
    for (const value of ['www', 'api', 'id', 'oauth', 'developers', 'www.kommo.com', 'https://www.amocrm.ru']) {
      assert.throws(() => accountHost(value, 'amocrm.ru'), inputError('subdomain', /is not an account/), value)
    }
  })

  test('rejects invalid labels and foreign hosts', () => {
    assert.throws(() => accountHost('my_company', 'amocrm.ru'), inputError('subdomain', /letters, digits and '-'/))
    assert.throws(() => accountHost('-x', 'amocrm.ru'), inputError('subdomain'))
    assert.throws(() => accountHost('mycompany.example.com', 'amocrm.ru'), inputError('subdomain', /not an amoCRM or Kommo account host/))
    assert.throws(() => accountHost('x.mycompany.kommo.com', 'amocrm.ru'), inputError('subdomain', /not an amoCRM or Kommo account host/))
    assert.throws(() => accountHost('evil.example/x.amocrm.ru', 'amocrm.ru'), inputError('subdomain'))
    assert.throws(() => accountHost('   ', 'amocrm.ru'), inputError('subdomain', /is required/))
  })
})

describe('parseBaseUrl', () => {
  test('empty means no override', () => {
    assert.equal(parseBaseUrl(''), undefined)
    assert.equal(parseBaseUrl('   '), undefined)
  })

  test('https, with a path, trailing slashes stripped', () => {
    assert.equal(parseBaseUrl('https://proxy.example.com'), 'https://proxy.example.com')
    assert.equal(parseBaseUrl('https://proxy.example.com/'), 'https://proxy.example.com')
    assert.equal(parseBaseUrl('https://proxy.example.com/amo//'), 'https://proxy.example.com/amo')
    assert.equal(parseBaseUrl('https://proxy.example.com:8443/a/b'), 'https://proxy.example.com:8443/a/b')
  })

  test('http only on loopback', () => {
    assert.equal(parseBaseUrl('http://127.0.0.1:9000/'), 'http://127.0.0.1:9000')
    assert.equal(parseBaseUrl('http://127.255.0.1'), 'http://127.255.0.1')
    assert.equal(parseBaseUrl('http://LOCALHOST:9000'), 'http://localhost:9000')
    assert.equal(parseBaseUrl('http://[::1]:9000/amo/'), 'http://[::1]:9000/amo')
    for (const value of [
      'http://192.168.1.10',
      'http://128.0.0.1',
      'http://[::2]',
      'http://localhost.evil.example',
      'http://example.com'
    ]) {
      assert.throws(() => parseBaseUrl(value), inputError('base-url', /loopback/), value)
    }
  })

  test('credentials, query and fragment are rejected', () => {
    assert.throws(() => parseBaseUrl('https://a:b@proxy.example.com'), inputError('base-url', /user name or password/))
    assert.throws(() => parseBaseUrl('http://a@127.0.0.1'), inputError('base-url', /user name or password/))
    assert.throws(() => parseBaseUrl('https://proxy.example.com?x=1'), inputError('base-url', /query or fragment/))
  })

  test('not a URL', () => {
    assert.throws(() => parseBaseUrl('proxy.example.com/amo'), inputError('base-url', /not a valid URL/))
  })
})

describe('resolveAccount', () => {
  test('without base-url, everything is on the account host', () => {
    assert.deepEqual(resolveAccount('mycompany', 'kommo.com', undefined), {
      host: 'mycompany.kommo.com',
      origin: 'https://mycompany.kommo.com',
      tokenUrl: 'https://mycompany.kommo.com/oauth2/access_token',
      apiUrl: 'https://mycompany.kommo.com/api/v4'
    })
  })

  test('base-url replaces only the address', () => {
    assert.deepEqual(resolveAccount('https://mycompany.amocrm.ru/', 'amocrm.ru', 'http://127.0.0.1:8080/amo'), {
      host: 'mycompany.amocrm.ru',
      origin: 'http://127.0.0.1:8080/amo',
      tokenUrl: 'http://127.0.0.1:8080/amo/oauth2/access_token',
      apiUrl: 'http://127.0.0.1:8080/amo/api/v4'
    })
  })

  test('the subdomain is validated even with base-url', () => {
    assert.throws(() => resolveAccount('www', 'amocrm.ru', 'https://proxy.example.com'), inputError('subdomain'))
  })
})

describe('requestBody', () => {
  test('refresh grant: exactly the five fields', () => {
    assert.deepEqual(requestBody(CLIENT, REFRESH_GRANT), {
      client_id: '0b8f3c1e-5a1d-4c6e-9b2a-7d3e4f5a6b7c',
      client_secret: 'Zx8Qw3Rt5Yu7Io9Pa1Sd2Fg4Hj6Kl8',
      redirect_uri: 'https://example.com/',
      grant_type: 'refresh_token',
      refresh_token: 'def50200oldrefresh'
    })
  })

  test('code grant: exactly the five fields', () => {
    assert.deepEqual(requestBody(CLIENT, CODE_GRANT), {
      client_id: '0b8f3c1e-5a1d-4c6e-9b2a-7d3e4f5a6b7c',
      client_secret: 'Zx8Qw3Rt5Yu7Io9Pa1Sd2Fg4Hj6Kl8',
      redirect_uri: 'https://example.com/',
      grant_type: 'authorization_code',
      code: 'def50200authcode'
    })
  })

  test('grantName', () => {
    assert.equal(grantName(REFRESH_GRANT), 'refresh token')
    assert.equal(grantName(CODE_GRANT), 'authorization code')
  })
})

describe('refreshDeadline', () => {
  const deadline = (iso: string): string => refreshDeadline(new Date(iso)).toISOString()

  test('90 days later when that is earlier than three calendar months, time of day kept', () => {
    assert.equal(deadline('2026-10-01T00:00:00.000Z'), '2026-12-30T00:00:00.000Z')
    assert.equal(deadline('2026-08-31T12:00:00.000Z'), '2026-11-29T12:00:00.000Z')
    assert.equal(deadline('2026-03-31T00:00:00.000Z'), '2026-06-29T00:00:00.000Z')
    assert.equal(deadline('2027-11-30T03:00:00.000Z'), '2028-02-28T03:00:00.000Z')
  })

  test('three calendar months when those are shorter (89 days from February 1), clamped at a month end', () => {
    assert.equal(deadline('2026-02-01T00:00:00.000Z'), '2026-05-01T00:00:00.000Z')
    assert.equal(deadline('2026-01-15T03:04:05.000Z'), '2026-04-15T03:04:05.000Z')
    assert.equal(deadline('2026-12-31T23:59:59.000Z'), '2027-03-31T23:59:59.000Z')
    assert.equal(deadline('2026-11-30T03:00:00.000Z'), '2027-02-28T03:00:00.000Z')
  })

  test('never more than 90 days', () => {
    for (let day = 0; day < 800; day += 3) {
      const issued = new Date(Date.UTC(2026, 0, 1 + day, 3))
      const days = (refreshDeadline(issued).getTime() - issued.getTime()) / 86_400_000
      assert.ok(days <= 90 && days >= 89, `${issued.toISOString()}: ${days}`)
    }
  })

  test('does not change its argument', () => {
    const issuedAt = new Date('2026-11-30T03:00:00.000Z')
    refreshDeadline(issuedAt)
    assert.equal(issuedAt.toISOString(), '2026-11-30T03:00:00.000Z')
  })
})
