/** The fixtures shared by the unit tests of the providers (index, oauth2, bitrix24, rfc6749). */
import assert from 'node:assert/strict'
import { InputError } from '../../../src/errors.js'
import type { Grant } from '../../../src/providers/provider.js'

export const same = (text: string): string => text
export const CLIENT = { clientId: 'my app', clientSecret: 's3cr:et+/=', redirectUri: 'https://example.com/cb' }
export const REFRESH: Grant = { type: 'refresh_token', refreshToken: 'rt-1' }
export const CODE: Grant = { type: 'authorization_code', code: 'c0de' }
export const reader = (values: Record<string, string>) => (name: string) => values[name] ?? ''
export const inputError = (fn: () => unknown, input: string, pattern: RegExp): void => {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof InputError, String(error))
    assert.equal(error.input, input)
    assert.match(error.message, pattern)
    return true
  })
}
