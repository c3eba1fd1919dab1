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
 * Then the same action against the Bitrix24 and generic OAuth 2.0 stand-ins (write check on); the
 * danger window (spend request sent → secret write answered) with stand-ins that charge a new
 * connection's set-up (TCP + TLS, CONNECT_MS), warm-up answered and refused; the paired ratio of
 * the action to a zero-overhead process making the same requests in the same waves
 * (scripts/probes/waves.ts); and an organization secret with 10, 100 and 1,000 selected
 * repositories (time and peak memory).
 * Medians of RUNS runs each. Nothing here is asserted; with --write (as `npm run bench` runs it)
 * the figures are written into docs/performance.md.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { standInInputs, startAmoCrm, type AmoCrmServer } from '../sandbox/standins/amocrm.js'
import { bitrix24Inputs, startBitrix24 } from '../sandbox/standins/bitrix24.js'
import { oauth2Inputs, startOAuth2 } from '../sandbox/standins/oauth2.js'
import type { FaultHook, RequestInfo } from '../sandbox/standins/faults.js'
import { DEMO_GITHUB_TOKEN, startGitHub, type GitHubServer } from '../sandbox/standins/github/github.js'
import { PROJECT_ROOT, runAction } from '../sandbox/runner/runner.js'
import type { PlannedRequest } from './probes/waves.js'
import { measuredOn, PERFORMANCE_DOC, writeSection } from './report.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 9)
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}
const ms = (value: number): string => `${Math.round(value)} ms`
const mib = (kib: number): string => `${(kib / 1024).toFixed(0)} MiB`
/** What a new connection costs in the stand-ins for the danger-window rows: TCP + TLS, about two round trips from a runner. */
const CONNECT_MS = 200

function timeProcess(command: string, args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'inherit'] })
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${args.join(' ')} exited ${code}`))))
  })
}

/** A request and the stand-in (origin) that received it. */
interface Seen {
  origin: string
  info: RequestInfo
}

/** Requests grouped into the round trips that had to wait for one another: arrivals one latency apart. */
function waveGroups(seen: Seen[], latencyMs: number): Seen[][] {
  const groups: Seen[][] = []
  let waveStart = -Infinity
  for (const request of [...seen].sort((a, b) => a.info.at - b.info.at)) {
    if (request.info.at - waveStart >= latencyMs * 0.8) {
      groups.push([])
      waveStart = request.info.at
    }
    groups[groups.length - 1]?.push(request)
  }
  return groups
}

function waves(requests: RequestInfo[], latencyMs: number): number {
  return waveGroups(
    requests.map((info) => ({ origin: '', info })),
    latencyMs
  ).length
}

/** The same requests, in the same waves, for the zero-overhead probe. */
function planOf(groups: Seen[][]): PlannedRequest[][] {
  return groups.map((wave) =>
    wave.map(({ origin, info }) => {
      const type = String(info.headers['content-type'] ?? '')
      const body =
        info.body === undefined
          ? undefined
          : typeof info.body === 'string'
            ? info.body
            : type.includes('x-www-form-urlencoded')
              ? new URLSearchParams(info.body as Record<string, string>).toString()
              : JSON.stringify(info.body)
      const headers: Record<string, string> = { 'user-agent': 'probe' }
      if (type) headers['content-type'] = type
      if (typeof info.headers.authorization === 'string') headers.authorization = info.headers.authorization
      return { url: `${origin}${info.path}`, method: info.method, headers, body }
    })
  )
}

/**
 * The danger window of one run: from the spend leaving (its connection's opening, when the spend
 * had to open one) to the refresh-token secret's write answered. NaN when either is missing.
 */
function dangerWindow(token: RequestInfo[], github: RequestInfo[]): { ms: number; warm: boolean } {
  const spend = token.filter((r) => r.method === 'POST').at(-1)
  if (!spend) return { ms: Number.NaN, warm: false }
  const sent = spend.newConnection ? spend.connectedAt : spend.at
  const stored = github
    .filter((r) => r.method === 'PUT' && r.path.includes('/actions/secrets/') && r.at >= spend.at)
    .filter((r) => /_REFRESH_TOKEN$/.test(r.path.split('?')[0] ?? ''))
    .at(-1)
  return { ms: stored?.answeredAt === undefined ? Number.NaN : stored.answeredAt - sent, warm: !spend.newConnection }
}

interface Measure {
  wall: number
  startup: number
  criticalPath: number
  /** Spend sent → refresh-token secret written (ms). */
  window: number
  /** Every measured spend went over a warm connection. */
  spendWarm: boolean
  /** Peak resident memory (KiB), when measured. */
  rssKiB: number
}

/** A token stand-in of any provider, and the action's inputs that point at it. */
interface TokenStandIn {
  readonly url: string
  latencyMs: number
  connectMs: number
  readonly requests: RequestInfo[]
  currentRefreshToken(): string | undefined
}

let runSeq = 6_000_000

interface RunOptions {
  verifyWrite?: boolean
  connectMs?: number
  /** The token endpoint's own latency and connection cost, when it is farther away than GitHub. */
  tokenLatencyMs?: number
  tokenConnectMs?: number
  measureMemory?: boolean
  /** Inputs beyond the stand-in's own and the refresh token. */
  extra?: Record<string, string>
  /** Called with each run's requests (and its wall time). */
  each?: (seen: Seen[], wall: number) => Promise<void>
}

async function measureAction(
  amo: TokenStandIn,
  gh: GitHubServer,
  latencyMs: number,
  inputsOf: (extra: Record<string, string>) => Record<string, string>,
  options: RunOptions = {}
): Promise<Measure> {
  amo.latencyMs = options.tokenLatencyMs ?? latencyMs
  gh.latencyMs = latencyMs
  gh.connectMs = options.connectMs ?? 0
  amo.connectMs = options.tokenConnectMs ?? gh.connectMs
  const walls: number[] = []
  const startups: number[] = []
  const paths: number[] = []
  const windows: number[] = []
  const rss: number[] = []
  let spendWarm = true
  try {
    for (let i = 0; i < RUNS; i++) {
      const [amoBefore, ghBefore] = [amo.requests.length, gh.requests.length]
      // A run queued now, whose times the action reads (as the README's workflow lets it).
      runSeq += 1
      gh.addRun('acme/crm-sync', { id: runSeq, createdAt: Date.now() + 1000, event: 'schedule' })
      const spawned = Date.now()
      const run = await runAction({
        inputs: inputsOf({
          'refresh-token': amo.currentRefreshToken() ?? '',
          'verify-write': String(options.verifyWrite ?? true),
          ...options.extra
        }),
        env: { GITHUB_API_URL: gh.url, GITHUB_RUN_ID: String(runSeq) },
        measureMemory: options.measureMemory
      })
      if (run.code !== 0) throw new Error(`the action failed:\n${run.log}`)
      const [token, github] = [amo.requests.slice(amoBefore), gh.requests.slice(ghBefore)]
      const seen = [...token.map((info) => ({ origin: amo.url, info })), ...github.map((info) => ({ origin: gh.origin, info }))]
      walls.push(run.durationMs)
      startups.push(Math.min(...seen.map((r) => r.info.at)) - spawned)
      paths.push(waveGroups(seen, latencyMs).length)
      const window = dangerWindow(token, github)
      windows.push(window.ms)
      spendWarm &&= window.warm
      if (run.maxRssKiB !== undefined) rss.push(run.maxRssKiB)
      await options.each?.(seen, run.durationMs)
    }
  } finally {
    amo.connectMs = gh.connectMs = 0
    amo.latencyMs = latencyMs
  }
  return {
    wall: median(walls),
    startup: median(startups),
    criticalPath: median(paths),
    window: median(windows),
    spendWarm,
    rssKiB: rss.length ? Math.max(...rss) : Number.NaN
  }
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
  return { wall: median(walls), startup: Number.NaN, criticalPath: median(paths), window: Number.NaN, spendWarm: false, rssKiB: Number.NaN }
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
      await measureAction(amo, gh, 0, (extra) => standInInputs(amo, extra), { verifyWrite: verify }),
      await measureAction(amo, gh, 100, (extra) => standInInputs(amo, extra), { verifyWrite: verify })
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
      const zero = await measureAction(server, gh, 0, inputsOf)
      const hundred = await measureAction(server, gh, 100, inputsOf)
      out(`| ${name} | ${ms(zero.wall)} | ${ms(hundred.wall)} | ${hundred.criticalPath} round trips |`)
    }
  } finally {
    await Promise.all([bitrix.close(), generic.close()])
  }

  // The danger window: the spend's connection warmed in the first wave, against stand-ins that
  // charge CONNECT_MS for every new connection (TCP + TLS from a runner; free on loopback).
  const inputs = (extra: Record<string, string>): Record<string, string> => standInInputs(amo, extra)
  const cold = await measureAction(amo, gh, 100, inputs)
  const warm = await measureAction(amo, gh, 100, inputs, { connectMs: CONNECT_MS })
  amo.faults = (req) => (req.method === 'HEAD' ? { kind: 'reset' } : undefined)
  const refused = await measureAction(amo, gh, 100, inputs, { connectMs: CONNECT_MS }).finally(() => (amo.faults = undefined))
  // A token endpoint three times as far as GitHub (a US runner and a Moscow account): the warm-up
  // is still on its way when the write check is done, and the spend waits for it.
  const far = await measureAction(amo, gh, 100, inputs, { connectMs: CONNECT_MS, tokenLatencyMs: 300, tokenConnectMs: 3 * CONNECT_MS })
  out(`\n| danger window: spend sent → secret written (100 ms latency, write check on) | window | spend over a warm connection | wall |`)
  out('| --- | --- | --- | --- |')
  out(`| connections free (loopback) | ${ms(cold.window)} | ${cold.spendWarm ? 'yes' : 'no'} | ${ms(cold.wall)} |`)
  out(`| a new connection costs ${CONNECT_MS} ms | ${ms(warm.window)} | ${warm.spendWarm ? 'yes' : 'no'} | ${ms(warm.wall)} |`)
  out(
    `| the same, the token endpoint refusing the warm-up | ${ms(refused.window)} | ${refused.spendWarm ? 'yes' : 'no'} | ${ms(refused.wall)} |`
  )
  out(
    `| the token endpoint 3× as far (300 ms latency, ${3 * CONNECT_MS} ms a new connection) | ${ms(far.window)} | ${far.spendWarm ? 'yes' : 'no'} | ${ms(far.wall)} |`
  )

  // Paired: after each run, a zero-overhead process makes the same requests in the same waves,
  // answered by the same stand-ins with the same latency (a fault hook that answers without
  // touching any state, so the spent token is not spent again).
  const ratios: number[] = []
  const probeWalls: number[] = []
  const answerOnly: FaultHook = () => ({ kind: 'status', status: 200, body: '{}' })
  const paired = await measureAction(amo, gh, 100, inputs, {
    each: async (seen, wall) => {
      const planFile = join(mkdtempSync(join(tmpdir(), 'bench-plan-')), 'plan.json')
      writeFileSync(planFile, JSON.stringify(planOf(waveGroups(seen, 100))))
      amo.faults = gh.faults = answerOnly
      try {
        const probe = await timeProcess(process.execPath, [join(PROJECT_ROOT, '.build', 'scripts', 'probes', 'waves.js'), planFile], {})
        probeWalls.push(probe)
        ratios.push(wall / probe)
      } finally {
        amo.faults = gh.faults = undefined
      }
    }
  })
  out(
    `\npaired with a zero-overhead process making the same ${paired.criticalPath} waves of requests (100 ms latency, write check on): ` +
      `action ${ms(paired.wall)}, probe ${ms(median(probeWalls))}, ratio ${median(ratios).toFixed(2)}× (median of ${RUNS} pairs)`
  )

  // An organization secret with many selected repositories: the names resolved before the spend.
  out('\n| organization secret, selected repositories (100 ms latency, write check on) | wall | critical path | peak memory |')
  out('| --- | --- | --- | --- |')
  const repositoryRow = await measureAction(amo, gh, 100, inputs, { measureMemory: true })
  out(
    `| a repository secret, for comparison | ${ms(repositoryRow.wall)} | ${repositoryRow.criticalPath} round trips | ${mib(repositoryRow.rssKiB)} |`
  )
  for (const count of [10, 100, 1000]) {
    const repos = Array.from({ length: count }, (_, i) => ({ owner: 'acme', name: `repo-${i}`, id: 800_000 + i, environments: [] }))
    const org = await startGitHub({ repositories: [{ owner: 'acme', name: 'crm-sync', id: 700_001 }, ...repos] })
    try {
      org.setSecret({ org: 'acme' }, 'AMOCRM_REFRESH_TOKEN', amo.currentRefreshToken() ?? '', {
        visibility: 'selected',
        selected_repository_ids: repos.map((r) => r.id)
      })
      const extra = { organization: 'acme', visibility: 'selected', 'selected-repositories': repos.map((r) => r.name).join(',') }
      const row = await measureAction(amo, org, 100, inputs, { measureMemory: true, extra })
      out(`| ${count} | ${ms(row.wall)} | ${row.criticalPath} round trips | ${mib(row.rssKiB)} |`)
    } finally {
      await org.close()
    }
  }

  if (process.argv.includes('--write')) {
    await writeSection(PERFORMANCE_DOC, 'bench', report.join('\n'))
    console.log(`\nwritten to ${PERFORMANCE_DOC}`)
  }
} finally {
  await Promise.all([amo.close(), gh.close()])
}
