/**
 * The token chain the token stand-ins (amocrm.ts, bitrix24.ts, oauth2.ts) share: what an
 * authorization server remembers about one client's grant — codes, the one current refresh token,
 * idle expiry, access tokens, reuse detection — without HTTP or wire format (each stand-in maps
 * the refusals to its provider's answers). What it emulates and what it deliberately does not:
 * test/README.md, the stand-ins table; `TokenChainOptions` and `TokenChain` say what each option and call does.
 *
 * Sources: reuse detection as RFC 9700 §4.14.2 describes it and panva's oidc-provider does it;
 * without it, the League OAuth server's (amoCRM's) refusal of the presented token alone.
 */
import type { RequestInfo } from './faults.js'
import type { Core } from './http.js'

export interface IssuedPair {
  grant: 'authorization_code' | 'refresh_token'
  access_token: string
  /** The refresh token valid after this answer: new, or (chain not rotating, refresh grant) the unchanged one, which the answer did not carry. */
  refresh_token: string
  /** now() at issue time. */
  at: number
}

interface TokenChainOptions {
  /** Authorization code lifetime (ms); a code is single use, and `expireCode` ends it early. */
  codeTtlMs: number
  /**
   * A refresh token unused this long (ms) — counted from its issue, its seeding or, when not
   * rotating, its last use — is refused as `expired` and stays current (a later seed replaces it).
   */
  refreshTokenTtlMs: number
  /**
   * true (default): every answer carries a new refresh token and the spent one is revoked at once
   * (no grace period). false: a refresh answer carries none and the same one stays valid (the code
   * grant still issues a new one, which replaces the previous). Either way, issuing a pair by
   * either grant or seeding one revokes the previous refresh token at once.
   */
  rotate?: boolean
  /**
   * true: a spent refresh token presented again is refused as `reused` and revokes its family (RFC
   * 9700 §4.14.2) — the tokens descending from one code grant or one seed by refresh — so the
   * current refresh token stops working too when it belongs to it (`familyRevocations`). The
   * family's spent tokens are forgotten with it (oidc-provider deletes every token of the grant):
   * presenting one later is a plain `revoked`, without a second revocation. Default false: a spent
   * token is a plain `revoked` and the family is kept (the League OAuth server's way, amoCRM's).
   * Either way a token replaced without being spent is `revoked`, one never issued `unknown`.
   */
  reuseDetection?: boolean
  /** The clock of all of the above and `issued[].at`. Default Date.now. */
  now?: () => number
  newCode: () => string
  newRefreshToken: () => string
}

type CodeCheck = { ok: true } | { ok: false; reason: 'unknown' | 'used' | 'expired' }
type RefreshCheck = { ok: true } | { ok: false; reason: 'unknown' | 'revoked' | 'expired' | 'reused' }

/** A family revoked by reuse detection: a spent refresh token came back. */
interface FamilyRevocation {
  /** now() when the spent token came back. */
  at: number
  /** The spent refresh token that was presented. */
  presented: string
  /** The current refresh token that stopped working with it; undefined when the family had none left (replaced by a code grant or a seed, or already revoked). */
  revoked: string | undefined
}

interface TokenChain {
  readonly now: () => number
  readonly rotate: boolean
  readonly reuseDetection: boolean
  /** A new authorization code, valid codeTtlMs from now(), single use. */
  issueCode(): string
  /** Makes an issued code answer `expired`. Throws for a code never issued. */
  expireCode(code: string): void
  /** Checks a code and, when it is good, uses it up (single use). */
  redeemCode(code: string): CodeCheck
  /**
   * Checks a refresh token and, when it is good, spends it: rotating, it is revoked at once (issue
   * the next pair in the same synchronous step); not rotating, its idle clock restarts.
   * `unknown`: never issued or seeded here; `revoked`: issued or seeded, no longer current;
   * `reused` (reuse detection only): spent before, and now its family is revoked.
   */
  spendRefreshToken(token: string): RefreshCheck
  /**
   * Records a successful answer issued at `at`: a new current refresh token, except on a refresh
   * grant of a chain that does not rotate. `refreshToken` is what the answer carries, if anything.
   */
  issue(grant: IssuedPair['grant'], accessToken: string, at: number): { refreshToken: string | undefined; pair: IssuedPair }
  /** Registers an access token valid until `expiresAtMs`. */
  addAccessToken(token: string, expiresAtMs: number): void
  /** True for an access token registered here and not expired at now(). */
  accessTokenValid(token: string): boolean
  /** The one refresh token that the token endpoint accepts now, if any. */
  currentRefreshToken(): string | undefined
  /** True when `token` was issued or seeded here and is no longer the current refresh token. */
  isRevoked(token: string): boolean
  /** Seed `token` as the current valid refresh token, unused since now() (revokes the previous one). */
  setRefreshToken(token: string): void
  /** Every successful token answer, in order. */
  readonly issued: IssuedPair[]
  /** Every family revoked by reuse detection, in order (always empty without it). */
  readonly familyRevocations: FamilyRevocation[]
}

export function tokenChain(options: TokenChainOptions): TokenChain {
  const now = options.now ?? Date.now
  const rotate = options.rotate ?? true
  const reuseDetection = options.reuseDetection ?? false
  const codes = new Map<string, { issuedAt: number; used: boolean; expired: boolean }>()
  const knownRefreshTokens = new Set<string>()
  const accessTokens = new Map<string, number /* exp, ms */>()
  const issued: IssuedPair[] = []
  const familyRevocations: FamilyRevocation[] = []
  /** Spent refresh tokens (rotating chains only) → their family, for reuse detection. */
  const spent = new Map<string, number>()
  /** Families: a code grant or a seed starts one, a refresh continues it. */
  let families = 0
  /** The current refresh token, when its idle time started, and its family. */
  let current: { token: string; since: number; family: number } | undefined
  /** The family of the token spent by the last spendRefreshToken(), until issue() continues it. */
  let pendingFamily: number | undefined

  const setCurrent = (token: string, since: number, family: number): void => {
    knownRefreshTokens.add(token)
    current = { token, since, family }
  }

  return {
    now,
    rotate,
    reuseDetection,
    issueCode() {
      const code = options.newCode()
      codes.set(code, { issuedAt: now(), used: false, expired: false })
      return code
    },
    expireCode(code) {
      const record = codes.get(code)
      if (!record) throw new Error('expireCode: this code was not issued by this server')
      record.expired = true
    },
    redeemCode(code) {
      const record = codes.get(code)
      if (!record) return { ok: false, reason: 'unknown' }
      if (record.used) return { ok: false, reason: 'used' }
      if (record.expired || now() - record.issuedAt >= options.codeTtlMs) return { ok: false, reason: 'expired' }
      record.used = true
      return { ok: true }
    },
    spendRefreshToken(token) {
      if (!current || token !== current.token) {
        const family = spent.get(token)
        if (reuseDetection && family !== undefined) {
          // The whole family goes, its spent tokens with it (oidc-provider deletes every token
          // of the grant): replaying any of them later finds nothing to revoke.
          for (const [value, of] of spent) if (of === family) spent.delete(value)
          const revoked = current?.family === family ? current.token : undefined
          if (revoked !== undefined) current = undefined
          familyRevocations.push({ at: now(), presented: token, revoked })
          return { ok: false, reason: 'reused' }
        }
        return { ok: false, reason: knownRefreshTokens.has(token) ? 'revoked' : 'unknown' }
      }
      const at = now()
      if (at - current.since >= options.refreshTokenTtlMs) return { ok: false, reason: 'expired' }
      if (rotate) {
        spent.set(current.token, current.family)
        // Single use: revoked the moment it is exchanged. The family stays pending for issue().
        pendingFamily = current.family
        current = undefined
      } else current.since = at
      return { ok: true }
    },
    issue(grant, accessToken, at) {
      let refreshToken: string | undefined
      if (grant === 'authorization_code' || rotate || !current) {
        refreshToken = options.newRefreshToken()
        const family = grant === 'refresh_token' && pendingFamily !== undefined ? pendingFamily : ++families
        setCurrent(refreshToken, at, family)
      }
      pendingFamily = undefined
      const pair: IssuedPair = { grant, access_token: accessToken, refresh_token: refreshToken ?? current?.token ?? '', at }
      issued.push(pair)
      return { refreshToken, pair }
    },
    addAccessToken(token, expiresAtMs) {
      accessTokens.set(token, expiresAtMs)
    },
    accessTokenValid(token) {
      const exp = accessTokens.get(token)
      return exp !== undefined && now() < exp
    },
    currentRefreshToken: () => current?.token,
    isRevoked: (token) => knownRefreshTokens.has(token) && current?.token !== token,
    setRefreshToken(token) {
      setCurrent(token, now(), ++families)
    },
    issued,
    familyRevocations
  }
}

/** What every token stand-in offers, from its HTTP core and its chain (each stand-in says what its codes and refusals are). */
export interface TokenServerBase {
  /** http://127.0.0.1:PORT */
  readonly url: string
  /** 127.0.0.1:PORT */
  readonly host: string
  close(): Promise<void>
  /** A new authorization code, valid the stand-in's code lifetime from now(), single use. */
  issueCode(): string
  /** Makes an issued code answer as an expired one. Throws for a code never issued. */
  expireCode(code: string): void
  /** The one refresh token the token endpoint accepts now, if any. */
  currentRefreshToken(): string | undefined
  /** True when `token` was issued or seeded here and is no longer the current refresh token. */
  isRevoked(token: string): boolean
  /** Every successful token answer, in order (not rotating: a refresh's `refresh_token` is the unchanged one, which the answer did not carry). */
  readonly issued: IssuedPair[]
  /** Families revoked by reuse detection (the generic stand-in's `reuseDetection`); empty otherwise. */
  readonly familyRevocations: FamilyRevocation[]
  /** Every request received, faulted ones included. */
  readonly requests: RequestInfo[]
  /** The most requests handled at once since the start or `resetMaxInFlight()`. */
  readonly maxInFlight: number
  /** Restarts `maxInFlight` from the requests in flight now. */
  resetMaxInFlight(): void
  /** Seeds `token` as the current valid refresh token, unused since now() (revokes the previous one). */
  setRefreshToken(token: string): void
}

/**
 * The members every token stand-in shares, with `extra` (its own) added onto them: one place for
 * the chain's and the core's surface. `maxInFlight` stays live (a getter on the result).
 */
export function tokenServer<T extends object>(core: Core, chain: TokenChain, extra: T): TokenServerBase & T {
  const base: TokenServerBase = {
    url: core.origin,
    host: core.host,
    close: () => core.close(),
    issueCode: () => chain.issueCode(),
    expireCode: (code: string) => chain.expireCode(code),
    currentRefreshToken: () => chain.currentRefreshToken(),
    isRevoked: (token: string) => chain.isRevoked(token),
    issued: chain.issued,
    familyRevocations: chain.familyRevocations,
    requests: core.requests,
    get maxInFlight() {
      return core.maxInFlight
    },
    resetMaxInFlight: () => core.resetMaxInFlight(),
    setRefreshToken: (token: string) => chain.setRefreshToken(token)
  }
  return Object.assign(base, extra)
}
