/**
 * The order of a run. Every step here exists so that the single-use refresh token is never lost:
 *
 *   1. (main) inputs read, validated and masked
 *   2. everything read that the spend depends on, in parallel: the public key, the secrets as they
 *      stand, this run's times, the probe's name, the rescue key proven able to seal — and a stale
 *      token (rotated by another run after this one read it) is never spent
 *   3. write access proven on a probe secret — the real secret only ever receives a token of this run
 *   4. the code or refresh token spent          ← from here on, a signal cannot cut the run short
 *   5. the outputs set and the rescue line sealed at once; then the new refresh token (and access
 *      token) stored, or rescued when that is impossible — printed at the first cancel signal too
 *   6. the job summary (main)
 */
import { createHash } from 'node:crypto'
import type { Needs } from './alert.js'
import type { CancelGuard } from './critical.js'
import { ActionError, errorMessage, InputError } from './errors.js'
import { GitHubError } from './github/errors.js'
import { probeName, type Settings } from './inputs.js'
import { connectionsFreed, USER_AGENT, whenOnTheWire } from './http.js'
import { messages } from './messages.js'
import { grantName, type PairFacts } from './providers/provider.js'
import { sealRescue, type RescueBundle } from './rescue/rescue.js'
import type { RunLookup } from './github/run.js'
import { loadSodium, seal } from './rescue/sealing.js'
import type { SecretState, SecretStore, WriteResult } from './github/secrets.js'
import { targetInfo, targetName, type Target } from './github/targets.js'
import { TokenEndpointError, type TokenRequest, type TokenSet } from './providers/token-endpoint.js'

export interface ActionIO {
  info(message: string): void
  warning(message: string): void
  setOutput(name: string, value: string): void
  /** For the later steps of this job (core.exportVariable). */
  exportVariable(name: string, value: string): void
}

export interface RotationDeps {
  io: ActionIO
  store: SecretStore
  exchange: (request: TokenRequest) => Promise<TokenSet>
  guard: CancelGuard
  now: () => Date
  /** When the job started (the runner writes the event file then): environment secrets are read then. */
  jobStartedAt: Date
  /** This run's times (queued, this attempt started), or why they could not be read. */
  runTimes: () => Promise<RunLookup>
  /** STORED_MARK as an earlier step of this job exported it, if one did. */
  storedInThisJob: string | undefined
  /** Waits before looking again at the secret after "Token has been revoked". */
  recheckMs: number[]
  /**
   * Settles when the spend may go: the token endpoint's warm-up connection is free (or a bound
   * passed). Waiting for a connection opened earlier beats opening one at the spend, and it is
   * before the spend: the danger window does not grow.
   */
  beforeSpend?: () => Promise<void>
  sleep: (ms: number) => Promise<void>
}

/**
 * The variable exported after a store, so that a later step of the same job that spends this token
 * knows it is not stale. One per target and secret: a job that rotates several accounts keeps one
 * mark for each, and one step's mark says nothing of another's token.
 */
export function storedMark(target: Target, secret: string): string {
  const key = createHash('sha256')
    .update(`${targetName(target).toLowerCase()}\n${secret.toUpperCase()}`)
    .digest('hex')
  return `TOKEN_ROTATION_STORED_${key.slice(0, 16).toUpperCase()}`
}

/** A one-way mark of a token (for STORED_MARK): says which token, reveals nothing of it. */
export const tokenMark = (token: string): string => createHash('sha256').update(token).digest('hex').slice(0, 32)

/** What happened, for the outputs and the job summary. No secret values. */
export interface RotationReport {
  /** The provider's name for people: 'amoCRM', 'Bitrix24', a token endpoint's host. */
  label: string
  account: string
  apiUrl: string
  grant: string
  refreshSecret: string
  accessSecret: string | undefined
  issuedAt: Date | undefined
  expiresAt: Date | undefined
  refreshBy: Date | undefined
  /** Why that date (the provider's rule). */
  refreshByWhy: string | undefined
  accountId: string
  writeCheck: 'passed' | 'skipped' | undefined
  refreshStored: WriteResult | undefined
  /** The provider kept its refresh token (no new one in the answer): the secret was left as it was. */
  refreshKept: boolean
  accessStored: WriteResult | undefined
  rescueLine: string | undefined
  failure: string | undefined
  /** With `failure`: what it asks of a person (the alert issue's advice). */
  needs: Needs | undefined
  /** When the refresh-token secret was last written before this run (its token's age). */
  secretUpdatedAt: Date | undefined
  /** The token was sent to the provider (from then on, a failure may leave the new pair only in this run). */
  spent: boolean
  /**
   * The last day the refresh token in the secret can still be used, by the provider's rule: the
   * new one's when it was stored, else the one the secret held (from its `updated_at`).
   */
  lastDay: { date: Date; why: string } | undefined
  /** What to do for a new authorization, in the provider's words. */
  newAuthorization: string
}

/** Ends the run with `message` as its failure (caught in `rotate`, which returns the report). */
class Stop extends Error {
  constructor(
    message: string,
    readonly needs: Needs
  ) {
    super(message)
  }
}

/** What an error that was not worded here asks of a person. */
function needsOf(error: unknown): Needs {
  if (error instanceof InputError) return 'inputs'
  if (error instanceof TokenEndpointError) {
    if (error.failure === 'expired') return 'authorization'
    if (error.failure === 'rejected') return 'inputs'
    if (error.failure === 'unavailable') return error.maybeSpent ? 'read' : 'nothing'
    return 'read'
  }
  if (error instanceof GitHubError) {
    if (error.status === 401) return 'github-token'
    if (error.status === 403) return 'permission'
    if (error.status === 404 || error.status === 422) return 'inputs'
    return 'nothing'
  }
  return error instanceof ActionError ? 'inputs' : 'read'
}

function newReport(settings: Settings, store: SecretStore): RotationReport {
  return {
    label: settings.provider.label,
    account: settings.provider.host,
    apiUrl: settings.provider.apiUrl,
    grant: grantName(settings.grant),
    refreshSecret: store.describe(settings.refreshTokenSecret),
    accessSecret: settings.accessTokenSecret ? store.describe(settings.accessTokenSecret) : undefined,
    issuedAt: undefined,
    expiresAt: undefined,
    refreshBy: undefined,
    refreshByWhy: undefined,
    accountId: '',
    writeCheck: undefined,
    refreshStored: undefined,
    refreshKept: false,
    accessStored: undefined,
    rescueLine: undefined,
    failure: undefined,
    needs: undefined,
    secretUpdatedAt: undefined,
    spent: false,
    lastDay: undefined,
    newAuthorization: settings.provider.newAuthorization
  }
}

/** The moment after which an update of the secret was not in this run's hands, and why. */
interface ReadWindow {
  since: Date
  what: string
}

function readWindow(settings: Settings, deps: RotationDeps, lookup: RunLookup | undefined): ReadWindow | undefined {
  if (targetInfo(settings.target).readAt === 'job-start') {
    return { since: deps.jobStartedAt, what: 'this job started (environment secrets are read when a job starts)' }
  }
  if (!lookup || 'unreadable' in lookup) return undefined
  if (lookup.attempt > 1) {
    // A re-run reads the secrets again; a server that does not say when this attempt started
    // (some GitHub Enterprise Server versions) leaves the job's own start, which is later still.
    return lookup.runStartedAt
      ? { since: lookup.runStartedAt, what: `attempt ${lookup.attempt} of this run started` }
      : { since: deps.jobStartedAt, what: `this job (attempt ${lookup.attempt} of this run) started` }
  }
  return { since: lookup.createdAt, what: 'this run was queued (repository and organization secrets are read when a run is queued)' }
}

/** updated_at has whole seconds: only a later second is surely later. */
const laterSecond = (a: Date, b: Date): boolean => Math.floor(a.getTime() / 1000) > Math.floor(b.getTime() / 1000)

/** The pre-spend reads, all at once. */
interface Before {
  refresh: SecretState
  access: SecretState | undefined
  probe: string | undefined
  window: ReadWindow | undefined
}

/** One run, handed from phase to phase: what it was given, what it found out before the spend, and its report. */
interface Rotation {
  readonly settings: Settings
  readonly deps: RotationDeps
  readonly report: RotationReport
  readonly before: Before
  /** The probe's deletion, running while the token is exchanged (awaited before the run ends). */
  readonly probeDeleted: Promise<void> | undefined
}

/** What the spend brought: the tokens, from a 2xx or from an error answer that carried a pair. */
interface Answer {
  tokens: TokenSet
  /** The error answer the tokens came in, if they came in one: the run fails after securing them. */
  pairInError: TokenEndpointError | undefined
  requestedAt: Date
}

/** The pair, made safe: outputs set, a sealed copy ready, the rescue printed at a cancel signal. */
interface Secured {
  tokens: TokenSet
  /** What goes into the secret and the `refresh-token` output: the new token, or the kept one. */
  refreshToken: string
  /** A provider that keeps its refresh token did (RFC 6749 §6): nothing to write. */
  kept: boolean
  sealError: string | undefined
  /** Prints the sealed line once (and records it in the report). */
  printRescue(): void
  /** The write is settled: a cancel signal no longer prints the rescue line. */
  settle(stored: boolean): void
}

/**
 * Runs steps 2–5 and returns what happened, with `failure` set when the run must fail. Never
 * throws: anything unexpected is reported as a bug, in one sentence.
 */
export async function rotate(settings: Settings, deps: RotationDeps): Promise<RotationReport> {
  const report = newReport(settings, deps.store)
  try {
    const run = await prepare(settings, deps, report)
    const answer = await spend(run)
    const secured = await secure(run, answer)
    await storeAndConclude(run, secured)
  } catch (error) {
    report.failure = error instanceof Stop || error instanceof ActionError ? error.message : messages.bug(errorMessage(error))
    report.needs = error instanceof Stop ? error.needs : needsOf(error)
  }
  report.lastDay =
    report.refreshStored && report.refreshBy && report.refreshByWhy
      ? { date: report.refreshBy, why: report.refreshByWhy }
      : report.refreshKept || !report.secretUpdatedAt
        ? undefined
        : settings.provider.refreshBy(report.secretUpdatedAt)
  return report
}

/** Ends the run with this failure, and says what it asks of a person. */
function fail(message: string, needs: Needs): never {
  throw new Stop(message, needs)
}

// ---- prepare: everything the spend depends on, read at once; a stale token is never sent -------

async function prepare(settings: Settings, deps: RotationDeps, report: RotationReport): Promise<Rotation> {
  const { io, store } = deps
  // The public key is needed first: ask for it now, then load libsodium while the answer travels
  // (once the requests are written: compiling it holds the event loop ~11 ms).
  store.publicKey().catch(() => undefined)
  whenOnTheWire(() => void loadSodium().catch(() => undefined))
  io.info(messages.start(settings.provider.title, report.grant, report.refreshSecret))

  const before = await readBefore(settings, deps)
  report.secretUpdatedAt = before.refresh.updatedAt
  const stale = staleToken(settings, deps, before)
  if (stale) fail(stale, 'nothing')
  // The write check: the real secret only ever receives a token of this run.
  const { probeDeleted } = await proveWriteAccess(settings, deps, report, before.probe)
  await deps.beforeSpend?.()
  return { settings, deps, report, before, probeDeleted }
}

/**
 * The write check's probe for `secret`: `<secret>_WRITE_CHECK`, or — when a secret of that name
 * exists, which this check did not create — that name with `unique` added, so that nobody's secret
 * is overwritten or deleted.
 */
export async function probeFor(store: SecretStore, secret: string, unique: string, info: (message: string) => void): Promise<string> {
  const base = probeName(secret)
  const existing = await store.metadata(base)
  if (!existing.exists) return base
  const own = `${base}_${unique}`
  info(messages.probeTaken(base, own))
  return own
}

/** Proves that the rescue key can seal, before anything is spent: a key that cannot would fail exactly when needed. */
async function proveRescueKey(key: string): Promise<void> {
  try {
    await seal('rescue key check', key)
  } catch {
    throw new ActionError(messages.rescueKeyUnusable())
  }
}

async function readBefore(settings: Settings, deps: RotationDeps): Promise<Before> {
  const { store } = deps
  const spendsRefresh = settings.grant.type === 'refresh_token'
  const [, refresh, access, probe, lookup] = await Promise.all([
    store.publicKey(),
    store.inspect(settings.refreshTokenSecret),
    settings.accessTokenSecret ? store.inspect(settings.accessTokenSecret) : Promise.resolve(undefined),
    settings.verifyWrite
      ? probeFor(store, settings.refreshTokenSecret, settings.run?.runId ?? String(deps.now().getTime()), deps.io.info)
      : Promise.resolve(undefined),
    spendsRefresh && targetInfo(settings.target).readAt === 'queued' ? deps.runTimes() : Promise.resolve(undefined),
    settings.rescuePublicKey ? proveRescueKey(settings.rescuePublicKey) : Promise.resolve()
  ])
  if (lookup && 'unreadable' in lookup) {
    // A stale token is never sent where it could cost the whole grant: no times, no spend.
    if (settings.provider.onReuse === 'may-revoke-grant') {
      fail(messages.timesNeeded(lookup.unreadable, settings.provider.label, store.describe(settings.refreshTokenSecret)), 'permission')
    }
    deps.io.info(messages.timesSkipped(lookup.unreadable, settings.provider.label))
  }
  return { refresh, access, probe, window: readWindow(settings, deps, lookup) }
}

/** The verdict before the spend: the refresh token in hand was replaced after this run read it. */
function staleToken(settings: Settings, deps: RotationDeps, before: Before): string | undefined {
  if (settings.grant.type !== 'refresh_token') return undefined
  const { refresh, window } = before
  if (!window || !refresh.updatedAt) return undefined
  const later = laterSecond(refresh.updatedAt, window.since)
  // The same second may be later: GitHub's dates have whole seconds. A token that may be stale is
  // not sent (at a server that detects reuse it could cost the grant); the next run spends it.
  const maybe = !later && Math.floor(refresh.updatedAt.getTime() / 1000) === Math.floor(window.since.getTime() / 1000)
  if (!later && !maybe) return undefined
  if (deps.storedInThisJob && deps.storedInThisJob === tokenMark(settings.grant.refreshToken)) {
    deps.io.info(messages.storedByEarlierStep())
    return undefined
  }
  const secret = deps.store.describe(settings.refreshTokenSecret)
  return (later ? messages.stale : messages.staleMaybe)(secret, refresh.updatedAt, window.what, window.since)
}

/**
 * Returns the pending deletion of the probe, wrapped: an async function that returned the promise
 * itself would wait for it, and put the deletion back on the critical path.
 */
async function proveWriteAccess(
  settings: Settings,
  deps: RotationDeps,
  report: RotationReport,
  probe: string | undefined
): Promise<{ probeDeleted?: Promise<void> }> {
  const { store, io } = deps
  if (!probe) {
    report.writeCheck = 'skipped'
    io.info(messages.writeCheckSkipped())
    return {}
  }
  // The reads before this answered together a moment ago: the write goes over one of their connections.
  await connectionsFreed()
  const result = await store.write(probe, `write check by ${USER_AGENT} at ${deps.now().toISOString()}`, undefined, { probe: true })
  report.writeCheck = 'passed'
  if (result === 'updated') {
    // It existed after all (created between the look and the write): not ours to delete.
    io.warning(messages.probeExisted(probe))
    return {}
  }
  io.info(messages.writeConfirmed(store.describe(probe)))
  // Deleting the probe is off the critical path: it runs while the token is exchanged.
  return { probeDeleted: store.delete(probe).catch((error: unknown) => io.warning(messages.probeNotDeleted(probe, errorMessage(error)))) }
}

// ---- spend: the code or the refresh token is sent. No way back from here ------------------------

async function spend(run: Rotation): Promise<Answer> {
  const { settings, deps, report } = run
  deps.guard.enter()
  report.spent = true
  const requestedAt = deps.now()
  try {
    return {
      tokens: await deps.exchange({ provider: settings.provider, client: settings.client, grant: settings.grant }),
      pairInError: undefined,
      requestedAt
    }
  } catch (error) {
    // An error answer that carried a new pair: secured like any pair, then the run fails.
    if (error instanceof TokenEndpointError && error.pair) return { tokens: error.pair, pairInError: error, requestedAt }
    await run.probeDeleted
    if (error instanceof TokenEndpointError && error.failure === 'revoked') {
      const { message, needs } = await explainRevoked(error, run)
      fail(message, needs)
    }
    fail(errorMessage(error), needsOf(error))
  }
}

async function explainRevoked(error: TokenEndpointError, run: Rotation): Promise<{ message: string; needs: Needs }> {
  const { settings, deps, before } = run
  const { provider } = settings
  const secret = settings.refreshTokenSecret
  // Updated after this run read the secret: later than what the pre-spend look found, or later
  // than the moment the run's secrets were read, or later than the job's start. The same second as
  // the job's start is only possibly later: GitHub's dates have whole seconds.
  const surely = (date: Date | undefined): boolean =>
    date !== undefined &&
    (!before.refresh.exists ||
      (before.refresh.updatedAt !== undefined && laterSecond(date, before.refresh.updatedAt)) ||
      (before.window !== undefined && laterSecond(date, before.window.since)) ||
      laterSecond(date, deps.jobStartedAt))
  const sameSecond = (date: Date | undefined): boolean =>
    date !== undefined && Math.floor(date.getTime() / 1000) === Math.floor(deps.jobStartedAt.getTime() / 1000)
  let updatedAt: Date | undefined
  // Another run that spent the token a moment before us may still be writing its successor:
  // look again a few times before concluding that the token is gone.
  for (const wait of [0, ...deps.recheckMs]) {
    if (wait) await deps.sleep(wait)
    try {
      updatedAt = (await deps.store.metadata(secret)).updatedAt ?? updatedAt
    } catch {
      // keep what an earlier look found
    }
    if (surely(updatedAt)) break
  }
  const race = {
    said: error.said ?? `${provider.label} says the refresh token has been revoked`,
    secret: deps.store.describe(secret),
    label: provider.label,
    // What the other run's newer token is worth now depends on what this provider does on reuse.
    refuses: provider.onReuse === 'refuses',
    newAuthorization: provider.newAuthorization
  }
  if (updatedAt && surely(updatedAt)) {
    return { message: messages.anotherRunFirst({ ...race, updatedAt }), needs: race.refuses ? 'nothing' : 'read' }
  }
  if (updatedAt && sameSecond(updatedAt) && !before.window) return { message: messages.sameSecond({ ...race, updatedAt }), needs: 'read' }
  const retried = error.maybeSpent ? messages.metOnRetry(provider.label) : ''
  if (!before.window) return { message: messages.revokedWithoutTimes({ ...race, retried, updatedAt }), needs: 'read' }
  return { message: messages.revoked({ ...race, retried, updatedAt, before: before.window.what }), needs: 'authorization' }
}

// ---- secure: the new pair exists only in this process; make it safe before anything can fail ----

async function secure(run: Rotation, answer: Answer): Promise<Secured> {
  const { settings, deps, report } = run
  const { io, guard } = deps
  const { provider } = settings
  const { tokens, pairInError } = answer
  // The provider's clock when it gave one that makes a date (a server_time of 1e300 does not: every
  // date derived from it, the rescue line's among them, would throw), else when the request was sent.
  const serverTime = tokens.serverTime === undefined ? undefined : new Date(tokens.serverTime * 1000)
  const issuedAt = serverTime && !Number.isNaN(serverTime.getTime()) ? serverTime : answer.requestedAt
  const facts = provider.facts(tokens.fields, tokens.accessToken, tokens.expiresIn, issuedAt)
  report.issuedAt = issuedAt
  report.expiresAt = facts.expiresAt
  report.accountId = facts.accountId
  report.apiUrl = facts.apiUrl || report.apiUrl
  const spent = settings.grant.type === 'refresh_token' ? settings.grant.refreshToken : undefined
  const same = spent !== undefined && tokens.refreshToken === spent
  // A provider that keeps its refresh token (RFC 6749 §6) answers without a new one, or with the
  // same. "Without" counts only for a whole answer with no refresh_token key: a key whose value was
  // cut off, or an answer cut before its end, may have carried a new token that is now lost. "The
  // same" counts only from a clean answer: from junk, the spent token may be an echo of the request.
  const kept =
    !provider.alwaysRotates &&
    spent !== undefined &&
    !pairInError &&
    ((same && !tokens.anomaly) || (!tokens.refreshToken && tokens.complete && !tokens.refreshIncomplete))
  const refreshToken = kept && spent !== undefined ? spent : tokens.refreshToken
  // What stands between this answer and a stored token; the run fails after securing what arrived.
  const problem = pairInError
    ? pairInError.message
    : kept || !refreshToken
      ? undefined
      : same
        ? messages.sameToken(provider.label, tokens.anomaly, provider.newAuthorization, provider.alwaysRotates)
        : unstorable(provider.label, refreshToken)
  const deadline = refreshToken && !kept && !problem ? provider.refreshBy(issuedAt) : undefined
  report.refreshBy = deadline?.date
  report.refreshByWhy = deadline?.why
  try {
    setOutputs(io, tokens, facts, refreshToken)
  } catch (error) {
    // Never let the outputs file stand between the new token and its rescue below.
    io.warning(messages.outputsNotSet(errorMessage(error)))
  }
  let sealedLine: string | undefined
  let sealError: string | undefined
  if (settings.rescuePublicKey) {
    try {
      sealedLine = await sealRescue(rescueBundle(settings, tokens, report), settings.rescuePublicKey, provider.rescuePrefix)
    } catch (error) {
      sealError = errorMessage(error)
    }
  }
  const printRescue = (): void => {
    if (!sealedLine || report.rescueLine) return
    report.rescueLine = sealedLine
    io.info(sealedLine)
  }
  // Cancelled while storing: the runner kills the process seconds later, so print the rescue now.
  let stored = false
  const stopListening = guard.onSpentSignal(() => {
    if (!stored) printRescue()
  })
  const secured: Secured = {
    tokens,
    refreshToken,
    kept,
    sealError,
    printRescue,
    settle: (done) => {
      stored = done
      stopListening()
    }
  }
  io.info(messages.issued(provider.label, kept, facts.expiresAt))

  if (problem) {
    secured.settle(false)
    printRescue()
    await run.probeDeleted
    fail(
      same ? problem : `${problem} ${whereItIs(run, secured, !pairInError)}`,
      same || pairInError ? 'read' : report.rescueLine ? 'rescue' : 'authorization'
    )
  }
  if (!refreshToken) {
    secured.settle(false)
    printRescue()
    await run.probeDeleted
    // The first exchange of a generic provider: no refresh token means the scope did not ask for one.
    if (!provider.alwaysRotates && !spent) fail(messages.noRefreshForCode(provider.label), 'authorization')
    if (!provider.alwaysRotates) {
      // A generic provider's answer that may have carried a new refresh token, and lost it.
      fail(
        messages.refreshCut({
          label: provider.label,
          incomplete: tokens.refreshIncomplete,
          anomaly: tokens.anomaly,
          secret: report.refreshSecret,
          newAuthorization: provider.newAuthorization,
          rescued: report.rescueLine !== undefined
        }),
        'read'
      )
    }
    fail(messages.noRefresh(provider.label, tokens.anomaly, provider.newAuthorization, report.rescueLine !== undefined), 'authorization')
  }
  return secured
}

function setOutputs(io: ActionIO, tokens: TokenSet, facts: PairFacts, refreshToken: string): void {
  // Both tokens were masked the moment they were read (token-endpoint.ts); outputs come after.
  io.setOutput('access-token', tokens.accessToken)
  io.setOutput('refresh-token', refreshToken)
  io.setOutput('token-type', tokens.tokenType)
  io.setOutput('expires-in', tokens.expiresIn === undefined ? '' : String(tokens.expiresIn))
  io.setOutput('expires-at', facts.expiresAt ? facts.expiresAt.toISOString() : '')
  io.setOutput('api-url', facts.apiUrl)
  io.setOutput('account-id', facts.accountId)
}

function rescueBundle(settings: Settings, tokens: TokenSet, report: RotationReport): RescueBundle {
  return {
    version: 1,
    provider: settings.provider.name,
    account: settings.provider.host,
    api_url: report.apiUrl,
    client_id: settings.client.clientId,
    secret: settings.refreshTokenSecret,
    target: report.refreshSecret,
    token_type: tokens.tokenType,
    access_token: tokens.accessToken,
    refresh_token: tokens.refreshToken,
    expires_at: report.expiresAt?.toISOString() ?? '',
    issued_at: report.issuedAt?.toISOString() ?? ''
  }
}

/** GitHub's limit for a secret's value. */
const SECRET_MAX_BYTES = 48 * 1024

/**
 * Why a new refresh token cannot go into a secret and come back as an input unchanged, if it
 * cannot: the runner trims an input's ends, a line break splits it, and GitHub keeps at most 48 KB.
 */
function unstorable(label: string, token: string): string | undefined {
  const bytes = Buffer.byteLength(token)
  // eslint-disable-next-line no-control-regex
  const why = /[\u0000-\u001f\u007f]/.test(token)
    ? 'it contains a control character (a line break or a tab), which does not survive the way back as an input'
    : token !== token.trim()
      ? 'it begins or ends with white space, which the runner trims from an input'
      : bytes > SECRET_MAX_BYTES
        ? `it is ${bytes} bytes, more than the 48 KB GitHub keeps in a secret`
        : undefined
  return why && messages.unstorable(label, why)
}

/** What to say when the new refresh token is not in the secret: where it is instead. */
function whereItIs(run: Rotation, secured: Secured, spent = true): string {
  const { settings, report } = run
  if (report.rescueLine) return messages.rescuePrinted(settings.provider.rescuePrefix)
  if (settings.rescuePublicKey) return messages.sealFailed(secured.sealError ?? 'unknown')
  return messages.onlyInThisRun(settings.provider.label, spent)
}

// ---- store and conclude: the new refresh token (and the access token) written, then the verdict --

async function storeAndConclude(run: Rotation, secured: Secured): Promise<void> {
  const { settings, deps, report, before } = run
  const { io, store, guard } = deps
  const { provider } = settings
  const { tokens, refreshToken, kept } = secured
  // In parallel; a kept refresh token stays as it is.
  const [refreshResult, accessResult] = await Promise.allSettled([
    kept ? Promise.resolve(undefined) : store.write(settings.refreshTokenSecret, refreshToken, before.refresh),
    settings.accessTokenSecret && tokens.accessToken
      ? store.write(settings.accessTokenSecret, tokens.accessToken, before.access)
      : Promise.resolve(undefined)
  ])
  secured.settle(refreshResult.status === 'fulfilled')
  if (accessResult.status === 'fulfilled' && accessResult.value) report.accessStored = accessResult.value

  if (refreshResult.status === 'rejected') {
    secured.printRescue()
    const why = guard.deadline.aborted ? messages.writeCutByCancel(guard.signal ?? 'signal') : errorMessage(refreshResult.reason)
    await run.probeDeleted
    fail(messages.notStored(why, whereItIs(run, secured)), report.rescueLine ? 'rescue' : 'authorization')
  }
  if (kept) {
    report.refreshKept = true
    io.info(messages.kept(provider.label, report.refreshSecret))
  } else if (refreshResult.value) {
    report.refreshStored = refreshResult.value
    io.exportVariable(storedMark(settings.target, settings.refreshTokenSecret), tokenMark(refreshToken))
    if (refreshResult.value === 'inferred') {
      // No answer said so: the secret's date did. Someone else's change would look the same.
      secured.printRescue()
      io.warning(messages.inferred(report.refreshSecret, report.rescueLine !== undefined))
    } else {
      io.info(messages.stored(report.refreshSecret, refreshResult.value))
    }
  }
  if (report.rescueLine && refreshResult.value !== 'inferred') io.info(messages.rescueNotNeeded())
  if (report.accessStored && report.accessSecret) io.info(messages.accessStored(report.accessSecret, report.accessStored))
  if (tokens.anomaly) io.warning(messages.anomalyStored(tokens.anomaly, provider.label))
  await run.probeDeleted

  if (!tokens.accessToken)
    fail(messages.noAccessToken(provider.label, tokens.anomaly, report.refreshSecret, report.accessSecret), 'nothing')
  if (accessResult.status === 'rejected' && report.accessSecret) {
    fail(messages.accessNotStored(report.refreshSecret, errorMessage(accessResult.reason)), needsOf(accessResult.reason))
  }
}
