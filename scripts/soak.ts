/**
 * npm run soak [-- --provider amocrm|bitrix24|oauth2 --rotations 1000 --github-faults 0.08 --amocrm-faults 0.05 --amocrm-lost 0 --seed N]
 * Consecutive rotations with random faults (see sandbox/soak/soak.ts) against the provider's stand-in
 * (default amoCRM); `--amocrm-faults` and `--amocrm-lost` apply to whichever token stand-in runs.
 * Exits 1 on any chain break. With --write (as `npm run soak` runs it) the result is written into
 * docs/performance.md.
 */
import { PROVIDERS, soak, type Provider } from '../sandbox/soak/soak.js'
import { measuredOn, PERFORMANCE_DOC, writeSection } from './report.js'

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number`)
  return value
}

function providerArg(): Provider {
  const i = process.argv.indexOf('--provider')
  const value = i >= 0 ? process.argv[i + 1] : 'amocrm'
  const provider = PROVIDERS.find((p) => p === value)
  if (!provider) throw new Error(`--provider must be one of ${PROVIDERS.join(', ')}`)
  return provider
}

const LABEL: Record<Provider, string> = { amocrm: 'amoCRM', bitrix24: 'Bitrix24', oauth2: 'OAuth 2.0' }
const provider = providerArg()
const label = LABEL[provider]
const options = {
  provider,
  rotations: arg('rotations', 1000),
  githubFaultRate: arg('github-faults', 0.08),
  amocrmFaultRate: arg('amocrm-faults', 0.05),
  amocrmLostRate: arg('amocrm-lost', 0),
  seed: arg('seed', 20261126)
}
console.log(
  `soak (${label}): ${options.rotations} rotations, faults per request: GitHub ${options.githubFaultRate * 100}%, ${label} ${options.amocrmFaultRate * 100}% (+${options.amocrmLostRate * 100}% lost answers), seed ${options.seed}`
)
const result = await soak({
  ...options,
  onProgress: (done, r) => {
    if (done % 100 === 0)
      console.log(
        `  ${done} rotations: ${r.succeeded} ok, ${r.failedIntact} failed intact, ${r.rescues} rescued, ${r.chainBreaks} chain breaks`
      )
  }
})
const table = `| ${label} | rotations | succeeded | failed, chain intact | rescued | chain breaks | faults injected (GitHub / ${label}) | requests (GitHub / ${label}) | time |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
| GitHub ${options.githubFaultRate * 100}%, ${label} ${options.amocrmFaultRate * 100}% (+${options.amocrmLostRate * 100}% lost) | ${result.rotations} | ${result.succeeded} | ${result.failedIntact} | ${result.rescues} | ${result.chainBreaks} | ${result.faultsInjected.github} / ${result.faultsInjected.amocrm} | ${result.requests.github} / ${result.requests.amocrm} | ${result.seconds.toFixed(0)} s |`
console.log(`\n${table}`)
if (process.argv.includes('--write')) {
  await writeSection(PERFORMANCE_DOC, `soak:${provider}`, `**${label}** — measured ${measuredOn()}, seed ${options.seed}:\n\n${table}`)
  console.log(`written to ${PERFORMANCE_DOC}`)
}
if (result.failureMessages.size) {
  console.log('\nfailures (each left the chain intact unless counted as a break):')
  for (const [message, count] of [...result.failureMessages].sort((a, b) => b[1] - a[1])) console.log(`  ${count} × ${message}`)
}
console.log(`\nchain breaks: ${result.chainBreaks}`)
process.exitCode = result.chainBreaks === 0 ? 0 : 1
