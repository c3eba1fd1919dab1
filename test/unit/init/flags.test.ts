import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { envName, FlagError, HELP, parseFlags } from '../../../src/init/flags.js'

const refused = (argv: string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}) =>
  assert.throws(
    () => parseFlags(argv, env),
    (error: Error) => error instanceof FlagError && pattern.test(error.message)
  )

describe('init flags', () => {
  test('answers as flags (--name value or --name=value), options and switches', () => {
    const flags = parseFlags(
      [
        '--subdomain',
        'demo',
        '--client-id=abc',
        '--redirect-uri=https://x.example/?a=b',
        '--repo',
        'acme/crm-sync',
        '--yes',
        '--store-token'
      ],
      {}
    )
    assert.deepEqual(Object.fromEntries(flags.answers), {
      subdomain: { value: 'demo', from: '--subdomain' },
      'client-id': { value: 'abc', from: '--client-id' },
      'redirect-uri': { value: 'https://x.example/?a=b', from: '--redirect-uri' }
    })
    assert.deepEqual(flags.options, { repo: 'acme/crm-sync' })
    assert.deepEqual([flags.yes, flags.storeToken, flags.nonInteractive, flags.help], [true, true, false, false])
    assert.equal(parseFlags(['--non-interactive'], {}).nonInteractive, true)
    assert.equal(parseFlags(['--help'], {}).help, true)
    assert.equal(parseFlags(['-h'], {}).help, true)
    assert.equal(parseFlags(['--scope='], {}).answers.get('scope')?.value, '', 'an empty value given with =')
  })

  test('the environment fills in what the flags do not say; secrets come only from it', () => {
    const env = {
      TOKEN_ROTATION_SUBDOMAIN: 'from-env',
      TOKEN_ROTATION_CLIENT_ID: 'env-id',
      TOKEN_ROTATION_CLIENT_SECRET: 's3cret',
      TOKEN_ROTATION_CODE: 'the-code',
      TOKEN_ROTATION_SCOPE: ''
    }
    const flags = parseFlags(['--client-id', 'flag-id'], env)
    assert.deepEqual(flags.answers.get('client-id'), { value: 'flag-id', from: '--client-id' }, 'the flag first')
    assert.deepEqual(flags.answers.get('subdomain'), { value: 'from-env', from: 'TOKEN_ROTATION_SUBDOMAIN' })
    assert.deepEqual(flags.answers.get('client-secret'), { value: 's3cret', from: 'TOKEN_ROTATION_CLIENT_SECRET' })
    assert.deepEqual(flags.answers.get('authorization-code'), { value: 'the-code', from: 'TOKEN_ROTATION_CODE' })
    assert.equal(flags.answers.has('scope'), false, 'an empty variable is no answer')
    assert.equal(envName('refresh-token'), 'TOKEN_ROTATION_REFRESH_TOKEN')
    assert.equal(envName('authorization-code'), 'TOKEN_ROTATION_CODE')
  })

  test('a flag that would carry a secret is refused, naming the variable to use', () => {
    refused(['--client-secret', 'x'], /^--client-secret is not a flag: .* Set TOKEN_ROTATION_CLIENT_SECRET instead/)
    refused(['--code=x'], /Set TOKEN_ROTATION_CODE instead/)
    refused(['--authorization-code', 'x'], /Set TOKEN_ROTATION_CODE instead/)
    refused(['--refresh-token', 'x'], /Set TOKEN_ROTATION_REFRESH_TOKEN instead/)
    refused(['--github-token', 'x'], /Set GH_TOKEN instead/)
    refused(['--token', 'x'], /Set GH_TOKEN instead/)
  })

  test('mistakes in the command line, each in one sentence', () => {
    refused(['demo'], /^'demo' is not a flag of init \(they start with --\)/)
    refused(['-x'], /^'-x' is not a flag of init/)
    refused(['--colour'], /^--colour is not a flag of init: `init --help` lists them\.$/)
    refused(['--subdomain', 'a', '--subdomain', 'b'], /^--subdomain is given twice/)
    refused(['--subdomain'], /^--subdomain needs a value: --subdomain VALUE\.$/)
    refused(['--subdomain', '--yes'], /^--subdomain needs a value/)
    refused(['--yes=no'], /^--yes takes no value/)
    refused([], /both set/, { TOKEN_ROTATION_CODE: 'c', TOKEN_ROTATION_REFRESH_TOKEN: 'r' })
    refused(['--rescue-key-file', 'k', '--rescue-public-key', 'p'], /do not go together/)
  })

  test('the help names every flag the parser takes, and every variable', () => {
    const valued = ['repo', 'api-url', 'provider', 'subdomain', 'domain', 'base-url', 'token-url', 'client-auth', 'body-format', 'scope']
    const more = ['client-id', 'redirect-uri', 'prefix', 'workflow-file', 'rescue-key-file', 'rescue-public-key']
    for (const flag of [...valued, ...more]) {
      assert.match(HELP, new RegExp(`--${flag} [A-Za-z]`), flag)
      assert.doesNotThrow(() => parseFlags([`--${flag}`, 'v'], {}), flag)
    }
    for (const flag of ['yes', 'store-token', 'non-interactive', 'help']) {
      assert.match(HELP, new RegExp(`--${flag} {2,}`), flag)
      assert.doesNotThrow(() => parseFlags([`--${flag}`], {}), flag)
    }
    for (const name of ['CLIENT_SECRET', 'CODE', 'REFRESH_TOKEN', 'SUBDOMAIN', 'CLIENT_ID'])
      assert.match(HELP, new RegExp(`TOKEN_ROTATION_${name}\\b`))
  })
})
