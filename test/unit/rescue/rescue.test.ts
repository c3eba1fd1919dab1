import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { normalizeKey, openRescue, openRescues, RESCUE_PREFIX, sealRescue, type RescueBundle } from '../../../src/rescue/rescue.js'
import { generateKeyPair, publicKeyOf } from '../../../src/rescue/sealing.js'

const BUNDLE: RescueBundle = {
  version: 1,
  account: 'mycompany.amocrm.ru',
  api_url: 'https://mycompany.amocrm.ru/api/v4',
  client_id: '0b8f3c1e-5a1d-4c6e-9b2a-7d3e4f5a6b7c',
  secret: 'AMOCRM_REFRESH_TOKEN',
  target: 'repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync',
  token_type: 'Bearer',
  access_token: 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhY2NvdW50X2lkIjozMTIzNDU2N30.c2lnbmF0dXJl',
  refresh_token: 'def50200f1e2d3c4b5a69788aabbccdd',
  expires_at: '2026-03-11T03:00:12.000Z',
  issued_at: '2026-03-10T03:00:12.345Z'
}

describe('rescue', () => {
  test('the line is one line with the v1 prefix, and hides the tokens', async () => {
    const { publicKey } = await generateKeyPair()
    const line = await sealRescue(BUNDLE, publicKey)
    assert.equal(RESCUE_PREFIX, 'amocrm-rescue:v1:')
    assert.match(line, /^amocrm-rescue:v1:[A-Za-z0-9+/]+=*$/)
    assert.ok(!line.includes(BUNDLE.refresh_token))
    assert.ok(!line.includes(BUNDLE.access_token))
    assert.ok(!line.includes(Buffer.from(BUNDLE.refresh_token).toString('base64')))
  })

  test('sealRescue / openRescue round trip', async () => {
    const { publicKey, privateKey } = await generateKeyPair()
    const line = await sealRescue(BUNDLE, publicKey)
    assert.deepEqual(await openRescue(line, publicKey, privateKey), BUNDLE)
  })

  test('the line is found inside surrounding log text', async () => {
    const { publicKey, privateKey } = await generateKeyPair()
    const line = await sealRescue(BUNDLE, publicKey)
    const log = [
      '2026-03-10T03:00:13.1234567Z ##[group]Run amocrm-token-action',
      '2026-03-10T03:00:14.0000000Z ##[error]The new refresh token could not be stored: GitHub refused (403).',
      `2026-03-10T03:00:14.0010000Z ${line}`,
      '2026-03-10T03:00:14.0020000Z ##[endgroup]'
    ].join('\r\n')
    assert.deepEqual(await openRescue(log, publicKey, privateKey), BUNDLE)
    assert.deepEqual(await openRescue(`copied: "${line}".`, publicKey, privateKey), BUNDLE)
  })

  test('each seal differs, and each opens', async () => {
    const { publicKey, privateKey } = await generateKeyPair()
    const a = await sealRescue(BUNDLE, publicKey)
    const b = await sealRescue(BUNDLE, publicKey)
    assert.notEqual(a, b)
    assert.deepEqual(await openRescue(b, publicKey, privateKey), BUNDLE)
  })

  test('a wrong key gives a clear error', async () => {
    const right = await generateKeyPair()
    const wrong = await generateKeyPair()
    const line = await sealRescue(BUNDLE, right.publicKey)
    await assert.rejects(openRescue(line, wrong.publicKey, wrong.privateKey), {
      message: 'the rescue line does not open with this private key (wrong key, or the line was cut or altered)'
    })
    await assert.rejects(openRescue(line, right.publicKey, wrong.privateKey), /does not open with this private key/)
  })

  test('a cut line gives the same clear error', async () => {
    const { publicKey, privateKey } = await generateKeyPair()
    const line = await sealRescue(BUNDLE, publicKey)
    await assert.rejects(openRescue(line.slice(0, -12), publicKey, privateKey), /does not open with this private key/)
  })

  test('text without a rescue line', async () => {
    const { publicKey, privateKey } = await generateKeyPair()
    await assert.rejects(
      openRescue('just a log\nwith nothing in it', publicKey, privateKey),
      /no rescue line \(<provider>-rescue:v1:…, e.g. amocrm-rescue:v1:…\) found/
    )
    await assert.rejects(openRescue('amocrm-rescue:v1:', publicKey, privateKey), /no rescue line/)
  })

  test('publicKeyOf gives the public half of a pair', async () => {
    const { publicKey, privateKey } = await generateKeyPair()
    assert.equal(await publicKeyOf(privateKey), publicKey)
    assert.equal(Buffer.from(publicKey, 'base64').length, 32)
    assert.equal(publicKey.length, 44)
  })
})

describe('normalizeKey (the rescue tool reads private keys with it)', () => {
  test('base64 is kept; base64url (- _ no padding) becomes base64', () => {
    const bytes = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 250) % 256))
    const base64 = bytes.toString('base64')
    assert.equal(normalizeKey(base64), base64)
    assert.equal(normalizeKey(bytes.toString('base64url')), base64)
  })

  test('a wrong length or alphabet is named, not "invalid input"', () => {
    assert.throws(() => normalizeKey(Buffer.alloc(16).toString('base64')), /must be 32 bytes of base64 .* this one is 16 bytes/)
    assert.throws(() => normalizeKey('not a key!'), /is not base64/)
  })
})

describe('every provider’s prefix', () => {
  test('a Bitrix24 and a generic line open like an amoCRM one', async () => {
    const { publicKey, privateKey } = await generateKeyPair()
    for (const prefix of ['bitrix24-rescue:v1:', 'oauth2-rescue:v1:']) {
      const line = await sealRescue({ ...BUNDLE, provider: prefix.split('-')[0] }, publicKey, prefix)
      assert.ok(line.startsWith(prefix))
      assert.equal((await openRescue(`log: ${line}\n`, publicKey, privateKey)).refresh_token, BUNDLE.refresh_token)
    }
  })
})

describe('openRescues: every line of a log', () => {
  test('each distinct line that opens with this key, in order; a repeated line once; another key’s skipped', async () => {
    const mine = await generateKeyPair()
    const theirs = await generateKeyPair()
    const a = await sealRescue({ ...BUNDLE, refresh_token: 'a' }, mine.publicKey)
    const b = await sealRescue({ ...BUNDLE, refresh_token: 'b' }, mine.publicKey, 'oauth2-rescue:v1:')
    const foreign = await sealRescue({ ...BUNDLE, refresh_token: 'x' }, theirs.publicKey)
    const log = `step 1\n${a}\nstep 2\n${foreign}\n${b}\nsummary:\n${a}\n`
    const opened = await openRescues(log, mine.publicKey, mine.privateKey)
    assert.deepEqual(
      opened.map((bundle) => bundle.refresh_token),
      ['a', 'b']
    )
  })

  test('none opening with this key: one error that says so', async () => {
    const mine = await generateKeyPair()
    const theirs = await generateKeyPair()
    const log = `${await sealRescue(BUNDLE, theirs.publicKey)}\n${await sealRescue(BUNDLE, theirs.publicKey)}`
    await assert.rejects(openRescues(log, mine.publicKey, mine.privateKey), /the rescue lines do not open with this private key/)
  })
})

describe('a provider added later', () => {
  test('its own prefix opens with the same tool: the line format, not a list, decides', async () => {
    const { publicKey, privateKey } = await generateKeyPair()
    const line = await sealRescue({ ...BUNDLE, provider: 'zoho' }, publicKey, 'zoho-rescue:v1:')
    assert.equal((await openRescue(`log: ${line}`, publicKey, privateKey)).provider, 'zoho')
  })
})
