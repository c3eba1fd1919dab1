/**
 * Wires the action to the runner: inputs, masking, clients, signals, outputs, summary, exit code.
 * The logic lives in the modules it calls; this file is the only one that touches @actions/core.
 */
import { readFileSync, statSync } from 'node:fs'
import * as core from '@actions/core'
import { alertMarker, decideAlert, type AlertContext, type Needs } from './alert.js'
import { CancelGuard } from './critical.js'
import { ActionError, errorMessage, InputError } from './errors.js'
import { inertOldCommands, SecretRegistry } from './redact.js'
import { createOctokit, EXPIRATION_HEADER, parseTokenExpiration } from './github/client.js'
import { Housekeeping, parseWorkflowRef, startHousekeeping, type HousekeepingDone } from './github/housekeeping.js'
import { rawFetchFor, warmUp } from './http.js'
import { messages } from './messages.js'
import { evaluatedInputs, parseAlert, parseApiUrl, readSettings, SECRET_INPUTS, secretOfInputs } from './inputs.js'
import { entryOf, PROVIDERS } from './providers/registry.js'
import type { InputReader } from './providers/provider.js'
import { backoffBaseMs, within, type RetryPolicy } from './retry.js'
import { rotate, storedMark, type ActionIO, type RotationReport } from './rotate.js'
import { readRunTimes } from './github/run.js'
import { GitHubSecretStore } from './github/secrets.js'
import { exchangeToken } from './providers/token-endpoint.js'
import { renderEarlyFailure, renderSummary } from './summary.js'
import { parseSecureUrl } from './url.js'

const TOKEN_ENDPOINT_TIMEOUT_MS = 30_000
const GITHUB_TIMEOUT_MS = 20_000
/** The run lookup is a check, not a step: it may not hold the run up. */
const RUN_LOOKUP_TIMEOUT_MS = 10_000
/** The longest single wait a retry honours: GitHub's secondary limits ask for a minute or more. */
const MAX_RETRY_WAIT_MS = 120_000
/** Each housekeeping request, and the wait for them after the run: the run's outcome is already decided. */
const HOUSEKEEPING_TIMEOUT_MS = 10_000
/** After a cancellation the runner kills the step 10 s after its first signal: the alert gets what is left. */
const HOUSEKEEPING_CANCELLED_MS = 2_000
/** The longest the spend waits for the token endpoint's warm-up connection to be free. */
const WARM_UP_WAIT_MS = 2_000
/** A github-token that expires this soon is worth a warning and the alert issue. */
const EXPIRY_WARNING_DAYS = 14

/** The event that started the run: GITHUB_EVENT_NAME and the payload file's JSON. */
function readEvent(): { name: string; payload: unknown } {
  const name = process.env.GITHUB_EVENT_NAME ?? ''
  try {
    return { name, payload: JSON.parse(readFileSync(process.env.GITHUB_EVENT_PATH ?? '', 'utf8')) as unknown }
  } catch {
    return { name, payload: undefined }
  }
}

/** `owner/name` of GITHUB_REPOSITORY, the repository that runs the workflow (where the alert issue goes). */
function homeRepository(): { owner: string; repo: string } | undefined {
  const [owner, repo, ...rest] = (process.env.GITHUB_REPOSITORY ?? '').split('/')
  return owner && repo && rest.length === 0 ? { owner, repo } : undefined
}

/** The warning for a github-token that expires soon, or undefined. A date already past is GitHub's known slip, not a fact. */
function expiryWarning(expiresAt: Date | undefined, now: Date): string | undefined {
  if (!expiresAt || expiresAt.getTime() <= now.getTime()) return undefined
  const days = Math.ceil((expiresAt.getTime() - now.getTime()) / 86_400_000)
  if (days > EXPIRY_WARNING_DAYS) return undefined
  const date = expiresAt.toISOString().slice(0, 10)
  return messages.githubTokenExpiring(date, days)
}

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
    core.warning(messages.summaryNotWritten(errorMessage(error)))
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
      fail(messages.cancelledBeforeSpend(signal))
      process.exit(1)
    },
    (message) => core.warning(message)
  )
  guard.install()
  const event = readEvent()
  const workflow = parseWorkflowRef(process.env.GITHUB_WORKFLOW_REF)
  const home = homeRepository()
  const say = {
    info: (m: string) => core.info(safe(m)),
    notice: (m: string) => core.notice(safe(m)),
    warning: (m: string) => core.warning(safe(m))
  }

  let report: RotationReport | undefined
  let failure: string | undefined
  let needs: Needs | undefined
  let githubTokenExpiration: string | undefined
  let housekeeping: ReturnType<typeof startHousekeeping> | undefined
  let read: InputReader = (name) => core.getInput(name)
  try {
    // Step 1: mask every secret input before anything can print it, then validate everything.
    for (const name of SECRET_INPUTS) mask(core.getInput(name))
    read = evaluatedInputs(
      (name) => core.getInput(name),
      (name) => core.notice(messages.unevaluatedInput(name))
    )
    const settings = readSettings(read, process.env)

    const sleep = (ms: number): Promise<void> => guard.sleep(ms)
    const retry: RetryPolicy = {
      attempts: 4,
      baseMs: backoffBaseMs(process.env),
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
    // GitHub says in every answer when a personal access token expires.
    const onHeaders = (headers: Record<string, string | number | undefined>): void => {
      const value = headers[EXPIRATION_HEADER]
      if (typeof value === 'string') githubTokenExpiration = value
    }
    const store = new GitHubSecretStore(settings.target, {
      octokit: createOctokit(settings.githubToken, settings.githubApiUrl, onHeaders),
      retry,
      timeoutMs: GITHUB_TIMEOUT_MS,
      redact,
      onRetry: io.info,
      // After a cancel signal, writes give up before the runner kills the step.
      deadline: guard.deadline
    })
    const jobOctokit = settings.jobToken ? createOctokit(settings.jobToken, settings.githubApiUrl) : undefined
    // The alert lookup and the schedule's keep-alive travel with the pre-spend reads: off the critical path.
    housekeeping = startHousekeeping(
      {
        housekeeping: jobOctokit && home ? new Housekeeping(jobOctokit, home, HOUSEKEEPING_TIMEOUT_MS) : undefined,
        alertFor: settings.alert === 'issue' ? alertMarker(store.describe(settings.refreshTokenSecret)) : undefined,
        event,
        workflow,
        finishWithinMs: HOUSEKEEPING_TIMEOUT_MS
      },
      say
    )
    const providerFetch = rawFetchFor(settings.provider.origin)
    // The token endpoint's connection opens now, with the pre-spend reads: the spend finds it warm.
    // A provider farther away than GitHub may still be answering the warm-up when the spend is
    // ready: the spend then waits for it (a bounded wait) rather than open a connection of its own.
    const warm = warmUp(settings.provider.origin)
    // Once cancelled, no new attempt spends a token that there may be no time left to store.
    const spendRetry: RetryPolicy = { ...retry, signal: guard.cancelled }
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
      runTimes: () => readRunTimes(jobOctokit, settings.run, RUN_LOOKUP_TIMEOUT_MS, { ...retry, maxWaitMs: RUN_LOOKUP_TIMEOUT_MS }),
      storedInThisJob: process.env[storedMark(settings.target, settings.refreshTokenSecret)] || undefined,
      recheckMs: [1, 2, 4].map((n) => n * Math.max(retry.baseMs, 250)),
      sleep,
      beforeSpend: () => within(warm, WARM_UP_WAIT_MS, undefined)
    })
    failure = report.failure
    needs = report.needs
  } catch (error) {
    // Only bad inputs get here (rotate reports its own failures); anything else is a bug.
    failure = error instanceof ActionError ? error.message : messages.bug(errorMessage(error))
    needs = error instanceof InputError ? 'inputs' : 'read'
  } finally {
    guard.uninstall()
  }
  if (failure) fail(guard.signal ? `${failure} (The run was also cancelled: ${guard.signal}.)` : failure)
  else if (guard.signal) {
    fail(messages.cancelledAfterStore(guard.signal))
  }

  // After the store or the rescue: what a person must know before a date, then the alert issue.
  const now = new Date()
  const expiresAt = parseTokenExpiration(githubTokenExpiration)
  const expiring = expiryWarning(expiresAt, now)
  if (expiring) core.warning(safe(expiring))
  const context = await runContext()
  housekeeping ??= earlyHousekeeping(read, event, workflow, home, say)
  const done = await housekept(housekeeping, {
    report,
    failure,
    needs,
    attention: expiring ? [expiring] : [],
    label: report?.label ?? entryOf(read)?.label ?? PROVIDERS.amocrm.label,
    secret: report?.refreshSecret ?? secretOfInputs(read, process.env),
    runUrl: context.runUrl,
    workflowUrl: workflow
      ? `${process.env.GITHUB_SERVER_URL ?? 'https://github.com'}/${workflow.owner}/${workflow.repo}/actions/workflows/${workflow.file}`
      : undefined,
    now,
    safe,
    cancelled: guard.signal !== undefined
  })

  if (!process.env.GITHUB_STEP_SUMMARY) return
  let markdown: string
  try {
    markdown = report
      ? renderSummary(report, {
          cancelled: guard.signal,
          ...context,
          githubTokenExpiresAt: expiresAt,
          alert: done.alert,
          schedule: done.schedule
        })
      : renderEarlyFailure(failure ?? '', entryOf(read)?.label ?? PROVIDERS.amocrm.label)
  } catch (error) {
    // The outcome is decided and printed: a summary that cannot be made never changes it.
    core.warning(safe(messages.summaryNotWritten(errorMessage(error))))
    return
  }
  await writeSummary(safe(markdown))
}

/**
 * The housekeeping of a run that failed before its settings could be read: the job token and the
 * alert input as far as they can be read, so that a workflow broken by a deleted secret still
 * raises its alert.
 */
function earlyHousekeeping(
  read: InputReader,
  event: { name: string; payload: unknown },
  workflow: ReturnType<typeof parseWorkflowRef>,
  home: ReturnType<typeof homeRepository>,
  say: Parameters<typeof startHousekeeping>[1]
): ReturnType<typeof startHousekeeping> {
  let alert: 'issue' | 'none' = 'issue'
  let apiUrl: string | undefined
  try {
    alert = parseAlert(read('alert'))
    apiUrl = parseSecureUrl('github-api-url', read('github-api-url')) ?? parseApiUrl(process.env.GITHUB_API_URL)
  } catch {
    // An unreadable alert or API input: no alert from this run.
  }
  const secret = secretOfInputs(read, process.env)
  const token = read('job-token')
  return startHousekeeping(
    {
      housekeeping:
        apiUrl && token && !/\s/.test(token) && home
          ? new Housekeeping(createOctokit(token, apiUrl), home, HOUSEKEEPING_TIMEOUT_MS)
          : undefined,
      alertFor: alert === 'issue' && apiUrl && secret ? alertMarker(secret) : undefined,
      // The schedule is kept alive by runs that got as far as their settings.
      event: { name: '', payload: event.payload },
      workflow,
      finishWithinMs: HOUSEKEEPING_TIMEOUT_MS
    },
    say
  )
}

/** Everything the alert decision needs once the run's outcome is known. */
interface Outcome {
  report: RotationReport | undefined
  failure: string | undefined
  needs: Needs | undefined
  attention: string[]
  label: string
  secret: string | undefined
  runUrl: string | undefined
  workflowUrl: string | undefined
  now: Date
  safe: (text: string) => string
  cancelled: boolean
}

async function housekept(housekeeping: ReturnType<typeof startHousekeeping>, o: Outcome): Promise<HousekeepingDone> {
  const { report } = o
  const context: AlertContext = {
    label: o.label,
    secret: o.secret ?? 'refresh-token secret',
    failure: o.failure,
    needs: o.needs,
    attention: o.attention,
    lastDay: report?.lastDay?.date,
    lastDayWhy: report?.lastDay?.why,
    newAuthorization: report?.newAuthorization ?? 'A new authorization is needed.',
    rescueLine: report?.rescueLine,
    spent: report?.spent ?? false,
    runUrl: o.runUrl,
    workflowUrl: o.workflowUrl,
    now: o.now
  }
  // Every word that goes to GitHub is redacted and made inert like the log's.
  const safeAction = (action: ReturnType<typeof decideAlert>): ReturnType<typeof decideAlert> => {
    switch (action.kind) {
      case 'none':
        return action
      case 'create':
        return { ...action, title: o.safe(action.title), body: o.safe(action.body) }
      case 'update':
        return { ...action, title: o.safe(action.title), body: o.safe(action.body), comment: action.comment && o.safe(action.comment) }
      case 'close':
        return { ...action, comment: o.safe(action.comment) }
    }
  }
  const work = housekeeping.finish((open) => safeAction(decideAlert(context, open)), o.failure !== undefined)
  if (!o.cancelled) return work
  // Cancelled: what is left before the runner's kill.
  return within(work, HOUSEKEEPING_CANCELLED_MS, { alert: 'not written: the run was cancelled', schedule: undefined })
}
