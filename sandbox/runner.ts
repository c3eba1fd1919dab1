/**
 * Runs the bundled action (dist/index.js) the way a GitHub-hosted runner runs a `node24` action.
 *
 * Emulates: a fresh temp directory per run with the file-command files (GITHUB_OUTPUT,
 * GITHUB_STATE, GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY), RUNNER_TEMP, GITHUB_WORKSPACE
 * (the child's cwd) and GITHUB_EVENT_PATH (`{}`); the runner's default variables; inputs as
 * `INPUT_<NAME>` (spaces → '_', upper-cased, dashes kept), with the defaults declared in
 * action.yml applied to inputs not given (like the runner does); a clean environment (PATH, HOME,
 * the runner's variables, `env`, inputs — nothing else of the parent's, in particular no INPUT_* /
 * GITHUB_* / ACTIONS_*; NODE_V8_COVERAGE alone is passed through so that c8 can measure the
 * child); the runner's parsing of file commands (heredoc and `name=value`) and its log display
 * (masking from the `::add-mask::` line on, `::debug::`/`::warning::`/`::error::`/`::notice::`
 * rendering, `::stop-commands::`); cancellation signals.
 *
 * Safety: GITHUB_API_URL and GITHUB_GRAPHQL_URL default to http://127.0.0.1:65535 (connection
 * refused) instead of api.github.com, so a test that forgets to point the action at the sandbox
 * fails fast instead of calling the real GitHub. Pass `env.GITHUB_API_URL` (e.g. `github.url`).
 *
 * Deliberately not emulated: docker/composite actions, `pre`/`post` steps, the runner's masking
 * of encoded variants beyond JSON- and URI-escaping, workflow commands on stderr (stderr is
 * returned raw), `::echo::`, expression evaluation in action.yml defaults beyond
 * `${{ github.* }}` / `${{ runner.* }}` / `${{ env.* }}` lookups of the environment built here.
 *
 * Default entry: resolved relative to this file's compiled location, .build/sandbox/runner.js →
 * ../../dist/index.js (the project root's dist/index.js), independent of process.cwd();
 * action.yml likewise (../../action.yml).
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The project root, from this file's compiled location (.build/sandbox/runner.js). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url))
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
}

export interface ActionRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  durationMs: number
  /** From GITHUB_OUTPUT (heredoc and name=value). */
  outputs: Record<string, string>
  /** GITHUB_STEP_SUMMARY content. */
  summary: string
  /** Values of the `::add-mask::` lines in stdout, unescaped, in order. */
  masked: string[]
  /** stdout as the runner displays it. */
  log: string
  /** From GITHUB_STATE (core.saveState). */
  state: Record<string, string>
  /** From GITHUB_ENV (core.exportVariable). */
  exportedEnv: Record<string, string>
  /** Inputs given that action.yml does not declare (the runner warns "Unexpected input(s)"). */
  unexpectedInputs: string[]
  /** The environment the action started with. */
  env: Record<string, string>
  /** The temp directory, when keepTemp. */
  dir?: string
}

/** Exactly the runner's (and @actions/core's) variable name for an input. */
export function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`
}

/** Unescapes workflow-command data (%25, %0D, %0A), as the runner does. */
export function unescapeCommandData(data: string): string {
  return data.replace(/%0D/gi, '\r').replace(/%0A/gi, '\n').replace(/%25/g, '%')
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
// action.yml input defaults (a minimal YAML reader for the `inputs:` block)

function unquoteYamlScalar(raw: string): string {
  const text = raw.trim()
  if (text.startsWith("'")) {
    const end = text.lastIndexOf("'")
    return text.slice(1, end > 0 ? end : undefined).replace(/''/g, "'")
  }
  if (text.startsWith('"')) {
    const end = text.lastIndexOf('"')
    const inner = text.slice(0, end > 0 ? end + 1 : undefined)
    try {
      return JSON.parse(inner) as string
    } catch {
      return inner.slice(1, -1)
    }
  }
  return text.replace(/\s+#.*$/, '')
}

const indentOf = (line: string): number => line.length - line.trimStart().length

/** `default:` of every input in the `inputs:` mapping of an action.yml (plain, quoted, | and > scalars). */
export function readInputDefaults(yaml: string): { declared: string[]; defaults: Record<string, string> } {
  const lines = yaml.split(/\r?\n/)
  const declared: string[] = []
  const defaults: Record<string, string> = {}
  const start = lines.findIndex((l) => /^inputs:\s*(#.*)?$/.test(l))
  if (start < 0) return { declared, defaults }
  let inputIndent = -1
  let current: string | undefined
  let propIndent = -1
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue
    const indent = indentOf(line)
    if (indent === 0) break
    if (inputIndent < 0) inputIndent = indent
    if (indent === inputIndent) {
      const match = /^\s*("[^"]*"|'[^']*'|[^:#]+?)\s*:\s*(#.*)?$/.exec(line)
      current = match?.[1] !== undefined ? unquoteYamlScalar(match[1]) : undefined
      if (current !== undefined) declared.push(current)
      propIndent = -1
      continue
    }
    if (current === undefined || indent < inputIndent) continue
    if (propIndent < 0) propIndent = indent
    if (indent !== propIndent) continue
    const prop = /^\s*default\s*:\s?(.*)$/.exec(line)
    if (!prop) continue
    const value = (prop[1] ?? '').trim()
    const block = /^([|>])([+-]?)\s*(#.*)?$/.exec(value)
    if (!block) {
      defaults[current] = unquoteYamlScalar(value)
      continue
    }
    const body: string[] = []
    let blockIndent = -1
    while (i + 1 < lines.length) {
      const next = lines[i + 1] ?? ''
      if (next.trim() !== '' && indentOf(next) <= propIndent) break
      i += 1
      if (next.trim() !== '' && blockIndent < 0) blockIndent = indentOf(next)
      body.push(next.trim() === '' ? '' : next.slice(Math.max(0, blockIndent)))
    }
    while (body.length > 0 && body[body.length - 1] === '') body.pop()
    let text = block[1] === '|' ? body.join('\n') : body.join('\n').replace(/([^\n])\n(?=[^\n])/g, '$1 ')
    if (block[2] !== '-' && text !== '') text += '\n'
    defaults[current] = text
  }
  return { declared, defaults }
}

function evaluateDefault(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{\{\s*([a-z_]+)\.([A-Za-z0-9_]+)\s*\}\}/g, (_all, context: string, name: string) => {
    if (context === 'github') return env[`GITHUB_${name.toUpperCase()}`] ?? ''
    if (context === 'runner') return env[`RUNNER_${name.toUpperCase()}`] ?? ''
    if (context === 'env') return env[name] ?? ''
    return ''
  })
}

// ---------------------------------------------------------------------------------------------
// the runner's log display

const COMMAND = /^::([A-Za-z][A-Za-z0-9-]*)(?:\s+([^]*?))?::([^]*)$/

function maskVariants(value: string): string[] {
  const variants = new Set<string>([value])
  if (/[\r\n]/.test(value)) for (const line of value.split(/\r?\n/)) if (line.trim() !== '') variants.add(line)
  variants.add(JSON.stringify(value).slice(1, -1))
  variants.add(encodeURIComponent(value))
  return [...variants].filter((v) => v !== '')
}

/** stdout → what the runner shows, and the masked values (in order). */
export function renderLog(stdout: string): { log: string; masked: string[] } {
  const masked: string[] = []
  let patterns: string[] = []
  const mask = (text: string): string => {
    let out = text
    for (const p of patterns) out = out.split(p).join('***')
    return out
  }
  const lines = stdout.split('\n')
  const trailingNewline = lines.length > 1 && lines[lines.length - 1] === ''
  if (trailingNewline) lines.pop()
  const out: string[] = []
  let stopToken: string | undefined
  for (const rawLine of lines) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine
    if (stopToken !== undefined) {
      if (line === `::${stopToken}::`) stopToken = undefined
      else out.push(mask(line))
      continue
    }
    const command = COMMAND.exec(line)
    if (!command) {
      out.push(mask(line))
      continue
    }
    const name = (command[1] ?? '').toLowerCase()
    const data = unescapeCommandData(command[3] ?? '')
    switch (name) {
      case 'add-mask':
        if (data.trim() !== '') {
          masked.push(data)
          patterns = [...new Set([...patterns, ...maskVariants(data)])].sort((a, b) => b.length - a.length)
        }
        break
      case 'debug':
        out.push(mask(`Debug: ${data}`))
        break
      case 'warning':
        out.push(mask(`Warning: ${data}`))
        break
      case 'error':
        out.push(mask(`Error: ${data}`))
        break
      case 'notice':
        out.push(mask(`Notice: ${data}`))
        break
      case 'stop-commands':
        stopToken = data
        break
      default: // ::group::, ::endgroup::, unknown commands: shown as they are
        out.push(mask(line))
    }
  }
  return { log: out.join('\n') + (trailingNewline ? '\n' : ''), masked }
}

/**
 * The secrets (non-empty) that a run printed: anywhere in stderr or the step summary, or in a
 * stdout line other than an `::add-mask::` line. With `{ afterMask: 'allowed' }`, stdout lines
 * after the line that masks the secret do not count (the runner shows them as ***); a stdout line
 * before that line always counts.
 */
export function leakedSecrets(run: ActionRun, secrets: string[], options: { afterMask?: 'leak' | 'allowed' } = {}): string[] {
  const lines = run.stdout.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
  const isMaskLine = (line: string) => /^::add-mask::/i.test(line)
  const leaked: string[] = []
  for (const secret of new Set(secrets)) {
    if (secret === '') continue
    if (run.stderr.includes(secret) || run.summary.includes(secret)) {
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

export async function runAction(opts: RunOptions): Promise<ActionRun> {
  const entry = opts.entry ?? DEFAULT_ENTRY
  const node = opts.node ?? process.execPath
  const timeoutMs = opts.timeoutMs ?? 60_000
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
      writeFile(files.GITHUB_EVENT_PATH, '{}')
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
      GITHUB_EVENT_NAME: 'workflow_dispatch',
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
      GITHUB_WORKFLOW: 'Rotate amoCRM token',
      GITHUB_WORKSPACE: workspace,
      RUNNER_ARCH: 'X64',
      RUNNER_ENVIRONMENT: 'github-hosted',
      RUNNER_NAME: 'sandbox-runner',
      RUNNER_OS: 'Linux',
      RUNNER_TEMP: runnerTemp,
      ...files,
      ...opts.env
    }

    let unexpectedInputs: string[] = []
    const actionYml = opts.actionYml === undefined ? DEFAULT_ACTION_YML : opts.actionYml
    if (actionYml !== false && existsSync(actionYml)) {
      const { declared, defaults } = readInputDefaults(readFileSync(actionYml, 'utf8'))
      for (const [name, value] of Object.entries(defaults)) {
        if (!(name in opts.inputs)) env[inputEnvName(name)] = evaluateDefault(value, env)
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
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk
      for (const spec of pendingWhen) {
        if (spec.when(stdout)) {
          pendingWhen.delete(spec)
          child.kill(spec.name)
        }
      }
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
    const { log, masked } = renderLog(stdout)
    const run: ActionRun = {
      code: result.code,
      signal: result.signal,
      stdout,
      stderr,
      durationMs,
      outputs: parseFileCommands(outputText),
      summary,
      masked,
      log,
      state: parseFileCommands(stateText),
      exportedEnv: parseFileCommands(envText),
      unexpectedInputs,
      env
    }
    if (opts.keepTemp) run.dir = dir
    return run
  } finally {
    if (!opts.keepTemp) await rm(dir, { recursive: true, force: true })
  }
}
