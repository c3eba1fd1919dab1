/**
 * The providers, by the name in the `provider` input (default amocrm). Each reads its own inputs;
 * an input that belongs to another provider is an error, so a mistake cannot go unnoticed.
 */
import { InputError } from '../errors.js'
import { readAmoCrm } from './amocrm.js'
import { readBitrix24 } from './bitrix24.js'
import { readBodyFormat, readClientAuth, readOAuth2 } from './oauth2.js'
import { PROVIDERS, type InputReader, type Provider, type ProviderName } from './provider.js'

/** Inputs only some providers read: which ones. */
const OWNERS: Record<string, readonly ProviderName[]> = {
  subdomain: ['amocrm', 'kommo'],
  domain: ['amocrm', 'kommo'],
  'base-url': ['amocrm', 'kommo', 'bitrix24'],
  'token-url': ['oauth2'],
  scope: ['oauth2']
}

export function readProvider(read: InputReader, required: (name: string, what: string) => string): Provider {
  const value = read('provider').trim().toLowerCase() || 'amocrm'
  const name = PROVIDERS.find((p) => p === value)
  if (!name) throw new InputError('provider', `must be one of ${PROVIDERS.join(', ')}; got '${value}'.`)
  for (const [input, owners] of Object.entries(OWNERS)) {
    if (read(input) && !owners.includes(name)) {
      throw new InputError(input, `is not used with provider: ${name} (it is for ${owners.join(', ')}): remove it.`)
    }
  }
  // client-auth and body-format have defaults; only a value other than the default belongs to oauth2.
  if (name !== 'oauth2' && (readClientAuth(read) !== 'basic' || readBodyFormat(read) !== 'form')) {
    throw new InputError(readClientAuth(read) !== 'basic' ? 'client-auth' : 'body-format', `is used only with provider: oauth2: remove it.`)
  }
  switch (name) {
    case 'amocrm':
    case 'kommo':
      return readAmoCrm(name, read, required)
    case 'bitrix24':
      return readBitrix24(read)
    case 'oauth2':
      return readOAuth2(read)
  }
}
