import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { InputError } from '../../../src/errors.js'
import { readProvider } from '../../../src/providers/index.js'
import { inputError, reader } from './fixtures.js'

const required = (values: Record<string, string>) => (name: string, what: string) => {
  const value = values[name]
  if (!value) throw new InputError(name, `is required: ${what}.`)
  return value
}
const provider = (values: Record<string, string>) => readProvider(reader(values), required(values))

describe('readProvider', () => {
  test('amocrm by default, kommo means kommo.com, anything else named', () => {
    assert.equal(provider({ subdomain: 'acme' }).name, 'amocrm')
    assert.equal(provider({ subdomain: 'acme' }).host, 'acme.amocrm.ru')
    const kommo = provider({ provider: 'Kommo', subdomain: 'acme' })
    assert.equal(kommo.host, 'acme.kommo.com')
    assert.equal(kommo.defaultSecret, 'KOMMO_REFRESH_TOKEN')
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
