/**
 * Wires the action to the runner: inputs, masking, clients, signals, outputs, summary, exit code.
 * The logic lives in the modules it calls; this file is the only one that touches @actions/core.
 */
import { statSync } from 'node:fs'
import * as core from '@actions/core'
import { CancelGuard } from './critical.js'
import { ActionError, errorMessage } from './errors.js'
import { inertOldCommands, SecretRegistry } from './redact.js'
import { createOctokit } from './github-client.js'
import { rawFetchFor } from './http.js'
import { evaluatedInputs, readSettings, SECRET_INPUTS } from './inputs.js'
import type { RetryPolicy } from './retry.js'
import { rotate, storedMark, type ActionIO, type RotationReport } from './rotate.js'
import { readRunTimes } from './run.js'
import { GitHubSecretStore } from './secrets.js'
import { exchangeToken } from './token-endpoint.js'
import { renderEarlyFailure, renderSummary } from './summary.js'

const TOKEN_ENDPOINT_TIMEOUT_MS = 30_000
const GITHUB_TIMEOUT_MS = 20_000
/** The heading of a run that failed before a provider could be built. */
const EARLY_LABELS: Record<string, string> = { amocrm: 'amoCRM', kommo: 'Kommo', bitrix24: 'Bitrix24', oauth2: 'OAuth 2.0' }
/** The run lookup is a check, not a step: it may not hold the run up. */
const RUN_LOOKUP_TIMEOUT_MS = 10_000
/** The longest single wait a retry honours: GitHub's secondary limits ask for a minute or more. */
const MAX_RETRY_WAIT_MS = 120_000

/** The runner writes the event file when the job starts, which is when it reads environment secrets. */
function jobStartedAt(): Date {
  const processStart = Date.now() - process.uptime() * 1000
  const eventPath = process.env.GITHUB_EVENT_PATH
  if (eventPath) {
    try {
      return new Date(Math.min(statSync(eventPath).mtimeMs, processStart))
    } catch {
      // no event file: the process start is the best we know
    }
  }
  return new Date(processStart)
}

function backoffBase(): number {
  // For test rigs and soak runs only (docs/development.md); runners use the default.
  const value = Number(process.env.AMOCRM_TOKEN_ACTION_BACKOFF_MS)
  return Number.isFinite(value) && value >= 0 && process.env.AMOCRM_TOKEN_ACTION_BACKOFF_MS !== '' ? value : 1000
}

/**
 * The run's trigger and address, from @actions/github's context. Loaded only now, after the token
 * is stored, so that it costs nothing on the critical path.
 */
async function runContext(): Promise<{ trigger?: string; runUrl?: string }> {
  try {
    const { context } = await import('@actions/github')
    if (!context.runId || !process.env.GITHUB_REPOSITORY) return {}
    const { owner, repo } = context.repo
    return { trigger: context.eventName, runUrl: `${context.serverUrl}/${owner}/${repo}/actions/runs/${context.runId}` }
  } catch {
    return {}
  }
}

async function writeSummary(markdown: string): Promise<void> {
  try {
    await core.summary.addRaw(markdown, true).write()
  } catch (error) {
    core.warning(`Could not write the job summary: ${errorMessage(error)}`)
  }
}

export async function run(): Promise<void> {
  const secrets = new SecretRegistry()
  const mask = (value: string): void => {
    // A multi-line value is masked line by line too: the runner masks per line.
    for (const part of [value, ...value.split(/\r?\n/)].map((text) => text.trim())) {
      if (secrets.add(part)) core.setSecret(part)
    }
  }
  const redact = (text: string): string => secrets.redact(text)
  // Every line goes out redacted, and with any old-syntax workflow command (##[…]) broken.
  const safe = (text: string): string => inertOldCommands(redact(text))
  const fail = (message: string): void => core.setFailed(safe(message))
  const guard = new CancelGuard(
    (signal) => {
      fail(`Cancelled (${signal}) before the token was spent: nothing was changed.`)
      process.exit(1)
    },
    (message) => core.warning(message)
  )
  guard.install()

  let report: RotationReport | undefined
  let failure: string | undefined
  try {
    // Step 1: mask every secret input before anything can print it, then validate everything.
    for (const name of SECRET_INPUTS) mask(core.getInput(name))
    const read = evaluatedInputs(
      (name) => core.getInput(name),
      (name) =>
        core.notice(
          `Input '${name}' is an unevaluated \${{ … }} expression, not a value: it is treated as unset. A runner evaluates action.yml's defaults; a local tool may not, so give the value in its .env (see .env.example).`
        )
    )
    const settings = readSettings(read, process.env)

    const sleep = (ms: number): Promise<void> => guard.sleep(ms)
    const retry: RetryPolicy = {
      attempts: 4,
      baseMs: backoffBase(),
      maxWaitMs: MAX_RETRY_WAIT_MS,
      isCancelled: () => guard.isCancelled(),
      sleep
    }
    const io: ActionIO = {
      info: (message) => core.info(safe(message)),
      warning: (message) => core.warning(safe(message)),
      setOutput: (name, value) => core.setOutput(name, value),
      exportVariable: (name, value) => core.exportVariable(name, value)
    }
    const store = new GitHubSecretStore(settings.target, {
      octokit: createOctokit(settings.githubToken, settings.githubApiUrl),
      retry,
      timeoutMs: GITHUB_TIMEOUT_MS,
      redact,
      onRetry: io.info,
      // After a cancel signal, writes give up before the runner kills the step.
      deadline: guard.deadline
    })
    const providerFetch = rawFetchFor(settings.provider.origin)
    // Once cancelled, no new attempt spends a token that there may be no time left to store.
    const spendRetry: RetryPolicy = { ...retry, signal: guard.cancelled }
    const runOctokit = settings.jobToken ? createOctokit(settings.jobToken, settings.githubApiUrl) : undefined
    report = await rotate(settings, {
      io,
      store,
      exchange: (request) =>
        exchangeToken(request, {
          fetch: providerFetch,
          retry: spendRetry,
          timeoutMs: TOKEN_ENDPOINT_TIMEOUT_MS,
          deadline: guard.deadline,
          mask,
          redact,
          onRetry: io.info
        }),
      guard,
      now: () => new Date(),
      jobStartedAt: jobStartedAt(),
      runTimes: () => readRunTimes(runOctokit, settings.run, RUN_LOOKUP_TIMEOUT_MS, { ...retry, maxWaitMs: RUN_LOOKUP_TIMEOUT_MS }),
      storedInThisJob: process.env[storedMark(settings.target, settings.refreshTokenSecret)] || undefined,
      recheckMs: [1, 2, 4].map((n) => n * Math.max(retry.baseMs, 250)),
      sleep
    })
    failure = report.failure
  } catch (error) {
    // Only bad inputs get here (rotate reports its own failures); anything else is a bug.
    failure =
      error instanceof ActionError
        ? error.message
        : `Unexpected error: ${errorMessage(error)}. This is a bug of the action; please report it with this log. The refresh token secret was not overwritten with an old value.`
  } finally {
    guard.uninstall()
  }
  if (failure) fail(guard.signal ? `${failure} (The run was also cancelled: ${guard.signal}.)` : failure)
  else if (guard.signal) {
    fail(`The run was cancelled (${guard.signal}) after the token was spent; the new refresh token was stored first, so nothing is lost.`)
  }
  if (!process.env.GITHUB_STEP_SUMMARY) return
  const markdown = report
    ? renderSummary(report, { cancelled: guard.signal, ...(await runContext()) })
    : renderEarlyFailure(failure ?? '', EARLY_LABELS[core.getInput('provider').trim().toLowerCase()] ?? 'amoCRM')
  await writeSummary(safe(markdown))
}
