/**
 * Where the account lives: the host built from `subdomain` / `domain`, or the `base-url` override.
 * Credentials are only ever sent to the address computed here.
 */
import { InputError } from './errors.js'

export const DOMAINS = ['amocrm.ru', 'amocrm.com', 'kommo.com'] as const
export type Domain = (typeof DOMAINS)[number]

export interface Account {
  /** The account's host, e.g. `mycompany.amocrm.ru`: names the account in logs and the summary. */
  host: string
  /** Where requests go: `https://{host}`, or `base-url` without its trailing slash. */
  origin: string
  tokenUrl: string
  apiUrl: string
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
/** Hosts that are amoCRM's own, not an account's: they answer "Send request to account". */
const NOT_ACCOUNTS = new Set(['www', 'api', 'id', 'oauth', 'developers'])

function checkLabel(label: string): string {
  if (!LABEL.test(label)) {
    throw new InputError(
      'subdomain',
      `must be the account's subdomain (letters, digits and '-', as in 'mycompany' of mycompany.amocrm.ru), its host or https://host.`
    )
  }
  if (NOT_ACCOUNTS.has(label)) {
    throw new InputError(
      'subdomain',
      `'${label}' is not an account: use the subdomain you see in the address bar when logged in to amoCRM (mycompany in https://mycompany.amocrm.ru).`
    )
  }
  return label
}

export function parseDomain(value: string): Domain {
  const domain = value.trim().toLowerCase().replace(/^\./, '')
  const known = DOMAINS.find((d) => d === domain)
  if (!known) {
    throw new InputError('domain', `must be one of ${DOMAINS.join(', ')}; got '${value}'.`)
  }
  return known
}

/** `mycompany`, `mycompany.amocrm.ru` or `https://mycompany.kommo.com/` → the account host. */
export function accountHost(subdomain: string, domain: Domain): string {
  let value = subdomain.trim().toLowerCase()
  if (!value) throw new InputError('subdomain', 'is required: the account name, as in mycompany.amocrm.ru.')
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(value)) {
    let url: URL
    try {
      url = new URL(value)
    } catch {
      throw new InputError('subdomain', `is not a valid address: '${subdomain}'.`)
    }
    if (url.protocol !== 'https:' || url.username || url.password || url.port || url.search || url.hash || url.pathname !== '/') {
      throw new InputError(
        'subdomain',
        `must be a bare account address like https://mycompany.amocrm.ru (https, no path, port or query); to send requests elsewhere use 'base-url'.`
      )
    }
    value = url.hostname
  }
  value = value.replace(/\/$/, '')
  if (!value.includes('.')) return `${checkLabel(value)}.${domain}`
  const own = DOMAINS.find((d) => value.endsWith(`.${d}`))
  const label = own ? value.slice(0, -own.length - 1) : undefined
  if (!own || label === undefined || label.includes('.')) {
    throw new InputError(
      'subdomain',
      `'${subdomain}' is not an amoCRM or Kommo account host: expected mycompany.${DOMAINS.join(', mycompany.')} or the bare subdomain.`
    )
  }
  return `${checkLabel(label)}.${own}`
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '')
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host)
}

/**
 * A URL that credentials are sent to: https anywhere, plain http only on a loopback address.
 * Returns it without a trailing slash. `input` names the input in errors.
 */
export function parseSecureUrl(input: string, value: string): string | undefined {
  const text = value.trim()
  if (!text) return undefined
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new InputError(input, `is not a valid URL: expected https://host[/path].`)
  }
  if (url.username || url.password) {
    throw new InputError(input, 'must not contain a user name or password.')
  }
  if (url.search || url.hash) {
    throw new InputError(input, 'must not contain a query or fragment.')
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw new InputError(
      input,
      `must use https:// (plain http:// is allowed only on a loopback address: 127.0.0.0/8, localhost, [::1]), so that credentials never cross a network unencrypted.`
    )
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '')
}

/** `base-url`: where amoCRM requests go instead of https://{account host}. */
export const parseBaseUrl = (value: string): string | undefined => parseSecureUrl('base-url', value)

export function resolveAccount(subdomain: string, domain: Domain, baseUrl: string | undefined): Account {
  const host = accountHost(subdomain, domain)
  const origin = baseUrl ?? `https://${host}`
  return { host, origin, tokenUrl: `${origin}/oauth2/access_token`, apiUrl: `${origin}/api/v4` }
}
