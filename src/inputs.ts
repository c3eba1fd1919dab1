/**
 * Reads and validates every input into one typed Settings object, before any request is made.
 * Pure: it receives the input reader and the environment, so tests call it directly.
 */
import { InputError } from './errors.js'
import type { RunRef } from './github/run.js'
import { targetInfo, VISIBILITIES, type RepoRef, type Target } from './github/targets.js'
import { entryOf, PROVIDERS, readProvider, type Registry } from './providers/registry.js'
import type { Client, Grant, InputReader, Provider, ProviderEntry } from './providers/provider.js'
import { isSmallOrderKey } from './rescue/sealing.js'
import { parseSecureUrl } from './url.js'

/** Inputs whose values are secrets: masked before anything else happens. */
export const SECRET_INPUTS = ['client-secret', 'authorization-code', 'refresh-token', 'github-token', 'job-token'] as const

export interface Settings {
  /** Whom the token is spent with, and how (providers/). */
  provider: Provider
  client: Client
  grant: Grant
  githubToken: string
  githubApiUrl: string
  refreshTokenSecret: string
  accessTokenSecret: string | undefined
  target: Target
  /** base64 X25519 public key the new tokens are sealed to when they cannot be stored. */
  rescuePublicKey: string | undefined
  verifyWrite: boolean
  /** A token that can read this run (`actions: read`); undefined: the queued-run check is skipped. */
  jobToken: string | undefined
  /** This run, when the runner said (GITHUB_REPOSITORY, GITHUB_RUN_ID). */
  run: RunRef | undefined
  /** 'issue': a failing run opens (or updates) one alert issue per secret, a healthy one closes it. */
  alert: 'issue' | 'none'
}

/** The probe secret of the write check, written and deleted next to the real secret. */
export const probeName = (secret: string): string => `${secret}_WRITE_CHECK`

const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/
const REPO_NAME = /^[A-Za-z0-9._-]{1,100}$/

function required(read: InputReader, name: string, what: string): string {
  const value = read(name)
  if (!value) {
    throw new InputError(
      name,
      `is required: ${what}. If it comes from a secret, check that the secret exists and is available to this workflow (secrets are not passed to workflows triggered from forks).`
    )
  }
  return value
}

/**
 * A refresh token is what the provider issued, and RFC 6749 allows spaces in one (VSCHAR,
 * %x20–7E): only what cannot come back unchanged as an input is refused — control characters,
 * line breaks and tabs (the runner trims the ends; the store refuses such a token, rotate.ts).
 */
function noControlCharacters(name: string, value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new InputError(name, 'contains a line break, a tab or another control character: copy the value again as one line.')
  }
  return value
}

/** An input whose value is an expression nobody evaluated: `${{ github.token }}` as text. */
const UNEVALUATED = /^\$\{\{[\s\S]*\}\}$/

/**
 * The input reader, with one rule of its own: a value that is a literal, unevaluated `${{ … }}`
 * expression is not a value. A runner always evaluates action.yml's defaults; a local tool may
 * not (@github/local-action passes `${{ github.token }}` through as text). Such an input counts
 * as unset, and `onLiteral` is told its name.
 */
export function evaluatedInputs(read: InputReader, onLiteral: (name: string) => void): InputReader {
  const told = new Set<string>()
  return (name) => {
    const value = read(name)
    if (!UNEVALUATED.test(value.trim())) return value
    if (!told.has(name)) {
      told.add(name)
      onLiteral(name)
    }
    return ''
  }
}

function noWhitespace(name: string, value: string): string {
  if (/\s/.test(value)) {
    throw new InputError(name, 'contains whitespace: copy the value again without spaces or line breaks.')
  }
  return value
}

function parseSecretName(name: string, value: string): string {
  if (!SECRET_NAME.test(value) || /^GITHUB_/i.test(value)) {
    throw new InputError(
      name,
      `'${value}' is not a valid secret name: use letters, digits and '_', not starting with a digit or with GITHUB_.`
    )
  }
  return value.toUpperCase()
}

function parseRepository(name: string, value: string): RepoRef {
  const [owner, repo, ...rest] = value.split('/')
  if (
    owner === undefined ||
    repo === undefined ||
    rest.length > 0 ||
    !OWNER.test(owner) ||
    !REPO_NAME.test(repo) ||
    repo === '.' ||
    repo === '..'
  ) {
    throw new InputError(name, `'${value}' is not a repository: expected the format owner/name.`)
  }
  return { owner, repo }
}

/** Comma- or newline-separated list, blanks dropped. */
function parseList(value: string): string[] {
  return value
    .split(/[\n,]+/)
    .map((item) => item.trim())
    .filter(Boolean)
}

function parseBoolean(name: string, value: string, fallback: boolean): boolean {
  if (value === '') return fallback
  if (/^(true|yes|on)$/i.test(value)) return true
  if (/^(false|no|off)$/i.test(value)) return false
  throw new InputError(name, `must be true or false; got '${value}'.`)
}

function parseRescueKey(value: string): string | undefined {
  if (!value) return undefined
  const bytes = Buffer.from(value, 'base64')
  if (bytes.length !== 32 || bytes.toString('base64') !== value) {
    throw new InputError(
      'rescue-public-key',
      'must be a base64 X25519 public key (32 bytes, 44 characters): create one with the rescue tool of this action, `npx -y github:amocrm-actions/token-rotation#v1 keygen` (README, "Rescue").'
    )
  }
  if (isSmallOrderKey(bytes)) {
    throw new InputError(
      'rescue-public-key',
      'is not a usable public key (a point of small order, such as all zeros): nothing could be sealed to it. Create a key pair with `npx -y github:amocrm-actions/token-rotation#v1 keygen` and put its public half here.'
    )
  }
  return value
}

export function parseApiUrl(value: string | undefined): string {
  const text = value?.trim() || 'https://api.github.com'
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new InputError('GITHUB_API_URL', `(environment) is not a valid URL: '${text}'.`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InputError('GITHUB_API_URL', `(environment) must be an http(s) URL: '${text}'.`)
  }
  return text.replace(/\/+$/, '')
}

function parseGrant(read: InputReader, provider: Provider, secret: string): Grant {
  const code = read('authorization-code')
  if (code) return { type: 'authorization_code', code: noWhitespace('authorization-code', code) }
  const refreshToken = read('refresh-token')
  if (refreshToken) return { type: 'refresh_token', refreshToken: noControlCharacters('refresh-token', refreshToken) }
  throw new InputError(
    'refresh-token',
    `is empty and no 'authorization-code' was given: the first run needs 'authorization-code' (${provider.hints.firstCode}); later runs pass the stored secret, e.g. refresh-token: \${{ secrets.${secret} }}.`
  )
}

function parseRedirectUri(value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InputError(
      'redirect-uri',
      `must be an absolute URL exactly as registered in the integration (e.g. https://example.com/); got '${value}'.`
    )
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InputError('redirect-uri', `must be an http(s) URL exactly as registered in the integration; got '${value}'.`)
  }
  // Sent exactly as given: amoCRM compares it byte for byte, trailing slash included.
  return value
}

/** GitHub environment names: at most 255 characters, no path separators, not a path step. */
function parseEnvironment(value: string): string {
  if (
    value.length > 255 ||
    value !== value.trim() ||
    value === '.' ||
    value === '..' ||
    /[/\\]/.test(value) ||
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f]/.test(value)
  ) {
    throw new InputError(
      'environment',
      `'${value.slice(0, 60)}' is not an environment name: use the name shown under Settings → Environments (at most 255 characters, no '/', not '.' or '..').`
    )
  }
  return value
}

function parseTarget(read: InputReader, env: NodeJS.ProcessEnv): Target {
  const organization = read('organization')
  const environment = read('environment')
  const visibilityText = read('visibility')
  const selected = parseList(read('selected-repositories'))

  if (organization && environment) {
    throw new InputError('environment', "cannot be combined with 'organization': a secret lives in one place; choose one.")
  }
  if (!organization) {
    // 'private' was the 1.0 default, so a 1.0 workflow may still say it.
    if (visibilityText !== '' && visibilityText !== 'private') {
      throw new InputError('visibility', "applies only to organization secrets: set 'organization' or remove 'visibility'.")
    }
    if (selected.length > 0) {
      throw new InputError(
        'selected-repositories',
        "applies only to organization secrets with visibility: selected: set 'organization' or remove it."
      )
    }
    const repository = read('repository') || env.GITHUB_REPOSITORY || ''
    if (!repository) {
      throw new InputError(
        'repository',
        'is empty and GITHUB_REPOSITORY is not set: give owner/name of the repository whose secrets are written.'
      )
    }
    const ref = parseRepository('repository', repository)
    if (!environment) return { kind: 'repository', ...ref }
    return { kind: 'environment', environment: parseEnvironment(environment), ...ref }
  }

  if (!OWNER.test(organization)) {
    throw new InputError('organization', `'${organization}' is not an organization name (letters, digits and '-').`)
  }
  const visibility = visibilityText === '' ? undefined : VISIBILITIES.find((v) => v === visibilityText)
  if (visibilityText !== '' && !visibility) {
    throw new InputError(
      'visibility',
      `must be one of ${VISIBILITIES.join(', ')} (or empty, to keep the secret's own); got '${visibilityText}'.`
    )
  }
  // 'selected' without a list keeps the existing selection (checked against the secret before the spend).
  if (visibility !== 'selected' && selected.length > 0) {
    throw new InputError(
      'selected-repositories',
      `is used only with visibility: selected (visibility is ${visibility ? `'${visibility}'` : "empty, which keeps the secret's own"}): add visibility: selected.`
    )
  }
  const selectedRepositories = selected.map((item) => {
    const ref = item.includes('/')
      ? parseRepository('selected-repositories', item)
      : parseRepository('selected-repositories', `${organization}/${item}`)
    if (ref.owner.toLowerCase() !== organization.toLowerCase()) {
      throw new InputError(
        'selected-repositories',
        `'${item}' is not in organization '${organization}': an organization secret can only be shared with its own repositories.`
      )
    }
    return ref
  })
  // Duplicates collapsed (case-insensitive, as GitHub names are): the list is the whole audience.
  const unique = [...new Map(selectedRepositories.map((ref) => [`${ref.owner}/${ref.repo}`.toLowerCase(), ref])).values()]
  return { kind: 'organization', org: organization, visibility, selectedRepositories: unique }
}

/** Every input, validated, as one Settings object; `registry` is the providers' (a test adds one). */
export function readSettings(read: InputReader, env: NodeJS.ProcessEnv, registry: Registry = PROVIDERS): Settings {
  const provider = readProvider(read, (name, what) => required(read, name, what), registry)
  // readProvider has refused a name the registry does not know.
  const entry = entryOf(read, registry) as ProviderEntry
  const clientId = noWhitespace('client-id', required(read, 'client-id', entry.credentials.id))
  const clientSecret = noWhitespace('client-secret', required(read, 'client-secret', entry.credentials.secret))
  const redirectText = entry.redirectUriRequired
    ? required(read, 'redirect-uri', 'the redirect URI exactly as registered in the integration')
    : read('redirect-uri')
  const redirectUri = redirectText ? parseRedirectUri(redirectText) : undefined
  const refreshTokenSecret = parseSecretName('refresh-token-secret', read('refresh-token-secret') || entry.defaultSecret)
  const grant = parseGrant(read, provider, refreshTokenSecret)
  const githubToken = noWhitespace(
    'github-token',
    required(
      read,
      'github-token',
      'a token that can write Actions secrets (a fine-grained PAT with "Secrets: Read and write", or a GitHub App token with secrets: write); the default GITHUB_TOKEN cannot'
    )
  )
  const accessText = read('access-token-secret')
  const accessTokenSecret = accessText ? parseSecretName('access-token-secret', accessText) : undefined
  if (accessTokenSecret === refreshTokenSecret) {
    throw new InputError(
      'access-token-secret',
      `must differ from 'refresh-token-secret' (both are ${refreshTokenSecret}): the access token would overwrite the refresh token.`
    )
  }
  if (accessTokenSecret === probeName(refreshTokenSecret)) {
    throw new InputError(
      'access-token-secret',
      `must not be ${accessTokenSecret}: that name is the write check's probe secret, which is deleted on every run.`
    )
  }
  const target = parseTarget(read, env)
  const rescuePublicKey = parseRescueKey(read('rescue-public-key'))
  const verifyWrite = parseBoolean('verify-write', read('verify-write'), true)
  // The input overrides the runner's GITHUB_API_URL; unlike the runner's value it must be https (or loopback).
  const githubApiUrl = parseSecureUrl('github-api-url', read('github-api-url')) ?? parseApiUrl(env.GITHUB_API_URL)
  const jobToken = read('job-token')
  if (jobToken) noWhitespace('job-token', jobToken)
  const alert = parseAlert(read('alert'))

  return {
    provider,
    client: { clientId, clientSecret, redirectUri },
    grant,
    githubToken,
    githubApiUrl,
    refreshTokenSecret,
    accessTokenSecret,
    target,
    rescuePublicKey,
    verifyWrite,
    jobToken: jobToken || undefined,
    run: runOf(env),
    alert
  }
}

export function parseAlert(value: string): 'issue' | 'none' {
  const alert = value.trim().toLowerCase() || 'issue'
  if (alert !== 'issue' && alert !== 'none') {
    throw new InputError('alert', `must be issue (open an issue when the rotation fails; the default) or none; got '${value}'.`)
  }
  return alert
}

/**
 * The refresh-token secret that inputs name, described, as far as they can be read although they
 * failed validation: an alert about a broken workflow still belongs to its secret.
 */
export function secretOfInputs(read: InputReader, env: NodeJS.ProcessEnv): string {
  const given = read('refresh-token-secret')
  const name =
    SECRET_NAME.test(given) && !/^GITHUB_/i.test(given)
      ? given.toUpperCase()
      : (entryOf(read)?.defaultSecret ?? PROVIDERS.amocrm.defaultSecret)
  try {
    return targetInfo(parseTarget(read, env)).describe(name)
  } catch {
    // Where the secret lives is itself what the inputs got wrong: its name still tells which one.
    return `secret ${name} (where the inputs put it is not valid)`
  }
}

/** This run, from the runner's variables; undefined outside a runner. */
function runOf(env: NodeJS.ProcessEnv): RunRef | undefined {
  const runId = env.GITHUB_RUN_ID ?? ''
  const [owner, repo, ...rest] = (env.GITHUB_REPOSITORY ?? '').split('/')
  if (!/^\d+$/.test(runId) || !owner || !repo || rest.length > 0) return undefined
  const attempt = Number(env.GITHUB_RUN_ATTEMPT)
  return { owner, repo, runId, attempt: Number.isSafeInteger(attempt) && attempt > 0 ? attempt : 1 }
}
