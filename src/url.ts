/**
 * Addresses that credentials are sent to: https anywhere, plain http only on a loopback address
 * (a local stand-in or proxy). Used for `base-url`, `token-url` and `github-api-url`.
 */
import { InputError } from './errors.js'

export function isLoopback(hostname: string): boolean {
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
