import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { parse } from 'yaml'
import { defaultPrefix, namesOf, SECRETS_TOKEN, workflowText, yamlScalar, type WorkflowSpec } from '../../../src/init/workflow.js'

const amo: WorkflowSpec = {
  provider: 'amocrm',
  name: 'amoCRM token',
  what: 'an amoCRM / Kommo integration',
  names: namesOf('AMOCRM'),
  inputs: [{ name: 'subdomain', value: 'mycompany', comment: 'mycompany.amocrm.ru' }],
  redirectUri: true,
  refreshSecretInput: false,
  codeInput: true,
  schedule: { minute: 17, hour: 3, weekday: undefined }
}

type Workflow = {
  name: string
  on: { workflow_dispatch: { inputs?: Record<string, unknown> } | null; schedule: Array<{ cron: string }> }
  concurrency: { group: string; 'cancel-in-progress': boolean }
  permissions: Record<string, string>
  jobs: { rotate: { 'timeout-minutes': number; steps: Array<{ id: string; uses: string; with: Record<string, string> }> } }
}

describe('the workflow init writes', () => {
  test('names from one prefix: the secrets, the variable, the group and the file', () => {
    assert.equal(defaultPrefix('AMOCRM_REFRESH_TOKEN'), 'AMOCRM')
    assert.equal(defaultPrefix('OAUTH_REFRESH_TOKEN'), 'OAUTH')
    assert.deepEqual(namesOf('AMOCRM_ACME'), {
      clientId: 'AMOCRM_ACME_CLIENT_ID',
      clientSecret: 'AMOCRM_ACME_CLIENT_SECRET',
      redirectUri: 'AMOCRM_ACME_REDIRECT_URI',
      refreshToken: 'AMOCRM_ACME_REFRESH_TOKEN',
      accessToken: 'AMOCRM_ACME_ACCESS_TOKEN',
      rescueKey: 'AMOCRM_ACME_RESCUE_PUBLIC_KEY',
      group: 'amocrm-acme-token',
      file: 'amocrm-acme-token.yml'
    })
    assert.equal(namesOf('AMOCRM').file, 'amocrm-token.yml', "the README's step 4 file name")
  })

  test("amoCRM: the README's workflow, with its own schedule and init's names", () => {
    const text = workflowText(amo)
    const workflow = parse(text) as Workflow
    assert.equal(workflow.name, 'amoCRM token')
    assert.deepEqual(Object.keys(workflow.on.workflow_dispatch?.inputs ?? {}), ['code'])
    assert.deepEqual(workflow.on.schedule, [{ cron: '17 3 * * *' }])
    assert.deepEqual(workflow.concurrency, { group: 'amocrm-token', 'cancel-in-progress': false })
    assert.deepEqual(workflow.permissions, { actions: 'write', issues: 'write' })
    assert.equal(workflow.jobs.rotate['timeout-minutes'], 10)
    const [step] = workflow.jobs.rotate.steps
    assert.equal(step?.id, 'amocrm')
    assert.equal(step?.uses, 'amocrm-actions/token-rotation@v1')
    assert.deepEqual(step?.with, {
      subdomain: 'mycompany',
      'client-id': '${{ secrets.AMOCRM_CLIENT_ID }}',
      'client-secret': '${{ secrets.AMOCRM_CLIENT_SECRET }}',
      'redirect-uri': '${{ secrets.AMOCRM_REDIRECT_URI }}',
      'authorization-code': '${{ inputs.code }}',
      'refresh-token': '${{ secrets.AMOCRM_REFRESH_TOKEN }}',
      'github-token': `\${{ secrets.${SECRETS_TOKEN} }}`,
      'access-token-secret': 'AMOCRM_ACCESS_TOKEN',
      'rescue-public-key': '${{ vars.AMOCRM_RESCUE_PUBLIC_KEY }}'
    })
    assert.match(text, /subdomain: mycompany # mycompany\.amocrm\.ru\n/)
    assert.match(text, /# daily at 03:17 UTC: a time init picked at random/)
    assert.match(text, /^# Keeps an amoCRM \/ Kommo integration authorized/)
  })

  test('Bitrix24: weekly, no code in the dispatch form (a code lives 30 seconds), no redirect URI; a prefix of its own names the secret', () => {
    const text = workflowText({
      ...amo,
      provider: 'bitrix24',
      name: 'Bitrix24 token (BITRIX24_PORTAL)',
      names: namesOf('BITRIX24_PORTAL'),
      inputs: [
        { name: 'provider', value: 'bitrix24' },
        { name: 'base-url', value: 'https://oauth.bitrix24.tech' }
      ],
      redirectUri: false,
      refreshSecretInput: true,
      codeInput: false,
      schedule: { minute: 23, hour: 4, weekday: 1 }
    })
    const workflow = parse(text) as Workflow
    assert.equal(workflow.on.workflow_dispatch, null)
    assert.deepEqual(workflow.on.schedule, [{ cron: '23 4 * * 1' }])
    assert.match(text, /Bitrix24 asks apps not to renew every hour or every day/)
    const step = workflow.jobs.rotate.steps[0]
    assert.equal(step?.with['refresh-token-secret'], 'BITRIX24_PORTAL_REFRESH_TOKEN')
    assert.equal(step?.with['base-url'], 'https://oauth.bitrix24.tech')
    assert.equal('redirect-uri' in (step?.with ?? {}), false)
    assert.equal('authorization-code' in (step?.with ?? {}), false)
    assert.equal(workflow.name, 'Bitrix24 token (BITRIX24_PORTAL)')
  })

  test('values are plain YAML where that is unambiguous, quoted where not, and read back as they were', () => {
    const cases: Array<[string, string]> = [
      ['mycompany', 'mycompany'],
      ['mycompany.amocrm.ru', 'mycompany.amocrm.ru'],
      ['amoCRM token (AMOCRM_ACME)', 'amoCRM token (AMOCRM_ACME)'],
      ['https://identity.xero.com/connect/token', 'https://identity.xero.com/connect/token'],
      ['http://127.0.0.1:8080/oauth/token', 'http://127.0.0.1:8080/oauth/token'],
      ['http://[::1]:8080', 'http://[::1]:8080'],
      ['offline_access accounting.transactions', 'offline_access accounting.transactions'],
      ['yes', "'yes'"],
      ['On', "'On'"],
      ['null', "'null'"],
      ['123', "'123'"],
      ["it's", "'it''s'"],
      ['a: b', "'a: b'"],
      ['x #y', "'x #y'"],
      ['trailing ', "'trailing '"],
      ['', "''"],
      ['{x}', "'{x}'"]
    ]
    for (const [value, written] of cases) {
      assert.equal(yamlScalar(value), written, value)
      assert.equal(String((parse(`key: ${written}`) as { key: unknown }).key ?? ''), value, `${value} reads back`)
    }
  })
})
