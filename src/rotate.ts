/**
 * The order of a run. Every step here exists so that the single-use refresh token is never lost:
 *
 *   1. (main) inputs read, validated and masked
 *   2. write access proven on a probe secret — the real secret only ever receives a token of this run
 *   3. the code or refresh token spent          ← from here on, a signal cannot cut the run short
 *   4. the new refresh token (and access token) stored, or rescued when that is impossible
 *   5. outputs and job summary
 */
import { AmoCrmError, grantName, type TokenRequest, type TokenSet } from './amocrm.js'
import type { CancelGuard } from './critical.js'
import { ActionError, errorMessage } from './errors.js'
import { probeName, type Settings } from './inputs.js'
import { refreshDeadline, tokenFacts, type TokenFacts } from './jwt.js'
import { sealRescue } from './rescue.js'
import { loadSodium } from './sealing.js'
import type { SecretStore } from './secrets.js'

export interface ActionIO {
  info(message: string): void
  warning(message: string): void
  setOutput(name: string, value: string): void
}

export interface RotationDeps {
  io: ActionIO
  store: SecretStore
  exchange: (request: TokenRequest) => Promise<TokenSet>
  guard: CancelGuard
  now: () => Date
  /** When the job read its secrets (the runner writes the event file then). */
  jobStartedAt: Date
  /** Waits before looking again at the secret after "Token has been revoked". */
  recheckMs: number[]
  sleep: (ms: number) => Promise<void>
}

/** What happened, for the outputs and the job summary. No secret values. */
export interface RotationReport {
  account: string
  apiUrl: string
  grant: string
  refreshSecret: string
  accessSecret: string | undefined
  issuedAt: Date | undefined
  expiresAt: Date | undefined
  refreshBy: Date | undefined
  accountId: string
  writeCheck: 'passed' | 'skipped' | undefined
  refreshStored: 'created' | 'updated' | undefined
  accessStored: 'created' | 'updated' | undefined
  rescueLine: string | undefined
  failure: string | undefined
}

export class RotationError extends ActionError {
  constructor(
    message: string,
    readonly report: RotationReport
  ) {
    super(message)
  }
}

function newReport(settings: Settings, store: SecretStore): RotationReport {
  return {
    account: settings.account.host,
    apiUrl: settings.account.apiUrl,
    grant: grantName(settings.grant),
    refreshSecret: store.describe(settings.refreshTokenSecret),
    accessSecret: settings.accessTokenSecret ? store.describe(settings.accessTokenSecret) : undefined,
    issuedAt: undefined,
    expiresAt: undefined,
    refreshBy: undefined,
    accountId: '',
    writeCheck: undefined,
    refreshStored: undefined,
    accessStored: undefined,
    rescueLine: undefined,
    failure: undefined
  }
}

/**
 * Returns the pending deletion of the probe, wrapped: an async function that returned the promise
 * itself would wait for it, and put the deletion back on the critical path.
 */
async function proveWriteAccess(settings: Settings, deps: RotationDeps, report: RotationReport): Promise<{ probeDeleted?: Promise<void> }> {
  const { store, io } = deps
  if (!settings.verifyWrite) {
    // Still read the key (and resolve repository ids) so a wrong target fails before the token is spent.
    await Promise.all([store.publicKey(), store.selectedRepositoryIds()])
    report.writeCheck = 'skipped'
    io.info(`Write check skipped (verify-write: false); the public key of the target was read.`)
    return {}
  }
  const probe = probeName(settings.refreshTokenSecret)
  await store.write(probe, `write check by amocrm-token-action at ${deps.now().toISOString()}`)
  report.writeCheck = 'passed'
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

async function explainRevoked(error: AmoCrmError, settings: Settings, deps: RotationDeps): Promise<string> {
  const secret = settings.refreshTokenSecret
  // updated_at is whole seconds: compare with the second in which the job started.
  const jobSecond = Math.floor(deps.jobStartedAt.getTime() / 1000) * 1000
  const rotatedByOther = (date: Date | undefined): boolean => date !== undefined && date.getTime() >= jobSecond
  let updatedAt: Date | undefined
  // Another run that spent the token a moment before us may still be writing its successor:
  // look again a few times before concluding that the token is gone.
  for (const wait of [0, ...deps.recheckMs]) {
    if (wait) await deps.sleep(wait)
    try {
      updatedAt = (await deps.store.metadata(secret))?.updatedAt ?? updatedAt
    } catch {
      // keep what an earlier look found
    }
    if (rotatedByOther(updatedAt)) break
  }
  const base = `amoCRM says the refresh token has been revoked (401 Token has been revoked)`
  if (updatedAt && rotatedByOther(updatedAt)) {
    return `${base}, and ${deps.store.describe(secret)} was updated at ${updatedAt.toISOString()}, after this job read it: another run rotated the token first. Nothing is lost — the secret holds the newer token. Add a concurrency group to the workflow (concurrency: { group: amocrm-token, cancel-in-progress: false }) so that runs never overlap.`
  }
  const when = updatedAt
    ? ` (the secret was last updated ${updatedAt.toISOString()}, before this job started, so no other run rotated it)`
    : ''
  if (error.earlierAttemptUnanswered) {
    return `${base} on a retry: the first attempt got no answer, so it probably reached amoCRM and spent the token, and the new pair it issued was lost on the way${when}. A new authorization code is needed: take one from the integration's Keys and scopes tab and run the workflow manually with it.`
  }
  return `${base}${when}: it was already used, or went unused for 3 months, or the integration was reinstalled. A new authorization code is needed: take one from the integration's Keys and scopes tab and run the workflow manually with it (README: "First run").`
}

function setOutputs(io: ActionIO, tokens: TokenSet, facts: TokenFacts, settings: Settings): void {
  // Both tokens were masked the moment they were parsed (amocrm.ts); outputs come after.
  io.setOutput('access-token', tokens.accessToken)
  io.setOutput('refresh-token', tokens.refreshToken)
  io.setOutput('token-type', tokens.tokenType)
  io.setOutput('expires-in', tokens.expiresIn === undefined ? '' : String(tokens.expiresIn))
  io.setOutput('expires-at', facts.expiresAt ? facts.expiresAt.toISOString() : '')
  io.setOutput('api-url', settings.account.apiUrl)
  io.setOutput('account-id', facts.accountId)
}

async function rescue(settings: Settings, tokens: TokenSet, report: RotationReport, storeError: string): Promise<string> {
  const lost = `The new refresh token could not be stored: ${storeError}`
  if (!settings.rescuePublicKey) {
    return `${lost} amoCRM has already revoked the old token, so the new one exists only in this run: a later step with if: failure() can save steps.<id>.outputs.refresh-token; without one, a new authorization code will be needed. Set 'rescue-public-key' so that a failed write is never a loss (README: "Rescue").`
  }
  try {
    report.rescueLine = await sealRescue(
      {
        version: 1,
        account: settings.account.host,
        api_url: settings.account.apiUrl,
        client_id: settings.clientId,
        secret: settings.refreshTokenSecret,
        target: report.refreshSecret,
        token_type: tokens.tokenType,
        access_token: tokens.accessToken,
        refresh_token: tokens.refreshToken,
        expires_at: report.expiresAt?.toISOString() ?? '',
        issued_at: report.issuedAt?.toISOString() ?? ''
      },
      settings.rescuePublicKey
    )
  } catch (error) {
    return `${lost} Sealing the new tokens to 'rescue-public-key' failed too (${errorMessage(error)}): a later step with if: failure() can still save steps.<id>.outputs.refresh-token.`
  }
  return `${lost} The new tokens were sealed to 'rescue-public-key' and printed above as one amocrm-rescue:v1:… line (also in the job summary): open it with the action's rescue tool (\`npx -y github:amocrm-actions/token-rotation#v1 open\`) and store the refresh token before the next run (README: "Rescue").`
}

/** Runs steps 2–5. Throws RotationError (with `report` filled as far as it got) on failure. */
export async function rotate(settings: Settings, deps: RotationDeps): Promise<RotationReport> {
  const report = newReport(settings, deps.store)
  try {
    return await rotateSteps(settings, deps, report)
  } catch (error) {
    if (error instanceof RotationError) throw error
    report.failure = errorMessage(error)
    throw new RotationError(report.failure, report)
  }
}

async function rotateSteps(settings: Settings, deps: RotationDeps, report: RotationReport): Promise<RotationReport> {
  const { io, store, guard } = deps
  // The public key is needed first: ask for it now, then load libsodium while the answer travels.
  store.publicKey().catch(() => undefined)
  setImmediate(() => void loadSodium().catch(() => undefined))
  io.info(
    `amoCRM account ${settings.account.host}: spending the ${report.grant}; the new refresh token goes to the ${report.refreshSecret}.`
  )

  // Step 2: prove that the secret can be written.
  const { probeDeleted } = await proveWriteAccess(settings, deps, report)

  // Step 3: spend the code or token. No way back from here.
  guard.enter()
  const issuedAt = deps.now()
  let tokens: TokenSet
  try {
    tokens = await deps.exchange({
      account: settings.account,
      clientId: settings.clientId,
      clientSecret: settings.clientSecret,
      redirectUri: settings.redirectUri,
      grant: settings.grant
    })
  } catch (error) {
    await probeDeleted
    const message =
      error instanceof AmoCrmError && error.failure === 'revoked' ? await explainRevoked(error, settings, deps) : errorMessage(error)
    report.failure = message
    throw new RotationError(message, report)
  }
  const facts = tokenFacts(tokens.accessToken, tokens.expiresIn, issuedAt)
  report.issuedAt = issuedAt
  report.expiresAt = facts.expiresAt
  report.refreshBy = refreshDeadline(issuedAt)
  report.accountId = facts.accountId
  io.info(`amoCRM issued a new token pair${facts.expiresAt ? `; the access token expires at ${facts.expiresAt.toISOString()}` : ''}.`)

  // Step 4: store the new refresh token (and the access token when asked), in parallel.
  const [refreshResult, accessResult] = await Promise.allSettled([
    store.write(settings.refreshTokenSecret, tokens.refreshToken),
    settings.accessTokenSecret ? store.write(settings.accessTokenSecret, tokens.accessToken) : Promise.resolve(undefined)
  ])
  try {
    setOutputs(io, tokens, facts, settings)
  } catch (error) {
    // Never let the outputs file stand between the new token and its rescue below.
    io.warning(`Could not set the step outputs: ${errorMessage(error)}`)
  }
  if (accessResult.status === 'fulfilled' && accessResult.value) report.accessStored = accessResult.value

  if (refreshResult.status === 'rejected') {
    const message = await rescue(settings, tokens, report, errorMessage(refreshResult.reason))
    if (report.rescueLine) io.info(report.rescueLine)
    report.failure = message
    await probeDeleted
    throw new RotationError(message, report)
  }
  report.refreshStored = refreshResult.value
  io.info(`Stored the new refresh token in the ${report.refreshSecret} (${refreshResult.value}).`)
  if (report.accessStored) io.info(`Stored the access token in the ${report.accessSecret} (${report.accessStored}).`)
  await probeDeleted

  if (accessResult.status === 'rejected') {
    const message = `The refresh token is safe in the ${report.refreshSecret}, but the access token could not be stored: ${errorMessage(accessResult.reason)} The step outputs still carry it.`
    report.failure = message
    throw new RotationError(message, report)
  }
  return report
}
