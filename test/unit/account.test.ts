import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { accountHost, DOMAINS, parseBaseUrl, parseDomain, resolveAccount } from '../../src/providers/amocrm.js'
import { InputError } from '../../src/errors.js'

function inputError(input: string, pattern?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`)
    assert.equal(error.input, input)
    assert.ok(error.message.startsWith(`Input '${input}' `), error.message)
    if (pattern) assert.match(error.message, pattern)
    return true
  }
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
