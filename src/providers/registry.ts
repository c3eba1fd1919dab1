/**
 * The registry of providers, by the name in the `provider` input (default amocrm): one line each.
 * Everything that depends on which providers exist is derived from it — the names `provider`
 * accepts, which inputs belong to which provider (an input of another provider is an error, so a
 * mistake cannot go unnoticed), the default secret names, the label of a run that failed early.
 */
import { InputError } from '../errors.js'
import { amocrmEntry, kommoEntry } from './amocrm.js'
import { bitrix24Entry } from './bitrix24.js'
import { oauth2Entry } from './oauth2.js'
import type { InputReader, Provider, ProviderEntry, RequiredReader } from './provider.js'

export const PROVIDERS = {
  amocrm: amocrmEntry,
  kommo: kommoEntry,
  bitrix24: bitrix24Entry,
  oauth2: oauth2Entry
} satisfies Record<string, ProviderEntry>

/** A registry: the one above, or — in a test — the one above plus another line. */
export type Registry = Readonly<Record<string, ProviderEntry>>

/** The provider's name the inputs ask for, lower-cased; 'amocrm' when empty. */
const requestedProvider = (read: InputReader): string => read('provider').trim().toLowerCase() || 'amocrm'

/** The registry's entry for the inputs' provider, or undefined for a name it does not know. */
export function entryOf(read: InputReader, registry: Registry = PROVIDERS): ProviderEntry | undefined {
  const name = requestedProvider(read)
  return Object.hasOwn(registry, name) ? registry[name] : undefined
}

/** The provider the inputs name, built from its inputs; an input of another provider is an error. */
export function readProvider(read: InputReader, required: RequiredReader, registry: Registry = PROVIDERS): Provider {
  const name = requestedProvider(read)
  const entry = entryOf(read, registry)
  if (!entry) throw new InputError('provider', `must be one of ${Object.keys(registry).join(', ')}; got '${name}'.`)
  for (const [other, otherEntry] of Object.entries(registry)) {
    for (const input of otherEntry.ownInputs) {
      if (entry.ownInputs.includes(input) || !read(input)) continue
      const owners = Object.entries(registry)
        .filter(([, e]) => e.ownInputs.includes(input))
        .map(([n]) => n)
      throw new InputError(input, `is not used with provider: ${name} (it is for ${owners.join(', ')}): remove it.`)
    }
    for (const [input, fallback] of Object.entries(otherEntry.ownDefaults ?? {})) {
      const value = read(input).trim().toLowerCase()
      if (entry.ownDefaults?.[input] !== undefined || value === '' || value === fallback) continue
      throw new InputError(input, `is used only with provider: ${other}: remove it.`)
    }
  }
  return entry.build(name, read, required)
}
