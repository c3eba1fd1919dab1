/**
 * One sandbox per test: the amoCRM and GitHub stand-ins on 127.0.0.1 and a runner for the bundled
 * dist/index.js. Every run is checked for leaked secrets, whatever the test asserts besides.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { standInInputs, startAmoCrm, type AmoCrmOptions, type AmoCrmServer } from '../../sandbox/standins/amocrm.js'
import { bitrix24Inputs, startBitrix24, type Bitrix24Options, type Bitrix24Server } from '../../sandbox/standins/bitrix24.js'
import { oauth2Inputs, startOAuth2, type OAuth2Options, type OAuth2Server } from '../../sandbox/standins/oauth2.js'
import {
  DEMO_GITHUB_TOKEN,
  DEMO_JOB_TOKEN,
  startGitHub,
  type GitHubOptions,
  type GitHubServer
} from '../../sandbox/standins/github/github.js'
import type { Fault, RequestInfo } from '../../sandbox/standins/faults.js'
import { leakedSecrets, PROJECT_ROOT, runAction, type ActionRun, type RunOptions } from '../../sandbox/runner/runner.js'

export const REPO = { repo: 'acme/crm-sync' } as const

/**
 * ACTION_UNDER_TEST=DIR runs every end-to-end test against DIR/dist/index.js with DIR/action.yml's
 * defaults instead of this checkout's: how a new test is shown to fail on an older bundle
 * (`git worktree add /tmp/old <commit>`, then `ACTION_UNDER_TEST=/tmp/old node --test …`).
 */
export const UNDER_TEST = process.env.ACTION_UNDER_TEST
  ? { entry: join(process.env.ACTION_UNDER_TEST, 'dist', 'index.js'), actionYml: join(process.env.ACTION_UNDER_TEST, 'action.yml') }
  : {}

let runSeq = 0

export interface Run extends ActionRun {
  /** Requests to amoCRM's token endpoint during this run. */
  tokenRequests: number
  /** Requests to the GitHub stand-in during this run. */
  githubRequests: number
}

export interface Sandbox {
  amo: AmoCrmServer
  gh: GitHubServer
  /** Inputs of a scheduled refresh with the current refresh token (a first exchange with `code`). */
  inputs(extra?: Record<string, string>): Record<string, string>
  env(extra?: Record<string, string>): Record<string, string>
  /**
   * Runs the action and asserts that no secret it knows of was printed. The run is registered with
   * the GitHub stand-in as queued now (GitHub's clock), or at `queuedAt`; `queuedAt: null` leaves it
   * unknown there (the run's times cannot be read).
   */
  run(inputs: Record<string, string>, options?: Omit<RunOptions, 'inputs'> & { queuedAt?: number | null }): Promise<Run>
  /** Seeds a valid refresh token in amoCRM and in the repository secret (written an hour ago), as after a first run. */
  seed(): string
  /** GitHub's clock (the stand-in's `now`). */
  ghNow(): number
  close(): Promise<void>
}

export async function sandbox(options: { amo?: AmoCrmOptions; gh?: GitHubOptions } = {}): Promise<Sandbox> {
  const amo = await startAmoCrm(options.amo)
  const gh = await startGitHub(options.gh)
  const ghNow = options.gh?.now ?? Date.now
  const known = new Set<string>([amo.clientSecret, DEMO_GITHUB_TOKEN, DEMO_JOB_TOKEN])
  const box: Sandbox = {
    amo,
    gh,
    inputs: (extra = {}) => standInInputs(amo, { 'refresh-token': amo.currentRefreshToken() ?? '', ...extra }),
    env: (extra = {}) => ({ GITHUB_API_URL: gh.url, TOKEN_ROTATION_BACKOFF_MS: '5', ...extra }),
    async run(inputs, { queuedAt, ...runOptions } = {}) {
      const [tokenBefore, githubBefore] = [tokenRequests(amo), gh.requests.length]
      runSeq += 1
      const runId = String(8_000_000 + runSeq)
      // Queued now: a second on, as a run queued after the previous one's write is on GitHub (its
      // dates have whole seconds, and one in the same second as a write may be stale, rotate.ts).
      if (queuedAt !== null) gh.addRun(REPO.repo, { id: runId, createdAt: queuedAt ?? ghNow() + 1000 })
      const run = await runAction({ ...UNDER_TEST, ...runOptions, inputs, env: box.env({ GITHUB_RUN_ID: runId, ...runOptions.env }) })
      for (const value of [inputs['client-secret'], inputs['authorization-code'], inputs['refresh-token'], inputs['github-token']]) {
        if (value) known.add(value)
      }
      for (const pair of amo.issued) {
        known.add(pair.access_token)
        known.add(pair.refresh_token)
      }
      assert.deepEqual(leakedSecrets(run, [...known]), [], `a secret was printed:\n${run.stdout}\n${run.stderr}\n${run.summary}`)
      return { ...run, tokenRequests: tokenRequests(amo) - tokenBefore, githubRequests: gh.requests.length - githubBefore }
    },
    seed() {
      const token = `def50200${'ab'.repeat(300)}${Math.random().toString(16).slice(2)}`
      amo.setRefreshToken(token)
      gh.setSecret(REPO, 'AMOCRM_REFRESH_TOKEN', token, undefined, ghNow() - 3600_000)
      known.add(token)
      return token
    },
    ghNow,
    async close() {
      await Promise.all([amo.close(), gh.close()])
    }
  }
  return box
}

/** The `::error::` lines of a run, unescaped. */
export function errors(run: ActionRun): string[] {
  return run.log
    .split('\n')
    .filter((line) => line.startsWith('Error: '))
    .map((line) => line.slice('Error: '.length))
}

/** Requests to amoCRM's token endpoint so far. */
function tokenRequests(amo: AmoCrmServer): number {
  return amo.requests.filter((r) => r.path.startsWith('/oauth2/access_token')).length
}

/** The one failure of a run: exit code 1, one error line, no stack trace. */
export function failure(run: ActionRun): string {
  assert.equal(run.code, 1, `expected a failure:\n${run.log}`)
  const lines = errors(run)
  assert.equal(lines.length, 1, `expected one error line:\n${run.log}`)
  assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at .+\(.+:\d+:\d+\)/, 'a stack trace was printed')
  return lines[0] ?? ''
}

const exec = promisify(execFile)
/** The bundled rescue tool, as a user runs it from a clone. */
export const RESCUE_CLI = join(PROJECT_ROOT, 'dist', 'rescue', 'index.js')

/** A key pair from the rescue tool's `keygen`. */
export async function keygen(): Promise<{ publicKey: string; privateKey: string }> {
  const { stdout } = await exec(process.execPath, [RESCUE_CLI, 'keygen'])
  const keys = stdout.match(/^ {2}(\S+)$/gm)?.map((line) => line.trim())
  assert.ok(keys && keys.length === 2, stdout)
  return { publicKey: keys[0] ?? '', privateKey: keys[1] ?? '' }
}

/** Opens the rescue line in `log` with the rescue tool, as the README says: the JSON, or one field. */
export async function openRescueLine(log: string, privateKey: string, field?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rescue-'))
  await writeFile(join(dir, 'log.txt'), log)
  const { stdout } = await exec(process.execPath, [RESCUE_CLI, 'open', join(dir, 'log.txt'), ...(field ? ['--field', field] : [])], {
    env: { ...process.env, TOKEN_ROTATION_RESCUE_KEY: privateKey }
  })
  return stdout
}

/** A PUT of the secret `name` (any target). */
export const putOf =
  (name: string) =>
  (r: RequestInfo): boolean =>
    r.method === 'PUT' && r.path.endsWith(`/secrets/${name}`)

/** The requests that are not the alert issue's (the issues API of the repository that runs the workflow). */
export const besidesAlert = (requests: RequestInfo[]): RequestInfo[] =>
  requests.filter((r) => !/^\/repos\/acme\/crm-sync\/issues(\/|\?|$)/.test(r.path))

/** A request to amoCRM's token endpoint. */
export const tokenCall = (r: RequestInfo): boolean => r.path.startsWith('/oauth2/access_token')

/** A fault: this status instead of the service's answer. */
export const status = (code: number, extra: Partial<Extract<Fault, { kind: 'status' }>> = {}): Fault => ({
  kind: 'status',
  status: code,
  ...extra
})

/** The secret and amoCRM agree: the chain holds. */
export function chainHolds(box: Sandbox, name = 'AMOCRM_REFRESH_TOKEN'): void {
  const current = box.amo.currentRefreshToken()
  assert.ok(current, 'amoCRM has a valid refresh token')
  assert.equal(box.gh.secret(REPO, name)?.value, current, 'the secret holds amoCRM’s current refresh token')
}

export type TokenServer = Bitrix24Server | OAuth2Server

/** The Bitrix24 or generic OAuth 2.0 stand-in with the GitHub stand-in, as `sandbox()` is for amoCRM. */
export interface ProviderBox<S extends TokenServer> {
  server: S
  gh: GitHubServer
  secret: string
  inputs(extra?: Record<string, string>): Record<string, string>
  run(
    inputs: Record<string, string>,
    options?: Omit<RunOptions, 'inputs'> & { queuedAt?: number }
  ): Promise<ActionRun & { tokenRequests: number }>
  /** A valid refresh token in the stand-in and in the secret (written an hour ago). */
  seed(): string
  chainHolds(): void
  close(): Promise<void>
}

async function providerBox<S extends TokenServer>(
  server: S,
  secret: string,
  inputsOf: (s: S, extra: Record<string, string>) => Record<string, string>
): Promise<ProviderBox<S>> {
  const gh = await startGitHub()
  const known = new Set<string>([server.clientSecret, DEMO_GITHUB_TOKEN, DEMO_JOB_TOKEN])
  const tokenRequests = (): number => server.requests.filter((r) => r.path.includes('/oauth/token')).length
  const b: ProviderBox<S> = {
    server,
    gh,
    secret,
    inputs: (extra = {}) => inputsOf(server, { 'refresh-token': server.currentRefreshToken() ?? '', ...extra }),
    async run(inputs, { queuedAt, ...options } = {}) {
      runSeq += 1
      const runId = String(7_000_000 + runSeq)
      gh.addRun(REPO.repo, { id: runId, createdAt: queuedAt ?? Date.now() + 1000 })
      const before = tokenRequests()
      const run = await runAction({
        ...UNDER_TEST,
        ...options,
        inputs,
        env: { GITHUB_API_URL: gh.url, TOKEN_ROTATION_BACKOFF_MS: '5', GITHUB_RUN_ID: runId, ...options.env }
      })
      for (const value of Object.values(inputs))
        if (value.length >= 12 && value !== server.url && !value.startsWith('http')) known.add(value)
      for (const pair of server.issued) {
        known.add(pair.access_token)
        known.add(pair.refresh_token)
      }
      assert.deepEqual(leakedSecrets(run, [...known]), [], `a secret was printed:\n${run.stdout}\n${run.stderr}\n${run.summary}`)
      return { ...run, tokenRequests: tokenRequests() - before }
    },
    seed() {
      const token =
        server instanceof Object && 'memberId' in server
          ? 'f'.repeat(6) + Math.random().toString(16).slice(2).padEnd(64, '0')
          : `seeded-${Math.random().toString(36).slice(2)}-${'x'.repeat(20)}`
      server.setRefreshToken(token)
      gh.setSecret(REPO, secret, token, undefined, Date.now() - 3600_000)
      known.add(token)
      return token
    },
    chainHolds() {
      const current = server.currentRefreshToken()
      assert.ok(current, 'the provider has a valid refresh token')
      assert.equal(gh.secret(REPO, secret)?.value, current, 'the secret holds the provider’s current refresh token')
    },
    async close() {
      await Promise.all([server.close(), gh.close()])
    }
  }
  return b
}

export const bitrix = async (options: Bitrix24Options = {}) =>
  providerBox(await startBitrix24(options), 'BITRIX24_REFRESH_TOKEN', bitrix24Inputs)
export const generic = async (options: OAuth2Options = {}) => providerBox(await startOAuth2(options), 'OAUTH_REFRESH_TOKEN', oauth2Inputs)
