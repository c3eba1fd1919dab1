/**
 * The init command's flags, read before anything else happens (a bad flag is refused before any
 * request). Every answer init would ask for is also a flag named as the action's input
 * (`--subdomain`) or an environment variable (TOKEN_ROTATION_SUBDOMAIN), the flag first; secrets —
 * the client secret, the authorization code, a refresh token, the GitHub token — only an environment
 * variable (or the hidden prompt): a flag's value shows in the process list and stays in the shell's
 * history. Pure.
 */
import { ActionError } from '../errors.js'

/** A mistake in the command line: exit code 2, and nothing was done. */
export class FlagError extends ActionError {}

/** Answers that may be flags: action inputs. */
const ANSWER_FLAGS = [
  'provider',
  'subdomain',
  'domain',
  'base-url',
  'token-url',
  'client-auth',
  'body-format',
  'scope',
  'client-id',
  'redirect-uri'
] as const
/** Answers that are secrets: an environment variable or the hidden prompt only. */
const SECRET_ANSWERS = ['client-secret', 'authorization-code', 'refresh-token'] as const
const OPTIONS = ['repo', 'api-url', 'prefix', 'workflow-file', 'rescue-key-file', 'rescue-public-key'] as const
const SWITCHES = ['yes', 'non-interactive', 'store-token', 'help'] as const

type Option = (typeof OPTIONS)[number]

/** TOKEN_ROTATION_SUBDOMAIN, TOKEN_ROTATION_CLIENT_SECRET, TOKEN_ROTATION_CODE (the authorization code), … */
export const envName = (input: string): string =>
  input === 'authorization-code' ? 'TOKEN_ROTATION_CODE' : `TOKEN_ROTATION_${input.toUpperCase().replace(/-/g, '_')}`

/** An answer given before init asks: its value, and where it came from ('--subdomain' or 'TOKEN_ROTATION_SUBDOMAIN'). */
export interface Given {
  value: string
  from: string
}

export interface InitFlags {
  /** By action input name. */
  answers: Map<string, Given>
  options: Partial<Record<Option, string>>
  yes: boolean
  nonInteractive: boolean
  storeToken: boolean
  help: boolean
}

/** Flags that would carry a secret, and the variable to use instead. */
const SECRET_FLAGS: Record<string, string> = {
  'client-secret': envName('client-secret'),
  code: envName('authorization-code'),
  'authorization-code': envName('authorization-code'),
  'refresh-token': envName('refresh-token'),
  'github-token': 'GH_TOKEN',
  token: 'GH_TOKEN'
}

const isOneOf = <T extends string>(list: readonly T[], value: string): value is T => (list as readonly string[]).includes(value)

export function parseFlags(argv: readonly string[], env: NodeJS.ProcessEnv): InitFlags {
  const flags: InitFlags = { answers: new Map(), options: {}, yes: false, nonInteractive: false, storeToken: false, help: false }
  const seen = new Set<string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '-h') {
      flags.help = true
      continue
    }
    const match = /^--([a-z][a-z-]*)(?:=([\s\S]*))?$/.exec(arg)
    if (!match) throw new FlagError(`'${arg.slice(0, 40)}' is not a flag of init (they start with --): \`init --help\` lists them.`)
    const name = match[1] as string
    if (Object.hasOwn(SECRET_FLAGS, name)) {
      throw new FlagError(
        `--${name} is not a flag: its value would show in the process list and stay in the shell's history. Set ${SECRET_FLAGS[name]} instead, or leave it out to be asked for it (typed without echo).`
      )
    }
    const takesValue = isOneOf(ANSWER_FLAGS, name) || isOneOf(OPTIONS, name)
    if (!takesValue && !isOneOf(SWITCHES, name)) throw new FlagError(`--${name} is not a flag of init: \`init --help\` lists them.`)
    if (seen.has(name)) throw new FlagError(`--${name} is given twice: give it once.`)
    seen.add(name)
    if (!takesValue) {
      if (match[2] !== undefined) throw new FlagError(`--${name} takes no value: write it alone.`)
      if (name === 'yes') flags.yes = true
      else if (name === 'non-interactive') flags.nonInteractive = true
      else if (name === 'store-token') flags.storeToken = true
      else flags.help = true
      continue
    }
    let value = match[2]
    if (value === undefined) {
      const next = argv[i + 1]
      if (next === undefined || next.startsWith('--')) throw new FlagError(`--${name} needs a value: --${name} VALUE.`)
      value = next
      i++
    }
    if (isOneOf(ANSWER_FLAGS, name)) flags.answers.set(name, { value, from: `--${name}` })
    else flags.options[name as Option] = value
  }
  // The environment fills in what the flags did not say.
  for (const input of [...ANSWER_FLAGS, ...SECRET_ANSWERS]) {
    const value = env[envName(input)]
    if (!flags.answers.has(input) && value !== undefined && value !== '') flags.answers.set(input, { value, from: envName(input) })
  }
  if (flags.answers.has('authorization-code') && flags.answers.has('refresh-token')) {
    throw new FlagError(
      `${envName('authorization-code')} and ${envName('refresh-token')} are both set: the first exchange spends one of them; unset the other.`
    )
  }
  if (flags.options['rescue-key-file'] !== undefined && flags.options['rescue-public-key'] !== undefined) {
    throw new FlagError(
      '--rescue-key-file and --rescue-public-key do not go together: --rescue-key-file is where the private key of a new key pair goes, --rescue-public-key an existing key to use instead of a new pair. Give one.'
    )
  }
  return flags
}

export const HELP = `usage: token-rotation-rescue init [flags]
       (npx -y github:amocrm-actions/token-rotation#v1 init, or node dist/rescue/index.js init from a clone)

Sets up the token rotation of one account in the GitHub repository of this folder (its git remote
'origin'): proves the token can write its secrets, asks what the provider needs, writes the workflow
.github/workflows/<name>.yml, creates the secrets and a rescue key pair (its public half in a
repository variable), makes the first exchange and stores the refresh token. Nothing secret is printed.

GitHub
  GH_TOKEN or GITHUB_TOKEN   a token that can write the repository's secrets and variables
                             (else \`gh auth token\`, else init asks for one, typed without echo)
  --repo OWNER/NAME          the repository (default: the git remote 'origin' of this folder)
  --api-url URL              the REST API (default: GITHUB_API_URL, else https://api.github.com;
                             GitHub Enterprise Server: https://HOST/api/v3)

The provider: each answer a flag or an environment variable; init asks for the missing ones
  --provider NAME            amocrm (default), kommo, bitrix24 or oauth2       TOKEN_ROTATION_PROVIDER
  --subdomain NAME           amocrm, kommo: the account, mycompany            TOKEN_ROTATION_SUBDOMAIN
  --domain NAME              amocrm: amocrm.ru (default), amocrm.com, kommo.com  TOKEN_ROTATION_DOMAIN
  --base-url URL             bitrix24: the authorization server; others: a proxy  TOKEN_ROTATION_BASE_URL
  --token-url URL            oauth2: the token endpoint                        TOKEN_ROTATION_TOKEN_URL
  --client-auth basic|body   oauth2 (default basic)                            TOKEN_ROTATION_CLIENT_AUTH
  --body-format form|json    oauth2 (default form)                             TOKEN_ROTATION_BODY_FORMAT
  --scope SCOPES             oauth2: sent with both grants                     TOKEN_ROTATION_SCOPE
  --client-id ID             the integration's or application's client ID      TOKEN_ROTATION_CLIENT_ID
  --redirect-uri URI         as registered (required for amocrm and kommo)     TOKEN_ROTATION_REDIRECT_URI
  (secret, no flag)          the client secret                                 TOKEN_ROTATION_CLIENT_SECRET
  (secret, no flag)          the first token: an authorization code            TOKEN_ROTATION_CODE
                             or a refresh token (Bitrix24's install, a migration) TOKEN_ROTATION_REFRESH_TOKEN

What init writes
  --prefix NAME              names of the secrets and the variable: NAME_CLIENT_ID, NAME_CLIENT_SECRET,
                             NAME_REDIRECT_URI, NAME_REFRESH_TOKEN, NAME_ACCESS_TOKEN, NAME_RESCUE_PUBLIC_KEY
                             (default AMOCRM, KOMMO, BITRIX24 or OAUTH; e.g. AMOCRM_ACME for one of several accounts)
  --workflow-file NAME       the workflow's file in .github/workflows (default <prefix>-token.yml, e.g. amocrm-token.yml)
  --yes                      overwrite an existing workflow file without asking
  --rescue-key-file PATH     write the new rescue private key to PATH (created with mode 0600, never overwritten)
                             instead of showing it; needed when the output is not a terminal
  --rescue-public-key KEY    use this existing rescue public key instead of a new key pair
  --store-token              store the GitHub token as the secret SECRETS_TOKEN, which the workflow uses
                             (asked when interactive and that secret does not exist)
  --non-interactive          never ask: a missing answer is an error (the default when stdin is not a terminal)
  --help                     this text`
