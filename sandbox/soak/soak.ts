/**
 * The soak: many consecutive rotations of one token chain through the bundled action, with random
 * faults injected into both stand-ins. After every run the chain is checked: the secret must hold
 * the provider's one valid refresh token. A run that printed a rescue line is recovered the way the
 * README tells a user to (open the line with the private key, store the token); anything else that
 * leaves the secret stale is a chain break — the failure this project exists to prevent.
 *
 * `provider` picks the token stand-in and the inputs a workflow would pass it: amoCRM (default,
 * secret AMOCRM_REFRESH_TOKEN), Bitrix24 (BITRIX24_REFRESH_TOKEN) or a generic OAuth 2.0 server
 * with Basic client authentication, form bodies and rotating refresh tokens (OAUTH_REFRESH_TOKEN);
 * the secret names are the action's defaults, so no `refresh-token-secret` is passed. The
 * `amocrm*` options and result fields are about whichever token stand-in runs.
 *
 * Token-endpoint faults are those after which a client can know the token is unspent or retry
 * safely (5xx and 429 answered without processing, resets before processing, delays). A lost answer
 * after the provider spent the token cannot be recovered by any client — the new pair exists only
 * in that answer — so it is off by default (`amocrmLostRate`) and tested on its own for a clear
 * diagnosis.
 *
 * The runs are a user's scheduled workflow and their recovery from a rescue line; left out:
 * concurrent runs (one rotation at a time), faults that a real provider never answers with (a 2xx
 * body cut or transformed: test/e2e/hostile.test.ts covers those), non-rotating OAuth 2.0.
 */
import { standInInputs, startAmoCrm } from '../standins/amocrm.js'
import { bitrix24Inputs, startBitrix24 } from '../standins/bitrix24.js'
import { oauth2Inputs, startOAuth2 } from '../standins/oauth2.js'
import { nginxHtml, seededRandom, type Fault, type FaultHook } from '../standins/faults.js'
import { startGitHub } from '../standins/github/github.js'
import { cpSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROJECT_ROOT, runAction, type RunOptions } from '../runner/runner.js'
import { generateKeyPair, publicKeyOf } from '../../src/rescue/sealing.js'
import { openRescue } from '../../src/rescue/rescue.js'

export type Provider = 'amocrm' | 'bitrix24' | 'oauth2'
export const PROVIDERS: readonly Provider[] = ['amocrm', 'bitrix24', 'oauth2']

/** The secret the action writes by default for each provider (its `defaultSecret` in src/providers/). */
const REFRESH_SECRET: Record<Provider, string> = {
  amocrm: 'AMOCRM_REFRESH_TOKEN',
  bitrix24: 'BITRIX24_REFRESH_TOKEN',
  oauth2: 'OAUTH_REFRESH_TOKEN'
}

/** What the soak needs of a token stand-in, whichever provider it plays. */
interface TokenStandIn {
  faults: FaultHook | undefined
  readonly requests: unknown[]
  issueCode(): string
  currentRefreshToken(): string | undefined
  close(): Promise<void>
}

/** The token stand-in for `provider` and the inputs that point the action at it. */
async function startProvider(
  provider: Provider,
  extra: Record<string, string>
): Promise<{ server: TokenStandIn; inputs: Record<string, string> }> {
  switch (provider) {
    case 'amocrm': {
      const server = await startAmoCrm()
      return { server, inputs: standInInputs(server, extra) }
    }
    case 'bitrix24': {
      const server = await startBitrix24()
      return { server, inputs: bitrix24Inputs(server, extra) }
    }
    case 'oauth2': {
      const server = await startOAuth2()
      return { server, inputs: oauth2Inputs(server, extra) }
    }
  }
}

interface SoakOptions {
  /** Default 'amocrm'. */
  provider?: Provider
  rotations: number
  githubFaultRate: number
  amocrmFaultRate: number
  amocrmLostRate?: number
  seed?: number
  onProgress?: (done: number, result: SoakResult) => void
}

interface SoakResult {
  rotations: number
  succeeded: number
  /** Runs that failed with the chain intact (the secret still holds a valid token). */
  failedIntact: number
  rescues: number
  chainBreaks: number
  /** `amocrm`: the token stand-in, whichever provider it plays. */
  faultsInjected: { github: number; amocrm: number }
  /** `amocrm`: the token stand-in, whichever provider it plays. */
  requests: { github: number; amocrm: number }
  failureMessages: Map<string, number>
  seconds: number
}

const json = (message: string): Fault => ({
  kind: 'status',
  status: 403,
  contentType: 'application/json',
  body: JSON.stringify({ message }),
  headers: { 'retry-after': '0' }
})
const GITHUB_FAULTS: Fault[] = [
  { kind: 'status', status: 500 },
  { kind: 'status', status: 502 },
  { kind: 'status', status: 503 },
  { kind: 'status', status: 429, headers: { 'retry-after': '0' } },
  json('You have exceeded a secondary rate limit. Please wait a few minutes before you try again.'),
  { kind: 'reset' },
  { kind: 'lost-response' },
  { kind: 'delay', ms: 150 }
]
const AMOCRM_FAULTS: Fault[] = [
  { kind: 'status', status: 500, body: nginxHtml(500), contentType: 'text/html' },
  { kind: 'status', status: 502, body: nginxHtml(502), contentType: 'text/html' },
  { kind: 'status', status: 503, body: nginxHtml(503), contentType: 'text/html' },
  { kind: 'status', status: 429, headers: { 'retry-after': '0' } },
  { kind: 'reset' },
  { kind: 'delay', ms: 150 }
]

function counted(rate: number, rng: () => number, kinds: Fault[], count: () => void, lostRate = 0): FaultHook {
  return () => {
    const roll = rng()
    if (roll < lostRate) {
      count()
      return { kind: 'lost-response' }
    }
    if (roll >= lostRate + rate) return undefined
    count()
    return kinds[Math.floor(rng() * kinds.length)] ?? kinds[0]
  }
}

export async function soak(options: SoakOptions): Promise<SoakResult> {
  const started = performance.now()
  const rng = seededRandom(options.seed ?? 20261126)
  const result: SoakResult = {
    rotations: 0,
    succeeded: 0,
    failedIntact: 0,
    rescues: 0,
    chainBreaks: 0,
    faultsInjected: { github: 0, amocrm: 0 },
    requests: { github: 0, amocrm: 0 },
    failureMessages: new Map(),
    seconds: 0
  }
  // A copy of the bundle, so that rebuilding dist/ during a long soak cannot fail its runs.
  const copy = mkdtempSync(join(tmpdir(), 'soak-dist-'))
  cpSync(join(PROJECT_ROOT, 'dist'), copy, { recursive: true })
  const entry: RunOptions['entry'] = join(copy, 'index.js')
  // Copied first: once the stand-ins run, only the finally below closes them.
  const provider = options.provider ?? 'amocrm'
  const secretName = REFRESH_SECRET[provider]
  const keys = await generateKeyPair()
  const { server: amo, inputs: base } = await startProvider(provider, { 'rescue-public-key': keys.publicKey })
  const gh = await startGitHub().catch(async (error: unknown) => {
    await amo.close()
    throw error
  })
  const repo = { repo: 'acme/crm-sync' }
  const env = { GITHUB_API_URL: gh.url, AMOCRM_TOKEN_ACTION_BACKOFF_MS: '5' }
  const restart = async (): Promise<void> => {
    amo.faults = gh.faults = undefined
    const first = await runAction({ entry, inputs: { ...base, 'authorization-code': amo.issueCode() }, env })
    if (first.code !== 0) throw new Error(`the first exchange failed without faults:\n${first.log}`)
  }
  try {
    await restart()
    gh.faults = counted(options.githubFaultRate, rng, GITHUB_FAULTS, () => result.faultsInjected.github++)
    amo.faults = counted(options.amocrmFaultRate, rng, AMOCRM_FAULTS, () => result.faultsInjected.amocrm++, options.amocrmLostRate)
    const hooks = { gh: gh.faults, amo: amo.faults }
    for (let i = 0; i < options.rotations; i++) {
      // Queued now, as a scheduled run: its times are readable, as the README's workflow makes them.
      const runId = String(5_000_000 + i)
      // A second on: on GitHub a run is queued seconds after the previous one stored its token.
      gh.addRun(repo.repo, { id: runId, createdAt: Date.now() + 1000, event: 'schedule' })
      const run = await runAction({
        entry,
        inputs: { ...base, 'refresh-token': gh.secret(repo, secretName)?.value ?? '' },
        env: { ...env, GITHUB_RUN_ID: runId }
      })
      result.rotations++
      if (run.code === 0) result.succeeded++
      else {
        const message =
          /^Error: (.*)$/m
            .exec(run.log)?.[1]
            ?.replace(/\d+(\.\d+)? s\b/g, 'N s')
            .slice(0, 90) ?? `exit ${run.code}`
        result.failureMessages.set(message, (result.failureMessages.get(message) ?? 0) + 1)
      }
      const line = /\b[a-z0-9]+-rescue:v1:\S+/.exec(run.stdout)?.[0]
      if (run.code !== 0 && line) {
        // What the README tells a user to do: open the line, store the refresh token.
        const bundle = await openRescue(line, await publicKeyOf(keys.privateKey), keys.privateKey)
        gh.setSecret(repo, secretName, bundle.refresh_token)
        result.rescues++
      }
      const intact = gh.secret(repo, secretName)?.value === amo.currentRefreshToken()
      if (!intact) {
        result.chainBreaks++
        await restart()
        gh.faults = hooks.gh
        amo.faults = hooks.amo
      } else if (run.code !== 0) result.failedIntact++
      options.onProgress?.(i + 1, result)
    }
  } finally {
    result.requests = { github: gh.requests.length, amocrm: amo.requests.length }
    await Promise.all([amo.close(), gh.close()])
    result.seconds = (performance.now() - started) / 1000
  }
  return result
}
