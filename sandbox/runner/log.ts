/**
 * The runner's log display: stdout as a GitHub-hosted runner shows it in the job's log, with the
 * workflow commands it processes in either syntax (masks, messages, groups, echo, outputs and
 * state, stop-commands); `renderLog` gives the rules.
 *
 * Sources: actions/runner's src/Runner.Common/ActionCommand.cs (parsing and unescaping),
 * src/Runner.Worker/ActionCommandManager.cs (the registered commands, stop-commands, echo, the
 * messages quoted here) and src/Runner.Worker/Handlers/OutputManager.cs (lines, the markers).
 */

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
interface ParsedCommand {
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
function parseWorkflowCommand(line: string, registered: Iterable<string> = REGISTERED_COMMANDS): ParsedCommand | undefined {
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

/**
 * What masking a value hides: the value, each of its lines (as is and trimmed) when it has several,
 * and its JSON- and URI-escaped forms.
 */
export function maskVariants(value: string): string[] {
  const variants = new Set<string>([value])
  if (/[\r\n]/.test(value)) {
    for (const line of value.split(/\r?\n/)) if (line.trim() !== '') variants.add(line)
    for (const line of value.split(/[\r\n]/)) if (line.trim() !== '') variants.add(line.trim())
  }
  variants.add(JSON.stringify(value).slice(1, -1))
  variants.add(encodeURIComponent(value))
  return [...variants].filter((v) => v !== '')
}

interface RenderedLog {
  /** stdout as the runner displays it. */
  log: string
  /** Values of the processed `add-mask` commands (either syntax), unescaped, in order. */
  masked: string[]
  /** Outputs set by processed `set-output` commands (either syntax). */
  outputs: Record<string, string>
  /** State saved by processed `save-state` commands (either syntax). */
  state: Record<string, string>
}

/** What the display knows while it reads stdout, and how it shows a line. */
interface Display {
  /** The lines shown so far. */
  readonly out: string[]
  readonly masked: string[]
  readonly outputs: Record<string, string>
  readonly state: Record<string, string>
  /** The names that parse as commands: REGISTERED_COMMANDS, and the stop token while commands are stopped. */
  readonly registered: Set<string>
  /** Set while commands are stopped (`stop-commands`). */
  stopToken: string | undefined
  /** `echo on`: processed commands are shown too. */
  echo: boolean
  /** Masks the value and its variants (maskVariants) from the next line on. */
  addMask(value: string): void
  /** Shows a line, masked. */
  show(text: string): void
  /** Shows output that is not a processed command: masked, the runner's own markers broken (OutputManager). */
  showPlain(text: string): void
}

function createDisplay(preMasked: string[]): Display {
  const out: string[] = []
  let patterns: string[] = []
  const mask = (text: string): string => {
    let masked = text
    for (const p of patterns) masked = masked.split(p).join('***')
    return masked
  }
  const display: Display = {
    out,
    masked: [],
    outputs: {},
    state: {},
    registered: new Set(REGISTERED_COMMANDS),
    stopToken: undefined,
    echo: false,
    addMask(value) {
      patterns = [...new Set([...patterns, ...maskVariants(value)])].sort((a, b) => b.length - a.length)
    },
    show(text) {
      out.push(mask(text))
    },
    showPlain(text) {
      display.show(text.replace(/##\[start-action/g, '##[\\start-action').replace(/##\[end-action/g, '##[\\end-action'))
    }
  }
  for (const value of preMasked) if (value.trim() !== '') display.addMask(value)
  return display
}

/** StreamReader.ReadLine: \r\n, \r and \n all end a line; the end of the last line adds none. */
function readLines(stdout: string): { lines: string[]; trailingNewline: boolean } {
  const lines = stdout.split(/\r\n|\r|\n/)
  const trailingNewline = lines.length > 1 && lines[lines.length - 1] === ''
  if (trailingNewline) lines.pop()
  return { lines, trailingNewline }
}

/** What the runner does with a processed command: `line` as written, `command` as parsed. */
type CommandHandler = (display: Display, line: string, command: ParsedCommand) => void

/** ValidateStopToken, then: commands stop until the token comes back; a long token is masked. */
const stopCommands: CommandHandler = (display, line, { data: token }) => {
  const lower = token.toLowerCase()
  if (token === '' || lower === 'pause-logging' || [...display.registered].some((r) => r.toLowerCase() === lower)) {
    // ValidateStopToken throws: the runner fails the step with this message; commands go on.
    display.show(`Error: ${STOP_TOKEN_REFUSED}`)
    return
  }
  display.stopToken = token
  display.registered.add(token)
  if (token.length > 6) display.addMask(token)
  display.show(line)
}

const addMask: CommandHandler = (display, _line, { data }) => {
  if (data.trim() === '') {
    display.show("Warning: Can't add secret mask for empty string in ##[add-mask] command.")
    return
  }
  // Echoed as the runner echoes it: the value already hidden, nothing else masked.
  if (display.echo) display.out.push('::add-mask::***')
  display.masked.push(data)
  display.addMask(data)
}

/** `debug`, `warning`, `error`, `notice`: the data after the label. */
const message =
  (label: string): CommandHandler =>
  (display, _line, { data }) =>
    display.show(`${label}: ${data}`)

/** `group` and `endgroup`: the runner's own marker. */
const groupMarker =
  (marker: (data: string) => string): CommandHandler =>
  (display, line, { data }) => {
    if (display.echo) display.show(line)
    display.show(marker(data))
  }

const echo: CommandHandler = (display, line, { data }) => {
  if (display.echo) display.show(line)
  const value = data.trim().toUpperCase()
  if (value === 'ON') display.echo = true
  else if (value === 'OFF') display.echo = false
  else {
    display.show(`Error: Unable to process command '${line}' successfully.`)
    display.show(`Error: Invalid echo command value. Possible values can be: 'on', 'off'. Current value is: '${data}'.`)
  }
}

/** `set-output` and `save-state`: deprecated, still honoured (file commands win, see runner.ts). */
const setOutputOrState: CommandHandler = (display, line, { command, properties, data }) => {
  const name = command.toLowerCase()
  if (display.echo) display.show(line)
  display.show(`Warning: ${DEPRECATED_COMMAND(name)}`)
  const key = properties.name
  if (key === undefined || key === '') {
    display.show(`Error: Unable to process command '${line}' successfully.`)
    display.show(`Error: Required field 'name' is missing in ##[${name}] command.`)
    return
  }
  if (name === 'set-output') display.outputs[key] = data
  else display.state[key] = data
}

/** `set-env` and `add-path`: disabled, with the runner's two errors. */
const refuseDisabled: CommandHandler = (display, line, { command }) => {
  if (display.echo) display.show(line)
  display.show(`Error: Unable to process command '${line}' successfully.`)
  display.show(`Error: ${DISABLED_COMMAND(command.toLowerCase())}`)
}

/** `add-matcher`, `remove-matcher`: processed (problem matchers are not emulated), nothing shown. */
const consumeMatcher: CommandHandler = (display, line) => {
  if (display.echo) display.show(line)
}

const COMMAND_HANDLERS: Readonly<Record<string, CommandHandler>> = {
  'stop-commands': stopCommands,
  'add-mask': addMask,
  debug: message('Debug'),
  warning: message('Warning'),
  error: message('Error'),
  notice: message('Notice'),
  group: groupMarker((data) => `##[group]${data}`),
  endgroup: groupMarker(() => '##[endgroup]'),
  echo,
  'set-output': setOutputOrState,
  'save-state': setOutputOrState,
  'set-env': refuseDisabled,
  'add-path': refuseDisabled,
  'add-matcher': consumeMatcher,
  'remove-matcher': consumeMatcher
}

/**
 * While commands are stopped: the command named like the token is shown and resumes processing;
 * any other line is shown as it is, not processed (with the masks known so far).
 */
function whileStopped(display: Display, stopToken: string, line: string, command: ParsedCommand): void {
  if (command.command.toLowerCase() !== stopToken.toLowerCase()) {
    display.showPlain(line)
    return
  }
  display.show(line)
  display.registered.delete(stopToken)
  display.stopToken = undefined
}

/** One line of stdout: output, a processed command, or (commands stopped) shown as it is. */
function renderLine(display: Display, line: string): void {
  const command = line !== '' && (line.includes('##[') || line.includes('::')) ? parseWorkflowCommand(line, display.registered) : undefined
  if (!command) display.showPlain(line)
  else if (display.stopToken !== undefined) whileStopped(display, display.stopToken, line, command)
  else (COMMAND_HANDLERS[command.command.toLowerCase()] ?? consumeMatcher)(display, line, command)
}

/**
 * stdout → what the runner shows, line by line, like OutputManager.OnDataReceived and
 * ActionCommandManager.TryProcessCommand. `preMasked`: values masked from the first line on (the
 * runner masks the job's token and the secrets of the job message before the step starts).
 *
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
 */
export function renderLog(stdout: string, options: { preMasked?: string[] } = {}): RenderedLog {
  const display = createDisplay(options.preMasked ?? [])
  const { lines, trailingNewline } = readLines(stdout)
  for (const line of lines) renderLine(display, line)
  const { out, masked, outputs, state } = display
  return { log: out.join('\n') + (trailingNewline ? '\n' : ''), masked, outputs, state }
}
