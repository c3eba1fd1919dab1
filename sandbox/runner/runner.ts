/**
 * The emulated runner: runs the bundled action (dist/index.js) the way a GitHub-hosted runner runs
 * a `node24` action — a fresh directory (file-commands.ts), the runner's environment, the inputs
 * with action.yml's defaults (inputs.ts), signals and the cancel sequence — and shows its stdout
 * as the runner's log does (log.ts). What it emulates and what it deliberately does not:
 * test/README.md, the stand-ins table.
 *
 * Safety: GITHUB_API_URL and GITHUB_GRAPHQL_URL default to http://127.0.0.1:65535 (connection
 * refused) instead of api.github.com, so a test that forgets to point the action at the sandbox
 * fails fast instead of calling the real GitHub. Pass `env.GITHUB_API_URL` (e.g. `github.url`).
 *
 * PROJECT_ROOT, and with it the default entry (dist/index.js) and action.yml, is resolved from
 * this file's compiled location (.build/sandbox/runner/runner.js → ../../../), not process.cwd().
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_WORKFLOW } from '../standins/github/events.js'
import { DEMO_JOB_TOKEN } from '../standins/tokens.js'
import { prepareRunDirectory, readFileCommands, type RunDirectory } from './file-commands.js'
import { applyInputs } from './inputs.js'
import { maskVariants, renderLog, unescapeCommandData } from './log.js'

/** The project root, from this file's compiled location (.build/sandbox/runner/runner.js). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const DEFAULT_ENTRY = join(PROJECT_ROOT, 'dist', 'index.js')
const DEFAULT_ACTION_YML = join(PROJECT_ROOT, 'action.yml')
/** Where GITHUB_API_URL points unless `env` says otherwise: nothing listens there. */
const UNREACHABLE_API_URL = 'http://127.0.0.1:65535'

type SignalSpec = { name: NodeJS.Signals; when: (stdoutSoFar: string) => boolean } | { name: NodeJS.Signals; afterMs: number }

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
  /** The value of `${{ github.token }}` in action.yml defaults; default DEMO_JOB_TOKEN. Never put in the environment; masked in the log from the start. */
  jobToken?: string
  /** GITHUB_EVENT_NAME and the content of GITHUB_EVENT_PATH; default `workflow_dispatch` with `{}`. */
  event?: { name: string; payload?: unknown }
  /** Measure the process's peak resident memory (`maxRssKiB`): node's own count, written as it exits. */
  measureMemory?: boolean
}

/** ProcessInvoker._sigintTimeout: SIGTERM this long after SIGINT. */
const RUNNER_SIGINT_TIMEOUT_MS = 7500
/** ProcessInvoker._sigtermTimeout: SIGKILL this long after SIGTERM. */
const RUNNER_SIGTERM_TIMEOUT_MS = 2500

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
  /** With `measureMemory`: the process's peak resident set size (KiB), as node counted it at exit. */
  maxRssKiB?: number
  /** True when the cancel sequence (`cancel`) ended with SIGKILL. */
  killed: boolean
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

/**
 * The environment the action starts with: PATH and HOME of this process (and NODE_V8_COVERAGE, for
 * c8), the runner's default variables for a run laid out in `run`, then `overrides` (RunOptions.env).
 * GITHUB_WORKFLOW_REF follows GITHUB_REPOSITORY and GITHUB_REF unless `overrides` names it.
 */
function runnerEnvironment(run: RunDirectory, eventName: string, overrides: Record<string, string> | undefined): Record<string, string> {
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
    GITHUB_EVENT_NAME: eventName,
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
    GITHUB_WORKSPACE: run.workspace,
    RUNNER_ARCH: 'X64',
    RUNNER_ENVIRONMENT: 'github-hosted',
    RUNNER_NAME: 'sandbox-runner',
    RUNNER_OS: 'Linux',
    RUNNER_TEMP: run.runnerTemp,
    ...run.files,
    ...overrides
  }
  // The running workflow file, as the runner names it (GitHub's "Variables reference":
  // `octocat/hello-world/.github/workflows/my-workflow.yml@refs/heads/my_branch`): it follows
  // GITHUB_REPOSITORY and GITHUB_REF when a test changes them.
  env.GITHUB_WORKFLOW_REF ??= `${env.GITHUB_REPOSITORY}/${DEFAULT_WORKFLOW.path}@${env.GITHUB_REF}`
  return env
}

/** Sends each signal of `signal` once: after its delay, or when stdout so far meets its condition (`onStdout`). */
function scheduleSignals(child: ChildProcess, signal: RunOptions['signal']): { timers: NodeJS.Timeout[]; onStdout(stdout: string): void } {
  const timers: NodeJS.Timeout[] = []
  const specs = signal === undefined ? [] : Array.isArray(signal) ? signal : [signal]
  const pendingWhen = new Set<SignalSpec & { when: (s: string) => boolean }>()
  for (const spec of specs) {
    if ('afterMs' in spec) timers.push(setTimeout(() => child.kill(spec.name), spec.afterMs))
    else pendingWhen.add(spec)
  }
  return {
    timers,
    onStdout(stdout) {
      for (const spec of pendingWhen) {
        if (spec.when(stdout)) {
          pendingWhen.delete(spec)
          child.kill(spec.name)
        }
      }
    }
  }
}

/**
 * The runner's cancel sequence, started by the first `check(stdout so far)` that `cancel.when`
 * accepts: SIGINT, SIGTERM `sigtermAfterMs` later and SIGKILL `killAfterMs` after that, each only
 * while the process has not exited. Its timers go when the process exits or on `clear()`.
 * From actions/runner's src/Runner.Sdk/ProcessInvoker.cs, CancelAndKillProcessTree
 * (src/Runner.Common/ProcessInvoker.cs only wraps it): SIGINT, SIGTERM if the process has not
 * exited within `_sigintTimeout` = 7500 ms, KillProcessTree (Process.Kill: SIGKILL on Linux) if
 * not within `_sigtermTimeout` = 2500 ms; here only the action's process is signalled.
 */
function cancelSequence(
  child: ChildProcess,
  cancel: RunOptions['cancel']
): { check(stdout: string): void; clear(): void; readonly killed: boolean } {
  let killed = false
  let cancelling = false
  const timers = new Set<NodeJS.Timeout>()
  const exited = () => child.exitCode !== null || child.signalCode !== null
  const later = (ms: number, action: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      if (!exited()) action()
    }, ms)
    timers.add(timer)
  }
  const clear = () => {
    for (const timer of timers) clearTimeout(timer)
    timers.clear()
  }
  child.once('exit', clear)
  return {
    check(stdout) {
      if (cancelling || !cancel || !cancel.when(stdout)) return
      cancelling = true
      const { sigtermAfterMs = RUNNER_SIGINT_TIMEOUT_MS, killAfterMs = RUNNER_SIGTERM_TIMEOUT_MS } = cancel
      child.kill('SIGINT')
      later(sigtermAfterMs, () => {
        child.kill('SIGTERM')
        later(killAfterMs, () => {
          killed = true
          child.kill('SIGKILL')
        })
      })
    },
    clear,
    get killed() {
      return killed
    }
  }
}

/** How the action's process ended, and what it printed. */
interface ProcessResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  durationMs: number
  killed: boolean
}

/**
 * Starts the action's process in `cwd` with `env` and waits until it closes, sending the signals
 * and the cancel sequence of `opts`. Past `timeoutMs` (default 60000) it is killed with SIGKILL and
 * this rejects with the end of its stdout and stderr.
 */
async function runProcess(opts: RunOptions, env: Record<string, string>, cwd: string): Promise<ProcessResult> {
  const entry = opts.entry ?? DEFAULT_ENTRY
  const node = opts.node ?? process.execPath
  const timeoutMs = opts.timeoutMs ?? 60_000
  const started = performance.now()
  const preload = opts.measureMemory ? ['--require', await memoryProbe(cwd)] : []
  const child = spawn(node, [...preload, entry], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')

  const signals = scheduleSignals(child, opts.signal)
  const cancel = cancelSequence(child, opts.cancel)
  cancel.check(stdout)
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk
    signals.onStdout(stdout)
    cancel.check(stdout)
  })
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk
  })

  let timedOut = false
  const timers = signals.timers
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
    cancel.clear()
  })
  const durationMs = performance.now() - started
  if (timedOut) {
    throw new Error(
      `runAction: the action did not finish within ${timeoutMs} ms and was killed.\n--- stdout ---\n${stdout.slice(-4000)}\n--- stderr ---\n${stderr.slice(-4000)}`
    )
  }
  return { ...result, stdout, stderr, durationMs, killed: cancel.killed }
}

/** A preload that writes the process's peak RSS (KiB) next to it when the process exits. */
async function memoryProbe(dir: string): Promise<string> {
  const file = join(dir, '..', 'memory-probe.cjs')
  await writeFile(
    file,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(`${file}.rss`)}, String(process.resourceUsage().maxRSS)))\n`
  )
  return file
}

export async function runAction(opts: RunOptions): Promise<ActionRun> {
  const jobToken = opts.jobToken ?? DEMO_JOB_TOKEN
  const event = opts.event ?? { name: 'workflow_dispatch' }
  const dir = await mkdtemp(join(tmpdir(), 'gha-run-'))
  try {
    const runDir = await prepareRunDirectory(dir, event.payload ?? {})
    const env = runnerEnvironment(runDir, event.name, opts.env)
    const unexpectedInputs = applyInputs(env, opts.inputs, opts.actionYml === undefined ? DEFAULT_ACTION_YML : opts.actionYml, jobToken)
    const ended = await runProcess(opts, env, runDir.workspace)
    const files = await readFileCommands(runDir.files)
    const rendered = renderLog(ended.stdout, { preMasked: [jobToken] })
    const run: ActionRun = {
      code: ended.code,
      signal: ended.signal,
      stdout: ended.stdout,
      stderr: ended.stderr,
      durationMs: ended.durationMs,
      // The runner applies file commands after the step, so they win over `set-output` commands.
      outputs: { ...rendered.outputs, ...files.outputs },
      summary: files.summary,
      masked: rendered.masked,
      log: rendered.log,
      state: { ...rendered.state, ...files.state },
      exportedEnv: files.exportedEnv,
      unexpectedInputs,
      env,
      killed: ended.killed
    }
    if (opts.measureMemory) {
      const rss = Number(await readFile(join(runDir.workspace, '..', 'memory-probe.cjs.rss'), 'utf8').catch(() => ''))
      if (rss > 0) run.maxRssKiB = rss
    }
    if (opts.keepTemp) run.dir = dir
    recordMessages(run.log)
    return run
  } finally {
    if (!opts.keepTemp) await rm(dir, { recursive: true, force: true })
  }
}
