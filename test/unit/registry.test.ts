/**
 * Adding a provider is one file plus one registry line (docs/development.md, "Adding a provider"):
 * a fake provider, written as its own file would be, registered with one line, is read from the
 * inputs, refuses its inputs to the others, names its secret and its early failures, spends its
 * token through the shared token endpoint and rescues its pair — and nothing else was touched.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CancelGuard } from '../../src/critical.js'
import { InputError } from '../../src/errors.js'
import type { SecretStore } from '../../src/github/secrets.js'
import { readSettings } from '../../src/inputs.js'
import { entryOf, PROVIDERS, type Registry } from '../../src/providers/registry.js'
import { formEncode, jsonObject, type ProviderEntry } from '../../src/providers/provider.js'
import { exchangeToken } from '../../src/providers/token-endpoint.js'
import { openRescue } from '../../src/rescue/rescue.js'
import { generateKeyPair } from '../../src/rescue/sealing.js'
import { rotate } from '../../src/rotate.js'

// ---- the one file: what src/providers/acme.ts would hold ------------------------------------

const acme: ProviderEntry = {
  label: 'Acme CRM',
  defaultSecret: 'ACME_REFRESH_TOKEN',
  ownInputs: ['acme-region'],
  credentials: { id: "the Acme app's key", secret: "the Acme app's secret" },
  redirectUriRequired: false,
  build: (name, read) => {
    const region = read('acme-region') || 'eu'
    const origin = `https://${region}.acme.example`
    return {
      name,
      label: 'Acme CRM',
      host: `${region}.acme.example`,
      title: `Acme CRM (${region})`,
      origin,
      apiUrl: `${origin}/api`,
      rescuePrefix: 'acme-rescue:v1:',
      alwaysRotates: true,
      onReuse: 'may-revoke-grant',
      extraFields: [],
      newAuthorization: 'Connect the Acme app again.',
      hints: { firstCode: 'from Acme', htmlPage: 'a page', spentNext: 'connect again', redirect: "Check 'acme-region'." },
      request: (grant, client) => ({
        url: `${origin}/token`,
        displayUrl: `${origin}/token`,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: formEncode({
          client_id: client.clientId,
          ...(grant.type === 'refresh_token' ? { refresh_token: grant.refreshToken } : { code: grant.code })
        })
      }),
      facts: () => ({ expiresAt: undefined, accountId: '', apiUrl: `${origin}/api` }),
      refusal: (status, body) => ({ kind: jsonObject(body)?.error === 'dead' ? 'revoked' : 'rejected', message: `Acme said ${status}.` }),
      refreshBy: () => undefined
    }
  }
}

// ---- the one registry line --------------------------------------------------------------------

const REGISTRY: Registry = { ...PROVIDERS, acme }

// -------------------------------------------------------------------------------------------------

const INPUTS: Record<string, string> = {
  provider: 'acme',
  'acme-region': 'us',
  'client-id': 'acme-app',
  'client-secret': 'acme-secret-value',
  'refresh-token': 'acme-old-refresh',
  'github-token': 'github_pat_x'
}
const reader =
  (values: Record<string, string>) =>
  (name: string): string =>
    values[name] ?? ''
const ENV = { GITHUB_REPOSITORY: 'acme/crm-sync', GITHUB_RUN_ID: '42' }

describe('a provider added by one file and one registry line', () => {
  test('it is read from the inputs, with its own input, its secret name and its words', () => {
    const settings = readSettings(reader(INPUTS), ENV, REGISTRY)
    assert.equal(settings.provider.name, 'acme')
    assert.equal(settings.provider.host, 'us.acme.example')
    assert.equal(settings.refreshTokenSecret, 'ACME_REFRESH_TOKEN')
    assert.throws(
      () => readSettings(reader({ ...INPUTS, 'client-id': '' }), ENV, REGISTRY),
      (e: Error) => e instanceof InputError && /Input 'client-id' is required: the Acme app's key/.test(e.message)
    )
  })

  test('the other providers refuse its input, it refuses theirs, and `provider` lists it', () => {
    const amo = { ...INPUTS, provider: 'amocrm', subdomain: 'x', 'redirect-uri': 'https://example.com/' }
    assert.throws(
      () => readSettings(reader(amo), ENV, REGISTRY),
      /Input 'acme-region' is not used with provider: amocrm \(it is for acme\)/
    )
    assert.throws(
      () => readSettings(reader({ ...INPUTS, subdomain: 'x' }), ENV, REGISTRY),
      /Input 'subdomain' is not used with provider: acme/
    )
    assert.throws(
      () => readSettings(reader({ ...INPUTS, 'client-auth': 'body' }), ENV, REGISTRY),
      /Input 'client-auth' is used only with provider: oauth2/
    )
    assert.throws(
      () => readSettings(reader({ ...INPUTS, provider: 'nope' }), ENV, REGISTRY),
      /must be one of amocrm, kommo, bitrix24, oauth2, acme/
    )
    // Without the line, the name is unknown: the registry is the only list.
    assert.throws(() => readSettings(reader(INPUTS), ENV), /must be one of amocrm, kommo, bitrix24, oauth2; got 'acme'/)
  })

  test('a run that failed before its settings were read still has its label', () => {
    assert.equal(entryOf(reader({ provider: 'ACME' }), REGISTRY)?.label, 'Acme CRM')
  })

  test('the shared token endpoint spends its token, and rotate stores the pair or rescues it under its prefix', async () => {
    const settings = readSettings(reader(INPUTS), ENV, REGISTRY)
    const { publicKey, privateKey } = await generateKeyPair()
    const answer = JSON.stringify({ access_token: 'acme-access-1', refresh_token: 'acme-refresh-2' })
    const exchange = () =>
      exchangeToken(
        { provider: settings.provider, client: settings.client, grant: settings.grant },
        {
          fetch: async (url, init) => {
            assert.equal(url, 'https://us.acme.example/token')
            assert.equal(init?.body, 'client_id=acme-app&refresh_token=acme-old-refresh')
            return new Response(answer)
          },
          retry: { attempts: 1, baseMs: 0, maxWaitMs: 0, isCancelled: () => false, sleep: async () => undefined },
          timeoutMs: 1000,
          mask: () => undefined,
          redact: (t) => t
        }
      )
    // A store that refuses the real write: the pair must come back sealed under acme's prefix.
    const store: SecretStore = {
      target: { kind: 'repository', owner: 'acme', repo: 'crm-sync' },
      describe: (name) => `repository secret ${name} of acme/crm-sync`,
      publicKey: async () => ({ key_id: 'k', key: publicKey }),
      metadata: async (name) => ({ name, exists: false, updatedAt: undefined }),
      inspect: async (name) => ({ name, exists: true, updatedAt: new Date('2026-01-01T00:00:00Z') }),
      write: async (name) => {
        if (name === 'ACME_REFRESH_TOKEN') throw new InputError('x', 'refused by the test')
        return 'created'
      },
      delete: async () => undefined
    }
    const report = await rotate(
      { ...settings, rescuePublicKey: publicKey },
      {
        io: { info: () => undefined, warning: () => undefined, setOutput: () => undefined, exportVariable: () => undefined },
        store,
        exchange,
        guard: new CancelGuard(
          () => undefined,
          () => undefined
        ),
        now: () => new Date('2026-01-02T00:00:00Z'),
        jobStartedAt: new Date('2026-01-02T00:00:00Z'),
        runTimes: async () => ({ createdAt: new Date('2026-01-01T23:59:00Z'), runStartedAt: undefined, attempt: 1 }),
        storedInThisJob: undefined,
        recheckMs: [],
        sleep: async () => undefined
      }
    )
    assert.match(report.failure ?? '', /The new refresh token could not be stored/)
    assert.ok(report.rescueLine?.startsWith('acme-rescue:v1:'))
    const opened = await openRescue(report.rescueLine ?? '', publicKey, privateKey)
    assert.deepEqual([opened.provider, opened.refresh_token, opened.access_token], ['acme', 'acme-refresh-2', 'acme-access-1'])
  })
})
