/**
 * The stand-ins themselves answer as their services document (sandbox/selftest/selftest.ts: checks over
 * HTTP, with a fake clock for the expiries), so that the tests above test the action against
 * something true: the Bitrix24 and generic OAuth 2.0 providers (reuse detection and its absence, the
 * drip fault among them), and the GitHub stand-in's issues,
 * workflows, permissions and token-expiry header with the runner's GITHUB_WORKFLOW_REF and event
 * payloads (what version 1.2's alert issue and schedule keep-alive are tested against).
 */
import { test } from 'node:test'
import { gitHubSelfTest, providerSelfTest } from '../../sandbox/selftest/selftest.js'

test('the Bitrix24 and OAuth 2.0 stand-ins answer as documented', async () => {
  await providerSelfTest()
})

test('the GitHub stand-in answers issues, workflows, variables, permissions and token expiry as documented', async () => {
  await gitHubSelfTest()
})
