/**
 * The workflow init writes: the README's workflow (examples/rotate.yml — its concurrency group,
 * permissions for the run's housekeeping and the alert issue, timeout) for the chosen provider, with
 * a schedule of its own (schedule.ts), the provider's inputs, the secrets init created and the rescue
 * key's variable. Pure: the names and the text, from what init was told.
 */
import { cronOf, describeSchedule, type Schedule } from './schedule.js'

/** The workflow's `github-token` secret, as the README names it. */
export const SECRETS_TOKEN = 'SECRETS_TOKEN'

/** What init creates for one account, named from one prefix (AMOCRM, KOMMO, BITRIX24, OAUTH, or the user's `--prefix`). */
export interface Names {
  clientId: string
  clientSecret: string
  redirectUri: string
  refreshToken: string
  accessToken: string
  /** The repository variable that holds the rescue public key. */
  rescueKey: string
  /** The workflow's concurrency group: one per account, so that one account's queue never holds up another's. */
  group: string
  /** The default workflow file: `<group>.yml` (amocrm-token.yml, as the README's set-up calls it). */
  file: string
}

/** The prefix a provider's names start with: its default refresh-token secret without `_REFRESH_TOKEN` (AMOCRM_REFRESH_TOKEN → AMOCRM). */
export const defaultPrefix = (defaultSecret: string): string => defaultSecret.replace(/_REFRESH_TOKEN$/, '')

export function namesOf(prefix: string): Names {
  const group = `${prefix.toLowerCase().replace(/_+/g, '-')}-token`
  return {
    clientId: `${prefix}_CLIENT_ID`,
    clientSecret: `${prefix}_CLIENT_SECRET`,
    redirectUri: `${prefix}_REDIRECT_URI`,
    refreshToken: `${prefix}_REFRESH_TOKEN`,
    accessToken: `${prefix}_ACCESS_TOKEN`,
    rescueKey: `${prefix}_RESCUE_PUBLIC_KEY`,
    group,
    file: `${group}.yml`
  }
}

export interface WorkflowSpec {
  /** The registry's name: amocrm, kommo, bitrix24, oauth2. */
  provider: string
  /** The workflow's `name:`, e.g. "amoCRM token". */
  name: string
  /** What the header says is kept authorized, e.g. "an amoCRM / Kommo integration". */
  what: string
  names: Names
  /** The provider's inputs in the step, in order: name, value, and a comment for the line. */
  inputs: ReadonlyArray<{ name: string; value: string; comment?: string }>
  /** A redirect URI secret was created: the step passes it. */
  redirectUri: boolean
  /** `refresh-token-secret` differs from the provider's default: the step names it. */
  refreshSecretInput: boolean
  /** The dispatch form asks for an authorization code (not for Bitrix24, whose codes live 30 seconds). */
  codeInput: boolean
  schedule: Schedule
}

/** A YAML scalar: plain where that is unambiguous (a name, words, an http(s) address), else single-quoted. */
export function yamlScalar(value: string): string {
  const words = /^[A-Za-z][\w .()/+,-]*$/.test(value) && !value.endsWith(' ')
  const address = /^https?:\/\/[\w.:/[\]@%~+-]+$/.test(value)
  const plain = (words || address) && !/^(?:true|false|yes|no|on|off|y|n|null)$/i.test(value)
  return plain ? value : `'${value.replace(/'/g, "''")}'`
}

const secret = (name: string): string => `\${{ secrets.${name} }}`

export function workflowText(spec: WorkflowSpec): string {
  const { names, schedule } = spec
  const id = spec.provider
  const weekly = schedule.weekday !== undefined
  const input = (name: string, value: string, comment?: string): string => `          ${name}: ${value}${comment ? ` # ${comment}` : ''}`
  const lines = [
    `# Keeps ${spec.what} authorized: the schedule refreshes the token pair`,
    `# ${weekly ? 'once a week' : 'every night'} and stores the new refresh token. Written by the init command of`,
    '# amocrm-actions/token-rotation, which made the first exchange (README: "Set up").',
    ...(spec.codeInput ? ['# Run it by hand with a new authorization code only when a run says one is needed.'] : []),
    `name: ${yamlScalar(spec.name)}`,
    '',
    'on:',
    '  workflow_dispatch:',
    ...(spec.codeInput
      ? [
          '    inputs:',
          '      code:',
          '        description: Authorization code (only when a run says a new one is needed; single use, short-lived)',
          '        required: false',
          "        default: ''"
        ]
      : []),
    '  schedule:',
    `    # ${describeSchedule(schedule)}: a time init picked at random; never at :00, when GitHub`,
    '    # delays many scheduled runs.',
    ...(weekly ? ['    # Weekly: Bitrix24 asks apps not to renew every hour or every day.'] : []),
    `    - cron: '${cronOf(schedule)}'`,
    '',
    '# Stops two runs from overlapping. A run queued behind another still holds the refresh token read',
    '# when it was queued: the action sees that before spending it and stops (nothing is lost).',
    'concurrency:',
    `  group: ${names.group}`,
    '  cancel-in-progress: false',
    '',
    "# The job's own token (job-token defaults to it) does the run's housekeeping; secrets are written",
    '# with github-token, which no job token can do.',
    'permissions:',
    "  # Reads this run's times (a run queued behind another holds a spent token), and on a scheduled",
    '  # run in a public repository re-enables this workflow, whose schedule GitHub would otherwise',
    '  # switch off after 60 days without activity. A private repository needs only actions: read.',
    '  actions: write',
    '  # Opens one issue when a run fails (or github-token is about to expire); the next healthy run',
    "  # closes it. Without it the action warns, and only GitHub's failure mail tells anyone.",
    '  issues: write',
    '',
    'jobs:',
    '  rotate:',
    '    runs-on: ubuntu-latest',
    '    timeout-minutes: 10',
    '    steps:',
    `      - id: ${id}`,
    '        uses: amocrm-actions/token-rotation@v1',
    '        with:',
    ...spec.inputs.map((i) => input(i.name, yamlScalar(i.value), i.comment)),
    input('client-id', secret(names.clientId)),
    input('client-secret', secret(names.clientSecret)),
    ...(spec.redirectUri ? [input('redirect-uri', secret(names.redirectUri))] : []),
    ...(spec.codeInput ? [input('authorization-code', '${{ inputs.code }}')] : []),
    input('refresh-token', secret(names.refreshToken)),
    ...(spec.refreshSecretInput ? [input('refresh-token-secret', names.refreshToken)] : []),
    input('github-token', secret(SECRETS_TOKEN)),
    input('access-token-secret', names.accessToken),
    input('rescue-public-key', `\${{ vars.${names.rescueKey} }}`),
    '',
    `      # Later steps of this job read steps.${id}.outputs.access-token and api-url; other workflows read`,
    `      # secrets.${names.accessToken} (README: "Using the access token").`,
    ''
  ]
  return lines.join('\n')
}
