import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { InputError } from '../../src/errors.js'
import { evaluatedInputs, parseApiUrl, readSettings, secretOfInputs, type Settings } from '../../src/inputs.js'
import { isSmallOrderKey } from '../../src/rescue/sealing.js'
import { loadSodium } from '../../src/rescue/sealing.js'

type Values = Record<string, string | undefined>

const BASE: Values = {
  subdomain: 'mycompany',
  'client-id': '0b8f3c1e-5a1d-4c6e-9b2a-7d3e4f5a6b7c',
  'client-secret': 'Zx8Qw3Rt5Yu7Io9Pa1Sd2Fg4Hj6Kl8',
  'redirect-uri': 'https://example.com/',
  'refresh-token': 'def50200a1b2c3d4e5f6',
  'github-token': 'github_pat_11AAAAAAA0abcdefghijklmnop'
}
const ENV: NodeJS.ProcessEnv = { GITHUB_REPOSITORY: 'acme/crm-sync' }

function settings(overrides: Values = {}, env: NodeJS.ProcessEnv = ENV): Settings {
  const values: Values = { ...BASE, ...overrides }
  return readSettings((name) => values[name] ?? '', env)
}

/** Asserts an InputError that names `input` at the start of its message (and matches `pattern`). */
function rejects(overrides: Values, input: string, pattern?: RegExp, env: NodeJS.ProcessEnv = ENV): void {
  assert.throws(
    () => settings(overrides, env),
    (error: unknown) => {
      assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`)
      assert.equal(error.input, input)
      assert.ok(error.message.startsWith(`Input '${input}' `), error.message)
      if (pattern) assert.match(error.message, pattern)
      return true
    }
  )
}

/** Where an amoCRM provider sends requests, as 1.0's Settings.account said. */
const accountOf = (s: Settings) => ({
  host: s.provider.host,
  origin: s.provider.origin,
  tokenUrl: s.provider.request(s.grant, s.client).displayUrl,
  apiUrl: s.provider.apiUrl
})

describe('readSettings: a valid minimal configuration', () => {
  test('fills every default', () => {
    const s = settings()
    const { provider, ...rest } = s
    assert.equal(provider.name, 'amocrm')
    assert.deepEqual(accountOf(s), {
      host: 'mycompany.amocrm.ru',
      origin: 'https://mycompany.amocrm.ru',
      tokenUrl: 'https://mycompany.amocrm.ru/oauth2/access_token',
      apiUrl: 'https://mycompany.amocrm.ru/api/v4'
    })
    assert.deepEqual(rest, {
      client: { clientId: BASE['client-id'], clientSecret: BASE['client-secret'], redirectUri: 'https://example.com/' },
      grant: { type: 'refresh_token', refreshToken: BASE['refresh-token'] },
      githubToken: BASE['github-token'],
      githubApiUrl: 'https://api.github.com',
      refreshTokenSecret: 'AMOCRM_REFRESH_TOKEN',
      accessTokenSecret: undefined,
      target: { kind: 'repository', owner: 'acme', repo: 'crm-sync' },
      rescuePublicKey: undefined,
      verifyWrite: true,
      jobToken: undefined,
      run: undefined,
      alert: 'issue'
    })
  })

  test('alert: issue (the default) or none; anything else is refused', () => {
    assert.equal(settings({ alert: 'none' }).alert, 'none')
    assert.equal(settings({ alert: ' Issue ' }).alert, 'issue')
    rejects({ alert: 'email' }, 'alert', /must be issue .* or none; got 'email'/)
  })

  for (const input of ['subdomain', 'client-id', 'client-secret', 'redirect-uri', 'github-token']) {
    test(`'${input}' is required`, () => {
      rejects({ [input]: '' }, input, /is required/)
    })
  }

  test('redirect-uri is kept byte for byte, trailing slash included', () => {
    assert.equal(settings({ 'redirect-uri': 'https://example.com/callback/' }).client.redirectUri, 'https://example.com/callback/')
    assert.equal(settings({ 'redirect-uri': 'https://example.com' }).client.redirectUri, 'https://example.com')
  })

  test('redirect-uri must be an absolute http(s) URL', () => {
    rejects({ 'redirect-uri': 'example.com' }, 'redirect-uri', /absolute URL/)
    rejects({ 'redirect-uri': 'ftp://example.com/' }, 'redirect-uri', /http\(s\)/)
  })
})

describe('readSettings: decisions on the edges', () => {
  test('environment and organization together are an input error', () => {
    rejects({ environment: 'production', organization: 'acme' }, 'environment', /'organization'/)
  })

  test('visibility without organization is an input error', () => {
    rejects({ visibility: 'all' }, 'visibility', /organization/)
    rejects({ visibility: 'selected', 'selected-repositories': 'crm-sync' }, 'visibility', /organization/)
  })

  test('selected-repositories without organization is an input error', () => {
    rejects({ 'selected-repositories': 'crm-sync' }, 'selected-repositories', /organization/)
  })

  test('neither authorization-code nor refresh-token: the error names refresh-token and asks for authorization-code', () => {
    rejects({ 'refresh-token': '', 'authorization-code': '' }, 'refresh-token', /first run needs 'authorization-code'/)
  })

  test('authorization-code is preferred over refresh-token when both are given', () => {
    const s = settings({ 'authorization-code': 'def50200codecodecode', 'refresh-token': 'def50200refresh' })
    assert.deepEqual(s.grant, { type: 'authorization_code', code: 'def50200codecodecode' })
  })

  test('authorization-code alone is the first exchange', () => {
    const s = settings({ 'authorization-code': 'def50200codecodecode', 'refresh-token': '' })
    assert.deepEqual(s.grant, { type: 'authorization_code', code: 'def50200codecodecode' })
  })

  for (const [input, value] of [
    ['client-id', '0b8f3c1e 5a1d'],
    ['client-secret', 'Zx8Qw3Rt\n5Yu7'],
    ['github-token', 'github_pat_11 AAAA'],
    ['authorization-code', 'def50200 code']
  ] as const) {
    test(`whitespace inside '${input}' is rejected`, () => {
      rejects({ [input]: value }, input, /whitespace/)
    })
  }

  // RFC 6749 allows spaces in a token (VSCHAR, %x20–7E): the refresh token the action stored must
  // be accepted back; only what cannot come back unchanged is refused.
  test('a refresh token with a space inside is accepted as it is', () => {
    assert.deepEqual(settings({ 'refresh-token': 'def50200 a1b2 c3' }).grant, { type: 'refresh_token', refreshToken: 'def50200 a1b2 c3' })
  })

  for (const value of ['def50200\ta1b2', 'def50200\na1b2', 'def50200\u0000a1b2', 'def50200\u007fa1b2']) {
    test(`a control character inside 'refresh-token' is rejected (${JSON.stringify(value)})`, () => {
      rejects({ 'refresh-token': value }, 'refresh-token', /control character/)
    })
  }
})

describe('evaluatedInputs: a literal ${{ … }} is no value', () => {
  test('an unevaluated expression reads as unset, and its input is named once', () => {
    const told: string[] = []
    const read = evaluatedInputs(
      (name) => ({ 'job-token': '${{ github.token }}', scope: ' ${{env.X}} ', a: 'x ${{ y }}' })[name] ?? '',
      (name) => told.push(name)
    )
    assert.equal(read('job-token'), '')
    assert.equal(read('job-token'), '')
    assert.equal(read('scope'), '')
    // Text around an expression is a value (a runner would have replaced the expression in it).
    assert.equal(read('a'), 'x ${{ y }}')
    assert.equal(read('missing'), '')
    assert.deepEqual(told, ['job-token', 'scope'])
  })

  test('readSettings through it: job-token as the literal default is no token', () => {
    const read = evaluatedInputs(
      (name) => ({ ...BASE, 'job-token': '${{ github.token }}' })[name] ?? '',
      () => undefined
    )
    assert.equal(readSettings(read, ENV).jobToken, undefined)
  })
})

describe('readSettings: subdomain', () => {
  const host = (subdomain: string, domain = ''): string => accountOf(settings({ subdomain, domain })).host

  test('a bare subdomain takes the domain (amocrm.ru by default)', () => {
    assert.equal(host('mycompany'), 'mycompany.amocrm.ru')
    assert.equal(host('mycompany', 'amocrm.com'), 'mycompany.amocrm.com')
    assert.equal(host('mycompany', 'kommo.com'), 'mycompany.kommo.com')
    assert.equal(host('My-Company2'), 'my-company2.amocrm.ru')
  })

  test('a host on each of the three domains is accepted as is, whatever domain says', () => {
    assert.equal(host('mycompany.amocrm.ru', 'kommo.com'), 'mycompany.amocrm.ru')
    assert.equal(host('mycompany.amocrm.com'), 'mycompany.amocrm.com')
    assert.equal(host('mycompany.kommo.com'), 'mycompany.kommo.com')
    assert.equal(host('MyCompany.Kommo.com'), 'mycompany.kommo.com')
    assert.equal(host('mycompany.amocrm.ru/'), 'mycompany.amocrm.ru')
  })

  test('an https URL is accepted with and without a trailing slash', () => {
    assert.equal(host('https://mycompany.kommo.com'), 'mycompany.kommo.com')
    assert.equal(host('https://mycompany.kommo.com/'), 'mycompany.kommo.com')
    const s = settings({ subdomain: 'https://mycompany.amocrm.com/' })
    assert.equal(accountOf(s).tokenUrl, 'https://mycompany.amocrm.com/oauth2/access_token')
  })

  test('an http URL is rejected', () => {
    rejects({ subdomain: 'http://mycompany.amocrm.ru' }, 'subdomain', /https/)
  })

  test('a URL with a path, query or port is rejected', () => {
    rejects({ subdomain: 'https://mycompany.amocrm.ru/oauth2/access_token' }, 'subdomain', /no path/)
    rejects({ subdomain: 'https://mycompany.amocrm.ru/?x=1' }, 'subdomain', /no path/)
    rejects({ subdomain: 'https://mycompany.amocrm.ru:8443/' }, 'subdomain', /no path/)
    rejects({ subdomain: 'mycompany.amocrm.ru/leads' }, 'subdomain')
  })

  test("amoCRM's own hosts are not accounts", () => {
    rejects({ subdomain: 'www' }, 'subdomain', /'www' is not an account/)
    rejects({ subdomain: 'www.amocrm.ru' }, 'subdomain', /'www' is not an account/)
    rejects({ subdomain: 'https://www.kommo.com/' }, 'subdomain', /'www' is not an account/)
  })

  test('an invalid label is rejected', () => {
    for (const subdomain of ['my_company', '-mycompany', 'mycompany-', 'a'.repeat(64), 'my company', '.amocrm.ru']) {
      rejects({ subdomain }, 'subdomain', /subdomain/)
    }
  })

  test('a 63-character label is the longest accepted', () => {
    assert.equal(host('a'.repeat(63)), `${'a'.repeat(63)}.amocrm.ru`)
  })

  test('a host on a foreign domain, or a deeper host, is rejected', () => {
    rejects({ subdomain: 'mycompany.example.com' }, 'subdomain', /not an amoCRM or Kommo account host/)
    rejects({ subdomain: 'mycompany.amocrm.ru.evil.example' }, 'subdomain', /not an amoCRM or Kommo account host/)
    rejects({ subdomain: 'https://mycompany.kommo.ru' }, 'subdomain', /not an amoCRM or Kommo account host/)
    rejects({ subdomain: 'a.mycompany.amocrm.ru' }, 'subdomain', /not an amoCRM or Kommo account host/)
  })
})

describe('readSettings: domain', () => {
  test('the three domains are allowed, case and a leading dot ignored', () => {
    assert.equal(accountOf(settings({ domain: 'amocrm.ru' })).host, 'mycompany.amocrm.ru')
    assert.equal(accountOf(settings({ domain: 'AMOCRM.COM' })).host, 'mycompany.amocrm.com')
    assert.equal(accountOf(settings({ domain: '.kommo.com' })).host, 'mycompany.kommo.com')
  })

  test('any other domain is rejected', () => {
    for (const domain of ['kommo.ru', 'amocrm.net', 'example.com', 'amocrm']) {
      rejects({ domain }, 'domain', /amocrm\.ru, amocrm\.com, kommo\.com/)
    }
  })
})

describe('readSettings: base-url', () => {
  const account = (baseUrl: string) => accountOf(settings({ 'base-url': baseUrl }))

  test('https with a path is accepted; requests go there, the host still names the account', () => {
    assert.deepEqual(account('https://proxy.example.com/amo'), {
      host: 'mycompany.amocrm.ru',
      origin: 'https://proxy.example.com/amo',
      tokenUrl: 'https://proxy.example.com/amo/oauth2/access_token',
      apiUrl: 'https://proxy.example.com/amo/api/v4'
    })
  })

  test('a trailing slash is stripped', () => {
    assert.equal(account('https://proxy.example.com/amo/').tokenUrl, 'https://proxy.example.com/amo/oauth2/access_token')
    assert.equal(account('https://proxy.example.com/').tokenUrl, 'https://proxy.example.com/oauth2/access_token')
  })

  test('plain http is accepted on loopback addresses', () => {
    assert.equal(account('http://127.0.0.1:8080').tokenUrl, 'http://127.0.0.1:8080/oauth2/access_token')
    assert.equal(account('http://127.10.20.30/').origin, 'http://127.10.20.30')
    assert.equal(account('http://localhost:3000/').origin, 'http://localhost:3000')
    assert.equal(account('http://[::1]:3000').origin, 'http://[::1]:3000')
  })

  test('plain http is rejected on any other host', () => {
    for (const baseUrl of ['http://proxy.example.com', 'http://10.0.0.1:8080', 'http://localhost.example.com', 'http://127.0.0.1.nip.io']) {
      rejects({ 'base-url': baseUrl }, 'base-url', /must use https:\/\//)
    }
  })

  test('credentials, a query or a fragment are rejected', () => {
    rejects({ 'base-url': 'https://user:pass@proxy.example.com' }, 'base-url', /user name or password/)
    rejects({ 'base-url': 'https://token@proxy.example.com' }, 'base-url', /user name or password/)
    rejects({ 'base-url': 'https://proxy.example.com/?key=1' }, 'base-url', /query or fragment/)
    rejects({ 'base-url': 'https://proxy.example.com/#x' }, 'base-url', /query or fragment/)
  })

  test('not a URL, or another scheme, is rejected', () => {
    rejects({ 'base-url': 'proxy.example.com' }, 'base-url', /not a valid URL/)
    rejects({ 'base-url': 'ftp://proxy.example.com' }, 'base-url', /https/)
  })

  test('subdomain is still required and validated', () => {
    rejects({ 'base-url': 'https://proxy.example.com', subdomain: '' }, 'subdomain', /is required/)
    rejects({ 'base-url': 'https://proxy.example.com', subdomain: 'www' }, 'subdomain', /not an account/)
  })
})

describe('readSettings: secret names', () => {
  test('names are upper-cased', () => {
    const s = settings({ 'refresh-token-secret': 'amo_refresh', 'access-token-secret': 'amo_Access_2' })
    assert.equal(s.refreshTokenSecret, 'AMO_REFRESH')
    assert.equal(s.accessTokenSecret, 'AMO_ACCESS_2')
  })

  for (const input of ['refresh-token-secret', 'access-token-secret']) {
    test(`'${input}' follows GitHub's secret-name rules`, () => {
      rejects({ [input]: 'GITHUB_TOKEN_X' }, input, /GITHUB_/)
      rejects({ [input]: 'github_amo' }, input, /GITHUB_/)
      rejects({ [input]: '1AMO' }, input, /not a valid secret name/)
      rejects({ [input]: 'AMO-TOKEN' }, input, /not a valid secret name/)
      rejects({ [input]: 'AMO.TOKEN' }, input, /not a valid secret name/)
      rejects({ [input]: 'AMO TOKEN' }, input, /not a valid secret name/)
    })
  }

  test('a leading underscore is allowed', () => {
    assert.equal(settings({ 'refresh-token-secret': '_AMO' }).refreshTokenSecret, '_AMO')
  })

  test('the two secret names must differ, case-insensitively', () => {
    rejects({ 'access-token-secret': 'AMOCRM_REFRESH_TOKEN' }, 'access-token-secret', /must differ from 'refresh-token-secret'/)
    rejects({ 'access-token-secret': 'amocrm_refresh_token' }, 'access-token-secret', /must differ/)
    rejects({ 'refresh-token-secret': 'Amo_X', 'access-token-secret': 'AMO_x' }, 'access-token-secret', /must differ/)
  })

  test("access-token-secret may not be the write check's probe secret of refresh-token-secret", () => {
    // rotate.ts writes and then deletes `${refreshTokenSecret}_WRITE_CHECK` (probeName); the delete runs
    // concurrently with the token exchange and may land after the access token was written there.
    rejects({ 'access-token-secret': 'AMOCRM_REFRESH_TOKEN_WRITE_CHECK' }, 'access-token-secret')
  })
})

describe('readSettings: target', () => {
  test('repository defaults to GITHUB_REPOSITORY', () => {
    assert.deepEqual(settings({}, { GITHUB_REPOSITORY: 'octo-org/app.js' }).target, {
      kind: 'repository',
      owner: 'octo-org',
      repo: 'app.js'
    })
  })

  test('repository overrides GITHUB_REPOSITORY', () => {
    assert.deepEqual(settings({ repository: 'other/secrets_repo' }).target, { kind: 'repository', owner: 'other', repo: 'secrets_repo' })
  })

  test('without repository and GITHUB_REPOSITORY it is an input error', () => {
    rejects({}, 'repository', /GITHUB_REPOSITORY/, {})
  })

  test('repository must be owner/name', () => {
    for (const repository of [
      'crm-sync',
      'acme/crm/sync',
      'acme/',
      '/crm',
      'ac_me/crm',
      'acme/..',
      'acme/.',
      'acme/crm sync',
      '-acme/crm'
    ]) {
      rejects({ repository }, 'repository', /owner\/name/)
    }
  })

  test('environment writes that environment of the repository', () => {
    assert.deepEqual(settings({ environment: 'production' }).target, {
      kind: 'environment',
      environment: 'production',
      owner: 'acme',
      repo: 'crm-sync'
    })
  })

  test('an environment name longer than 255 characters is rejected', () => {
    rejects({ environment: 'e'.repeat(256) }, 'environment', /255/)
  })

  test('names that are path steps or hold a separator are not environment names', () => {
    for (const environment of ['.', '..', 'prod/../../secrets', 'a\\b', ' production', 'production ', 'pro\u0000d']) {
      rejects({ environment }, 'environment', /is not an environment name/)
    }
    assert.equal((settings({ environment: 'Production 2 (EU)' }).target as { environment: string }).environment, 'Production 2 (EU)')
  })

  test('no visibility for an organization: undefined (keep what the secret has); private is still accepted without one', () => {
    assert.equal((settings({ organization: 'acme' }).target as { visibility?: string }).visibility, undefined)
    assert.equal(settings({ visibility: 'private' }).target.kind, 'repository')
    rejects({ visibility: 'all' }, 'visibility', /only to organization secrets/)
  })

  test('selected-repositories: duplicates collapse, case-insensitively', () => {
    const target = settings({
      organization: 'acme',
      visibility: 'selected',
      'selected-repositories': 'crm-sync, CRM-sync\nacme/crm-sync, billing'
    }).target as { selectedRepositories: unknown[] }
    assert.deepEqual(target.selectedRepositories, [
      { owner: 'acme', repo: 'crm-sync' },
      { owner: 'acme', repo: 'billing' }
    ])
  })

  test('organization with the default visibility', () => {
    assert.deepEqual(settings({ organization: 'acme', visibility: 'private' }).target, {
      kind: 'organization',
      org: 'acme',
      visibility: 'private',
      selectedRepositories: []
    })
    assert.equal(settings({ organization: 'acme', visibility: '' }).target.kind, 'organization')
  })

  test('an invalid organization name or visibility is rejected', () => {
    rejects({ organization: 'acme_inc' }, 'organization', /not an organization name/)
    rejects({ organization: 'acme', visibility: 'public' }, 'visibility', /all, private, selected/)
  })

  test('selected-repositories: bare names resolve under the organization, comma separated', () => {
    const s = settings({ organization: 'acme', visibility: 'selected', 'selected-repositories': 'crm-sync, reports ,,billing' })
    assert.deepEqual(s.target, {
      kind: 'organization',
      org: 'acme',
      visibility: 'selected',
      selectedRepositories: [
        { owner: 'acme', repo: 'crm-sync' },
        { owner: 'acme', repo: 'reports' },
        { owner: 'acme', repo: 'billing' }
      ]
    })
  })

  test("selected-repositories: newline separated, owner/name of the organization accepted (owner's case ignored)", () => {
    const s = settings({
      organization: 'Acme',
      visibility: 'selected',
      'selected-repositories': 'acme/crm-sync\n\nreports\nACME/billing\n'
    })
    assert.equal(s.target.kind, 'organization')
    assert.deepEqual(s.target.kind === 'organization' ? s.target.selectedRepositories : undefined, [
      { owner: 'acme', repo: 'crm-sync' },
      { owner: 'Acme', repo: 'reports' },
      { owner: 'ACME', repo: 'billing' }
    ])
  })

  test('selected-repositories: a repository of another owner is rejected', () => {
    rejects(
      { organization: 'acme', visibility: 'selected', 'selected-repositories': 'crm-sync,evil/crm-sync' },
      'selected-repositories',
      /'evil\/crm-sync' is not in organization 'acme'/
    )
  })

  test('selected-repositories: malformed entries are rejected', () => {
    rejects({ organization: 'acme', visibility: 'selected', 'selected-repositories': 'acme/crm/x' }, 'selected-repositories', /owner\/name/)
    rejects({ organization: 'acme', visibility: 'selected', 'selected-repositories': 'crm sync' }, 'selected-repositories', /owner\/name/)
  })

  test('visibility selected without a list keeps the existing selection; a list needs visibility selected', () => {
    assert.deepEqual(settings({ organization: 'acme', visibility: 'selected' }).target, {
      kind: 'organization',
      org: 'acme',
      visibility: 'selected',
      selectedRepositories: []
    })
    rejects(
      { organization: 'acme', visibility: 'all', 'selected-repositories': 'crm-sync' },
      'selected-repositories',
      /only with visibility: selected/
    )
  })
})

describe('readSettings: the run and job-token', () => {
  test('the run comes from GITHUB_REPOSITORY, GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT', () => {
    const s = settings(
      { 'job-token': 'ghs_job' },
      { ...ENV, GITHUB_REPOSITORY: 'acme/crm-sync', GITHUB_RUN_ID: '123', GITHUB_RUN_ATTEMPT: '2' }
    )
    assert.deepEqual(s.run, { owner: 'acme', repo: 'crm-sync', runId: '123', attempt: 2 })
    assert.equal(s.jobToken, 'ghs_job')
    assert.equal(settings({}, { ...ENV, GITHUB_RUN_ID: 'x' }).run, undefined)
  })

  test('a malformed GITHUB_REPOSITORY or attempt: no run, or attempt 1', () => {
    assert.equal(settings({ repository: 'acme/crm-sync' }, { ...ENV, GITHUB_REPOSITORY: 'a/b/c', GITHUB_RUN_ID: '5' }).run, undefined)
    assert.equal(settings({}, { ...ENV, GITHUB_REPOSITORY: 'acme/x', GITHUB_RUN_ID: '5', GITHUB_RUN_ATTEMPT: 'two' }).run?.attempt, 1)
  })

  test('selected-repositories for an organization without visibility names what is missing', () => {
    rejects(
      { organization: 'acme', 'selected-repositories': 'crm-sync' },
      'selected-repositories',
      /visibility is empty, which keeps the secret's own/
    )
  })

  test('job-token with whitespace is refused', () => {
    rejects({ 'job-token': 'ghs a' }, 'job-token', /whitespace/)
  })
})

describe('readSettings: rescue-public-key', () => {
  test('keys of small order (all zeros and the other points libsodium refuses) are refused before any request', () => {
    for (const hex of [
      '0000000000000000000000000000000000000000000000000000000000000000',
      '0100000000000000000000000000000000000000000000000000000000000000',
      'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
      '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'
    ]) {
      rejects({ 'rescue-public-key': Buffer.from(hex, 'hex').toString('base64') }, 'rescue-public-key', /small order/)
    }
  })

  test('each refused key really cannot be sealed to (libsodium agrees)', async () => {
    const sodium = await loadSodium()
    for (const hex of [
      '0000000000000000000000000000000000000000000000000000000000000000',
      'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'
    ]) {
      assert.ok(isSmallOrderKey(Buffer.from(hex, 'hex')))
      assert.throws(() => sodium.crypto_box_seal(sodium.from_string('x'), Buffer.from(hex, 'hex')))
    }
  })

  test('a 44-character base64 encoding of 32 bytes is accepted', () => {
    const key = randomBytes(32).toString('base64')
    assert.equal(key.length, 44)
    assert.equal(settings({ 'rescue-public-key': key }).rescuePublicKey, key)
  })

  test('other lengths are rejected, even when the text is 44 characters long', () => {
    const keys = [
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      randomBytes(16).toString('base64'),
      randomBytes(64).toString('base64')
    ]
    assert.equal(keys[0]?.length, 44)
    assert.equal(keys[1]?.length, 44)
    for (const key of keys) rejects({ 'rescue-public-key': key }, 'rescue-public-key', /32 bytes, 44 characters/)
  })

  test('base64url or garbage is rejected', () => {
    const bytes = Buffer.alloc(32, 0xfb)
    rejects({ 'rescue-public-key': bytes.toString('base64url') }, 'rescue-public-key', /base64/)
    rejects({ 'rescue-public-key': 'not a key at all' }, 'rescue-public-key', /base64/)
  })
})

describe('readSettings: verify-write', () => {
  test('boolean spellings', () => {
    for (const value of ['true', 'True', 'yes', 'on']) assert.equal(settings({ 'verify-write': value }).verifyWrite, true, value)
    for (const value of ['false', 'FALSE', 'no', 'off']) assert.equal(settings({ 'verify-write': value }).verifyWrite, false, value)
    assert.equal(settings({ 'verify-write': '' }).verifyWrite, true)
  })

  test('anything else is rejected', () => {
    rejects({ 'verify-write': 'maybe' }, 'verify-write', /true or false/)
    rejects({ 'verify-write': '1' }, 'verify-write', /true or false/)
  })
})

describe('GITHUB_API_URL', () => {
  test('defaults to https://api.github.com', () => {
    assert.equal(settings({}, { GITHUB_REPOSITORY: 'acme/crm-sync' }).githubApiUrl, 'https://api.github.com')
    assert.equal(settings({}, { GITHUB_REPOSITORY: 'acme/crm-sync', GITHUB_API_URL: '' }).githubApiUrl, 'https://api.github.com')
    assert.equal(parseApiUrl(undefined), 'https://api.github.com')
  })

  test('a GitHub Enterprise Server URL is taken, trailing slash stripped', () => {
    const env = { GITHUB_REPOSITORY: 'acme/crm-sync', GITHUB_API_URL: 'https://ghe.example.com/api/v3/' }
    assert.equal(settings({}, env).githubApiUrl, 'https://ghe.example.com/api/v3')
  })

  test('an invalid URL or another scheme is rejected, naming GITHUB_API_URL', () => {
    rejects({}, 'GITHUB_API_URL', /not a valid URL/, { GITHUB_REPOSITORY: 'acme/crm-sync', GITHUB_API_URL: 'api.github.com' })
    rejects({}, 'GITHUB_API_URL', /http\(s\) URL/, { GITHUB_REPOSITORY: 'acme/crm-sync', GITHUB_API_URL: 'ftp://api.github.com' })
  })
})

describe('readSettings: other providers', () => {
  const GENERIC = {
    provider: 'oauth2',
    subdomain: undefined,
    'redirect-uri': undefined,
    'token-url': 'https://auth.example.com/oauth/token'
  }

  test('the secret defaults to the provider’s; redirect-uri is optional; client texts are generic', () => {
    const bitrix = settings({ provider: 'bitrix24', subdomain: undefined, 'redirect-uri': undefined })
    assert.equal(bitrix.provider.name, 'bitrix24')
    assert.equal(bitrix.refreshTokenSecret, 'BITRIX24_REFRESH_TOKEN')
    assert.equal(bitrix.client.redirectUri, undefined)
    const generic = settings(GENERIC)
    assert.equal(generic.refreshTokenSecret, 'OAUTH_REFRESH_TOKEN')
    assert.equal(settings({ ...GENERIC, 'redirect-uri': 'https://example.com/cb' }).client.redirectUri, 'https://example.com/cb')
    rejects({ ...GENERIC, 'client-id': '' }, 'client-id', /the application's client ID/)
    rejects({ ...GENERIC, 'client-secret': '' }, 'client-secret', /the application's client secret/)
  })

  test('no grant: the error names the provider’s secret and where the first code comes from', () => {
    rejects({ ...GENERIC, 'refresh-token': '' }, 'refresh-token', /provider's authorization page.*secrets\.OAUTH_REFRESH_TOKEN/)
    rejects(
      { provider: 'bitrix24', subdomain: undefined, 'redirect-uri': undefined, 'refresh-token': '' },
      'refresh-token',
      /install.*secrets\.BITRIX24_REFRESH_TOKEN/
    )
  })
})

describe('secretOfInputs: the secret an alert belongs to, from inputs that failed validation', () => {
  const of = (values: Record<string, string>, env: NodeJS.ProcessEnv = ENV): string => secretOfInputs((name) => values[name] ?? '', env)

  test('the target and the secret as the inputs name them, or the provider’s default secret', () => {
    assert.equal(of({}), 'repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync')
    assert.equal(of({ provider: 'bitrix24' }), 'repository secret BITRIX24_REFRESH_TOKEN of acme/crm-sync')
    assert.equal(of({ provider: 'Kommo', 'refresh-token-secret': 'my_token' }), 'repository secret MY_TOKEN of acme/crm-sync')
    assert.equal(of({ environment: 'production' }), "secret AMOCRM_REFRESH_TOKEN of environment 'production' in acme/crm-sync")
    assert.equal(
      of({ provider: 'nonsense', 'refresh-token-secret': 'GITHUB_X' }),
      'repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync'
    )
  })

  test('a place the inputs got wrong: the secret’s name still says which', () => {
    assert.equal(of({ environment: '..' }), 'secret AMOCRM_REFRESH_TOKEN (where the inputs put it is not valid)')
    assert.equal(of({}, {}), 'secret AMOCRM_REFRESH_TOKEN (where the inputs put it is not valid)')
  })
})
