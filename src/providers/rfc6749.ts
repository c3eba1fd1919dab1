/**
 * Error answers the RFC 6749 way (§5.2): JSON `error` and `error_description`. Shared by the
 * providers that speak it (the generic mode, Bitrix24).
 */
import { excerpt, type Redact } from '../redact.js'
import { jsonObject, text } from './provider.js'

interface OAuthError {
  error: string
  /** Excerpted, redacted, inert. */
  description: string
}

export function oauthError(body: string, redact: Redact): OAuthError | undefined {
  const json = jsonObject(body)
  const error = text(json?.error)
  if (!json || !error || error.length > 100) return undefined
  return { error: excerpt(error, 60, redact), description: excerpt(text(json.error_description), 160, redact) }
}

/** "400 invalid_grant: The refresh token is invalid" — how a refusal is quoted. */
export const quoted = (status: number, e: OAuthError): string => `${status} ${e.error}${e.description ? `: ${e.description}` : ''}`
