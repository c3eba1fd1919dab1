import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { amoCrm, resolveAccount } from '../../src/providers/amocrm.js'
import { oauth2 } from '../../src/providers/oauth2.js'
import { TokenEndpointError, type TokenRequest, type TokenSet } from '../../src/providers/token-endpoint.js'
import { CancelGuard } from '../../src/critical.js'
import type { Settings } from '../../src/inputs.js'
import type { Target } from '../../src/github/targets.js'
import { openRescue } from '../../src/rescue/rescue.js'
import { rotate, storedMark, tokenMark, type ActionIO, type RotationDeps, type RotationReport } from '../../src/rotate.js'
import { generateKeyPair } from '../../src/rescue/sealing.js'
import type { RunLookup } from '../../src/github/run.js'
import { GitHubError } from '../../src/github/errors.js'
import type { PublicKey, SecretState, SecretStore, WriteResult } from '../../src/github/secrets.js'

const ACCOUNT = resolveAccount('mycompany', 'amocrm.ru', undefined)
const PROVIDER = amoCrm('amocrm', ACCOUNT)
const CLIENT = {
  clientId: '0b8f3c1e-5a1d-4c6e-9b2a-7d3e4f5a6b7c',
  clientSecret: 'Zx8Qw3Rt5Yu7Io9Pa1Sd2Fg4Hj6Kl8',
  redirectUri: 'https://example.com/'
}
const TARGET: Target = { kind: 'repository', owner: 'acme', repo: 'crm-sync' }
const REFRESH_SECRET = 'AMOCRM_REFRESH_TOKEN'
const ACCESS_SECRET = 'AMOCRM_ACCESS_TOKEN'
const PROBE = 'AMOCRM_REFRESH_TOKEN_WRITE_CHECK'

const OLD_REFRESH = 'def50200-old-refresh-token-aaaa'
const NEW_REFRESH = 'def50200-new-refresh-token-bbbb'
const EXP = Date.parse('2026-03-11T03:00:12.000Z') / 1000
const jwt = (payload: Record<string, unknown>): string =>
  `${Buffer.from('{"typ":"JWT","alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.c2lnbmF0dXJl`
const NEW_ACCESS = jwt({ exp: EXP, account_id: 31234567 })
const TOKENS: TokenSet = {
  accessToken: NEW_ACCESS,
  refreshToken: NEW_REFRESH,
  refreshIncomplete: false,
  complete: true,
  tokenType: 'Bearer',
  expiresIn: 86400,
  serverTime: undefined,
  anomaly: undefined,
  fields: {}
}

/** When the token request is sent (the fake clock does not move). */
const NOW = new Date('2026-03-10T03:00:12.345Z')
/** The job read its secrets at 03:00:05.600; updated_at has whole seconds, so 03:00:05 counts as "after". */
const JOB_STARTED = new Date('2026-03-10T03:00:05.600Z')

const describeSecret = (name: string): string => `repository secret ${name} of acme/crm-sync`

function settings(overrides: Partial<Settings> = {}): Settings {
  return {
    provider: PROVIDER,
    client: CLIENT,
    grant: { type: 'refresh_token', refreshToken: OLD_REFRESH },
    githubToken: 'github_pat_0123456789',
    githubApiUrl: 'https://api.github.com',
    refreshTokenSecret: REFRESH_SECRET,
    accessTokenSecret: ACCESS_SECRET,
    target: TARGET,
    rescuePublicKey: undefined,
    verifyWrite: true,
    jobToken: 'ghs_job_token',
    run: { owner: 'acme', repo: 'crm-sync', runId: '42', attempt: 1 },
    alert: 'issue',
    ...overrides
  }
}

/** Lets other callbacks run, so that an order that only holds by chance would show. */
const later = <T>(value: T, ms = 2): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms))

interface StoreScript {
  write?: (name: string, value: string) => Promise<WriteResult>
  delete?: (name: string) => Promise<void>
  /** The refresh secret's metadata after the spend (undefined: no such secret); before it too, unless `before` says. */
  metadata?: (name: string) => Promise<{ updatedAt: Date | undefined } | undefined>
  /** The refresh secret as the pre-spend look finds it. */
  before?: (name: string) => Promise<{ updatedAt: Date | undefined } | undefined>
  /** A secret with the probe's name exists already. */
  probeExists?: boolean
  publicKey?: () => Promise<PublicKey>
}

function fakeStore(log: string[], script: StoreScript) {
  const writes: Array<{ name: string; value: string }> = []
  const deleted: string[] = []
  const metadataReads: string[] = []
  const inspected: string[] = []
  let key: Promise<PublicKey> | undefined
  const store = {
    target: TARGET,
    describe: describeSecret,
    publicKey(): Promise<PublicKey> {
      log.push('publicKey')
      key ??= (script.publicKey ?? (() => later({ key_id: 'key-1', key: 'unused' })))().then((value) => {
        log.push('publicKey done')
        return value
      })
      return key
    },
    async write(name: string, value: string, _before?: SecretState): Promise<WriteResult> {
      log.push(`write ${name}`)
      writes.push({ name, value })
      try {
        const result = await (script.write ?? ((n: string) => later<WriteResult>(n.startsWith(PROBE) ? 'created' : 'updated')))(name, value)
        log.push(`written ${name}`)
        return result
      } catch (error) {
        log.push(`write failed ${name}`)
        throw error
      }
    },
    async delete(name: string): Promise<void> {
      log.push(`delete ${name}`)
      await (script.delete ?? (() => later(undefined)))(name)
      deleted.push(name)
      log.push(`deleted ${name}`)
    },
    async metadata(name: string): Promise<SecretState> {
      log.push(`metadata ${name}`)
      // The probe's name is looked up before the write check: no such secret unless the script says so.
      if (name !== REFRESH_SECRET) return { name, exists: name === PROBE && Boolean(script.probeExists), updatedAt: undefined }
      metadataReads.push(name)
      const found = await (script.metadata ?? (async () => undefined))(name)
      return found ? { name, exists: true, updatedAt: found.updatedAt } : { name, exists: false, updatedAt: undefined }
    },
    async inspect(name: string): Promise<SecretState> {
      log.push(`inspect ${name}`)
      inspected.push(name)
      if (name !== REFRESH_SECRET) return { name, exists: false, updatedAt: undefined }
      const found = await (script.before ?? script.metadata ?? (async () => undefined))(name)
      log.push(`inspected ${name}`)
      return found ? { name, exists: true, updatedAt: found.updatedAt } : { name, exists: false, updatedAt: undefined }
    }
  }
  const typed: SecretStore = store
  return { store: typed, writes, deleted, metadataReads, inspected }
}

interface Options {
  settings?: Partial<Settings>
  store?: StoreScript
  exchange?: (request: TokenRequest) => Promise<TokenSet>
  jobStartedAt?: Date
  setOutput?: (name: string, value: string) => void
  runTimes?: () => Promise<RunLookup>
  storedInThisJob?: string
}

function setup(options: Options = {}) {
  const log: string[] = []
  const infos: string[] = []
  const warnings: string[] = []
  const outputs: Array<[string, string]> = []
  const exported: Array<[string, string]> = []
  const io: ActionIO = {
    info: (message) => {
      infos.push(message)
    },
    warning: (message) => {
      warnings.push(message)
      log.push('warning')
    },
    setOutput: (name, value) => {
      log.push(`output ${name}`)
      if (options.setOutput) options.setOutput(name, value)
      outputs.push([name, value])
    },
    exportVariable: (name, value) => {
      exported.push([name, value])
    }
  }
  const aborts: string[] = []
  const notices: string[] = []
  const guard = new CancelGuard(
    (signal) => aborts.push(signal),
    (message) => notices.push(message)
  )
  const requests: TokenRequest[] = []
  const exchange = async (request: TokenRequest): Promise<TokenSet> => {
    log.push('exchange')
    requests.push(request)
    const tokens = await (options.exchange ?? (() => later(TOKENS)))(request)
    log.push('exchanged')
    return tokens
  }
  const sleeps: number[] = []
  const { store, writes, deleted, metadataReads, inspected } = fakeStore(log, options.store ?? {})
  const deps: RotationDeps = {
    io,
    store,
    exchange,
    guard,
    now: () => new Date(NOW.getTime()),
    jobStartedAt: options.jobStartedAt ?? JOB_STARTED,
    runTimes: options.runTimes ?? (async () => ({ unreadable: 'not in this test' })),
    storedInThisJob: options.storedInThisJob,
    recheckMs: [1, 1],
    sleep: async (ms) => {
      sleeps.push(ms)
      log.push(`sleep ${ms}`)
    }
  }
  return {
    settings: settings(options.settings),
    deps,
    log,
    infos,
    warnings,
    outputs,
    exported,
    aborts,
    notices,
    guard,
    requests,
    writes,
    deleted,
    metadataReads,
    inspected,
    sleeps
  }
}

/** Runs rotate and returns its failure with the report (fails when the run did not fail). */
async function rotationError(settingsValue: Settings, deps: RotationDeps): Promise<{ message: string; report: RotationReport }> {
  const report = await rotate(settingsValue, deps)
  assert.ok(report.failure, 'rotate should have failed')
  return { message: report.failure, report }
}

const EXPECTED_OUTPUTS: Array<[string, string]> = [
  ['access-token', NEW_ACCESS],
  ['refresh-token', NEW_REFRESH],
  ['token-type', 'Bearer'],
  ['expires-in', '86400'],
  ['expires-at', '2026-03-11T03:00:12.000Z'],
  ['api-url', 'https://mycompany.amocrm.ru/api/v4'],
  ['account-id', '31234567']
]

const index = (log: string[], entry: string): number => {
  const at = log.indexOf(entry)
  assert.notEqual(at, -1, `'${entry}' is not in the log: ${JSON.stringify(log)}`)
  return at
}

const refused = (name: string): GitHubError =>
  new GitHubError(
    `GitHub refused to write the ${describeSecret(name)} (403: Resource not accessible by personal access token): 'github-token' lacks the permission.`,
    403
  )

const failingWrite =
  (failing: string[]) =>
  (name: string): Promise<'created' | 'updated'> =>
    failing.includes(name)
      ? later(undefined).then(() => Promise.reject(refused(name)))
      : later<'created' | 'updated'>(name === PROBE ? 'created' : 'updated')

describe('rotate: a successful run', () => {
  test('the order of effects: probe, exchange, the new tokens, outputs', async () => {
    const s = setup({ store: { write: (name) => later(name === ACCESS_SECRET || name === PROBE ? 'created' : 'updated') } })
    const report = await rotate(s.settings, s.deps)

    // The probe is written before the token is spent.
    assert.ok(index(s.log, `written ${PROBE}`) < index(s.log, 'exchange'))
    // The real secrets are written only after the exchange answered.
    assert.ok(index(s.log, 'exchanged') < index(s.log, `write ${REFRESH_SECRET}`))
    assert.ok(index(s.log, 'exchanged') < index(s.log, `write ${ACCESS_SECRET}`))
    // Outputs are set the moment the pair arrives, before the writes: a kill during a slow write
    // leaves them in place.
    const firstOutput = s.log.findIndex((entry) => entry.startsWith('output '))
    assert.ok(index(s.log, 'exchanged') < firstOutput)
    assert.ok(firstOutput < index(s.log, `write ${REFRESH_SECRET}`))
    // The stored token is marked for later steps of this job.
    assert.deepEqual(s.exported, [
      [storedMark({ kind: 'repository', owner: 'acme', repo: 'crm-sync' }, REFRESH_SECRET), tokenMark(NEW_REFRESH)]
    ])
    // The probe is deleted, and the run waits for that deletion.
    assert.deepEqual(s.deleted, [PROBE])
    assert.ok(index(s.log, `delete ${PROBE}`) < index(s.log, `write ${REFRESH_SECRET}`))
    assert.ok(s.log.includes(`deleted ${PROBE}`))

    // What was written: the probe holds no credential; the real secrets only the new tokens.
    assert.deepEqual(
      s.writes.map((w) => w.name),
      [PROBE, REFRESH_SECRET, ACCESS_SECRET]
    )
    const probe = s.writes[0]?.value ?? ''
    assert.equal(probe, `write check by token-rotation-action at ${NOW.toISOString()}`)
    assert.deepEqual(s.writes[1], { name: REFRESH_SECRET, value: NEW_REFRESH })
    assert.deepEqual(s.writes[2], { name: ACCESS_SECRET, value: NEW_ACCESS })
    for (const w of s.writes) {
      assert.ok(!w.value.includes(OLD_REFRESH), `the input token was written to ${w.name}`)
      assert.ok(!w.value.includes(s.settings.client.clientSecret), `the client secret was written to ${w.name}`)
    }

    // Every output of the contract, once, with the new values.
    assert.deepEqual(s.outputs, EXPECTED_OUTPUTS)

    assert.deepEqual(report, {
      label: 'amoCRM',
      account: 'mycompany.amocrm.ru',
      apiUrl: 'https://mycompany.amocrm.ru/api/v4',
      grant: 'refresh token',
      refreshSecret: 'repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync',
      accessSecret: 'repository secret AMOCRM_ACCESS_TOKEN of acme/crm-sync',
      issuedAt: NOW,
      expiresAt: new Date('2026-03-11T03:00:12.000Z'),
      // 90 days: earlier than 3 calendar months (June 10).
      refreshBy: new Date('2026-06-08T03:00:12.345Z'),
      refreshByWhy: 'amoCRM lets a refresh token expire after 3 months unused; this is the earlier of 90 days and 3 calendar months',
      accountId: '31234567',
      writeCheck: 'passed',
      refreshStored: 'updated',
      refreshKept: false,
      accessStored: 'created',
      rescueLine: undefined,
      failure: undefined,
      needs: undefined,
      secretUpdatedAt: undefined,
      spent: true,
      lastDay: {
        date: new Date('2026-06-08T03:00:12.345Z'),
        why: 'amoCRM lets a refresh token expire after 3 months unused; this is the earlier of 90 days and 3 calendar months'
      },
      newAuthorization:
        'A new authorization code is needed: take one from the integration\'s Keys and scopes tab and run the workflow manually with it (README: "First run").'
    } satisfies RotationReport)
    assert.deepEqual(s.warnings, [])
    assert.deepEqual(s.aborts, [])
    assert.deepEqual(s.notices, [])
    // No secret value in the log lines.
    for (const line of s.infos) {
      for (const value of [NEW_ACCESS, NEW_REFRESH, OLD_REFRESH, s.settings.client.clientSecret]) assert.ok(!line.includes(value), line)
    }
  })

  test('the spend waits for beforeSpend (the warm-up connection), after the write check', async () => {
    const s = setup()
    let release!: () => void
    const warm = new Promise<void>((resolve) => (release = resolve))
    s.deps.beforeSpend = async () => {
      s.log.push('waiting for the warm-up')
      await warm
      s.log.push('warm')
    }
    const running = rotate(s.settings, s.deps)
    // Nothing is spent while the warm-up is in flight.
    while (!s.log.includes('waiting for the warm-up')) await new Promise((resolve) => setImmediate(resolve))
    assert.equal(s.log.includes('exchange'), false)
    release()
    const report = await running
    assert.equal(report.failure, undefined)
    assert.ok(index(s.log, `written ${PROBE}`) < index(s.log, 'waiting for the warm-up'))
    assert.ok(index(s.log, 'warm') < index(s.log, 'exchange'))
  })

  test('the run waits for the probe deletion before it returns', async () => {
    // Both moments are the test's own promises: no race with a timer.
    let release: () => void = () => undefined
    const deletion = new Promise<void>((resolve) => (release = resolve))
    let stored: () => void = () => undefined
    const refreshStored = new Promise<void>((resolve) => (stored = resolve))
    const s = setup({
      store: {
        delete: () => deletion,
        write: async (name) => {
          if (name === REFRESH_SECRET) stored()
          return name === PROBE ? 'created' : 'updated'
        }
      }
    })
    let returned = false
    const running = rotate(s.settings, s.deps).then((report) => {
      returned = true
      return report
    })
    await refreshStored
    // Everything queued after the write has run by the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(returned, false, 'rotate returned before the probe was deleted')
    release()
    await running
    assert.equal(returned, true)
    assert.deepEqual(s.deleted, [PROBE])
    assert.equal(s.log.at(-1), `deleted ${PROBE}`)
  })

  test('the exchange gets the settings: account, client, redirect URI and grant', async () => {
    const s = setup({ settings: { grant: { type: 'authorization_code', code: 'def50200-auth-code' } } })
    const report = await rotate(s.settings, s.deps)
    assert.deepEqual(s.requests, [
      { provider: PROVIDER, client: CLIENT, grant: { type: 'authorization_code', code: 'def50200-auth-code' } }
    ])
    assert.equal(report.grant, 'authorization code')
  })

  test('without access-token-secret only the refresh token is written', async () => {
    const s = setup({ settings: { accessTokenSecret: undefined } })
    const report = await rotate(s.settings, s.deps)
    assert.deepEqual(
      s.writes.map((w) => w.name),
      [PROBE, REFRESH_SECRET]
    )
    assert.equal(report.accessSecret, undefined)
    assert.equal(report.accessStored, undefined)
    assert.equal(report.refreshStored, 'updated')
    assert.deepEqual(s.outputs, EXPECTED_OUTPUTS)
  })

  test('a probe that cannot be deleted is a warning, not a failure', async () => {
    const s = setup({
      store: { delete: () => later(undefined).then(() => Promise.reject(new GitHubError('GitHub refused to delete it.', 403))) }
    })
    const report = await rotate(s.settings, s.deps)
    assert.equal(report.refreshStored, 'updated')
    assert.deepEqual(s.warnings, [
      `Could not delete the probe secret ${PROBE}: GitHub refused to delete it. Delete it by hand; it holds no credential.`
    ])
  })

  test('outputs that cannot be set are a warning; the token is still stored', async () => {
    const s = setup({
      setOutput: () => {
        throw new Error('GITHUB_OUTPUT is not writable')
      }
    })
    const report = await rotate(s.settings, s.deps)
    assert.equal(report.refreshStored, 'updated')
    assert.deepEqual(s.warnings, ['Could not set the step outputs: GITHUB_OUTPUT is not writable'])
  })

  test('an access token that is not a JWT: expires-at from now + expires-in, account-id empty', async () => {
    const s = setup({ exchange: async () => ({ ...TOKENS, accessToken: 'opaque-access-token', expiresIn: 3600 }) })
    const report = await rotate(s.settings, s.deps)
    assert.deepEqual(report.expiresAt, new Date(NOW.getTime() + 3600 * 1000))
    assert.equal(report.accountId, '')
    assert.deepEqual(report.issuedAt, NOW)
    assert.equal(s.outputs.find(([name]) => name === 'expires-at')?.[1], '2026-03-10T04:00:12.345Z')
    assert.equal(s.outputs.find(([name]) => name === 'expires-in')?.[1], '3600')
    assert.equal(s.outputs.find(([name]) => name === 'account-id')?.[1], '')
  })

  test('neither a JWT nor expires_in: expires-at and expires-in empty', async () => {
    const s = setup({ exchange: async () => ({ ...TOKENS, accessToken: 'opaque-access-token', expiresIn: undefined }) })
    const report = await rotate(s.settings, s.deps)
    assert.equal(report.expiresAt, undefined)
    assert.equal(s.outputs.find(([name]) => name === 'expires-at')?.[1], '')
    assert.equal(s.outputs.find(([name]) => name === 'expires-in')?.[1], '')
  })
})

describe('rotate: verify-write', () => {
  test('false: no probe; the public key and the secret as it stands (with its repository ids) are read before the exchange', async () => {
    const s = setup({
      settings: { verifyWrite: false },
      store: {
        publicKey: () => later({ key_id: 'key-1', key: 'unused' }, 20),
        before: () => later({ updatedAt: undefined }, 10)
      }
    })
    const report = await rotate(s.settings, s.deps)
    assert.equal(report.writeCheck, 'skipped')
    assert.ok(index(s.log, 'publicKey done') < index(s.log, 'exchange'))
    assert.ok(index(s.log, `inspected ${REFRESH_SECRET}`) < index(s.log, 'exchange'))
    assert.deepEqual(
      s.writes.map((w) => w.name),
      [REFRESH_SECRET, ACCESS_SECRET]
    )
    assert.deepEqual(s.deleted, [])
    assert.ok(s.infos.includes('Write check skipped (verify-write: false); the public key of the target was read.'))
  })

  test('false, and the public key cannot be read: the token is not spent', async () => {
    const failure = new GitHubError('GitHub refused to read the public key of repository acme/crm-sync (404: Not Found).', 404)
    const s = setup({ settings: { verifyWrite: false }, store: { publicKey: () => later(undefined).then(() => Promise.reject(failure)) } })
    const error = await rotationError(s.settings, s.deps)
    assert.equal(error.message, failure.message)
    assert.deepEqual(s.requests, [])
    assert.deepEqual(s.writes, [])
    assert.equal(error.report.writeCheck, undefined)
  })

  test('a probe write that fails: no exchange, a RotationError with the report', async () => {
    const s = setup({ store: { write: failingWrite([PROBE]) } })
    s.guard.install()
    try {
      const error = await rotationError(s.settings, s.deps)
      assert.equal(error.message, refused(PROBE).message)
      assert.deepEqual(s.requests, [])
      assert.deepEqual(
        s.writes.map((w) => w.name),
        [PROBE]
      )
      assert.deepEqual(s.outputs, [])
      assert.equal(error.report.writeCheck, undefined)
      assert.equal(error.report.refreshStored, undefined)
      assert.equal(error.report.issuedAt, undefined)
      assert.equal(error.report.refreshSecret, 'repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync')
      // The critical section was never entered: a signal now still ends the run at once.
      process.emit('SIGTERM', 'SIGTERM')
      assert.deepEqual(s.aborts, ['SIGTERM'])
    } finally {
      s.guard.uninstall()
    }
  })
})

describe('rotate: the critical section', () => {
  test('guard.enter() has run when the exchange starts: a signal then is only noticed', async () => {
    const s = setup({
      exchange: async () => {
        process.emit('SIGTERM', 'SIGTERM')
        return later(TOKENS)
      }
    })
    s.guard.install()
    try {
      const report = await rotate(s.settings, s.deps)
      assert.deepEqual(s.aborts, [])
      assert.equal(s.notices.length, 1)
      assert.match(s.notices[0] ?? '', /^Received SIGTERM after the token was spent/)
      assert.equal(s.guard.signal, 'SIGTERM')
      // The run still stores the new token.
      assert.equal(report.refreshStored, 'updated')
      assert.deepEqual(s.writes[1], { name: REFRESH_SECRET, value: NEW_REFRESH })
    } finally {
      s.guard.uninstall()
    }
  })

  test('a signal during the probe write (before the token is spent) aborts', async () => {
    const s = setup({
      store: {
        write: (name) => {
          if (name === PROBE) process.emit('SIGTERM', 'SIGTERM')
          return later('updated')
        }
      }
    })
    s.guard.install()
    try {
      await rotate(s.settings, s.deps)
      assert.deepEqual(s.aborts, ['SIGTERM'])
    } finally {
      s.guard.uninstall()
    }
  })
})

describe('rotate: the exchange fails', () => {
  const revoked = (maybeSpent = false): TokenEndpointError =>
    new TokenEndpointError(
      'amoCRM refused the refresh token (401 "Token has been revoked"): the refresh token was already used.',
      'revoked',
      maybeSpent,
      401,
      'amoCRM says the refresh token has been revoked (401 Token has been revoked)'
    )

  /** The refresh secret's updated_at on each look after the spend (the last repeats). */
  const metadataAt =
    (...dates: Array<string | undefined>) =>
    (): Promise<{ updatedAt: Date } | undefined> => {
      const date = dates.length > 1 ? dates.shift() : dates[0]
      return Promise.resolve(date === undefined ? undefined : { updatedAt: new Date(date) })
    }
  /** As the pre-spend look found it: written the day before. */
  const YESTERDAY = { before: () => Promise.resolve({ updatedAt: new Date('2026-03-09T03:00:11Z') }) }
  /** This run was queued at 03:00:01 and read its secrets then. */
  const QUEUED = async (): Promise<RunLookup> => ({
    createdAt: new Date('2026-03-10T03:00:01Z'),
    runStartedAt: new Date('2026-03-10T03:00:02Z'),
    attempt: 1
  })

  function assertNothingStored(s: ReturnType<typeof setup>, error: { report: RotationReport }): void {
    assert.deepEqual(
      s.writes.map((w) => w.name),
      [PROBE]
    )
    assert.deepEqual(s.outputs, [])
    assert.deepEqual(s.deleted, [PROBE], 'the probe is still deleted')
    assert.equal(error.report.writeCheck, 'passed')
    assert.equal(error.report.refreshStored, undefined)
    assert.equal(error.report.issuedAt, undefined)
  }

  const BASE = 'amoCRM says the refresh token has been revoked (401 Token has been revoked)'
  const NEW_CODE =
    'A new authorization code is needed: take one from the integration\'s Keys and scopes tab and run the workflow manually with it (README: "First run").'

  test('revoked, and the secret was updated in the second the job started: another run rotated it', async () => {
    const s = setup({
      exchange: () => Promise.reject(revoked()),
      store: { ...YESTERDAY, metadata: metadataAt('2026-03-10T03:00:05Z') }
    })
    const error = await rotationError(s.settings, s.deps)
    assert.equal(
      error.message,
      `${BASE}, and the repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync was updated at 2026-03-10T03:00:05.000Z, after this run read it: another run rotated the token first. Nothing is lost — the secret holds the newer token, and amoCRM refuses a spent token without touching the newer one. Runs that overlap or wait in a queue hold a spent token: keep the refresh token in an environment secret, read when the job starts (README: "Concurrency").`
    )
    assert.deepEqual(s.metadataReads, [REFRESH_SECRET], 'no need to look again')
    assert.deepEqual(s.sleeps, [])
    assertNothingStored(s, error)
  })

  test('revoked, and the secret changes only on a later look: another run rotated it', async () => {
    const s = setup({
      exchange: () => Promise.reject(revoked()),
      store: { ...YESTERDAY, metadata: metadataAt('2026-03-09T03:00:11Z', '2026-03-09T03:00:11Z', '2026-03-10T03:00:13Z') }
    })
    const error = await rotationError(s.settings, s.deps)
    assert.match(error.message, /was updated at 2026-03-10T03:00:13\.000Z, after this run read it: another run rotated the token first\./)
    assert.deepEqual(s.metadataReads, [REFRESH_SECRET, REFRESH_SECRET, REFRESH_SECRET])
    assert.deepEqual(s.sleeps, [1, 1])
  })

  test('revoked, the run queued after the last update: a new authorization code is needed, after 1 + recheckMs looks', async () => {
    const s = setup({
      exchange: () => Promise.reject(revoked()),
      runTimes: QUEUED,
      store: { metadata: metadataAt('2026-03-10T03:00:00Z') }
    })
    const error = await rotationError(s.settings, s.deps)
    assert.equal(
      error.message,
      `${BASE}. It was already used: by another program holding the same token, or the integration was reinstalled. The secret was last updated at 2026-03-10T03:00:00.000Z, before this run was queued (repository and organization secrets are read when a run is queued), so no other run rotated it since. ${NEW_CODE}`
    )
    assert.deepEqual(s.metadataReads, [REFRESH_SECRET, REFRESH_SECRET, REFRESH_SECRET])
    assert.deepEqual(s.sleeps, [1, 1])
    // The looks come after the sleeps they wait for.
    assert.deepEqual(
      s.log.filter((entry) => entry === `metadata ${REFRESH_SECRET}` || entry.startsWith('sleep')),
      [`metadata ${REFRESH_SECRET}`, 'sleep 1', `metadata ${REFRESH_SECRET}`, 'sleep 1', `metadata ${REFRESH_SECRET}`]
    )
    assertNothingStored(s, error)
  })

  test('revoked, and the run cannot tell when it was queued: both outcomes are named, never "no other run" from the job start alone', async () => {
    // Updated a second before the job started: it may still be after the run was queued.
    const s = setup({ exchange: () => Promise.reject(revoked()), store: { metadata: metadataAt('2026-03-10T03:00:04Z') } })
    const error = await rotationError(s.settings, s.deps)
    assert.equal(
      error.message,
      `${BASE}. The secret was last updated at 2026-03-10T03:00:04.000Z; this run could not tell whether that was after it was queued (give the job 'permissions: actions: read'): if another run rotated the token after this run was queued, nothing is lost and the next run succeeds; otherwise: ${NEW_CODE}`
    )
    assert.doesNotMatch(error.message, /no other run/)
  })

  test('revoked, and the secret cannot be read: no date is claimed', async () => {
    const s = setup({
      exchange: () => Promise.reject(revoked()),
      runTimes: QUEUED,
      store: { ...YESTERDAY, metadata: () => Promise.reject(new GitHubError('GitHub refused to read it.', 403)) }
    })
    const error = await rotationError(s.settings, s.deps)
    assert.equal(
      error.message,
      `${BASE}. It was already used: by another program holding the same token, or the integration was reinstalled. ${NEW_CODE}`
    )
    assert.equal(s.metadataReads.length, 3)
  })

  test('revoked on a retry after an attempt that may have spent it: the message is true whatever happened first', async () => {
    const s = setup({
      exchange: () => Promise.reject(revoked(true)),
      runTimes: QUEUED,
      store: { metadata: metadataAt('2026-03-09T03:00:11Z') }
    })
    const error = await rotationError(s.settings, s.deps)
    assert.equal(
      error.message,
      `${BASE}. It was met on a retry: an earlier attempt of this run may have reached amoCRM and spent the token (its answer was lost or was a server error), and the pair issued then was lost on the way. The secret was last updated at 2026-03-09T03:00:11.000Z, before this run was queued (repository and organization secrets are read when a run is queued), so no other run rotated it since. ${NEW_CODE}`
    )
    assert.equal(s.metadataReads.length, 3)
  })

  test('revoked on a retry, but another run updated the secret: that explanation wins', async () => {
    const s = setup({
      exchange: () => Promise.reject(revoked(true)),
      store: { ...YESTERDAY, metadata: metadataAt('2026-03-10T03:00:06Z') }
    })
    const error = await rotationError(s.settings, s.deps)
    assert.match(error.message, /another run rotated the token first/)
  })

  test('another amoCRM failure is reported as it is, without reading the secret', async () => {
    const failure = new TokenEndpointError(
      'amoCRM refused the client (401 "Client authentication failed"): check client-id.',
      'rejected',
      false,
      401
    )
    const s = setup({ exchange: () => Promise.reject(failure) })
    const error = await rotationError(s.settings, s.deps)
    assert.equal(error.message, failure.message)
    assert.deepEqual(s.metadataReads, [])
    assertNothingStored(s, error)
  })
})

describe('rotate: storing the new tokens fails', () => {
  test('refresh write fails, with a rescue key: the rescue line opens to the new tokens', async () => {
    const { publicKey, privateKey } = await generateKeyPair()
    const s = setup({ settings: { rescuePublicKey: publicKey }, store: { write: failingWrite([REFRESH_SECRET]) } })
    const error = await rotationError(s.settings, s.deps)
    const { report } = error

    assert.equal(
      error.message,
      `The new refresh token could not be stored: ${refused(REFRESH_SECRET).message} The new tokens were sealed to 'rescue-public-key' and printed above as one amocrm-rescue:v1:… line (also in the job summary): open it with the action's rescue tool (\`npx -y github:amocrm-actions/token-rotation#v1 open\`) and store the refresh token before the next run (README: "Rescue").`
    )
    assert.ok(report.rescueLine, 'a rescue line')
    assert.match(report.rescueLine, /^amocrm-rescue:v1:[A-Za-z0-9+/]+=*$/)
    assert.ok(s.infos.includes(report.rescueLine), 'the rescue line is printed')
    assert.deepEqual(await openRescue(report.rescueLine, publicKey, privateKey), {
      version: 1,
      provider: 'amocrm',
      account: 'mycompany.amocrm.ru',
      api_url: 'https://mycompany.amocrm.ru/api/v4',
      client_id: s.settings.client.clientId,
      secret: REFRESH_SECRET,
      target: 'repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync',
      token_type: 'Bearer',
      access_token: NEW_ACCESS,
      refresh_token: NEW_REFRESH,
      expires_at: '2026-03-11T03:00:12.000Z',
      issued_at: NOW.toISOString()
    })
    // The outputs are still set, for a recovery step.
    assert.deepEqual(s.outputs, EXPECTED_OUTPUTS)
    // The access token write succeeded meanwhile.
    assert.equal(report.accessStored, 'updated')
    assert.equal(report.refreshStored, undefined)
    assert.deepEqual(s.deleted, [PROBE])
  })

  test('a server_time beyond any date: the request time stands in, and the rescue line still opens', async () => {
    const { publicKey, privateKey } = await generateKeyPair()
    const s = setup({
      settings: { rescuePublicKey: publicKey },
      store: { write: failingWrite([REFRESH_SECRET]) },
      exchange: () => later({ ...TOKENS, accessToken: 'opaque-access', serverTime: 1e300 })
    })
    const { report } = await rotationError(s.settings, s.deps)
    assert.ok(report.rescueLine, 'a rescue line')
    const opened = await openRescue(report.rescueLine, publicKey, privateKey)
    assert.equal(opened.refresh_token, NEW_REFRESH)
    assert.equal(opened.issued_at, NOW.toISOString())
    assert.equal(report.issuedAt?.toISOString(), NOW.toISOString())
  })

  test('refresh write fails, no rescue key: the message names if: failure() and rescue-public-key', async () => {
    // A slow probe deletion: the run still waits for it before it fails.
    const s = setup({ store: { write: failingWrite([REFRESH_SECRET]), delete: () => later(undefined, 30) } })
    const error = await rotationError(s.settings, s.deps)
    assert.equal(
      error.message,
      `The new refresh token could not be stored: ${refused(REFRESH_SECRET).message} amoCRM has already revoked the old token, so the new one exists only in this run: a later step with if: failure() can save steps.<id>.outputs.refresh-token; without one, a new authorization code will be needed. Set 'rescue-public-key' so that a failed write is never a loss (README: "Rescue").`
    )
    assert.equal(error.report.rescueLine, undefined)
    assert.deepEqual(s.outputs, EXPECTED_OUTPUTS)
    assert.equal(error.report.accessStored, 'updated')
    assert.equal(error.report.refreshStored, undefined)
    assert.deepEqual(error.report.expiresAt, new Date('2026-03-11T03:00:12.000Z'))
    assert.deepEqual(s.deleted, [PROBE])
  })

  test('a rescue key that cannot seal stops the run before the token is spent', async () => {
    const s = setup({ settings: { rescuePublicKey: 'bm90IGEga2V5' } })
    const error = await rotationError(s.settings, s.deps)
    assert.match(error.message, /^Input 'rescue-public-key' cannot be sealed to .* Nothing was spent\.$/)
    assert.deepEqual(s.requests, [], 'the token was not spent')
    assert.deepEqual(s.writes, [], 'nothing was written, not even the probe')
  })

  test('both writes fail: the refresh token is rescued, nothing is marked stored', async () => {
    const s = setup({ store: { write: failingWrite([REFRESH_SECRET, ACCESS_SECRET]) } })
    const error = await rotationError(s.settings, s.deps)
    assert.match(error.message, /^The new refresh token could not be stored: /)
    assert.equal(error.report.accessStored, undefined)
    assert.equal(error.report.refreshStored, undefined)
    assert.deepEqual(s.outputs, EXPECTED_OUTPUTS)
  })

  test('only the access write fails: "The refresh token is safe", refreshStored set', async () => {
    const s = setup({ store: { write: failingWrite([ACCESS_SECRET]) } })
    const error = await rotationError(s.settings, s.deps)
    assert.equal(
      error.message,
      `The refresh token is safe in the repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync, but the access token could not be stored: ${refused(ACCESS_SECRET).message} The step outputs still carry it.`
    )
    assert.equal(error.report.refreshStored, 'updated')
    assert.equal(error.report.accessStored, undefined)
    assert.equal(error.report.rescueLine, undefined)
    assert.deepEqual(s.outputs, EXPECTED_OUTPUTS)
    assert.deepEqual(s.deleted, [PROBE])
  })
})

describe('rotate: a stale token is never spent (the queued-run check)', () => {
  /** The secret was written at 03:00:03, after this run was queued at 03:00:01 (a run ahead in the queue rotated it). */
  const ROTATED_AFTER_QUEUE = { before: () => Promise.resolve({ updatedAt: new Date('2026-03-10T03:00:03Z') }) }
  const queued =
    (attempt = 1): (() => Promise<RunLookup>) =>
    async () => ({
      createdAt: new Date('2026-03-10T03:00:01Z'),
      runStartedAt: new Date('2026-03-10T03:00:04Z'),
      attempt
    })

  test('updated after the run was queued: not spent, nothing written, nothing lost', async () => {
    const s = setup({ runTimes: queued(), store: ROTATED_AFTER_QUEUE })
    const error = await rotationError(s.settings, s.deps)
    assert.equal(
      error.message,
      'Another run rotated the token after this run read it: the repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync was updated at 2026-03-10T03:00:03.000Z, after this run was queued (repository and organization secrets are read when a run is queued) at 2026-03-10T03:00:01.000Z. The refresh token this run holds is already spent, so it was not sent and nothing was stored: nothing is lost — the secret holds the newer token, and the next run uses it. To avoid this, keep the refresh token in an environment secret, which a job reads when it starts (README: "Concurrency").'
    )
    assert.deepEqual(s.requests, [], 'not spent')
    assert.deepEqual(s.writes, [], 'not even the probe')
  })

  // GitHub's dates have whole seconds: an update in the queue time's second may have come after it.
  // A token that may be stale is never sent (a server that detects reuse would revoke the grant).
  test('the same second as the queue time may be "after": the token is not spent, and the words say "may"', async () => {
    const s = setup({ runTimes: queued(), store: { before: () => Promise.resolve({ updatedAt: new Date('2026-03-10T03:00:01Z') }) } })
    const { message, report } = await rotationError(s.settings, s.deps)
    assert.equal(s.requests.length, 0)
    assert.equal(report.needs, 'nothing')
    assert.match(message, /^Another run may have rotated the token after this run read it: .* in the same second as this run was queued/)
    assert.match(message, /It was not sent, and nothing was stored: nothing is lost/)
  })

  test('the second before the queue time is before it: the token is spent', async () => {
    const s = setup({ runTimes: queued(), store: { before: () => Promise.resolve({ updatedAt: new Date('2026-03-10T03:00:00Z') }) } })
    await rotate(s.settings, s.deps)
    assert.equal(s.requests.length, 1)
  })

  test('a re-run compares with the start of its attempt', async () => {
    const s = setup({ runTimes: queued(2), store: ROTATED_AFTER_QUEUE })
    await rotate(s.settings, s.deps)
    assert.equal(s.requests.length, 1, 'updated before attempt 2 started: this attempt read the newer token')
    const late = setup({ runTimes: queued(2), store: { before: () => Promise.resolve({ updatedAt: new Date('2026-03-10T03:00:05Z') }) } })
    assert.match(
      (await rotationError(late.settings, late.deps)).message,
      /after attempt 2 of this run started at 2026-03-10T03:00:04\.000Z/
    )
  })

  test('an environment secret is compared with the job start (read when the job starts); no run lookup is made', async () => {
    let looked = false
    const lookup = async (): Promise<RunLookup> => {
      looked = true
      return queued()()
    }
    const target: Target = { kind: 'environment', environment: 'production', owner: 'acme', repo: 'crm-sync' }
    const s = setup({ settings: { target }, runTimes: lookup, store: ROTATED_AFTER_QUEUE })
    await rotate(s.settings, s.deps)
    assert.equal(s.requests.length, 1, '03:00:03 is before the job started at 03:00:05')
    assert.equal(looked, false)
    const late = setup({
      settings: { target },
      runTimes: lookup,
      store: { before: () => Promise.resolve({ updatedAt: new Date('2026-03-10T03:00:06Z') }) }
    })
    assert.match(
      (await rotationError(late.settings, late.deps)).message,
      /after this job started \(environment secrets are read when a job starts\)/
    )
  })

  test('a token this job stored in an earlier step is not stale, whatever the date', async () => {
    const s = setup({ runTimes: queued(), store: ROTATED_AFTER_QUEUE, storedInThisJob: tokenMark(OLD_REFRESH) })
    await rotate(s.settings, s.deps)
    assert.equal(s.requests.length, 1)
    assert.ok(s.infos.some((line) => /stored by an earlier step of this job/.test(line)))
    const other = setup({ runTimes: queued(), store: ROTATED_AFTER_QUEUE, storedInThisJob: tokenMark('another token') })
    await rotationError(other.settings, other.deps)
    assert.deepEqual(other.requests, [])
  })

  test("the run's times unreadable: the check is skipped with a notice, and the run goes on", async () => {
    const s = setup({
      runTimes: async () => ({ unreadable: 'GitHub answered 403: the token cannot read this run (actions: read)' }),
      store: ROTATED_AFTER_QUEUE
    })
    await rotate(s.settings, s.deps)
    assert.equal(s.requests.length, 1)
    assert.ok(
      s.infos.some((line) => /could not be read \(GitHub answered 403.*permissions: actions: read/.test(line)),
      s.infos.join('\n')
    )
  })

  test('the first exchange (authorization code) needs no check and makes no run lookup', async () => {
    let looked = false
    const s = setup({
      settings: { grant: { type: 'authorization_code', code: 'def50200-code' } },
      runTimes: async () => {
        looked = true
        return queued()()
      },
      store: ROTATED_AFTER_QUEUE
    })
    await rotate(s.settings, s.deps)
    assert.equal(looked, false)
    assert.equal(s.requests.length, 1)
  })

  test('the reads run in parallel: the run lookup does not wait for the public key', async () => {
    const order: string[] = []
    let keyReady: () => void = () => undefined
    const key = new Promise<PublicKey>((resolve) => (keyReady = () => resolve({ key_id: 'k', key: 'unused' })))
    const s = setup({
      runTimes: async () => {
        order.push('run lookup')
        keyReady()
        return queued()()
      },
      store: { publicKey: () => key }
    })
    await rotate(s.settings, s.deps)
    assert.deepEqual(order, ['run lookup'])
  })
})

describe('rotate: the probe never touches a secret it did not create', () => {
  test('a secret with the probe name exists: a run-unique probe is used, the existing one is left alone', async () => {
    const s = setup({ store: { probeExists: true } })
    await rotate(s.settings, s.deps)
    const own = `${PROBE}_42`
    assert.deepEqual(
      s.writes.map((w) => w.name),
      [own, REFRESH_SECRET, ACCESS_SECRET]
    )
    assert.deepEqual(s.deleted, [own])
    assert.ok(s.infos.some((line) => line.includes(`A secret named ${PROBE} already exists`)))
  })

  test('a probe write that GitHub answers "updated" (it existed after all) is not deleted', async () => {
    const s = setup({ store: { write: (name) => later(name === PROBE ? 'updated' : 'updated') } })
    await rotate(s.settings, s.deps)
    assert.deepEqual(s.deleted, [])
    assert.ok(s.warnings.some((line) => /already existed when it was written, so it is not deleted/.test(line)))
  })
})

describe('rotate: the new pair is safe before it is stored', () => {
  test('an answer without a refresh token: the access token reaches the outputs and the rescue, the run fails', async () => {
    const { publicKey, privateKey } = await generateKeyPair()
    const s = setup({
      settings: { rescuePublicKey: publicKey },
      exchange: () => later({ ...TOKENS, refreshToken: '', anomaly: "amoCRM's answer (200) was cut off (x)" })
    })
    const error = await rotationError(s.settings, s.deps)
    assert.match(
      error.message,
      /^amoCRM answered without a refresh token \(amoCRM's answer \(200\) was cut off \(x\)\): the old one is spent/
    )
    assert.ok(s.outputs.some(([name, value]) => name === 'access-token' && value === NEW_ACCESS))
    assert.ok(error.report.rescueLine)
    assert.equal((await openRescue(error.report.rescueLine, publicKey, privateKey)).access_token, NEW_ACCESS)
    assert.deepEqual(
      s.writes.map((w) => w.name),
      [PROBE],
      'nothing stored over the secret'
    )
  })

  test('a pair recovered from a bad answer is stored first, then the warning comes', async () => {
    const s = setup({ exchange: () => later({ ...TOKENS, anomaly: "amoCRM's answer (200) was not clean JSON" }) })
    const report = await rotate(s.settings, s.deps)
    assert.equal(report.refreshStored, 'updated')
    assert.ok(index(s.log, `written ${REFRESH_SECRET}`) < index(s.log, 'warning'))
    assert.match(s.warnings[0] ?? '', /was not clean JSON\. They are stored/)
  })

  test('a signal while the write hangs: the rescue line is printed at once; the deadline gives up the write', async () => {
    const { publicKey } = await generateKeyPair()
    let writing: () => void = () => undefined
    const started = new Promise<void>((resolve) => (writing = resolve))
    const s = setup({
      settings: { rescuePublicKey: publicKey, accessTokenSecret: undefined },
      store: {
        write: (name) => {
          if (name !== REFRESH_SECRET) return later('created')
          writing()
          // The write hangs until the guard's deadline, like a request aborted by it.
          return new Promise((_, reject) => s.guard.deadline.addEventListener('abort', () => reject(new GitHubError('aborted', undefined))))
        }
      }
    })
    // A short budget: the deadline comes 20 ms after the signal.
    const guard = new CancelGuard(
      (signal) => s.aborts.push(signal),
      (message) => s.notices.push(message),
      { budgetMs: 20, afterTermMs: 10 }
    )
    s.guard = guard
    s.deps.guard = guard
    guard.install()
    try {
      const running = rotationError(s.settings, s.deps)
      await started
      process.emit('SIGINT', 'SIGINT')
      const rescueAt = s.infos.findIndex((line) => line.startsWith('amocrm-rescue:v1:'))
      assert.ok(rescueAt >= 0, 'the rescue line is printed at the signal, before the write settles')
      const error = await running
      assert.match(error.message, /the run was cancelled \(SIGINT\) and the write was not confirmed in the time the runner leaves/)
      assert.match(error.message, /sealed to 'rescue-public-key' and printed above/)
      assert.equal(s.infos.filter((line) => line.startsWith('amocrm-rescue:v1:')).length, 1, 'printed once')
      assert.deepEqual(s.outputs, EXPECTED_OUTPUTS)
    } finally {
      guard.uninstall()
    }
  })
})

describe('rotate: an answer without an access token', () => {
  test('the refresh token is stored, no empty value goes to the access-token secret, and the run fails saying so', async () => {
    const s = setup({ exchange: () => later({ ...TOKENS, accessToken: '' }) })
    const error = await rotationError(s.settings, s.deps)
    assert.equal(
      error.message,
      'amoCRM answered without an access token: the new refresh token is safe in the repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync, so the next run gets a new pair; until then there is no access token (the repository secret AMOCRM_ACCESS_TOKEN of acme/crm-sync was left as it was).'
    )
    assert.deepEqual(
      s.writes.map((w) => w.name),
      [PROBE, REFRESH_SECRET]
    )
    assert.equal(error.report.refreshStored, 'updated')
  })
})

describe('rotate: a generic provider that keeps its refresh token (RFC 6749 §6)', () => {
  const GENERIC = oauth2({ tokenUrl: 'https://auth.example.com/oauth/token', clientAuth: 'basic', bodyFormat: 'form', scope: undefined })
  // A generic provider spends a refresh token only when this run's times say it is not stale.
  const runTimes = async (): Promise<RunLookup> => ({ createdAt: new Date('2026-03-10T03:00:01Z'), runStartedAt: undefined, attempt: 1 })

  for (const [name, answer] of [
    ['no refresh token in the answer', ''],
    ['the same refresh token again', OLD_REFRESH]
  ] as const) {
    test(`${name}: the secret is left as it is, the outputs carry the current token, the run succeeds`, async () => {
      const s = setup({ settings: { provider: GENERIC }, runTimes, exchange: () => later({ ...TOKENS, refreshToken: answer }) })
      const report = await rotate(s.settings, s.deps)
      assert.equal(report.failure, undefined)
      assert.equal(report.refreshKept, true)
      assert.equal(report.refreshStored, undefined)
      assert.equal(report.refreshBy, undefined)
      assert.deepEqual(
        s.writes.map((w) => w.name),
        [PROBE, ACCESS_SECRET],
        'the refresh secret is not written'
      )
      assert.ok(s.outputs.some(([output, value]) => output === 'refresh-token' && value === OLD_REFRESH))
      assert.ok(s.infos.some((line) => /kept the refresh token \(its answer carried no new one\)/.test(line)))
      assert.deepEqual(s.exported, [])
    })
  }

  test('the first exchange without a refresh token: fails, naming the scope that usually grants one', async () => {
    const s = setup({
      settings: { provider: GENERIC, grant: { type: 'authorization_code', code: 'c' } },
      exchange: () => later({ ...TOKENS, refreshToken: '' })
    })
    const { message } = await rotationError(s.settings, s.deps)
    assert.match(message, /answered the authorization code without a refresh token.*offline_access .*offline\.access/)
    assert.deepEqual(
      s.writes.map((w) => w.name),
      [PROBE]
    )
  })

  test('a provider that always rotates never takes a missing refresh token for a kept one', async () => {
    const s = setup({ exchange: () => later({ ...TOKENS, refreshToken: '' }) })
    const { message } = await rotationError(s.settings, s.deps)
    assert.match(message, /^amoCRM answered without a refresh token: the old one is spent\. A new authorization code is needed/)
  })
})

describe('rotate: round three', () => {
  const GENERIC = oauth2({ tokenUrl: 'https://auth.example.com/oauth/token', clientAuth: 'basic', bodyFormat: 'form', scope: undefined })
  const readable = async (): Promise<RunLookup> => ({ createdAt: new Date('2026-03-10T03:00:01Z'), runStartedAt: undefined, attempt: 1 })

  test('a provider that may revoke the grant on reuse: without the run’s times nothing is spent', async () => {
    const s = setup({ settings: { provider: GENERIC } })
    const { message } = await rotationError(s.settings, s.deps)
    assert.equal(s.requests.length, 0)
    assert.deepEqual(s.writes, [], 'not even the probe')
    assert.match(
      message,
      /^This run's times could not be read \(not in this test\), so it cannot tell .* So nothing was sent: nothing is lost/
    )
    assert.match(message, /RFC 9700 §4\.14\.2/)
  })

  test('amoCRM (refuses a spent token, keeps the newer one): without the times it spends, and says why that is safe', async () => {
    const s = setup()
    const report = await rotate(s.settings, s.deps)
    assert.equal(report.failure, undefined)
    assert.ok(s.infos.some((line) => /is skipped\. Give the job 'permissions: actions: read' .*amoCRM refuses a spent token/.test(line)))
  })

  test('the "another run" diagnosis at a provider that may revoke the grant says a new authorization may be needed', async () => {
    const revoked = new TokenEndpointError(
      'x',
      'revoked',
      false,
      400,
      'auth.example.com says the refresh token is invalid, expired or revoked (400 invalid_grant)'
    )
    const s = setup({
      settings: { provider: GENERIC },
      runTimes: readable,
      store: {
        before: async () => ({ updatedAt: new Date('2026-03-09T03:00:00Z') }),
        metadata: async () => ({ updatedAt: new Date('2026-03-10T03:00:09Z') })
      },
      exchange: () => Promise.reject(revoked)
    })
    const { message } = await rotationError(s.settings, s.deps)
    assert.match(
      message,
      /another run rotated the token first\. This run's token was already spent, and auth\.example\.com is not known to keep the newer token/
    )
    assert.match(message, /If the next run also reports the token invalid, a new authorization is needed/)
    assert.doesNotMatch(message, /Nothing is lost/)
  })

  test('updated in the same second as the job started, run times unknown: hedged, not stated as fact', async () => {
    const revoked = new TokenEndpointError(
      'x',
      'revoked',
      false,
      401,
      'amoCRM says the refresh token has been revoked (401 Token has been revoked)'
    )
    const s = setup({
      jobStartedAt: new Date('2026-03-10T03:00:05.600Z'),
      // The pre-spend look and the looks after the refusal all find the same date: the job's second.
      store: { metadata: async () => ({ updatedAt: new Date('2026-03-10T03:00:05Z') }) },
      exchange: () => Promise.reject(revoked)
    })
    const { message } = await rotationError(s.settings, s.deps)
    assert.match(message, /in the same second as this job started: GitHub's dates have whole seconds, so this run cannot tell/)
    assert.match(message, /If one did: Nothing is lost .* If none did: A new authorization code is needed/)
  })

  test('a re-run whose run_started_at GitHub did not give: the job’s own start, never the first attempt’s queue time', async () => {
    const s = setup({
      runTimes: async () => ({ createdAt: new Date('2026-03-10T02:00:00Z'), runStartedAt: undefined, attempt: 2 }),
      // Updated after the first attempt was queued, before this job started: the token in hand is the newest.
      store: { metadata: async () => ({ updatedAt: new Date('2026-03-10T02:30:00Z') }) }
    })
    const report = await rotate(s.settings, s.deps)
    assert.equal(report.failure, undefined)
    assert.equal(s.requests.length, 1)
  })

  test('one stored mark per target and secret: another account’s step does not hide this one', () => {
    const repo: Target = { kind: 'repository', owner: 'acme', repo: 'crm-sync' }
    const other: Target = { kind: 'repository', owner: 'acme', repo: 'website' }
    assert.match(storedMark(repo, 'AMO_A_REFRESH_TOKEN'), /^TOKEN_ROTATION_STORED_[0-9A-F]{16}$/)
    assert.notEqual(storedMark(repo, 'AMO_A_REFRESH_TOKEN'), storedMark(repo, 'AMO_B_REFRESH_TOKEN'))
    assert.notEqual(storedMark(repo, 'AMO_A_REFRESH_TOKEN'), storedMark(other, 'AMO_A_REFRESH_TOKEN'))
    // Secret names are case-insensitive on GitHub: so is the mark.
    assert.equal(storedMark(repo, 'amo_a_refresh_token'), storedMark(repo, 'AMO_A_REFRESH_TOKEN'))
  })

  for (const [name, token, why] of [
    ['a line break', 'new\nrefresh', /contains a control character/],
    ['white space at an end', 'new-refresh ', /begins or ends with white space/],
    ['more than 48 KB', 'r'.repeat(48 * 1024 + 1), /is 49153 bytes, more than the 48 KB GitHub keeps in a secret/]
  ] as const) {
    test(`a new refresh token with ${name}: not stored, rescued, the run fails`, async () => {
      const { publicKey, privateKey } = await generateKeyPair()
      const s = setup({ settings: { rescuePublicKey: publicKey }, exchange: () => later({ ...TOKENS, refreshToken: token }) })
      const { message, report } = await rotationError(s.settings, s.deps)
      assert.match(message, why)
      assert.match(message, /It was not stored\. The new tokens were sealed to 'rescue-public-key'/)
      assert.deepEqual(
        s.writes.map((w) => w.name),
        [PROBE]
      )
      assert.equal((await openRescue(report.rescueLine ?? '', publicKey, privateKey)).refresh_token, token)
    })
  }

  test('the spent token handed back by a provider that always rotates: not stored, the run fails', async () => {
    const s = setup({ exchange: () => later({ ...TOKENS, refreshToken: OLD_REFRESH }) })
    const { message } = await rotationError(s.settings, s.deps)
    assert.match(message, /answered with the very refresh token this run sent/)
    assert.deepEqual(
      s.writes.map((w) => w.name),
      [PROBE]
    )
  })

  for (const [name, answer, said] of [
    [
      'a refresh_token that did not arrive whole',
      { refreshToken: '', refreshIncomplete: true, complete: false },
      /carried a refresh token that did not arrive whole/
    ],
    [
      'an answer cut before its end',
      { refreshToken: '', complete: false },
      /was cut off before its end, where a new refresh token may have been/
    ]
  ] as const) {
    test(`generic: ${name} is never "kept"`, async () => {
      const s = setup({ settings: { provider: GENERIC }, runTimes: readable, exchange: () => later({ ...TOKENS, ...answer }) })
      const { message, report } = await rotationError(s.settings, s.deps)
      assert.match(message, said)
      assert.equal(report.refreshKept, false)
      assert.deepEqual(
        s.writes.map((w) => w.name),
        [PROBE]
      )
      assert.ok(s.outputs.some(([output, value]) => output === 'access-token' && value === NEW_ACCESS))
    })
  }

  test('generic: the spent token again, from an answer that was not clean, is never "kept" (it may be an echo)', async () => {
    const anomaly =
      "auth.example.com's answer (200) was not clean JSON (300 characters, something around the JSON); the tokens were recovered from it"
    const s = setup({
      settings: { provider: GENERIC },
      runTimes: readable,
      exchange: () => later({ ...TOKENS, refreshToken: OLD_REFRESH, anomaly })
    })
    const { message, report } = await rotationError(s.settings, s.deps)
    assert.match(
      message,
      /answered with the very refresh token this run sent .*may be an echo of the request rather than .* keeping its token/
    )
    assert.equal(report.refreshKept, false)
    assert.equal(report.needs, 'read')
    assert.deepEqual(
      s.writes.map((w) => w.name),
      [PROBE]
    )
  })

  test('a pair inside an error answer: outputs set, rescued, nothing stored, the run fails', async () => {
    const { publicKey, privateKey } = await generateKeyPair()
    const pair = new TokenEndpointError(
      'amoCRM answered 502, an error status, with what looks like a new token pair in the body: …',
      'pair-in-error',
      true,
      502,
      undefined,
      TOKENS
    )
    const s = setup({ settings: { rescuePublicKey: publicKey }, exchange: () => Promise.reject(pair) })
    const { message, report } = await rotationError(s.settings, s.deps)
    assert.match(message, /^amoCRM answered 502, an error status .* amoCRM may have revoked the old token|The new tokens were sealed/)
    assert.deepEqual(
      s.writes.map((w) => w.name),
      [PROBE]
    )
    assert.ok(s.outputs.some(([output, value]) => output === 'refresh-token' && value === NEW_REFRESH))
    assert.equal((await openRescue(report.rescueLine ?? '', publicKey, privateKey)).refresh_token, NEW_REFRESH)
  })

  test('a pair inside an error answer, no rescue key: the words say the old token may be spent, not that it is', async () => {
    const pair = new TokenEndpointError('amoCRM answered 502 …', 'pair-in-error', true, 502, undefined, TOKENS)
    const s = setup({ exchange: () => Promise.reject(pair) })
    const { message } = await rotationError(s.settings, s.deps)
    assert.match(message, /amoCRM may have revoked the old token; if it did, the new one exists only in this run/)
  })

  test('a write inferred from the secret’s date: green, with a warning and the rescue line', async () => {
    const { publicKey, privateKey } = await generateKeyPair()
    const s = setup({
      settings: { rescuePublicKey: publicKey },
      store: { write: (name) => later<WriteResult>(name === REFRESH_SECRET ? 'inferred' : name === PROBE ? 'created' : 'updated') }
    })
    const report = await rotate(s.settings, s.deps)
    assert.equal(report.failure, undefined)
    assert.equal(report.refreshStored, 'inferred')
    assert.match(
      s.warnings[0] ?? '',
      /got no answer, and the secret changed after this run read it: the new refresh token most likely landed/
    )
    assert.equal((await openRescue(report.rescueLine ?? '', publicKey, privateKey)).refresh_token, NEW_REFRESH)
  })
})
