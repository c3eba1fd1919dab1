/**
 * The Bitrix24 and generic OAuth 2.0 stand-ins themselves answer as their providers document
 * (sandbox/selftest.ts: about 100 checks over HTTP, with a fake clock for the expiries: reuse
 * detection and its absence, the drip fault among them), so that the provider tests above test the
 * action against something true.
 */
import { test } from 'node:test'
import { selfTest } from '../../sandbox/selftest.js'

test('the Bitrix24 and OAuth 2.0 stand-ins answer as documented', async () => {
  await selfTest()
})
