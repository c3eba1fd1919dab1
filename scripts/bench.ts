/**
 * npm run bench: what a rotation costs. Prints one table:
 *  - wall time of one refresh (the bundled action as a runner starts it) with 0 ms and 100 ms of
 *    latency added to every request, with and without the write check;
 *  - the requests on the critical path (round trips that must wait for one another), counted from
 *    the stand-ins' arrival times at 100 ms latency;
 *  - start-up cost (process start to the first request) against a bare `node -e ""`;
 *  - the size of dist/index.js;
 *  - side by side, the naive chain users build today: a refresh step, then a separate set-secret
 *    step — two processes, every request after the previous one;
 *  - under it, what bounds those figures: the speed-up a zero-overhead process could reach with the
 *    same critical path, and the start-up of an ncc bundle that only imports @actions/core against
 *    an empty one (scripts/probes/).
 * Then the same action against the Bitrix24 and generic OAuth 2.0 stand-ins (write check on).
 * Medians of RUNS runs each. Nothing here is asserted; with --write (as `npm run bench` runs it)
 * the figures are written into docs/performance.md.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { standInInputs, startAmoCrm, type AmoCrmServer } from '../sandbox/standins/amocrm.js'
import { bitrix24Inputs, startBitrix24 } from '../sandbox/standins/bitrix24.js'
import { oauth2Inputs, startOAuth2 } from '../sandbox/standins/oauth2.js'
import type { RequestInfo } from '../sandbox/standins/faults.js'
import { DEMO_GITHUB_TOKEN, startGitHub, type GitHubServer } from '../sandbox/standins/github/github.js'
import { PROJECT_ROOT, runAction } from '../sandbox/runner/runner.js'
import { measuredOn, PERFORMANCE_DOC, writeSection } from './report.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 9)
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}
const ms = (value: number): string => `${Math.round(value)} ms`

function timeProcess(command: string, args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'inherit'] })
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${args.join(' ')} exited ${code}`))))
  })
}

/** Round trips that had to wait for one another: arrivals grouped into waves one latency apart. */
function waves(requests: RequestInfo[], latencyMs: number): number {
  const times = requests.map((r) => r.at).sort((a, b) => a - b)
  let count = 0
  let waveStart = -Infinity
  for (const t of times) {
    if (t - waveStart >= latencyMs * 0.8) {
      count++
      waveStart = t
    }
  }
  return count
}

interface Measure {
  wall: number
  startup: number
  criticalPath: number
}

/** A token stand-in of any provider, and the action's inputs that point at it. */
interface TokenStandIn {
  latencyMs: number
  readonly requests: RequestInfo[]
  currentRefreshToken(): string | undefined
}

let runSeq = 6_000_000

async function measureAction(
  amo: TokenStandIn,
  gh: GitHubServer,
  latencyMs: number,
  verifyWrite: boolean,
  inputsOf: (extra: Record<string, string>) => Record<string, string>
): Promise<Measure> {
  amo.latencyMs = latencyMs
  gh.latencyMs = latencyMs
  const walls: number[] = []
  const startups: number[] = []
  const paths: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const [amoBefore, ghBefore] = [amo.requests.length, gh.requests.length]
    // A run queued now, whose times the action reads (as the README's workflow lets it).
    runSeq += 1
    gh.addRun('acme/crm-sync', { id: runSeq, createdAt: Date.now() + 1000, event: 'schedule' })
    const spawned = Date.now()
    const run = await runAction({
      inputs: inputsOf({ 'refresh-token': amo.currentRefreshToken() ?? '', 'verify-write': String(verifyWrite) }),
      env: { GITHUB_API_URL: gh.url, GITHUB_RUN_ID: String(runSeq) }
    })
    if (run.code !== 0) throw new Error(`the action failed:\n${run.log}`)
    const requests = [...amo.requests.slice(amoBefore), ...gh.requests.slice(ghBefore)]
    walls.push(run.durationMs)
    startups.push(Math.min(...requests.map((r) => r.at)) - spawned)
    paths.push(waves(requests, latencyMs))
  }
  return { wall: median(walls), startup: median(startups), criticalPath: median(paths) }
}

async function measureNaive(amo: AmoCrmServer, gh: GitHubServer, latencyMs: number): Promise<Measure> {
  amo.latencyMs = latencyMs
  gh.latencyMs = latencyMs
  const walls: number[] = []
  const paths: number[] = []
  const tokensFile = join(mkdtempSync(join(tmpdir(), 'naive-')), 'tokens.json')
  for (let i = 0; i < RUNS; i++) {
    const [amoBefore, ghBefore] = [amo.requests.length, gh.requests.length]
    const refresh = await timeProcess(process.execPath, [join(PROJECT_ROOT, '.build', 'scripts', 'naive', 'refresh.js')], {
      AMOCRM_URL: amo.url,
      CLIENT_ID: amo.clientId,
      CLIENT_SECRET: amo.clientSecret,
      REDIRECT_URI: amo.redirectUri,
      REFRESH_TOKEN: amo.currentRefreshToken() ?? '',
      TOKENS_FILE: tokensFile
    })
    const setSecret = await timeProcess(process.execPath, [naiveSetSecret], {
      GITHUB_API_URL: gh.url,
      GH_TOKEN: DEMO_GITHUB_TOKEN,
      REPOSITORY: 'acme/crm-sync',
      SECRET_NAME: 'AMOCRM_REFRESH_TOKEN',
      TOKENS_FILE: tokensFile
    })
    walls.push(refresh + setSecret)
    paths.push(waves([...amo.requests.slice(amoBefore), ...gh.requests.slice(ghBefore)], latencyMs))
  }
  return { wall: median(walls), startup: Number.NaN, criticalPath: median(paths) }
}

/** Bundles a script with ncc, as the action is bundled; returns the bundle's path. */
function bundle(script: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'bench-bundle-'))
  execFileSync('npx', ['ncc', 'build', join(PROJECT_ROOT, 'scripts', script), '-o', dir, '--minify', '--quiet'], {
    cwd: PROJECT_ROOT,
    stdio: 'inherit'
  })
  return join(dir, 'index.js')
}

/** Median wall time of a process that makes no request: start-up and exit only. */
async function timeStartup(args: string[]): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < RUNS; i++) times.push(await timeProcess(process.execPath, args, {}))
  return median(times)
}

const naiveSetSecret = bundle('naive/set-secret.ts')
const bare = await timeStartup(['-e', ''])
const emptyBundle = await timeStartup([bundle('probes/empty.ts')])
const coreBundle = await timeStartup([bundle('probes/core-import.ts')])

const amo = await startAmoCrm()
const gh = await startGitHub()
amo.setRefreshToken(`def50200${'0'.repeat(64)}`)
try {
  const rows: Array<[string, Measure, Measure]> = []
  for (const verify of [true, false]) {
    rows.push([
      `action, write check ${verify ? 'on ' : 'off'}`,
      await measureAction(amo, gh, 0, verify, (extra) => standInInputs(amo, extra)),
      await measureAction(amo, gh, 100, verify, (extra) => standInInputs(amo, extra))
    ])
  }
  rows.push(['naive chain (2 processes)', await measureNaive(amo, gh, 0), await measureNaive(amo, gh, 100)])

  // Printed, and with --write (npm run bench) written into docs/performance.md.
  const report: string[] = []
  const out = (line: string): void => {
    console.log(line)
    report.push(line)
  }
  const size = statSync(join(PROJECT_ROOT, 'dist', 'index.js')).size
  out(`Measured ${measuredOn()}; ${RUNS} runs each, medians; latency added to every request by the stand-ins.\n`)
  out('| | wall, 0 ms | wall, 100 ms | critical path | overhead over round trips × 100 ms | start-up (to 1st request) |')
  out('| --- | --- | --- | --- | --- | --- |')
  for (const [name, zero, hundred] of rows) {
    const overhead = hundred.wall - hundred.criticalPath * 100
    const startup = Number.isNaN(zero.startup) ? 'two process starts' : `${ms(zero.startup)} (bare node: ${ms(bare)})`
    out(`| ${name} | ${ms(zero.wall)} | ${ms(hundred.wall)} | ${hundred.criticalPath} round trips | ${ms(overhead)} | ${startup} |`)
  }
  const naive = rows[2]?.[2].wall ?? 0
  const speedUp = (row: number): string => (naive / (rows[row]?.[2].wall ?? 1)).toFixed(2)
  // The best any single process could do: a bare node start plus its critical path at 100 ms.
  const ceiling = (row: number): string => (naive / (bare + (rows[row]?.[2].criticalPath ?? 0) * 100)).toFixed(2)
  out(`\nspeed-up over the naive chain at 100 ms: write check on ${speedUp(0)}×, off ${speedUp(1)}×`)
  out(`ceiling (bare node start + critical path × 100 ms, zero overhead): on ${ceiling(0)}×, off ${ceiling(1)}×`)
  out(
    `start-up of ncc bundles without requests: empty ${ms(emptyBundle)}, importing only @actions/core ${ms(coreBundle)} (+${ms(coreBundle - emptyBundle)})`
  )
  out(`dist/index.js: ${(size / 1024).toFixed(0)} KiB`)

  // The other providers: the same action, the same critical path, another token endpoint.
  const bitrix = await startBitrix24()
  const generic = await startOAuth2()
  try {
    bitrix.setRefreshToken('f'.repeat(70))
    generic.setRefreshToken('bench-refresh-token-0000000000')
    out('\n| provider (write check on) | wall, 0 ms | wall, 100 ms | critical path |')
    out('| --- | --- | --- | --- |')
    for (const [name, server, inputsOf] of [
      ['Bitrix24', bitrix, (extra: Record<string, string>) => bitrix24Inputs(bitrix, extra)],
      ['generic OAuth 2.0', generic, (extra: Record<string, string>) => oauth2Inputs(generic, extra)]
    ] as const) {
      const zero = await measureAction(server, gh, 0, true, inputsOf)
      const hundred = await measureAction(server, gh, 100, true, inputsOf)
      out(`| ${name} | ${ms(zero.wall)} | ${ms(hundred.wall)} | ${hundred.criticalPath} round trips |`)
    }
  } finally {
    await Promise.all([bitrix.close(), generic.close()])
  }
  if (process.argv.includes('--write')) {
    await writeSection(PERFORMANCE_DOC, 'bench', report.join('\n'))
    console.log(`\nwritten to ${PERFORMANCE_DOC}`)
  }
} finally {
  await Promise.all([amo.close(), gh.close()])
}
