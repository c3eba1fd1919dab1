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
import type { PairFacts } from './providers/provider.js'
import { sealRescue, type RescueBundle } from './rescue/rescue.js'
import type { RunLookup } from './github/run.js'
import { loadSodium, seal } from './rescue/sealing.js'
import type { SecretState, SecretStore, WriteResult } from './github/secrets.js'
import { targetName, type Target } from './github/targets.js'
import { grantName, TokenEndpointError, type TokenRequest, type TokenSet } from './providers/token-endpoint.js'

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
  if (settings.target.kind === 'environment') {
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

/** What a server with reuse detection does; said wherever a stale token is at stake. */
const REUSE_REVOKES =
  'a server that detects the reuse of a spent refresh token (RFC 9700 §4.14.2) revokes the whole grant, the newer token included'

/** updated_at has whole seconds: only a later second is surely later. */
const laterSecond = (a: Date, b: Date): boolean => Math.floor(a.getTime() / 1000) > Math.floor(b.getTime() / 1000)

/** The pre-spend reads, all at once. */
interface Before {
  refresh: SecretState
  access: SecretState | undefined
  probe: string | undefined
  window: ReadWindow | undefined
}

async function probeFor(settings: Settings, deps: RotationDeps): Promise<string> {
  const base = probeName(settings.refreshTokenSecret)
  const existing = await deps.store.metadata(base)
  if (!existing.exists) return base
  const own = `${base}_${settings.run?.runId ?? String(deps.now().getTime())}`
  deps.io.info(
    `A secret named ${base} already exists and this run did not create it: it is left alone, and the write check uses ${own} instead (if ${base} is a leftover of an earlier run, delete it by hand).`
  )
  return own
}

/** Proves that the rescue key can seal, before anything is spent: a key that cannot would fail exactly when needed. */
async function proveRescueKey(key: string): Promise<void> {
  try {
    await seal('rescue key check', key)
  } catch {
    throw new ActionError(
      "Input 'rescue-public-key' cannot be sealed to (it is not a usable X25519 public key): create a key pair with `npx -y github:amocrm-actions/token-rotation#v1 keygen` and put its public half here. Nothing was spent."
    )
  }
}

async function readBefore(settings: Settings, deps: RotationDeps): Promise<Before> {
  const { store } = deps
  const spendsRefresh = settings.grant.type === 'refresh_token'
  const [, refresh, access, probe, lookup] = await Promise.all([
    store.publicKey(),
    store.inspect(settings.refreshTokenSecret),
    settings.accessTokenSecret ? store.inspect(settings.accessTokenSecret) : Promise.resolve(undefined),
    settings.verifyWrite ? probeFor(settings, deps) : Promise.resolve(undefined),
    spendsRefresh && settings.target.kind !== 'environment' ? deps.runTimes() : Promise.resolve(undefined),
    store.selectedRepositoryIds(),
    settings.rescuePublicKey ? proveRescueKey(settings.rescuePublicKey) : Promise.resolve()
  ])
  if (lookup && 'unreadable' in lookup) {
    if (settings.provider.onReuse === 'may-revoke-grant') {
      // A stale token is never sent where it could cost the whole grant: no times, no spend.
      fail(
        `This run's times could not be read (${lookup.unreadable}), so it cannot tell whether another run rotated the token after this run read the secret, and ${settings.provider.label} is not known to keep the newer token when a spent one comes back: ${REUSE_REVOKES}. So nothing was sent: nothing is lost, the ${deps.store.describe(settings.refreshTokenSecret)} still holds the token. Give the job 'permissions: actions: read' (in a private repository the job token needs it to read this run), or keep the refresh token in an environment secret, read when the job starts (README: "Concurrency").`,
        'permission'
      )
    }
    deps.io.info(
      `This run's times could not be read (${lookup.unreadable}), so the check for a token that another run rotated after this one was queued is skipped. Give the job 'permissions: actions: read' (README: "Concurrency"); ${settings.provider.label} refuses a spent token and keeps the newer one, so a stale one sent loses nothing.`
    )
  }
  return { refresh, access, probe, window: readWindow(settings, deps, lookup) }
}

/** Step 2's verdict: the refresh token in hand was replaced after this run read it. */
function staleToken(settings: Settings, deps: RotationDeps, before: Before): string | undefined {
  if (settings.grant.type !== 'refresh_token') return undefined
  const { refresh, window } = before
  if (!window || !refresh.updatedAt || !laterSecond(refresh.updatedAt, window.since)) return undefined
  if (deps.storedInThisJob && deps.storedInThisJob === tokenMark(settings.grant.refreshToken)) {
    deps.io.info(`The refresh token in hand was stored by an earlier step of this job: it is the newest, whatever the secret's date.`)
    return undefined
  }
  return `Another run rotated the token after this run read it: the ${deps.store.describe(settings.refreshTokenSecret)} was updated at ${refresh.updatedAt.toISOString()}, after ${window.what} at ${window.since.toISOString()}. The refresh token this run holds is already spent, so it was not sent and nothing was stored: nothing is lost — the secret holds the newer token, and the next run uses it. To avoid this, keep the refresh token in an environment secret, which a job reads when it starts (README: "Concurrency").`
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
    io.info(`Write check skipped (verify-write: false); the public key of the target was read.`)
    return {}
  }
  const result = await store.write(probe, `write check by amocrm-token-action at ${deps.now().toISOString()}`, undefined, { probe: true })
  report.writeCheck = 'passed'
  if (result === 'updated') {
    // It existed after all (created between the look and the write): not ours to delete.
    io.warning(`The probe secret ${probe} already existed when it was written, so it is not deleted; it holds no credential.`)
    return {}
  }
  io.info(
    `Write access confirmed: ${store.describe(probe)} was written (it is deleted now; the real secret is written only with the new token).`
  )
  // Deleting the probe is off the critical path: it runs while the token is exchanged.
  const probeDeleted = store
    .delete(probe)
    .catch((error: unknown) =>
      io.warning(`Could not delete the probe secret ${probe}: ${errorMessage(error)} Delete it by hand; it holds no credential.`)
    )
  return { probeDeleted }
}

async function explainRevoked(
  error: TokenEndpointError,
  settings: Settings,
  deps: RotationDeps,
  before: Before
): Promise<{ message: string; needs: Needs }> {
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
  const base = error.said ?? `${provider.label} says the refresh token has been revoked`
  const described = deps.store.describe(secret)
  // What the other run's newer token is worth now depends on what this provider does on reuse.
  const afterRace =
    provider.onReuse === 'refuses'
      ? `Nothing is lost — the secret holds the newer token, and ${provider.label} refuses a spent token without touching the newer one.`
      : `This run's token was already spent, and ${provider.label} is not known to keep the newer token when a spent one comes back: ${REUSE_REVOKES}. If the next run also reports the token invalid, a new authorization is needed: ${provider.newAuthorization}`
  const overlap =
    'Runs that overlap or wait in a queue hold a spent token: keep the refresh token in an environment secret, read when the job starts (README: "Concurrency").'
  if (updatedAt && surely(updatedAt)) {
    return {
      message: `${base}, and the ${described} was updated at ${updatedAt.toISOString()}, after this run read it: another run rotated the token first. ${afterRace} ${overlap}`,
      needs: provider.onReuse === 'refuses' ? 'nothing' : 'read'
    }
  }
  if (updatedAt && sameSecond(updatedAt) && !before.window) {
    return {
      message: `${base}, and the ${described} was updated at ${updatedAt.toISOString()}, in the same second as this job started: GitHub's dates have whole seconds, so this run cannot tell whether another run rotated the token after this run read it. If one did: ${afterRace} If none did: ${provider.newAuthorization} Give the job 'permissions: actions: read' so that runs can tell (README: "Concurrency").`,
      needs: 'read'
    }
  }
  const retried = error.maybeSpent
    ? ` It was met on a retry: an earlier attempt of this run may have reached ${provider.label} and spent the token (its answer was lost or was a server error), and the pair issued then was lost on the way.`
    : ''
  if (!before.window) {
    const last = updatedAt ? `The secret was last updated at ${updatedAt.toISOString()}; this` : 'This'
    return {
      message: `${base}.${retried} ${last} run could not tell whether that was after it was queued (give the job 'permissions: actions: read'): if another run rotated the token after this run was queued, nothing is lost and the next run succeeds; otherwise: ${provider.newAuthorization}`,
      needs: 'read'
    }
  }
  const when = updatedAt
    ? ` The secret was last updated at ${updatedAt.toISOString()}, before ${before.window.what}, so no other run rotated it since.`
    : ''
  return {
    message: `${base}.${retried || ' It was already used: by another program holding the same token, or the integration was reinstalled.'}${when} ${provider.newAuthorization}`,
    needs: 'authorization'
  }
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
  return why && `${label} issued a new refresh token that cannot be kept in a secret and read back unchanged: ${why}. It was not stored.`
}

const RESCUE_OPEN = `open it with the action's rescue tool (\`npx -y github:amocrm-actions/token-rotation#v1 open\`) and store the refresh token before the next run (README: "Rescue")`

/** What to say when the new refresh token is not in the secret: where it is instead. */
function whereItIs(settings: Settings, report: RotationReport, sealError: string | undefined, spent = true): string {
  if (report.rescueLine) {
    return `The new tokens were sealed to 'rescue-public-key' and printed above as one ${settings.provider.rescuePrefix}… line (also in the job summary): ${RESCUE_OPEN}.`
  }
  if (settings.rescuePublicKey) {
    return `Sealing the new tokens to 'rescue-public-key' failed too (${sealError ?? 'unknown'}): a later step with if: failure() can still save steps.<id>.outputs.refresh-token.`
  }
  return `${settings.provider.label} ${spent ? 'has already revoked the old token, so the new one exists only in this run' : 'may have revoked the old token; if it did, the new one exists only in this run'}: a later step with if: failure() can save steps.<id>.outputs.refresh-token; without one, a new authorization code will be needed. Set 'rescue-public-key' so that a failed write is never a loss (README: "Rescue").`
}

/**
 * Runs steps 2–5 and returns what happened, with `failure` set when the run must fail. Never
 * throws: anything unexpected is reported as a bug, in one sentence.
 */
export async function rotate(settings: Settings, deps: RotationDeps): Promise<RotationReport> {
  const report = newReport(settings, deps.store)
  try {
    await rotateSteps(settings, deps, report)
  } catch (error) {
    report.failure =
      error instanceof Stop || error instanceof ActionError
        ? error.message
        : `Unexpected error: ${errorMessage(error)}. This is a bug of the action; please report it with this log. The refresh token secret was not overwritten with an old value.`
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

async function rotateSteps(settings: Settings, deps: RotationDeps, report: RotationReport): Promise<void> {
  const { io, store, guard } = deps
  const { provider } = settings
  // The public key is needed first: ask for it now, then load libsodium while the answer travels.
  store.publicKey().catch(() => undefined)
  setImmediate(() => void loadSodium().catch(() => undefined))
  io.info(`${provider.title}: spending the ${report.grant}; the new refresh token goes to the ${report.refreshSecret}.`)

  // Step 2: read everything the spend depends on; a stale token is never sent.
  const before = await readBefore(settings, deps)
  report.secretUpdatedAt = before.refresh.updatedAt
  const stale = staleToken(settings, deps, before)
  if (stale) fail(stale, 'nothing')

  // Step 3: prove that the secret can be written.
  const { probeDeleted } = await proveWriteAccess(settings, deps, report, before.probe)

  // Step 4: spend the code or token. No way back from here.
  guard.enter()
  report.spent = true
  const requestedAt = deps.now()
  let tokens: TokenSet
  // An error answer that carried a new pair: secured like any pair below, then the run fails.
  let pairInError: TokenEndpointError | undefined
  try {
    tokens = await deps.exchange({ provider, client: settings.client, grant: settings.grant })
  } catch (error) {
    if (error instanceof TokenEndpointError && error.pair) {
      tokens = error.pair
      pairInError = error
    } else {
      await probeDeleted
      if (error instanceof TokenEndpointError && error.failure === 'revoked') {
        const { message, needs } = await explainRevoked(error, settings, deps, before)
        fail(message, needs)
      }
      fail(errorMessage(error), needsOf(error))
    }
  }

  // Step 5: the new pair exists only in this process. Make it safe before anything can fail.
  const issuedAt = tokens.serverTime ? new Date(tokens.serverTime * 1000) : requestedAt
  const facts = provider.facts(tokens.fields, tokens.accessToken, tokens.expiresIn, issuedAt)
  report.issuedAt = issuedAt
  report.expiresAt = facts.expiresAt
  report.accountId = facts.accountId
  report.apiUrl = facts.apiUrl || report.apiUrl
  const spent = settings.grant.type === 'refresh_token' ? settings.grant.refreshToken : undefined
  const same = spent !== undefined && tokens.refreshToken === spent
  // A provider that keeps its refresh token (RFC 6749 §6) answers without a new one, or with the
  // same. "Without" counts only for a whole answer with no refresh_token key: a key whose value was
  // cut off, or an answer cut before its end, may have carried a new token that is now lost.
  const kept =
    !provider.alwaysRotates &&
    spent !== undefined &&
    !pairInError &&
    (same || (!tokens.refreshToken && tokens.complete && !tokens.refreshIncomplete))
  const refreshToken = kept && spent !== undefined ? spent : tokens.refreshToken
  // What stands between this answer and a stored token; the run fails after securing what arrived.
  const problem = pairInError
    ? pairInError.message
    : kept || !refreshToken
      ? undefined
      : same
        ? `${provider.label} answered with the very refresh token this run sent${tokens.anomaly ? ` (${tokens.anomaly})` : ''}: ${provider.label} always issues a new one, so this is not a new token (an echo of the request, a proxy's answer) and it is not stored as one; the new token, if one was issued, did not arrive. The secret still holds the token this run sent: if the next run reports it spent, ${provider.newAuthorization}`
        : unstorable(provider.label, refreshToken)
  const deadline = refreshToken && !kept && !problem ? provider.refreshBy(issuedAt) : undefined
  report.refreshBy = deadline?.date
  report.refreshByWhy = deadline?.why
  try {
    setOutputs(io, tokens, facts, refreshToken)
  } catch (error) {
    // Never let the outputs file stand between the new token and its rescue below.
    io.warning(`Could not set the step outputs: ${errorMessage(error)}`)
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
  io.info(
    `${provider.label} issued a new ${kept ? 'access token' : 'token pair'}${facts.expiresAt ? `; the access token expires at ${facts.expiresAt.toISOString()}` : ''}.`
  )

  if (problem) {
    stopListening()
    printRescue()
    await probeDeleted
    fail(
      same ? problem : `${problem} ${whereItIs(settings, report, sealError, !pairInError)}`,
      same || pairInError ? 'read' : report.rescueLine ? 'rescue' : 'authorization'
    )
  }
  if (!refreshToken) {
    stopListening()
    printRescue()
    await probeDeleted
    if (!provider.alwaysRotates && !spent) {
      // The first exchange of a generic provider: no refresh token means the scope did not ask for one.
      fail(
        `${provider.label} answered the authorization code without a refresh token, so there is nothing to rotate: most providers issue one only for a scope such as offline_access (Xero, Atlassian) or offline.access (X); ask for it in the authorization request (and in 'scope' if the provider wants it at the token endpoint), then run again with a new code. The access token reached the step outputs.`,
        'authorization'
      )
    }
    if (!provider.alwaysRotates) {
      // A generic provider's answer that may have carried a new refresh token, and lost it.
      fail(
        `${provider.label}'s answer ${tokens.refreshIncomplete ? 'carried a refresh token that did not arrive whole' : 'was cut off before its end, where a new refresh token may have been'}${tokens.anomaly ? ` (${tokens.anomaly})` : ''}: if the provider issued a new one, the old one is spent and the new one is lost. The ${report.refreshSecret} still holds the old token: if the next run reports it invalid, ${provider.newAuthorization} The access token of this answer reached the step outputs${report.rescueLine ? ' and the rescue line above' : ''}.`,
        'read'
      )
    }
    fail(
      `${provider.label} answered without a refresh token${tokens.anomaly ? ` (${tokens.anomaly})` : ''}: the old one is spent. ${provider.newAuthorization} The access token of this answer reached the step outputs${report.rescueLine ? ' and the rescue line above' : ''}.`,
      'authorization'
    )
  }

  // Store the new refresh token (and the access token when asked), in parallel. A kept one stays as it is.
  const [refreshResult, accessResult] = await Promise.allSettled([
    kept ? Promise.resolve(undefined) : store.write(settings.refreshTokenSecret, refreshToken, before.refresh),
    settings.accessTokenSecret && tokens.accessToken
      ? store.write(settings.accessTokenSecret, tokens.accessToken, before.access)
      : Promise.resolve(undefined)
  ])
  stored = refreshResult.status === 'fulfilled'
  stopListening()
  if (accessResult.status === 'fulfilled' && accessResult.value) report.accessStored = accessResult.value

  if (refreshResult.status === 'rejected') {
    printRescue()
    const cut = guard.deadline.aborted
      ? `the run was cancelled (${guard.signal ?? 'signal'}) and the write was not confirmed in the time the runner leaves before it kills the step, so it may or may not have landed`
      : errorMessage(refreshResult.reason)
    await probeDeleted
    fail(
      `The new refresh token could not be stored: ${cut} ${whereItIs(settings, report, sealError)}`,
      report.rescueLine ? 'rescue' : 'authorization'
    )
  }
  if (kept) {
    report.refreshKept = true
    io.info(
      `${provider.label} kept the refresh token (its answer carried no new one): the ${report.refreshSecret} was left as it was, and the next run uses it again.`
    )
  } else if (refreshResult.value) {
    report.refreshStored = refreshResult.value
    io.exportVariable(storedMark(settings.target, settings.refreshTokenSecret), tokenMark(refreshToken))
    if (refreshResult.value === 'inferred') {
      // No answer said so: the secret's date did. Someone else's change would look the same.
      printRescue()
      io.warning(
        `The write of the ${report.refreshSecret} got no answer, and the secret changed after this run read it: the new refresh token most likely landed, but a change by someone else (a person's gh secret set, a new visibility) would look the same. ${report.rescueLine ? `The new tokens are in the rescue line above: if the next run reports the token invalid or revoked, ${RESCUE_OPEN}.` : `The step outputs carry the token for an if: failure() step; set 'rescue-public-key' so that such a run also leaves a sealed copy (README: "Rescue").`}`
      )
    } else {
      io.info(`Stored the new refresh token in the ${report.refreshSecret} (${refreshResult.value}).`)
    }
  }
  if (report.rescueLine && refreshResult.value !== 'inferred') {
    io.info('The rescue line printed at the cancellation is not needed: the secret holds the same token.')
  }
  if (report.accessStored) io.info(`Stored the access token in the ${report.accessSecret} (${report.accessStored}).`)
  if (tokens.anomaly)
    io.warning(
      `${tokens.anomaly}. They are stored; if this repeats, check what stands between the runner and ${provider.label} (a proxy, a PHP notice).`
    )
  await probeDeleted

  if (!tokens.accessToken) {
    fail(
      `${provider.label} answered without an access token${tokens.anomaly ? ` (${tokens.anomaly})` : ''}: the new refresh token is safe in the ${report.refreshSecret}, so the next run gets a new pair; until then there is no access token${settings.accessTokenSecret ? ` (the ${report.accessSecret} was left as it was)` : ''}.`,
      'nothing'
    )
  }
  if (accessResult.status === 'rejected') {
    fail(
      `The refresh token is safe in the ${report.refreshSecret}, but the access token could not be stored: ${errorMessage(accessResult.reason)} The step outputs still carry it.`,
      needsOf(accessResult.reason)
    )
  }
}
