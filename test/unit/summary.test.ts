import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { sealRescue } from '../../src/rescue/rescue.js'
import type { RotationReport } from '../../src/rotate.js'
import { generateKeyPair } from '../../src/rescue/sealing.js'
import { renderEarlyFailure, renderSummary } from '../../src/summary.js'

const ACCESS =
  'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhY2NvdW50X2lkIjozMTIzNDU2NywiZXhwIjoxNzczMjk4MDAwfQ.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl'
const REFRESH = 'def5020087a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7'

function report(overrides: Partial<RotationReport> = {}): RotationReport {
  return {
    label: 'amoCRM',
    account: 'mycompany.amocrm.ru',
    apiUrl: 'https://mycompany.amocrm.ru/api/v4',
    grant: 'refresh token',
    refreshSecret: 'repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync',
    accessSecret: undefined,
    issuedAt: new Date('2026-03-10T03:00:12.345Z'),
    expiresAt: new Date('2026-03-11T03:00:12.000Z'),
    refreshBy: new Date('2026-06-10T03:00:12.345Z'),
    refreshByWhy: 'amoCRM lets a refresh token expire after 3 months unused; this is the earlier of 90 days and 3 calendar months',
    accountId: '31234567',
    writeCheck: 'passed',
    refreshStored: 'updated',
    refreshKept: false,
    accessStored: undefined,
    rescueLine: undefined,
    failure: undefined,
    needs: undefined,
    secretUpdatedAt: undefined,
    spent: true,
    lastDay: undefined,
    newAuthorization: 'A new authorization code is needed.',
    ...overrides
  }
}

/** Lines that look like a table row. */
const rows = (markdown: string): string[] => markdown.split('\n').filter((line) => line.startsWith('| '))

/** No JWT, no amoCRM refresh token, none of the given values; the sealed rescue line is the only long base64. */
function assertNoTokens(markdown: string, ...values: string[]): void {
  for (const value of values) assert.ok(!markdown.includes(value), `a secret value leaked into the summary:\n${markdown}`)
  assert.doesNotMatch(markdown, /eyJ[A-Za-z0-9_-]{10,}/)
  assert.doesNotMatch(markdown, /def50200[0-9a-f]{8,}/)
  const withoutRescue = markdown.replace(/amocrm-rescue:v1:[A-Za-z0-9+/=]+/g, '')
  assert.doesNotMatch(withoutRescue, /[A-Za-z0-9+/_-]{40,}/)
}

describe('renderSummary', () => {
  test('success', () => {
    const md = renderSummary(report(), { cancelled: undefined })
    assert.equal(
      md,
      [
        '## amoCRM tokens rotated',
        '',
        '| | |',
        '| --- | --- |',
        '| Account | mycompany.amocrm.ru (ID 31234567) |',
        '| Spent | the refresh token |',
        '| Write check | passed: a probe secret was written and deleted before the token was spent |',
        '| Refresh token | repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync (updated) |',
        '| Access token | step outputs only (set access-token-secret to store it) |',
        '| Access token expires | 2026-03-11 03:00 UTC |',
        '| Refresh again before | 2026-06-10 (amoCRM lets a refresh token expire after 3 months unused; this is the earlier of 90 days and 3 calendar months) |',
        '| API | https://mycompany.amocrm.ru/api/v4 |',
        ''
      ].join('\n')
    )
    assertNoTokens(md, ACCESS, REFRESH)
  })

  test('success with the access token stored and no account id', () => {
    const md = renderSummary(
      report({
        accountId: '',
        writeCheck: 'skipped',
        refreshStored: 'created',
        accessSecret: 'repository secret AMOCRM_ACCESS_TOKEN of acme/crm-sync',
        accessStored: 'created'
      }),
      { cancelled: undefined }
    )
    assert.ok(rows(md).includes('| Account | mycompany.amocrm.ru |'))
    assert.ok(rows(md).includes('| Write check | skipped |'))
    assert.ok(rows(md).includes('| Refresh token | repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync (created) |'))
    assert.ok(rows(md).includes('| Access token | repository secret AMOCRM_ACCESS_TOKEN of acme/crm-sync (created) |'))
  })

  test('failure with a rescue line', async () => {
    const { publicKey } = await generateKeyPair()
    const rescueLine = await sealRescue(
      {
        version: 1,
        account: 'mycompany.amocrm.ru',
        api_url: 'https://mycompany.amocrm.ru/api/v4',
        client_id: '0b8f3c1e-5a1d-4c6e-9b2a-7d3e4f5a6b7c',
        secret: 'AMOCRM_REFRESH_TOKEN',
        target: 'repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync',
        token_type: 'Bearer',
        access_token: ACCESS,
        refresh_token: REFRESH,
        expires_at: '2026-03-11T03:00:12.000Z',
        issued_at: '2026-03-10T03:00:12.345Z'
      },
      publicKey
    )
    const failure = 'The new refresh token could not be stored: GitHub refused to write the secret (403: Resource not accessible).'
    const md = renderSummary(report({ refreshStored: undefined, rescueLine, failure }), { cancelled: undefined })
    const lines = md.split('\n')
    assert.equal(lines[0], '## amoCRM token rotation failed')
    assert.ok(md.includes(`\`\`\`text\n${failure}\n\`\`\``), 'the failure is shown as a code block')
    const at = lines.indexOf(rescueLine)
    assert.ok(at > 0, 'the rescue line is on a line of its own')
    assert.equal(lines[at - 1], '```')
    assert.equal(lines[at + 1], '```')
    assert.match(md, /npx -y github:amocrm-actions\/token-rotation#v1 open/)
    assert.ok(rows(md).includes('| Refresh token | **not stored** — repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync |'))
    assert.ok(!rows(md).some((row) => row.startsWith('| Refresh again before')), 'no deadline for a token that was not stored')
    assertNoTokens(md, ACCESS, REFRESH)
  })

  test('failure before the token was spent: no token rows', () => {
    const md = renderSummary(
      report({
        issuedAt: undefined,
        expiresAt: undefined,
        refreshBy: undefined,
        accountId: '',
        writeCheck: undefined,
        refreshStored: undefined,
        failure: "GitHub refused to write the probe secret (403): 'github-token' lacks the permission."
      }),
      { cancelled: undefined }
    )
    assert.equal(md.split('\n')[0], '## amoCRM token rotation failed')
    assert.deepEqual(rows(md), [
      '| | |',
      '| --- | --- |',
      '| Account | mycompany.amocrm.ru |',
      '| Spent | the refresh token |',
      '| API | https://mycompany.amocrm.ru/api/v4 |'
    ])
  })

  test('cancelled after the token was spent, token stored', () => {
    const md = renderSummary(report(), { cancelled: 'SIGTERM' })
    const lines = md.split('\n')
    assert.equal(lines[0], '## amoCRM tokens rotated, with a problem')
    assert.ok(
      lines.includes(
        'The run was cancelled (SIGTERM) after the token was spent; the new refresh token was stored first, so nothing is lost.'
      ),
      md
    )
  })

  test('cancelled, token not stored', () => {
    const md = renderSummary(report({ refreshStored: undefined, failure: 'could not store' }), { cancelled: 'SIGINT' })
    assert.equal(md.split('\n')[0], '## amoCRM token rotation failed')
    assert.match(md, /The run was cancelled \(SIGINT\) after the token was spent; see above for where the new refresh token is\./)
  })

  test('a stored token with a later problem', () => {
    const md = renderSummary(report({ failure: 'the access token could not be stored' }), { cancelled: undefined })
    assert.equal(md.split('\n')[0], '## amoCRM tokens rotated, with a problem')
  })

  test("'|' and line breaks in table cells are escaped", () => {
    const md = renderSummary(
      report({
        refreshSecret: "secret AMOCRM_REFRESH_TOKEN of environment 'prod|eu' in acme/crm-sync",
        accessSecret: "secret AMOCRM_ACCESS of environment 'a\nb|c' in acme/crm-sync",
        accessStored: 'updated'
      }),
      { cancelled: undefined }
    )
    assert.ok(
      rows(md).includes("| Refresh token | secret AMOCRM_REFRESH_TOKEN of environment 'prod\\|eu' in acme/crm-sync (updated) |"),
      md
    )
    assert.ok(rows(md).includes("| Access token | secret AMOCRM_ACCESS of environment 'a b\\|c' in acme/crm-sync (updated) |"), md)
    for (const row of rows(md)) {
      const unescapedPipes = row.match(/(?<!\\)\|/g) ?? []
      assert.equal(unescapedPipes.length, 3, row)
    }
  })
})

describe('renderEarlyFailure', () => {
  test('says that nothing was sent', () => {
    assert.equal(
      renderEarlyFailure("Input 'subdomain' is required."),
      "## amoCRM token rotation failed\n\n```text\nInput 'subdomain' is required.\n```\n\nNothing was sent to the provider, and no secret was read or written: the token was not spent.\n"
    )
  })
})

describe('other providers in the summary', () => {
  test('a kept refresh token, no refresh-by rule, no API address', () => {
    const md = renderSummary(
      report({
        label: 'auth.example.com',
        refreshKept: true,
        refreshStored: undefined,
        refreshBy: undefined,
        refreshByWhy: undefined,
        apiUrl: ''
      }),
      { cancelled: undefined }
    )
    assert.match(md, /^## auth\.example\.com tokens rotated$/m)
    assert.ok(rows(md).some((row) => row.startsWith('| Refresh token | unchanged: auth.example.com kept it')))
    assert.ok(!rows(md).some((row) => row.startsWith('| Refresh again before')))
    assert.ok(!rows(md).some((row) => row.startsWith('| API')))
  })

  test('a refresh-by date without a reason, and an early failure of another provider', () => {
    const md = renderSummary(report({ refreshByWhy: undefined }), { cancelled: undefined })
    assert.ok(rows(md).includes('| Refresh again before | 2026-06-10 |'))
    assert.match(renderEarlyFailure("Input 'token-url' is required.", 'OAuth 2.0'), /^## OAuth 2\.0 token rotation failed/)
  })
})
