/**
 * What an access token that is a JWT says of itself. A client cannot verify the signature and does
 * not need to: the payload only tells when the token expires (and, per provider, more: amoCRM's
 * `account_id`, read in amocrm.ts). A token that is not a JWT is fine; the expiry then comes from
 * `expires_in`.
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

/**
 * When the access token expires: its `exp` claim when it is a JWT that has one, else `issuedAt` +
 * `expiresIn` (the answer's `expires_in`), else unknown. `issuedAt` is the provider's clock
 * (`server_time`) when the answer gave it, else when the request was sent (the earliest the token
 * can have been issued).
 */
export function jwtExpiry(accessToken: string, expiresIn: number | undefined, issuedAt: Date): Date | undefined {
  const exp = decodeJwtPayload(accessToken)?.exp
  const expiresAt =
    typeof exp === 'number' && Number.isFinite(exp) && exp > 0
      ? new Date(exp * 1000)
      : expiresIn !== undefined
        ? new Date(issuedAt.getTime() + expiresIn * 1000)
        : undefined
  return expiresAt && !Number.isNaN(expiresAt.getTime()) ? expiresAt : undefined
}
