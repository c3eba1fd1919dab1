import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { FIRST_TOKEN, providerQuestion, questionsFor } from '../../../src/init/questions.js'
import type { ProviderEntry } from '../../../src/providers/provider.js'
import { PROVIDERS } from '../../../src/providers/registry.js'

/** A provider added to the registry (its build is not what init asks about). */
const fakeEntry: ProviderEntry = {
  label: 'Fake',
  defaultSecret: 'FAKE_REFRESH_TOKEN',
  ownInputs: ['fake-region'],
  credentials: { id: 'the fake app key', secret: 'the fake app secret' },
  redirectUriRequired: true,
  build: () => {
    throw new Error('not built here')
  }
}

describe('what init asks', () => {
  test('the provider question lists the registry', () => {
    const q = providerQuestion()
    for (const [name, entry] of Object.entries(PROVIDERS))
      assert.match(q.hint, new RegExp(`${name} \\(${entry.label.replace('.', '\\.')}\\)`))
    assert.equal(q.fallback, 'amocrm')
    assert.match(providerQuestion({ ...PROVIDERS, fake: fakeEntry }).hint, /fake \(/)
  })

  test('every provider of the registry: the client, a first token, each hidden when secret, in the order the action checks them', () => {
    for (const [name, entry] of Object.entries(PROVIDERS)) {
      const questions = questionsFor(name)
      const inputs = questions.map((q) => q.input)
      for (const input of ['client-id', 'client-secret', 'authorization-code']) assert.ok(inputs.includes(input), `${name}: ${input}`)
      // Its own inputs come first (the registry's build reads them before the client's).
      const own = inputs.filter((input) => entry.ownInputs.includes(input) || Object.hasOwn(entry.ownDefaults ?? {}, input))
      assert.deepEqual(inputs.slice(0, own.length), own, name)
      assert.ok(inputs.indexOf('client-id') < inputs.indexOf('client-secret'))
      for (const q of questions) {
        assert.equal(q.hidden === true, ['client-secret', 'authorization-code', 'refresh-token'].includes(q.input), `${name}: ${q.input}`)
        assert.ok(q.hint.length > 10 && q.label.length > 0, `${name}: ${q.input}`)
        if (q.fallback !== undefined) assert.equal(q.required, false)
      }
      assert.equal(
        questions.find((q) => q.input === 'redirect-uri')?.required ?? false,
        entry.redirectUriRequired,
        `${name}: the redirect URI is asked as required exactly where the action requires it`
      )
    }
    assert.deepEqual(
      questionsFor('bitrix24')
        .map((q) => q.input)
        .filter((i) => i === 'refresh-token' || i === 'authorization-code'),
      ['refresh-token', 'authorization-code'],
      "Bitrix24: the install's refresh token, or a 30-second code"
    )
    assert.equal(FIRST_TOKEN.fallback, 'refresh-token')
  })

  test('a provider added to the registry without questions is asked its own inputs by name', () => {
    const registry = { ...PROVIDERS, fake: fakeEntry }
    const inputs = questionsFor('fake', registry).map((q) => q.input)
    assert.deepEqual(inputs, [...fakeEntry.ownInputs, 'client-id', 'client-secret', 'redirect-uri', 'authorization-code'])
    assert.deepEqual(questionsFor('nobody', registry), [])
  })
})
