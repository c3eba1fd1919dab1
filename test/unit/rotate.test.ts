import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { resolveAccount } from '../../src/account.js'
import { AmoCrmError, type TokenRequest, type TokenSet } from '../../src/amocrm.js'
import { CancelGuard } from '../../src/critical.js'
import { ActionError } from '../../src/errors.js'
import type { Settings, Target } from '../../src/inputs.js'
import { openRescue } from '../../src/rescue.js'
import { rotate, RotationError, type ActionIO, type RotationDeps, type RotationReport } from '../../src/rotate.js'
import { generateKeyPair } from '../../src/sealing.js'
import { GitHubError, type PublicKey, type SecretMetadata, type SecretStore } from '../../src/secrets.js'

const ACCOUNT = resolveAccount('mycompany', 'amocrm.ru', undefined)
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
const TOKENS: TokenSet = { accessToken: NEW_ACCESS, refreshToken: NEW_REFRESH, tokenType: 'Bearer', expiresIn: 86400 }

/** When the token request is sent (the fake clock does not move). */
const NOW = new Date('2026-03-10T03:00:12.345Z')
/** The job read its secrets at 03:00:05.600; updated_at has whole seconds, so 03:00:05 counts as "after". */
const JOB_STARTED = new Date('2026-03-10T03:00:05.600Z')

const describeSecret = (name: string): string => `repository secret ${name} of acme/crm-sync`

function settings(overrides: Partial<Settings> = {}): Settings {
  return {
    account: ACCOUNT,
    clientId: '0b8f3c1e-5a1d-4c6e-9b2a-7d3e4f5a6b7c',
    clientSecret: 'Zx8Qw3Rt5Yu7Io9Pa1Sd2Fg4Hj6Kl8',
    redirectUri: 'https://example.com/',
    grant: { type: 'refresh_token', refreshToken: OLD_REFRESH },
    githubToken: 'github_pat_0123456789',
    githubApiUrl: 'https://api.github.com',
    refreshTokenSecret: REFRESH_SECRET,
    accessTokenSecret: ACCESS_SECRET,
    target: TARGET,
    rescuePublicKey: undefined,
    verifyWrite: true,
    ...overrides
  }
}

/** Lets other callbacks run, so that an order that only holds by chance would show. */
const later = <T>(value: T, ms = 2): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms))

interface StoreScript {
  write?: (name: string, value: string) => Promise<'created' | 'updated'>
  delete?: (name: string) => Promise<void>
  metadata?: (name: string) => Promise<SecretMetadata | undefined>
  publicKey?: () => Promise<PublicKey>
  selectedRepositoryIds?: () => Promise<number[]>
}

function fakeStore(log: string[], script: StoreScript) {
  const writes: Array<{ name: string; value: string }> = []
  const deleted: string[] = []
  const metadataReads: string[] = []
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
    async selectedRepositoryIds(): Promise<number[]> {
      log.push('selectedRepositoryIds')
      const ids = await (script.selectedRepositoryIds ?? (() => later([])))()
      log.push('selectedRepositoryIds done')
      return ids
    },
    async write(name: string, value: string): Promise<'created' | 'updated'> {
      log.push(`write ${name}`)
      writes.push({ name, value })
      try {
        const result = await (script.write ?? (() => later<'created' | 'updated'>('updated')))(name, value)
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
    async metadata(name: string): Promise<SecretMetadata | undefined> {
      log.push(`metadata ${name}`)
      metadataReads.push(name)
      return (script.metadata ?? (async () => undefined))(name)
    }
  }
  return { store: store as unknown as SecretStore, writes, deleted, metadataReads }
}

interface Options {
  settings?: Partial<Settings>
  store?: StoreScript
  exchange?: (request: TokenRequest) => Promise<TokenSet>
  jobStartedAt?: Date
  setOutput?: (name: string, value: string) => void
}

function setup(options: Options = {}) {
  const log: string[] = []
  const infos: string[] = []
  const warnings: string[] = []
  const outputs: Array<[string, string]> = []
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
  const { store, writes, deleted, metadataReads } = fakeStore(log, options.store ?? {})
  const deps: RotationDeps = {
    io,
    store,
    exchange,
    guard,
    now: () => new Date(NOW.getTime()),
    jobStartedAt: options.jobStartedAt ?? JOB_STARTED,
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
    aborts,
    notices,
    guard,
    requests,
    writes,
    deleted,
    metadataReads,
    sleeps
  }
}

/** Runs rotate and returns its RotationError (fails when it does not throw one). */
async function rotationError(settingsValue: Settings, deps: RotationDeps): Promise<RotationError> {
  try {
    await rotate(settingsValue, deps)
  } catch (error) {
    assert.ok(error instanceof RotationError, `expected a RotationError, got ${String(error)}`)
    assert.ok(error instanceof ActionError)
    assert.equal(error.report.failure, error.message)
    return error
  }
  assert.fail('rotate should have failed')
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
    failing.includes(name) ? later(undefined).then(() => Promise.reject(refused(name))) : later<'created' | 'updated'>('updated')

describe('rotate: a successful run', () => {
  test('the order of effects: probe, exchange, the new tokens, outputs', async () => {
    const s = setup({ store: { write: (name) => later(name === ACCESS_SECRET ? 'created' : 'updated') } })
    const report = await rotate(s.settings, s.deps)

    // The probe is written before the token is spent.
    assert.ok(index(s.log, `written ${PROBE}`) < index(s.log, 'exchange'))
    // The real secrets are written only after the exchange answered.
    assert.ok(index(s.log, 'exchanged') < index(s.log, `write ${REFRESH_SECRET}`))
    assert.ok(index(s.log, 'exchanged') < index(s.log, `write ${ACCESS_SECRET}`))
    // Outputs come after both writes are done.
    const firstOutput = s.log.findIndex((entry) => entry.startsWith('output '))
    assert.ok(index(s.log, `written ${REFRESH_SECRET}`) < firstOutput)
    assert.ok(index(s.log, `written ${ACCESS_SECRET}`) < firstOutput)
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
    assert.equal(probe, `write check by amocrm-token-action at ${NOW.toISOString()}`)
    assert.deepEqual(s.writes[1], { name: REFRESH_SECRET, value: NEW_REFRESH })
    assert.deepEqual(s.writes[2], { name: ACCESS_SECRET, value: NEW_ACCESS })
    for (const w of s.writes) {
      assert.ok(!w.value.includes(OLD_REFRESH), `the input token was written to ${w.name}`)
      assert.ok(!w.value.includes(s.settings.clientSecret), `the client secret was written to ${w.name}`)
    }

    // Every output of the contract, once, with the new values.
    assert.deepEqual(s.outputs, EXPECTED_OUTPUTS)

    assert.deepEqual(report, {
      account: 'mycompany.amocrm.ru',
      apiUrl: 'https://mycompany.amocrm.ru/api/v4',
      grant: 'refresh token',
      refreshSecret: 'repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync',
      accessSecret: 'repository secret AMOCRM_ACCESS_TOKEN of acme/crm-sync',
      issuedAt: NOW,
      expiresAt: new Date('2026-03-11T03:00:12.000Z'),
      refreshBy: new Date('2026-06-10T03:00:12.345Z'),
      accountId: '31234567',
      writeCheck: 'passed',
      refreshStored: 'updated',
      accessStored: 'created',
      rescueLine: undefined,
      failure: undefined
    } satisfies RotationReport)
    assert.deepEqual(s.warnings, [])
    assert.deepEqual(s.aborts, [])
    assert.deepEqual(s.notices, [])
    // No secret value in the log lines.
    for (const line of s.infos) {
      for (const value of [NEW_ACCESS, NEW_REFRESH, OLD_REFRESH, s.settings.clientSecret]) assert.ok(!line.includes(value), line)
    }
  })

  test('the run waits for the probe deletion before it returns', async () => {
    const s = setup({ store: { delete: () => later(undefined, 30) } })
    await rotate(s.settings, s.deps)
    assert.deepEqual(s.deleted, [PROBE])
    assert.equal(s.log.at(-1), `deleted ${PROBE}`)
  })

  test('the exchange gets the settings: account, client, redirect URI and grant', async () => {
    const s = setup({ settings: { grant: { type: 'authorization_code', code: 'def50200-auth-code' } } })
    const report = await rotate(s.settings, s.deps)
    assert.deepEqual(s.requests, [
      {
        account: ACCOUNT,
        clientId: s.settings.clientId,
        clientSecret: s.settings.clientSecret,
        redirectUri: 'https://example.com/',
        grant: { type: 'authorization_code', code: 'def50200-auth-code' }
      }
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
  test('false: no probe; the public key (and repository ids) are read before the exchange', async () => {
    const s = setup({
      settings: { verifyWrite: false },
      store: {
        publicKey: () => later({ key_id: 'key-1', key: 'unused' }, 20),
        selectedRepositoryIds: () => later([], 10)
      }
    })
    const report = await rotate(s.settings, s.deps)
    assert.equal(report.writeCheck, 'skipped')
    assert.ok(index(s.log, 'publicKey done') < index(s.log, 'exchange'))
    assert.ok(index(s.log, 'selectedRepositoryIds done') < index(s.log, 'exchange'))
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
  const revoked = (earlierAttemptUnanswered = false): AmoCrmError =>
    new AmoCrmError(
      'amoCRM refused the refresh token (401 "Token has been revoked"): the refresh token was already used or has expired.',
      'revoked',
      earlierAttemptUnanswered,
      401
    )

  const metadataAt =
    (...dates: Array<string | undefined>) =>
    (name: string): Promise<SecretMetadata | undefined> => {
      const date = dates.length > 1 ? dates.shift() : dates[0]
      return Promise.resolve(date === undefined ? undefined : { name, updatedAt: new Date(date) })
    }

  function assertNothingStored(s: ReturnType<typeof setup>, error: RotationError): void {
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

  test('revoked, and the secret was updated in the second the job started: another run rotated it', async () => {
    const s = setup({ exchange: () => Promise.reject(revoked()), store: { metadata: metadataAt('2026-03-10T03:00:05Z') } })
    const error = await rotationError(s.settings, s.deps)
    assert.equal(
      error.message,
      'amoCRM says the refresh token has been revoked (401 Token has been revoked), and repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync was updated at 2026-03-10T03:00:05.000Z, after this job read it: another run rotated the token first. Nothing is lost — the secret holds the newer token. Add a concurrency group to the workflow (concurrency: { group: amocrm-token, cancel-in-progress: false }) so that runs never overlap.'
    )
    assert.deepEqual(s.metadataReads, [REFRESH_SECRET], 'no need to look again')
    assert.deepEqual(s.sleeps, [])
    assertNothingStored(s, error)
  })

  test('revoked, and the secret changes only on a later look: another run rotated it', async () => {
    const s = setup({
      exchange: () => Promise.reject(revoked()),
      store: { metadata: metadataAt('2026-03-01T10:00:00Z', '2026-03-01T10:00:00Z', '2026-03-10T03:00:13Z') }
    })
    const error = await rotationError(s.settings, s.deps)
    assert.match(error.message, /was updated at 2026-03-10T03:00:13\.000Z, after this job read it: another run rotated the token first\./)
    assert.deepEqual(s.metadataReads, [REFRESH_SECRET, REFRESH_SECRET, REFRESH_SECRET])
    assert.deepEqual(s.sleeps, [1, 1])
  })

  test('revoked, and the secret is older than the job: a new authorization code is needed, after 1 + recheckMs looks', async () => {
    // One second before the job's second: not another run.
    const s = setup({ exchange: () => Promise.reject(revoked()), store: { metadata: metadataAt('2026-03-10T03:00:04Z') } })
    const error = await rotationError(s.settings, s.deps)
    assert.equal(
      error.message,
      'amoCRM says the refresh token has been revoked (401 Token has been revoked) (the secret was last updated 2026-03-10T03:00:04.000Z, before this job started, so no other run rotated it): it was already used, or went unused for 3 months, or the integration was reinstalled. A new authorization code is needed: take one from the integration\'s Keys and scopes tab and run the workflow manually with it (README: "First run").'
    )
    assert.deepEqual(s.metadataReads, [REFRESH_SECRET, REFRESH_SECRET, REFRESH_SECRET])
    assert.deepEqual(s.sleeps, [1, 1])
    // The looks come after the sleeps they wait for.
    assert.deepEqual(
      s.log.filter((entry) => entry.startsWith('metadata') || entry.startsWith('sleep')),
      [`metadata ${REFRESH_SECRET}`, 'sleep 1', `metadata ${REFRESH_SECRET}`, 'sleep 1', `metadata ${REFRESH_SECRET}`]
    )
    assertNothingStored(s, error)
  })

  test('revoked, and the secret cannot be read: a new authorization code is needed, no date', async () => {
    const s = setup({
      exchange: () => Promise.reject(revoked()),
      store: { metadata: () => Promise.reject(new GitHubError('GitHub refused to read it.', 403)) }
    })
    const error = await rotationError(s.settings, s.deps)
    assert.match(error.message, /^amoCRM says the refresh token has been revoked \(401 Token has been revoked\): it was already used/)
    assert.match(error.message, /A new authorization code is needed/)
    assert.equal(s.metadataReads.length, 3)
  })

  test('revoked on a retry after an unanswered attempt: the first attempt probably spent the token', async () => {
    const s = setup({ exchange: () => Promise.reject(revoked(true)), store: { metadata: metadataAt(undefined) } })
    const error = await rotationError(s.settings, s.deps)
    assert.equal(
      error.message,
      "amoCRM says the refresh token has been revoked (401 Token has been revoked) on a retry: the first attempt got no answer, so it probably reached amoCRM and spent the token, and the new pair it issued was lost on the way. A new authorization code is needed: take one from the integration's Keys and scopes tab and run the workflow manually with it."
    )
    assert.equal(s.metadataReads.length, 3)
  })

  test('revoked on a retry, but another run updated the secret: that explanation wins', async () => {
    const s = setup({ exchange: () => Promise.reject(revoked(true)), store: { metadata: metadataAt('2026-03-10T03:00:06Z') } })
    const error = await rotationError(s.settings, s.deps)
    assert.match(error.message, /another run rotated the token first/)
  })

  test('another amoCRM failure is reported as it is, without reading the secret', async () => {
    const failure = new AmoCrmError(
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
      account: 'mycompany.amocrm.ru',
      api_url: 'https://mycompany.amocrm.ru/api/v4',
      client_id: s.settings.clientId,
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

  test('refresh write fails and the rescue key does not seal: the message says so', async () => {
    const s = setup({ settings: { rescuePublicKey: 'bm90IGEga2V5' }, store: { write: failingWrite([REFRESH_SECRET]) } })
    const error = await rotationError(s.settings, s.deps)
    assert.match(error.message, /Sealing the new tokens to 'rescue-public-key' failed too \(.+\): a later step with if: failure\(\)/)
    assert.equal(error.report.rescueLine, undefined)
    assert.deepEqual(s.outputs, EXPECTED_OUTPUTS)
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
