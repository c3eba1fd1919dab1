/**
 * What init asks, provider by provider, in the order the action validates the inputs (the registry's
 * `build`, then the client's), each with one line that says where to find the answer — the README's
 * step 1 in short. Every answer is also a flag (`--subdomain`) or an environment variable
 * (TOKEN_ROTATION_SUBDOMAIN); secrets only the latter (flags.ts). A provider added to the registry
 * without questions here is asked its own inputs by name (`questionsFor`), so init keeps working.
 */
import { PROVIDERS, type Registry } from '../providers/registry.js'

export interface Question {
  /** The action input the answer is (client-id, subdomain, …), or `authorization-code` / `refresh-token` / `first-token`. */
  input: string
  /** The prompt, e.g. "Account (subdomain)". */
  label: string
  /** Where to find it, one line. */
  hint: string
  required: boolean
  /** Typed without echo. */
  hidden?: boolean
  /** Taken when the answer is empty, shown as [fallback]. */
  fallback?: string
  /** A valid answer, used while this one is not known yet so that the others can be validated. */
  example: string
}

/** How the first token comes: an authorization code (every provider), or a refresh token (Bitrix24's install, a migration). */
export const FIRST_TOKEN: Question = {
  input: 'first-token',
  label: 'First token: code or refresh-token',
  hint: "code: an authorization code you are about to issue; refresh-token: the refresh token the application's install sent (auth[refresh_token]).",
  required: true,
  fallback: 'refresh-token',
  example: 'code'
}

export function providerQuestion(registry: Registry = PROVIDERS): Question {
  const names = Object.entries(registry).map(([name, entry]) => `${name} (${entry.label})`)
  return {
    input: 'provider',
    label: 'Provider',
    hint: `${names.join(', ')}: OAuth 2.0 is any provider whose refresh tokens are single use (docs/providers.md).`,
    required: true,
    fallback: 'amocrm',
    example: 'amocrm'
  }
}

const AMOCRM_TAB = "the integration's Keys and scopes tab (Settings → Integrations, or amoMarket → ⋯ in amoCRM)"

const amoCrm = (kommo: boolean): Question[] => [
  {
    input: 'subdomain',
    label: 'Account (subdomain)',
    hint: `The account's address: mycompany for mycompany.${kommo ? 'kommo.com' : 'amocrm.ru'} (the whole host works too).`,
    required: true,
    example: 'mycompany'
  },
  ...(kommo
    ? []
    : [
        {
          input: 'domain',
          label: 'Domain',
          hint: 'amocrm.ru, amocrm.com or kommo.com: where the account lives.',
          required: false,
          fallback: 'amocrm.ru',
          example: 'amocrm.ru'
        }
      ]),
  { input: 'client-id', label: 'Integration ID', hint: `On ${AMOCRM_TAB}.`, required: true, example: 'integration-id' },
  { input: 'client-secret', label: 'Secret key', hint: `On ${AMOCRM_TAB}.`, required: true, hidden: true, example: 'secret-key' },
  {
    input: 'redirect-uri',
    label: 'Redirect URI',
    hint: "Exactly as entered in the integration's settings, trailing slash included.",
    required: true,
    example: 'https://example.com/'
  },
  {
    input: 'authorization-code',
    label: 'Authorization code',
    hint: `On ${AMOCRM_TAB}: valid 20 minutes, single use. Take a fresh one now.`,
    required: true,
    hidden: true,
    example: 'code'
  }
]

const BITRIX24: Question[] = [
  {
    input: 'base-url',
    label: 'Authorization server',
    hint: "Enter for https://oauth.bitrix.info; https://oauth.bitrix24.tech for the east region (server_endpoint in the install's auth data).",
    required: false,
    fallback: 'https://oauth.bitrix.info',
    example: 'https://oauth.bitrix.info'
  },
  {
    input: 'client-id',
    label: 'Application code (client_id)',
    hint: 'local.…: on the form of the local application (Applications → Developer resources → Other → Local application).',
    required: true,
    example: 'local.0'
  },
  {
    input: 'client-secret',
    label: 'Secret key (client_secret)',
    hint: "On the same form, under the application's code.",
    required: true,
    hidden: true,
    example: 'secret'
  },
  {
    input: 'refresh-token',
    label: 'Refresh token of the install',
    hint: 'auth[refresh_token] of what Bitrix24 sent the application when it was installed.',
    required: true,
    hidden: true,
    example: 'refresh'
  },
  {
    input: 'authorization-code',
    label: 'Authorization code',
    hint: 'Open https://yourportal.bitrix24.com/oauth/authorize/?client_id=<the application code> and copy code=… from the address the browser lands on: it lives 30 seconds.',
    required: true,
    hidden: true,
    example: 'code'
  }
]

const OAUTH2: Question[] = [
  {
    input: 'token-url',
    label: 'Token URL',
    hint: "The provider's token endpoint, e.g. https://identity.xero.com/connect/token (docs/providers.md has recipes).",
    required: true,
    example: 'https://example.com/oauth/token'
  },
  {
    input: 'client-auth',
    label: 'Client authentication',
    hint: 'basic (HTTP Basic) or body (client_id and client_secret in the body), as the provider documents.',
    required: false,
    fallback: 'basic',
    example: 'basic'
  },
  {
    input: 'body-format',
    label: 'Body format',
    hint: 'form (application/x-www-form-urlencoded, RFC 6749) or json, as the provider documents.',
    required: false,
    fallback: 'form',
    example: 'form'
  },
  {
    input: 'scope',
    label: 'Scope',
    hint: 'Sent with both grants when set, e.g. offline_access; Enter for none.',
    required: false,
    example: ''
  },
  {
    input: 'client-id',
    label: 'Client ID',
    hint: "The application's client ID, from the provider's developer console.",
    required: true,
    example: 'client'
  },
  {
    input: 'client-secret',
    label: 'Client secret',
    hint: "The application's client secret, from the same console.",
    required: true,
    hidden: true,
    example: 'secret'
  },
  {
    input: 'redirect-uri',
    label: 'Redirect URI',
    hint: 'As registered with the application (sent with the authorization code); Enter for none.',
    required: false,
    example: ''
  },
  {
    input: 'authorization-code',
    label: 'Authorization code',
    hint: "From the provider's authorization request, which must ask for offline access (docs/providers.md); single use.",
    required: true,
    hidden: true,
    example: 'code'
  }
]

const KNOWN: Record<string, Question[]> = { amocrm: amoCrm(false), kommo: amoCrm(true), bitrix24: BITRIX24, oauth2: OAUTH2 }

/** A provider the table above does not know: its own inputs, then the client's, by name. */
function generic(name: string, registry: Registry): Question[] {
  const entry = registry[name]
  if (!entry) return []
  const own = entry.ownInputs.map((input) => ({
    input,
    label: input,
    hint: `The action's input '${input}'.`,
    required: false,
    example: ''
  }))
  return [
    ...own,
    { input: 'client-id', label: 'Client ID', hint: `${entry.credentials.id}.`, required: true, example: 'client' },
    {
      input: 'client-secret',
      label: 'Client secret',
      hint: `${entry.credentials.secret}.`,
      required: true,
      hidden: true,
      example: 'secret'
    },
    {
      input: 'redirect-uri',
      label: 'Redirect URI',
      hint: 'As registered with the application.',
      required: entry.redirectUriRequired,
      example: 'https://example.com/'
    },
    {
      input: 'authorization-code',
      label: 'Authorization code',
      hint: 'A fresh authorization code; single use.',
      required: true,
      hidden: true,
      example: 'code'
    }
  ]
}

/**
 * The provider's questions, the first token's last: `authorization-code` and, for Bitrix24 (whose
 * codes live 30 seconds, too short for a dispatched run), `refresh-token`; `FIRST_TOKEN` chooses.
 */
export function questionsFor(name: string, registry: Registry = PROVIDERS): Question[] {
  return Object.hasOwn(KNOWN, name) ? (KNOWN[name] as Question[]) : generic(name, registry)
}
