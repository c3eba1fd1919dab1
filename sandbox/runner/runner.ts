/**
 * Runs the bundled action (dist/index.js) the way a GitHub-hosted runner runs a `node24` action.
 *
 * Emulates: a fresh temp directory per run with the file-command files (GITHUB_OUTPUT,
 * GITHUB_STATE, GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY), RUNNER_TEMP, GITHUB_WORKSPACE
 * (the child's cwd), GITHUB_EVENT_NAME and GITHUB_EVENT_PATH (`event`: default
 * `workflow_dispatch` with `{}`; events.ts and the GitHub stand-in's `scheduleEvent(repo)` /
 * `dispatchEvent(repo)` build GitHub's payloads); the runner's default variables, among them
 * GITHUB_WORKFLOW_REF = `{GITHUB_REPOSITORY}/.github/workflows/rotate.yml@{GITHUB_REF}` (the form GitHub's
 * "Variables reference" gives: `octocat/hello-world/.github/workflows/my-workflow.yml@refs/heads/my_branch`;
 * like every default, `env` overrides it); inputs as `INPUT_<NAME>`
 * (spaces → '_', upper-cased, dashes kept), with the defaults declared in action.yml (read with
 * the `yaml` package) applied to inputs not given, `${{ github.token }}` being the job token
 * (`jobToken`, default DEMO_JOB_TOKEN), which — like on a real runner — is never in the
 * environment (no GITHUB_TOKEN) and is masked in the log from the start; a clean environment
 * (PATH, HOME, the runner's variables, `env`, inputs — nothing else of the parent's, in particular
 * no INPUT_* / GITHUB_* / ACTIONS_*; NODE_V8_COVERAGE alone is passed through so that c8 can
 * measure the child); the runner's parsing of file commands (heredoc and `name=value`); the
 * runner's cancellation (`cancel`) and single signals (`signal`).
 *
 * The log display (`renderLog`), from actions/runner's src/Runner.Common/ActionCommand.cs,
 * src/Runner.Worker/ActionCommandManager.cs and src/Runner.Worker/Handlers/OutputManager.cs:
 * - stdout is cut into lines at \r\n, \r or \n (StreamReader.ReadLine). A line is a command when
 *   it parses in the new syntax — `::name k=v,…::data` after leading whitespace (TryParseV2) — or
 *   else in the OLD syntax `##[name k=v;…]data` found ANYWHERE in the line (TryParse: the text
 *   before `##[` is dropped; data and properties unescape %3B %0D %0A %5D %25). Only registered
 *   names parse (case-insensitive): stop-commands, add-mask, debug, warning, error, notice,
 *   group, endgroup, echo, set-output, save-state, set-env, add-path, add-matcher,
 *   remove-matcher — every one of them honoured in both syntaxes. Anything else is output.
 * - `add-mask` masks the value, each of its lines (trimmed), and their JSON- and URI-escaped forms,
 *   from the next line on; empty → the runner's warning. `debug`/`warning`/`error`/`notice` show as
 *   `Debug: `/`Warning: `/`Error: `/`Notice: ` + data; `group`/`endgroup` as `##[group]data` /
 *   `##[endgroup]`; `set-output`/`save-state` set outputs/state (file commands win) with the
 *   deprecation warning; `set-env`/`add-path` are refused with the runner's two errors; `echo`
 *   on/off echoes later commands; matchers are consumed silently.
 * - `stop-commands` (either syntax, anywhere in a line — so `Error: amoCRM said ##[stop-commands]x`
 *   from a server's text counts) is shown as it is, and from then on NO command is processed:
 *   every line, `::add-mask::SECRET` included, is shown raw (only masks added before still apply),
 *   until a line that parses as a command named like the token (`::x::` or `…##[x]…`, any case),
 *   which is shown and resumes processing. A token longer than 6 characters is itself masked; an
 *   empty token, `pause-logging` or a command name is refused (the runner throws and fails the step;
 *   here an `Error:` line with its message, and commands go on).
 * - Lines that are not processed commands have `##[start-action`/`##[end-action` broken with a
 *   backslash, like OutputManager does.
 * `leakedSecrets` counts a secret in that display (`log`) as a leak, besides its stdout rules.
 *
 * Cancellation (`cancel`), from actions/runner's src/Runner.Sdk/ProcessInvoker.cs
 * (CancelAndKillProcessTree; src/Runner.Common/ProcessInvoker.cs only wraps it): SIGINT, then —
 * if the process has not exited within `_sigintTimeout` = 7500 ms — SIGTERM, then — if it has not
 * exited within `_sigtermTimeout` = 2500 ms — KillProcessTree (Process.Kill: SIGKILL on Linux).
 *
 * Safety: GITHUB_API_URL and GITHUB_GRAPHQL_URL default to http://127.0.0.1:65535 (connection
 * refused) instead of api.github.com, so a test that forgets to point the action at the sandbox
 * fails fast instead of calling the real GitHub. Pass `env.GITHUB_API_URL` (e.g. `github.url`).
 *
 * Deliberately not emulated: docker/composite actions, `pre`/`post` steps, the runner's masking
 * of encoded variants beyond JSON- and URI-escaping (base64, XML, …), masking of the job's other
 * secrets (the sandbox does not know which inputs come from `secrets.*`), workflow commands on
 * stderr (stderr is returned raw), problem matchers, ACTIONS_ALLOW_UNSECURE_COMMANDS /
 * ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS, the step debug log (`Debug:` lines are always shown),
 * expression evaluation in action.yml defaults beyond `${{ github.* }}` / `${{ runner.* }}` /
 * `${{ env.* }}` lookups of the environment built here (and `github.token`), killing a process
 * tree (only the action's process is signalled).
 *
 * Default entry: resolved relative to this file's compiled location, .build/sandbox/runner/runner.js →
 * ../../../dist/index.js (the project root's dist/index.js), independent of process.cwd();
 * action.yml likewise (../../../action.yml).
 */
import { spawn } from 'node:child_process'
import { appendFileSync, existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { DEFAULT_WORKFLOW } from '../standins/github/events.js'
import { DEMO_JOB_TOKEN } from '../standins/tokens.js'

/** The project root, from this file's compiled location (.build/sandbox/runner/runner.js). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const DEFAULT_ENTRY = join(PROJECT_ROOT, 'dist', 'index.js')
export const DEFAULT_ACTION_YML = join(PROJECT_ROOT, 'action.yml')
/** Where GITHUB_API_URL points unless `env` says otherwise: nothing listens there. */
export const UNREACHABLE_API_URL = 'http://127.0.0.1:65535'

export type SignalSpec = { name: NodeJS.Signals; when: (stdoutSoFar: string) => boolean } | { name: NodeJS.Signals; afterMs: number }

export interface RunOptions {
  /** Keys as in action.yml, e.g. 'client-id'. */
  inputs: Record<string, string>
  /** Extra environment; overrides the runner's defaults (GITHUB_REPOSITORY, GITHUB_API_URL, …). */
  env?: Record<string, string>
  /** Default DEFAULT_ENTRY (project root's dist/index.js). */
  entry?: string
  /** Default process.execPath. */
  node?: string
  /** Each spec is sent once; several model the runner's cancellation (SIGINT, then SIGTERM). */
  signal?: SignalSpec | SignalSpec[]
  /** Default 60000: then SIGKILL, and the promise rejects. */
  timeoutMs?: number
  /** action.yml whose input defaults are applied; default DEFAULT_ACTION_YML; false: none. A missing file means no defaults. */
  actionYml?: string | false
  /** Keep the temp directory (returned as `dir`) instead of removing it. */
  keepTemp?: boolean
  /**
   * The runner's cancellation: SIGINT once `when(stdout so far)` is true (checked at start and on
   * every stdout chunk), SIGTERM `sigtermAfterMs` (default 7500) later if the process is still
   * alive, SIGKILL `killAfterMs` (default 2500) after that (then `killed` is true).
   */
  cancel?: { when: (stdoutSoFar: string) => boolean; sigtermAfterMs?: number; killAfterMs?: number }
  /** The value of `${{ github.token }}` in action.yml defaults; default DEMO_JOB_TOKEN. Never put in the environment. */
  jobToken?: string
  /** GITHUB_EVENT_NAME and the content of GITHUB_EVENT_PATH; default `workflow_dispatch` with `{}`. */
  event?: { name: string; payload?: unknown }
}

/** ProcessInvoker._sigintTimeout: SIGTERM this long after SIGINT. */
export const RUNNER_SIGINT_TIMEOUT_MS = 7500
/** ProcessInvoker._sigtermTimeout: SIGKILL this long after SIGTERM. */
export const RUNNER_SIGTERM_TIMEOUT_MS = 2500

export interface ActionRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  durationMs: number
  /** From GITHUB_OUTPUT (heredoc and name=value), over any set by `set-output` commands in stdout. */
  outputs: Record<string, string>
  /** GITHUB_STEP_SUMMARY content. */
  summary: string
  /** Values of the `add-mask` commands the runner processed (either syntax), unescaped, in order. */
  masked: string[]
  /** stdout as the runner displays it. */
  log: string
  /** From GITHUB_STATE (core.saveState), over any set by `save-state` commands in stdout. */
  state: Record<string, string>
  /** From GITHUB_ENV (core.exportVariable). */
  exportedEnv: Record<string, string>
  /** Inputs given that action.yml does not declare (the runner warns "Unexpected input(s)"). */
  unexpectedInputs: string[]
  /** The environment the action started with. */
  env: Record<string, string>
  /** The temp directory, when keepTemp. */
  dir?: string
  /** True when the cancel sequence (`cancel`) ended with SIGKILL. */
  killed: boolean
}

/** Exactly the runner's (and @actions/core's) variable name for an input. */
export function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`
}

/**
 * Parses a file-command file (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_ENV) like the runner:
 * `name<<DELIMITER` … `DELIMITER` (any delimiter) or `name=value`; blank lines are skipped.
 * Throws on a line of neither form or a heredoc without its closing delimiter (the runner fails
 * the step then).
 */
export function parseFileCommands(text: string): Record<string, string> {
  const result: Record<string, string> = {}
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (line === '') continue
    const eq = line.indexOf('=')
    const heredoc = line.indexOf('<<')
    if (eq >= 0 && (heredoc < 0 || eq < heredoc)) {
      const name = line.slice(0, eq)
      if (name === '') throw new Error(`Invalid file command line (empty name): ${line}`)
      result[name] = line.slice(eq + 1)
      continue
    }
    if (heredoc > 0) {
      const name = line.slice(0, heredoc)
      const delimiter = line.slice(heredoc + 2)
      if (delimiter === '') throw new Error(`Invalid file command line (empty delimiter): ${line}`)
      const value: string[] = []
      let closed = false
      for (i += 1; i < lines.length; i++) {
        const next = lines[i] ?? ''
        if (next === delimiter) {
          closed = true
          break
        }
        value.push(next)
      }
      if (!closed) throw new Error(`Matching delimiter not found '${delimiter}' for ${name}`)
      result[name] = value.join('\n')
      continue
    }
    throw new Error(`Invalid file command line: ${line}`)
  }
  return result
}

// ---------------------------------------------------------------------------------------------
// action.yml input defaults

/**
 * The inputs declared in an action.yml (in order) and their `default:` values, as strings (the
 * failsafe schema keeps every scalar as written: `'true'`, `1.0`, `${{ github.token }}`); an empty
 * `default:` is ''. Throws on YAML the `yaml` package refuses (the runner refuses it too).
 */
export function readInputDefaults(yaml: string): { declared: string[]; defaults: Record<string, string> } {
  const declared: string[] = []
  const defaults: Record<string, string> = {}
  const doc: unknown = parse(yaml, { schema: 'failsafe', mapAsMap: true })
  const inputs = doc instanceof Map ? (doc as Map<unknown, unknown>).get('inputs') : undefined
  if (!(inputs instanceof Map)) return { declared, defaults }
  for (const [key, spec] of inputs as Map<unknown, unknown>) {
    if (typeof key !== 'string') continue
    declared.push(key)
    if (!(spec instanceof Map) || !spec.has('default')) continue
    const value: unknown = spec.get('default')
    if (typeof value === 'string') defaults[key] = value
    else if (value === null || value === undefined) defaults[key] = ''
  }
  return { declared, defaults }
}

/** `${{ github.token }}` is the job token; other `github.*` / `runner.*` / `env.*` come from the environment built here. */
function evaluateDefault(value: string, env: Record<string, string>, jobToken: string): string {
  return value.replace(/\$\{\{\s*([a-z_]+)\.([A-Za-z0-9_]+)\s*\}\}/g, (_all, context: string, name: string) => {
    if (context === 'github') return name.toLowerCase() === 'token' ? jobToken : (env[`GITHUB_${name.toUpperCase()}`] ?? '')
    if (context === 'runner') return env[`RUNNER_${name.toUpperCase()}`] ?? ''
    if (context === 'env') return env[name] ?? ''
    return ''
  })
}

// ---------------------------------------------------------------------------------------------
// the runner's log display (actions/runner: src/Runner.Common/ActionCommand.cs,
// src/Runner.Worker/ActionCommandManager.cs, src/Runner.Worker/Handlers/OutputManager.cs)

/** ActionCommandManager.Initialize: stop-commands plus every IActionCommandExtension but internal-set-repo-path. */
const REGISTERED_COMMANDS = [
  'stop-commands',
  'set-env',
  'set-output',
  'save-state',
  'add-mask',
  'add-path',
  'add-matcher',
  'remove-matcher',
  'debug',
  'warning',
  'error',
  'notice',
  'group',
  'endgroup',
  'echo'
]

/** Constants.Runner.UnsupportedStopCommandTokenDisabled */
const STOP_TOKEN_REFUSED =
  "You cannot use a endToken that is an empty string, the string 'pause-logging', or another workflow command. For more information see: https://docs.github.com/actions/learn-github-actions/workflow-commands-for-github-actions#example-stopping-and-starting-workflow-commands or opt into insecure command execution by setting the `ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS` environment variable to `true`."
/** Constants.Runner.UnsupportedCommandMessage ({0} = command) */
const DEPRECATED_COMMAND = (command: string) =>
  `The \`${command}\` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/`
/** Constants.Runner.UnsupportedCommandMessageDisabled ({0} = command) */
const DISABLED_COMMAND = (command: string) =>
  `The \`${command}\` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the \`ACTIONS_ALLOW_UNSECURE_COMMANDS\` environment variable to \`true\`. For more information see: https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/`

/** Ordinal, case-sensitive replacements in order, like the runner's EscapeMapping loops. */
function replaceAll(text: string, mappings: ReadonlyArray<readonly [string, string]>): string {
  let out = text
  for (const [escaped, token] of mappings) out = out.split(escaped).join(token)
  return out
}

/** ActionCommand._escapeDataMappings, unescaped in order (the runner's replacements are case-sensitive). */
const DATA_UNESCAPES = [
  ['%0D', '\r'],
  ['%0A', '\n'],
  ['%25', '%']
] as const
/** ActionCommand._escapePropertyMappings (`::` syntax). */
const PROPERTY_UNESCAPES = [
  ['%0D', '\r'],
  ['%0A', '\n'],
  ['%3A', ':'],
  ['%2C', ','],
  ['%25', '%']
] as const
/** ActionCommand._escapeMappings: data and properties of the old `##[` syntax. */
const V1_UNESCAPES = [
  ['%3B', ';'],
  ['%0D', '\r'],
  ['%0A', '\n'],
  ['%5D', ']'],
  ['%25', '%']
] as const

/** Unescapes `::` workflow-command data (%0D, %0A, %25 — upper-case only, like the runner). */
export function unescapeCommandData(data: string): string {
  return replaceAll(data, DATA_UNESCAPES)
}

/** A workflow command as the runner parses it. */
export interface ParsedCommand {
  /** As written (the runner compares names case-insensitively). */
  command: string
  properties: Record<string, string>
  data: string
  syntax: '::' | '##['
}

function parseProperties(text: string, separator: string, unescapes: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const properties: Record<string, string> = {}
  for (const entry of text.split(separator)) {
    const eq = entry.indexOf('=')
    if (eq <= 0 || eq === entry.length - 1) continue // the runner keeps only `key=value` with both parts
    properties[entry.slice(0, eq).toLowerCase()] = replaceAll(entry.slice(eq + 1), unescapes)
  }
  return properties
}

/**
 * ActionCommand.TryParseV2 then ActionCommand.TryParse, as ActionCommandManager.TryProcessCommand
 * calls them: `::name k=v,…::data` after leading whitespace, else `##[name k=v;…]data` anywhere in
 * the line (the text before `##[` is dropped). Only `registered` names (case-insensitive) parse.
 */
export function parseWorkflowCommand(line: string, registered: Iterable<string> = REGISTERED_COMMANDS): ParsedCommand | undefined {
  const names = new Set([...registered].map((n) => n.toLowerCase()))
  const message = line.trimStart()
  if (message.startsWith('::')) {
    const end = message.indexOf('::', 2)
    if (end >= 0) {
      const info = message.slice(2, end)
      const space = info.indexOf(' ')
      const command = space < 0 ? info : info.slice(0, space)
      if (command !== '' && names.has(command.toLowerCase())) {
        return {
          command,
          properties: space > 0 ? parseProperties(info.slice(space + 1).trim(), ',', PROPERTY_UNESCAPES) : {},
          data: replaceAll(message.slice(end + 2), DATA_UNESCAPES),
          syntax: '::'
        }
      }
    }
  }
  const prefix = line.indexOf('##[')
  if (prefix < 0) return undefined
  const bracket = line.indexOf(']', prefix)
  if (bracket < 0) return undefined
  const info = line.slice(prefix + 3, bracket)
  const space = info.indexOf(' ')
  const command = space < 0 ? info : info.slice(0, space)
  if (command === '' || !names.has(command.toLowerCase())) return undefined
  return {
    command,
    properties: space > 0 ? parseProperties(info.slice(space + 1), ';', V1_UNESCAPES) : {},
    data: replaceAll(line.slice(bracket + 1), V1_UNESCAPES),
    syntax: '##['
  }
}

function maskVariants(value: string): string[] {
  const variants = new Set<string>([value])
  if (/[\r\n]/.test(value)) {
    for (const line of value.split(/\r?\n/)) if (line.trim() !== '') variants.add(line)
    for (const line of value.split(/[\r\n]/)) if (line.trim() !== '') variants.add(line.trim())
  }
  variants.add(JSON.stringify(value).slice(1, -1))
  variants.add(encodeURIComponent(value))
  return [...variants].filter((v) => v !== '')
}

export interface RenderedLog {
  /** stdout as the runner displays it. */
  log: string
  /** Values of the processed `add-mask` commands (either syntax), unescaped, in order. */
  masked: string[]
  /** Outputs set by processed `set-output` commands (either syntax). */
  outputs: Record<string, string>
  /** State saved by processed `save-state` commands (either syntax). */
  state: Record<string, string>
}

/**
 * stdout → what the runner shows, line by line, like OutputManager.OnDataReceived and
 * ActionCommandManager.TryProcessCommand (see the header of this file for the rules).
 * `preMasked`: values masked from the first line on (the runner masks the job's token and the
 * secrets of the job message before the step starts).
 */
export function renderLog(stdout: string, options: { preMasked?: string[] } = {}): RenderedLog {
  const masked: string[] = []
  const outputs: Record<string, string> = {}
  const state: Record<string, string> = {}
  let patterns: string[] = []
  const addMask = (value: string) => {
    patterns = [...new Set([...patterns, ...maskVariants(value)])].sort((a, b) => b.length - a.length)
  }
  for (const value of options.preMasked ?? []) if (value.trim() !== '') addMask(value)
  const mask = (text: string): string => {
    let out = text
    for (const p of patterns) out = out.split(p).join('***')
    return out
  }
  // StreamReader.ReadLine: \r\n, \r and \n all end a line.
  const lines = stdout.split(/\r\n|\r|\n/)
  const trailingNewline = lines.length > 1 && lines[lines.length - 1] === ''
  if (trailingNewline) lines.pop()
  const out: string[] = []
  const show = (text: string) => out.push(mask(text))
  // OutputManager: runner-controlled markers in output that is not a command are broken.
  const showPlain = (text: string) =>
    show(text.replace(/##\[start-action/g, '##[\\start-action').replace(/##\[end-action/g, '##[\\end-action'))
  const registered = new Set(REGISTERED_COMMANDS)
  let stopToken: string | undefined
  let echo = false

  for (const line of lines) {
    const command = line !== '' && (line.includes('##[') || line.includes('::')) ? parseWorkflowCommand(line, registered) : undefined
    if (!command) {
      showPlain(line)
      continue
    }
    const name = command.command.toLowerCase()
    const data = command.data
    if (stopToken !== undefined) {
      if (name === stopToken.toLowerCase()) {
        show(line)
        registered.delete(stopToken)
        stopToken = undefined
      } else {
        showPlain(line) // not processed: shown as it is (with the masks known so far)
      }
      continue
    }
    switch (name) {
      case 'stop-commands': {
        const token = data
        if (
          token === '' ||
          token.toLowerCase() === 'pause-logging' ||
          [...registered].some((r) => r.toLowerCase() === token.toLowerCase())
        ) {
          // ValidateStopToken throws: the runner fails the step with this message; commands go on.
          show(`Error: ${STOP_TOKEN_REFUSED}`)
          break
        }
        stopToken = token
        registered.add(token)
        if (token.length > 6) addMask(token)
        show(line)
        break
      }
      case 'add-mask':
        if (data.trim() === '') {
          show("Warning: Can't add secret mask for empty string in ##[add-mask] command.")
          break
        }
        if (echo) out.push('::add-mask::***')
        masked.push(data)
        addMask(data)
        break
      case 'debug':
        show(`Debug: ${data}`)
        break
      case 'warning':
        show(`Warning: ${data}`)
        break
      case 'error':
        show(`Error: ${data}`)
        break
      case 'notice':
        show(`Notice: ${data}`)
        break
      case 'group':
        if (echo) show(line)
        show(`##[group]${data}`)
        break
      case 'endgroup':
        if (echo) show(line)
        show('##[endgroup]')
        break
      case 'echo': {
        if (echo) show(line)
        const value = data.trim().toUpperCase()
        if (value === 'ON') echo = true
        else if (value === 'OFF') echo = false
        else {
          show(`Error: Unable to process command '${line}' successfully.`)
          show(`Error: Invalid echo command value. Possible values can be: 'on', 'off'. Current value is: '${data}'.`)
        }
        break
      }
      case 'set-output':
      case 'save-state': {
        if (echo) show(line)
        show(`Warning: ${DEPRECATED_COMMAND(name)}`)
        const key = command.properties.name
        if (key === undefined || key === '') {
          show(`Error: Unable to process command '${line}' successfully.`)
          show(`Error: Required field 'name' is missing in ##[${name}] command.`)
          break
        }
        if (name === 'set-output') outputs[key] = data
        else state[key] = data
        break
      }
      case 'set-env':
      case 'add-path':
        if (echo) show(line)
        show(`Error: Unable to process command '${line}' successfully.`)
        show(`Error: ${DISABLED_COMMAND(name)}`)
        break
      default: // add-matcher, remove-matcher: processed (problem matchers are not emulated), nothing shown
        if (echo) show(line)
    }
  }
  return { log: out.join('\n') + (trailingNewline ? '\n' : ''), masked, outputs, state }
}

/**
 * The secrets (non-empty) that a run printed: anywhere in stderr, the step summary or the log as
 * the runner displays it (`run.log`: a secret shown there is a leak whatever the rules below say,
 * e.g. an `::add-mask::` line displayed raw after `##[stop-commands]`), or in a stdout line other
 * than an `::add-mask::` line. With `{ afterMask: 'allowed' }`, stdout lines after the line that
 * masks the secret do not count (the runner shows them as ***); a stdout line before that line
 * always counts.
 */
export function leakedSecrets(run: ActionRun, secrets: string[], options: { afterMask?: 'leak' | 'allowed' } = {}): string[] {
  const lines = run.stdout.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
  const isMaskLine = (line: string) => /^::add-mask::/i.test(line)
  const leaked: string[] = []
  for (const secret of new Set(secrets)) {
    if (secret === '') continue
    if (run.stderr.includes(secret) || run.summary.includes(secret) || run.log.includes(secret)) {
      leaked.push(secret)
      continue
    }
    const maskedAt = lines.findIndex(
      (l) => isMaskLine(l) && maskVariants(unescapeCommandData(l.slice('::add-mask::'.length))).includes(secret)
    )
    const printed = lines.some((line, i) => {
      if (isMaskLine(line) || !line.includes(secret)) return false
      if (options.afterMask === 'allowed') return maskedAt < 0 || i < maskedAt
      return true
    })
    // A multi-line secret cannot sit within one line: look at the whole text too.
    const spansLines =
      /[\r\n]/.test(secret) &&
      run.stdout
        .split(/^::add-mask::.*$/m)
        .join('')
        .includes(secret)
    if (printed || (spansLines && options.afterMask !== 'allowed')) leaked.push(secret)
  }
  return leaked
}

// ---------------------------------------------------------------------------------------------
// running

let runSeq = 0

/**
 * With ACTION_MESSAGES_LOG set (scripts/test.sh sets it), every `Error:` and `Warning:` line a run
 * showed is appended there as a JSON line: the messages the tests made the action produce, which
 * the docs check matches against the troubleshooting tables (scripts/docs.ts).
 */
function recordMessages(log: string): void {
  const file = process.env.ACTION_MESSAGES_LOG
  if (!file) return
  const lines = log
    .split('\n')
    .filter((line) => line.startsWith('Error: ') || line.startsWith('Warning: '))
    .map((line) => `${JSON.stringify({ kind: line.startsWith('Error') ? 'error' : 'warning', text: line.replace(/^\w+: /, '') })}\n`)
  if (lines.length > 0) appendFileSync(file, lines.join(''))
}

export async function runAction(opts: RunOptions): Promise<ActionRun> {
  const entry = opts.entry ?? DEFAULT_ENTRY
  const node = opts.node ?? process.execPath
  const timeoutMs = opts.timeoutMs ?? 60_000
  const jobToken = opts.jobToken ?? DEMO_JOB_TOKEN
  const event = opts.event ?? { name: 'workflow_dispatch' }
  const dir = await mkdtemp(join(tmpdir(), 'gha-run-'))
  try {
    const files = {
      GITHUB_OUTPUT: join(dir, 'file_commands', 'output'),
      GITHUB_STATE: join(dir, 'file_commands', 'state'),
      GITHUB_ENV: join(dir, 'file_commands', 'env'),
      GITHUB_PATH: join(dir, 'file_commands', 'path'),
      GITHUB_STEP_SUMMARY: join(dir, 'file_commands', 'step_summary'),
      GITHUB_EVENT_PATH: join(dir, 'workflow', 'event.json')
    }
    const runnerTemp = join(dir, 'temp')
    const workspace = join(dir, 'work', 'crm-sync', 'crm-sync')
    await Promise.all([
      mkdir(join(dir, 'file_commands'), { recursive: true }),
      mkdir(join(dir, 'workflow'), { recursive: true }),
      mkdir(runnerTemp, { recursive: true }),
      mkdir(workspace, { recursive: true })
    ])
    await Promise.all([
      writeFile(files.GITHUB_OUTPUT, ''),
      writeFile(files.GITHUB_STATE, ''),
      writeFile(files.GITHUB_ENV, ''),
      writeFile(files.GITHUB_PATH, ''),
      writeFile(files.GITHUB_STEP_SUMMARY, ''),
      writeFile(files.GITHUB_EVENT_PATH, JSON.stringify(event.payload ?? {}))
    ])

    runSeq += 1
    const runId = String(9_000_000_000 + runSeq)
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: process.env.HOME ?? homedir(),
      ...(process.env.NODE_V8_COVERAGE ? { NODE_V8_COVERAGE: process.env.NODE_V8_COVERAGE } : {}),
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_ACTION: 'rotate',
      GITHUB_ACTOR: 'acme-bot',
      GITHUB_API_URL: UNREACHABLE_API_URL,
      GITHUB_GRAPHQL_URL: `${UNREACHABLE_API_URL}/graphql`,
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_EVENT_NAME: event.name,
      GITHUB_JOB: 'rotate',
      GITHUB_REF: 'refs/heads/main',
      GITHUB_REF_NAME: 'main',
      GITHUB_REPOSITORY: 'acme/crm-sync',
      GITHUB_REPOSITORY_ID: '700001',
      GITHUB_REPOSITORY_OWNER: 'acme',
      GITHUB_RETENTION_DAYS: '90',
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_RUN_ID: runId,
      GITHUB_RUN_NUMBER: String(runSeq),
      GITHUB_SHA: '0000000000000000000000000000000000000000',
      GITHUB_WORKFLOW: DEFAULT_WORKFLOW.name,
      GITHUB_WORKSPACE: workspace,
      RUNNER_ARCH: 'X64',
      RUNNER_ENVIRONMENT: 'github-hosted',
      RUNNER_NAME: 'sandbox-runner',
      RUNNER_OS: 'Linux',
      RUNNER_TEMP: runnerTemp,
      ...files,
      ...opts.env
    }
    // The running workflow file, as the runner names it: it follows GITHUB_REPOSITORY and GITHUB_REF when a test changes them.
    env.GITHUB_WORKFLOW_REF ??= `${env.GITHUB_REPOSITORY}/${DEFAULT_WORKFLOW.path}@${env.GITHUB_REF}`

    let unexpectedInputs: string[] = []
    const actionYml = opts.actionYml === undefined ? DEFAULT_ACTION_YML : opts.actionYml
    if (actionYml !== false && existsSync(actionYml)) {
      const { declared, defaults } = readInputDefaults(readFileSync(actionYml, 'utf8'))
      for (const [name, value] of Object.entries(defaults)) {
        if (!(name in opts.inputs)) env[inputEnvName(name)] = evaluateDefault(value, env, jobToken)
      }
      const known = new Set(declared.map((n) => n.toLowerCase()))
      unexpectedInputs = Object.keys(opts.inputs).filter((n) => !known.has(n.toLowerCase()))
    }
    for (const [name, value] of Object.entries(opts.inputs)) env[inputEnvName(name)] = value

    const started = performance.now()
    const child = spawn(node, [entry], { cwd: workspace, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')

    const timers: NodeJS.Timeout[] = []
    const specs = opts.signal === undefined ? [] : Array.isArray(opts.signal) ? opts.signal : [opts.signal]
    const pendingWhen = new Set<SignalSpec & { when: (s: string) => boolean }>()
    for (const spec of specs) {
      if ('afterMs' in spec) timers.push(setTimeout(() => child.kill(spec.name), spec.afterMs))
      else pendingWhen.add(spec)
    }
    // The runner's cancel sequence (ProcessInvoker.CancelAndKillProcessTree).
    let killed = false
    let cancelling = false
    const cancelTimers = new Set<NodeJS.Timeout>()
    const exited = () => child.exitCode !== null || child.signalCode !== null
    const later = (ms: number, action: () => void) => {
      const timer = setTimeout(() => {
        cancelTimers.delete(timer)
        if (!exited()) action()
      }, ms)
      cancelTimers.add(timer)
    }
    const clearCancelTimers = () => {
      for (const timer of cancelTimers) clearTimeout(timer)
      cancelTimers.clear()
    }
    child.once('exit', clearCancelTimers)
    const checkCancel = () => {
      if (cancelling || !opts.cancel || !opts.cancel.when(stdout)) return
      cancelling = true
      const { sigtermAfterMs = RUNNER_SIGINT_TIMEOUT_MS, killAfterMs = RUNNER_SIGTERM_TIMEOUT_MS } = opts.cancel
      child.kill('SIGINT')
      later(sigtermAfterMs, () => {
        child.kill('SIGTERM')
        later(killAfterMs, () => {
          killed = true
          child.kill('SIGKILL')
        })
      })
    }
    checkCancel()

    child.stdout.on('data', (chunk: string) => {
      stdout += chunk
      for (const spec of pendingWhen) {
        if (spec.when(stdout)) {
          pendingWhen.delete(spec)
          child.kill(spec.name)
        }
      }
      checkCancel()
    })
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk
    })

    let timedOut = false
    const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      timers.push(
        setTimeout(() => {
          timedOut = true
          child.kill('SIGKILL')
        }, timeoutMs)
      )
      child.once('error', reject)
      child.once('close', (code, signal) => resolve({ code, signal }))
    }).finally(() => {
      for (const timer of timers) clearTimeout(timer)
      clearCancelTimers()
    })
    const durationMs = performance.now() - started
    if (timedOut) {
      throw new Error(
        `runAction: the action did not finish within ${timeoutMs} ms and was killed.\n--- stdout ---\n${stdout.slice(-4000)}\n--- stderr ---\n${stderr.slice(-4000)}`
      )
    }

    const [outputText, stateText, envText, summary] = await Promise.all([
      readFile(files.GITHUB_OUTPUT, 'utf8'),
      readFile(files.GITHUB_STATE, 'utf8'),
      readFile(files.GITHUB_ENV, 'utf8'),
      readFile(files.GITHUB_STEP_SUMMARY, 'utf8')
    ])
    const rendered = renderLog(stdout, { preMasked: [jobToken] })
    const run: ActionRun = {
      code: result.code,
      signal: result.signal,
      stdout,
      stderr,
      durationMs,
      // The runner applies file commands after the step, so they win over `set-output` commands.
      outputs: { ...rendered.outputs, ...parseFileCommands(outputText) },
      summary,
      masked: rendered.masked,
      log: rendered.log,
      state: { ...rendered.state, ...parseFileCommands(stateText) },
      exportedEnv: parseFileCommands(envText),
      unexpectedInputs,
      env,
      killed
    }
    if (opts.keepTemp) run.dir = dir
    recordMessages(run.log)
    return run
  } finally {
    if (!opts.keepTemp) await rm(dir, { recursive: true, force: true })
  }
}
