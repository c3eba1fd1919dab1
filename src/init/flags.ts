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

/** One line of the help: the flag, what it is, and its environment variable (secrets: only the variable). */
const row = (flag: string, what: string, variable = ''): string => `  ${flag.padEnd(26)} ${what.padEnd(50)} ${variable}`.trimEnd()

export const HELP = [
  'usage: token-rotation-rescue init [flags]',
  '       npx -y github:amocrm-actions/token-rotation#v1 init, or node dist/rescue/index.js init from a clone',
  '',
  'Sets up the token rotation of one account in the GitHub repository of this folder (its git remote',
  "'origin'): proves the token can write its secrets and variables, asks what the provider needs, writes",
  'the workflow .github/workflows/<name>.yml, creates the secrets and a rescue key pair (its public half',
  'in a repository variable), makes the first exchange and stores the refresh token. Nothing secret is',
  'printed but the rescue private key, once, on a terminal.',
  '',
  'GitHub',
  row('GH_TOKEN, GITHUB_TOKEN', 'a token that can write the secrets and variables;'),
  row('', 'else `gh auth token`, else init asks (no echo)'),
  row('--repo OWNER/NAME', "default: the git remote 'origin' of this folder"),
  row('--api-url URL', 'default: GITHUB_API_URL, else api.github.com;'),
  row('', 'GitHub Enterprise Server: https://HOST/api/v3'),
  '',
  'The provider: each answer a flag or the variable on its right; init asks for what is missing',
  row('--provider NAME', 'amocrm (default), kommo, bitrix24 or oauth2', envName('provider')),
  row('--subdomain NAME', 'amocrm, kommo: the account, e.g. mycompany', envName('subdomain')),
  row('--domain NAME', 'amocrm: amocrm.ru (default), amocrm.com, kommo.com', envName('domain')),
  row('--base-url URL', 'bitrix24: its authorization server; else a proxy', envName('base-url')),
  row('--token-url URL', 'oauth2: the token endpoint', envName('token-url')),
  row('--client-auth basic|body', 'oauth2 (default basic)', envName('client-auth')),
  row('--body-format form|json', 'oauth2 (default form)', envName('body-format')),
  row('--scope SCOPES', 'oauth2: sent with both grants', envName('scope')),
  row('--client-id ID', "the integration's or the application's client ID", envName('client-id')),
  row('--redirect-uri URI', 'as registered (required for amocrm and kommo)', envName('redirect-uri')),
  row('(a secret: no flag)', 'the client secret', envName('client-secret')),
  row('(a secret: no flag)', 'the first token: an authorization code,', envName('authorization-code')),
  row('', "or a refresh token (Bitrix24's install; migrating)", envName('refresh-token')),
  '',
  'What init writes',
  row('--prefix NAME', 'the names: NAME_CLIENT_ID, NAME_CLIENT_SECRET,'),
  row('', 'NAME_REDIRECT_URI, NAME_REFRESH_TOKEN, NAME_ACCESS_TOKEN'),
  row('', 'and the variable NAME_RESCUE_PUBLIC_KEY; default AMOCRM,'),
  row('', 'KOMMO, BITRIX24 or OAUTH (AMOCRM_ACME: one of several)'),
  row('--workflow-file NAME', 'in .github/workflows; default <prefix>-token.yml'),
  row('--yes', 'overwrite an existing workflow file without asking'),
  row('--rescue-key-file PATH', 'the new rescue private key goes to PATH (mode 0600)'),
  row('', 'instead of the screen; needed when the output is not'),
  row('', 'a terminal. A file there is never overwritten: an'),
  row('', "earlier init's is used again (the variable holds its"),
  row('', 'public half, or no key yet), any other is refused'),
  row('--rescue-public-key KEY', 'use this rescue public key, not a new key pair'),
  row('--store-token', 'store the GitHub token as the secret SECRETS_TOKEN'),
  row('', 'that the workflow reads (asked at a terminal when'),
  row('', 'that secret does not exist)'),
  row('--non-interactive', 'never ask: a missing answer is an error (the default'),
  row('', 'when the input is not a terminal)'),
  row('--help', 'this text')
].join('\n')
