/**
 * The provider seam. Everything that keeps a single-use refresh token safe — the write check, the
 * spend, the sealed store, the rescue, the race diagnosis — is the same for every OAuth 2.0
 * provider; what differs is only how to ask and how to read the answer. A provider is that
 * difference, as a small descriptor built once from the inputs:
 *
 *   request     the token request for a grant (URL, method, headers, body)
 *   facts       what an answer says besides the tokens: expiry, API address, account id
 *   refusal     a non-2xx answer that is not retried, in words: what happened, what to do
 *   refreshBy   the date by which the next refresh must run, if the provider has one
 *
 * rotate.ts and token-endpoint.ts know no provider by name. Adding one is one file here exporting
 * its ProviderEntry, one line in the registry (index.ts), its stand-in under sandbox/ and its tests
 * (docs/development.md, "Adding a provider").
 */
import type { Redact } from '../redact.js'

/** Reads a required input: its value, or an InputError that says what it is (`what`). */
export type RequiredReader = (name: string, what: string) => string

/**
 * A provider as the registry (index.ts) holds it, before any input is read: everything the rest
 * of the action derives from a provider's name — the label of a run that failed early, the default
 * secret, which inputs belong to it, what its client credentials are called — and how to build the
 * provider from the inputs. One file per provider exports one of these.
 */
export interface ProviderEntry {
  /** 'amoCRM', 'Bitrix24', 'OAuth 2.0': a run's heading even when its inputs could not be read. */
  readonly label: string
  /** The default of `refresh-token-secret`. */
  readonly defaultSecret: string
  /** Inputs only this provider reads: given with another provider, they are an input error. */
  readonly ownInputs: readonly string[]
  /** Inputs only this provider reads that have a default in action.yml: another provider must leave them at it. */
  readonly ownDefaults?: Readonly<Record<string, string>>
  /** What `client-id` and `client-secret` are, in this provider's words ("Input 'client-id' is required: …"). */
  readonly credentials: { readonly id: string; readonly secret: string }
  /** The redirect URI is required (amoCRM checks it on every grant); else it is sent with the code grant when given. */
  readonly redirectUriRequired: boolean
  /** The provider, from its own inputs (the common ones are read by inputs.ts). */
  build(name: string, read: InputReader, required: RequiredReader): Provider
}

/** "authorization code" or "refresh token": what a grant spends, in words. */
export const grantName = (grant: Grant): string => (grant.type === 'authorization_code' ? 'authorization code' : 'refresh token')

/** What is spent: the first exchange's authorization code, or the refresh token of the last one. */
export type Grant = { type: 'authorization_code'; code: string } | { type: 'refresh_token'; refreshToken: string }

/** Reads an input by its action.yml name (the runner's INPUT_<NAME>); '' when not given. */
export type InputReader = (name: string) => string

/** The OAuth client: who asks. */
export interface Client {
  clientId: string
  clientSecret: string
  /** Sent with the code grant when set (amoCRM: with both grants, it is required there). */
  redirectUri: string | undefined
}

export interface TokenRequestSpec {
  /** Where the request goes, query included (Bitrix24 takes its parameters there). */
  url: string
  /** The same without any query: the only form ever printed. */
  displayUrl: string
  method: 'GET' | 'POST'
  headers: Record<string, string>
  body?: string
}

/** How a refusal is read: `revoked` and `expired` need a new authorization; `rejected` a fix of the inputs. */
export type FailureKind = 'revoked' | 'expired' | 'rejected'

export interface Refusal {
  kind: FailureKind
  /** One sentence: what the provider said and what to do. */
  message: string
  /** For `revoked`: "<provider> says the refresh token … (<status> <its words>)", the start of the race diagnosis. */
  said?: string
}

/** What an answer says besides the tokens. */
export interface PairFacts {
  expiresAt: Date | undefined
  accountId: string
  apiUrl: string
}

export interface Provider {
  /** Its name in the registry (the `provider` input): 'amocrm', 'kommo', 'bitrix24', 'oauth2'. */
  readonly name: string
  /** 'amoCRM', 'Kommo', 'Bitrix24', or the token endpoint's host for a generic provider. */
  readonly label: string
  /** The account or server, for logs and the summary (e.g. mycompany.amocrm.ru). */
  readonly host: string
  /** How a run introduces it: "amoCRM account mycompany.amocrm.ru". */
  readonly title: string
  /** The origin requests go to (the proxy decision is made for it). */
  readonly origin: string
  /** The REST API's base when it is known before any answer (amoCRM); '' when the answer says it or nothing does. */
  readonly apiUrl: string
  /** The prefix of its rescue lines (the rescue tool opens every one). */
  readonly rescuePrefix: string
  /**
   * True when every answer must carry the next refresh token (the old one is spent): a missing one
   * is an error. False for a generic provider, which may keep its refresh token (RFC 6749 §6).
   */
  readonly alwaysRotates: boolean
  /**
   * What the provider does when a spent refresh token comes back. 'refuses': it refuses that token
   * and keeps the newer one, so sending a stale token costs nothing (amoCRM). 'may-revoke-grant':
   * not known to keep it — a server with reuse detection (RFC 9700 §4.14.2) revokes the whole grant,
   * the newer token included — so a token that may be stale is never sent.
   */
  readonly onReuse: 'refuses' | 'may-revoke-grant'
  /** Answer fields worth reading besides the RFC 6749 ones, even from an answer that is not clean JSON. */
  readonly extraFields: readonly string[]
  /** What to do when a new authorization is needed (one or two sentences). */
  readonly newAuthorization: string
  /** Words for the token endpoint's odd answers, in the provider's own terms. */
  readonly hints: {
    /** Where the first run's authorization code comes from (in parentheses after "needs 'authorization-code'"). */
    firstCode: string
    /** After "answered 200 without a readable token pair": what an HTML page there means. */
    htmlPage: string
    /** "The token may have been spent: <spentNext>." */
    spentNext: string
    /** After a redirect that is not followed: which inputs to check. */
    redirect: string
  }
  request(grant: Grant, client: Client): TokenRequestSpec
  facts(fields: Record<string, unknown>, accessToken: string, expiresIn: number | undefined, issuedAt: Date): PairFacts
  refusal(status: number, body: string, contentType: string, grant: Grant, redact: Redact): Refusal
  /** The date by which the next refresh must run, and why; undefined when the provider names none. */
  refreshBy(issuedAt: Date): { date: Date; why: string } | undefined
}

/** The form-urlencoding of RFC 6749 Appendix B (spaces as '+'). */
export function formEncode(params: Record<string, string>): string {
  return new URLSearchParams(params).toString()
}

/** Parses a JSON object; undefined for anything else. */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const json: unknown = JSON.parse(text)
    return json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

export const looksHtml = (body: string, contentType: string): boolean => /html/i.test(contentType) || /^\s*</.test(body)

export const text = (value: unknown): string => (typeof value === 'string' ? value.trim() : '')

export function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * 24 * 3600 * 1000)
}
