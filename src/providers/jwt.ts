/**
 * Facts read from the access token. amoCRM issues RS256 JWTs; a client cannot verify them and
 * does not need to: the payload only tells when the token expires and which account it is for.
 * A token that is not a JWT is fine; the facts then come from `expires_in`.
 */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.')
  if (parts.length !== 3 || !parts[1]) return undefined
  try {
    const json: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'))
    return json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

interface TokenFacts {
  /** When the access token expires, or undefined when neither the JWT nor expires_in tells. */
  expiresAt: Date | undefined
  accountId: string
}

/**
 * `issuedAt` is when the token was issued: the account's clock (`server_time`) when the answer
 * gave it, else when the request was sent (the earliest the token can have been issued).
 */
export function tokenFacts(accessToken: string, expiresIn: number | undefined, issuedAt: Date): TokenFacts {
  const payload = decodeJwtPayload(accessToken)
  const exp = payload?.exp
  const accountIdClaim = payload?.account_id
  let expiresAt: Date | undefined
  if (typeof exp === 'number' && Number.isFinite(exp) && exp > 0) expiresAt = new Date(exp * 1000)
  else if (expiresIn !== undefined) expiresAt = new Date(issuedAt.getTime() + expiresIn * 1000)
  const accountId =
    (typeof accountIdClaim === 'number' && Number.isSafeInteger(accountIdClaim)) ||
    (typeof accountIdClaim === 'string' && /^\d+$/.test(accountIdClaim))
      ? String(accountIdClaim)
      : ''
  return { expiresAt: expiresAt && !Number.isNaN(expiresAt.getTime()) ? expiresAt : undefined, accountId }
}
