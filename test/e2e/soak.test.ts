/**
 * A short soak in the suite: consecutive rotations with random faults at higher rates than the
 * long run (npm run soak), and no chain may break.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { soak } from '../../sandbox/soak/soak.js'

test('25 rotations at 15% GitHub and 10% amoCRM request faults: 0 chain breaks', async () => {
  const result = await soak({ rotations: 25, githubFaultRate: 0.15, amocrmFaultRate: 0.1, seed: 7 })
  assert.equal(result.rotations, 25)
  assert.ok(result.faultsInjected.github + result.faultsInjected.amocrm > 0, 'faults were injected')
  assert.equal(result.chainBreaks, 0, JSON.stringify([...result.failureMessages]))
})

test('a lost amoCRM answer is the one fault no client can survive: the soak sees it as a break', async () => {
  // The other side of the same coin: proves the soak can detect a break at all.
  const result = await soak({ rotations: 3, githubFaultRate: 0, amocrmFaultRate: 0, amocrmLostRate: 1, seed: 1 })
  assert.equal(result.chainBreaks, 3)
})
