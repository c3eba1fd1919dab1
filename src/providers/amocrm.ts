/**
 * amoCRM and Kommo: POST {account}/oauth2/access_token with a JSON body, answers in
 * application/problem+json, a JWT access token (its `exp` and `account_id`), single-use refresh
 * tokens that expire after 3 months unused. `provider: kommo` is amoCRM with the domain kommo.com.
 *
 * Where the account lives — the host built from `subdomain` / `domain`, or the `base-url` override —
 * is decided here once; credentials are only ever sent to that address.
 */
import { InputError } from '../errors.js'
import { decodeJwtPayload, jwtExpiry } from './jwt.js'
import { excerpt, type Redact } from '../redact.js'
import { parseSecureUrl } from '../url.js'
import {
  grantName,
  jsonObject,
  looksHtml,
  type Client,
  type Grant,
  type InputReader,
  type Provider,
  type ProviderEntry,
  type Refusal,
  type RequiredReader,
  type TokenRequestSpec
} from './provider.js'

export const DOMAINS = ['amocrm.ru', 'amocrm.com', 'kommo.com'] as const
type Domain = (typeof DOMAINS)[number]

interface Account {
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

/** `base-url`: where amoCRM requests go instead of https://{account host}. */
export const parseBaseUrl = (value: string): string | undefined => parseSecureUrl('base-url', value)

export function resolveAccount(subdomain: string, domain: Domain, baseUrl: string | undefined): Account {
  const host = accountHost(subdomain, domain)
  const origin = baseUrl ?? `https://${host}`
  return { host, origin, tokenUrl: `${origin}/oauth2/access_token`, apiUrl: `${origin}/api/v4` }
}

export function requestBody(client: Client, grant: Grant): Record<string, string> {
  const common = { client_id: client.clientId, client_secret: client.clientSecret, redirect_uri: client.redirectUri ?? '' }
  return grant.type === 'authorization_code'
    ? { ...common, grant_type: 'authorization_code', code: grant.code }
    : { ...common, grant_type: 'refresh_token', refresh_token: grant.refreshToken }
}

interface Problem {
  hint?: string
  title?: string
  detail?: string
}

function parseProblem(body: string): Problem | undefined {
  const json = jsonObject(body)
  if (!json) return undefined
  const pick = (key: string): string | undefined => {
    const value = json[key]
    return typeof value === 'string' && value ? value : undefined
  }
  return {
    hint: pick('hint'),
    title: pick('title'),
    detail: pick('detail') ?? pick('message') ?? pick('error_description') ?? pick('error')
  }
}

const NEW_CODE =
  "Take a new authorization code (the integration's Keys and scopes tab; a code lives 20 minutes and works once) and run the workflow manually with it in 'authorization-code' (README: \"First run\")."

/** Known answers of the token endpoint → what the user must do. Matched against hint, title and detail, in this order. */
const KNOWN: Array<{ match: RegExp; kind: Refusal['kind']; advice: (grant: Grant) => string }> = [
  { match: /token has been revoked/i, kind: 'revoked', advice: () => 'the refresh token was already used.' },
  {
    match: /token has expired/i,
    kind: 'expired',
    advice: () =>
      `the refresh token went unused too long: amoCRM lets a refresh token expire when it has not been used for 3 months, so the chain of tokens has ended. ${NEW_CODE} Then keep the schedule running (at least monthly) so that it never lapses again.`
  },
  {
    match: /not linked to client/i,
    kind: 'rejected',
    advice: () => "the refresh token belongs to another integration: check that 'client-id' is the ID of the integration that issued it."
  },
  {
    match: /code has been revoked/i,
    kind: 'rejected',
    advice: () => `the authorization code was already used (a code works once). ${NEW_CODE}`
  },
  { match: /code has expired/i, kind: 'rejected', advice: () => `the authorization code is older than 20 minutes. ${NEW_CODE}` },
  {
    match: /cannot decrypt/i,
    kind: 'rejected',
    advice: (grant) =>
      grant.type === 'refresh_token'
        ? `the refresh token is damaged (cut short or altered on its way into the secret), so amoCRM cannot read it. ${NEW_CODE}`
        : `the authorization code is malformed: copy it again in full (no spaces, no line breaks). ${NEW_CODE}`
  },
  {
    match: /client_id/i,
    kind: 'rejected',
    advice: () =>
      "amoCRM does not know this integration: check 'client-id' (Integration ID on the integration's Keys and scopes tab) and that 'subdomain' is the account where the integration is installed."
  },
  {
    match: /client_secret/i,
    kind: 'rejected',
    advice: () =>
      "the secret key is wrong: copy 'client-secret' again from the integration's Keys and scopes tab (it changes when the key is regenerated)."
  },
  {
    match: /redirect uri/i,
    kind: 'rejected',
    advice: () => "'redirect-uri' differs from the integration's: it must match exactly, scheme and trailing slash included."
  },
  {
    match: /invalid account/i,
    kind: 'rejected',
    advice: () => "the integration is not installed in this account: check 'subdomain' and 'domain' (amocrm.ru, amocrm.com or kommo.com)."
  },
  {
    match: /некорректный клиент|invalid client/i,
    kind: 'rejected',
    advice: () =>
      "'client-id', 'client-secret' and 'redirect-uri' do not belong to one integration: copy all three again from the integration's settings."
  },
  {
    match: /unsupported grant/i,
    kind: 'rejected',
    advice: () => 'the grant type was refused; please report this as a bug of the action.'
  }
]

function refusal(label: string, status: number, body: string, contentType: string, grant: Grant, redact: Redact): Refusal {
  const problem = parseProblem(body)
  const what = `${label} refused the ${grantName(grant)}`
  if (problem) {
    const fields = [problem.hint, problem.title, problem.detail].filter((s): s is string => Boolean(s))
    const quoted = excerpt(problem.hint ?? problem.title ?? problem.detail ?? '', 120, redact)
    const known = KNOWN.find((k) => fields.some((f) => k.match.test(f.slice(0, 1000))))
    if (known) {
      return {
        kind: known.kind,
        message: `${what} (${status}${quoted ? ` ${quoted}` : ''}): ${known.advice(grant)}`,
        said: `${label} says the refresh token has been revoked (${status}${quoted ? ` ${quoted}` : ''})`
      }
    }
    const detail = excerpt(fields.join(' — '), 200, redact)
    return {
      kind: 'rejected',
      message: `${what} (${status}${detail ? `: ${detail}` : ''}). Check 'client-id', 'client-secret', 'redirect-uri' and 'subdomain'.`
    }
  }
  const page = excerpt(body, 120, redact)
  const html = looksHtml(body, contentType)
  if (status === 403) {
    return {
      kind: 'rejected',
      message: `${what}: the server answered 403${html ? ' with an HTML page' : ''}${page ? ` ("${page}")` : ''}. amoCRM blocks an address that sends too many requests (more than 7 a second, by its documented limit); wait before trying again, and check that no other job uses this integration's tokens.`
    }
  }
  if (status === 401) {
    return { kind: 'rejected', message: `${what} (401${page ? ` "${page}"` : ''}): check 'client-id', 'client-secret' and 'redirect-uri'.` }
  }
  return {
    kind: 'rejected',
    message: `${what}: the server answered ${status}${html ? ' with an HTML page' : ''}${page ? ` ("${page}")` : ''}, not an OAuth answer. Check 'subdomain', 'domain' and 'base-url'.`
  }
}

/**
 * amoCRM lets a refresh token expire after 3 months unused, without saying whether that means 90
 * days or calendar months: the date by which the next refresh must run is the earlier of the two.
 */
export function refreshDeadline(issuedAt: Date): Date {
  const d = new Date(issuedAt.getTime())
  const day = d.getUTCDate()
  d.setUTCDate(1)
  d.setUTCMonth(d.getUTCMonth() + 3)
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate()
  d.setUTCDate(Math.min(day, lastDay))
  const ninetyDays = issuedAt.getTime() + 90 * 24 * 3600 * 1000
  return new Date(Math.min(d.getTime(), ninetyDays))
}

/** The account's id: amoCRM's access tokens carry it as the JWT claim `account_id`. */
export function accountIdOf(accessToken: string): string {
  const claim = decodeJwtPayload(accessToken)?.account_id
  return (typeof claim === 'number' && Number.isSafeInteger(claim)) || (typeof claim === 'string' && /^\d+$/.test(claim))
    ? String(claim)
    : ''
}

export function amoCrm(name: 'amocrm' | 'kommo', account: Account): Provider {
  const label = name === 'kommo' ? 'Kommo' : 'amoCRM'
  return {
    name,
    label,
    host: account.host,
    title: `${label} account ${account.host}`,
    origin: account.origin,
    apiUrl: account.apiUrl,
    rescuePrefix: 'amocrm-rescue:v1:',
    alwaysRotates: true,
    // amoCRM answers with the PHP League oauth2-server's texts, whose refresh grant only refuses a
    // revoked token ("Token has been revoked", RefreshTokenGrant::validateOldRefreshToken) and
    // revokes nothing else: the newer token survives a stale one.
    onReuse: 'refuses',
    extraFields: [],
    newAuthorization:
      'A new authorization code is needed: take one from the integration\'s Keys and scopes tab and run the workflow manually with it (README: "First run").',
    hints: {
      firstCode: "a fresh code from the integration's Keys and scopes tab, valid 20 minutes",
      htmlPage: "an HTML page: a login page means that the integration's owner is not an active user of the account",
      spentNext: 'if the next run reports "Token has been revoked", a new authorization code is needed',
      redirect: "Check 'subdomain' and 'domain': if the account's address changed (for example to kommo.com), set them to the new one."
    },
    request(grant: Grant, client: Client): TokenRequestSpec {
      return {
        url: account.tokenUrl,
        displayUrl: account.tokenUrl,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(requestBody(client, grant))
      }
    },
    facts(_fields, accessToken, expiresIn, issuedAt) {
      return { expiresAt: jwtExpiry(accessToken, expiresIn, issuedAt), accountId: accountIdOf(accessToken), apiUrl: account.apiUrl }
    },
    refusal: (status, body, contentType, grant, redact) => refusal(label, status, body, contentType, grant, redact),
    refreshBy: (issuedAt) => ({
      date: refreshDeadline(issuedAt),
      why: `${label} lets a refresh token expire after 3 months unused; this is the earlier of 90 days and 3 calendar months`
    })
  }
}

/** amoCRM / Kommo from the inputs: `subdomain`, `domain`, `base-url`; `redirect-uri` is required. */
function readAmoCrm(name: 'amocrm' | 'kommo', read: InputReader, required: RequiredReader): Provider {
  const subdomain = required('subdomain', 'the account, as mycompany in mycompany.amocrm.ru')
  const domainText = read('domain')
  if (name === 'kommo' && domainText && parseDomain(domainText) !== 'kommo.com') {
    throw new InputError('domain', `is ${domainText}, but provider: kommo means kommo.com: remove 'domain', or use provider: amocrm.`)
  }
  const domain = parseDomain(domainText || (name === 'kommo' ? 'kommo.com' : 'amocrm.ru'))
  return amoCrm(name, resolveAccount(subdomain, domain, parseBaseUrl(read('base-url'))))
}

const CREDENTIALS = { id: "the integration's ID (Integration ID on its Keys and scopes tab)", secret: "the integration's secret key" }

export const amocrmEntry: ProviderEntry = {
  label: 'amoCRM',
  defaultSecret: 'AMOCRM_REFRESH_TOKEN',
  ownInputs: ['subdomain', 'domain', 'base-url'],
  credentials: CREDENTIALS,
  redirectUriRequired: true,
  build: (_name, read, required) => readAmoCrm('amocrm', read, required)
}

/** Kommo is amoCRM with the domain kommo.com. */
export const kommoEntry: ProviderEntry = {
  ...amocrmEntry,
  label: 'Kommo',
  defaultSecret: 'KOMMO_REFRESH_TOKEN',
  build: (_name, read, required) => readAmoCrm('kommo', read, required)
}
