/**
 * messages.ts: the sentences of the run as a whole say what their troubleshooting rows quote
 * (the docs check finds each quote in both tables; this checks that the quote fits the sentence).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DOCUMENTED, messages } from '../../src/messages.js'

/** A row's quote as a pattern: backticks dropped, `…` for whatever varies (the docs check reads it the same way). */
function quotePattern(quote: string): RegExp {
  const text = quote.replace(/^`|`$/g, '')
  // The spaces around an ellipsis belong to it: `first …` stands for "first, so nothing is lost".
  const parts = text.split(/\s*…\s*/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  return new RegExp(`^${parts.join('[^]*')}`)
}

describe('messages of the run as a whole', () => {
  const samples = {
    cancelledBeforeSpend: messages.cancelledBeforeSpend('SIGINT'),
    cancelledAfterStore: messages.cancelledAfterStore('SIGTERM'),
    githubTokenExpiring: messages.githubTokenExpiring('2027-01-02', 3),
    unevaluatedInput: messages.unevaluatedInput('job-token')
  }

  for (const [key, message] of Object.entries(samples)) {
    test(`${key}: its troubleshooting quote fits it`, () => {
      const quote = DOCUMENTED[key as keyof typeof samples]
      assert.ok(quote, `${key} has a documented quote`)
      assert.match(message, quotePattern(quote))
    })
  }

  test('the expiry warning counts days in words a person reads', () => {
    assert.match(messages.githubTokenExpiring('2027-01-02', 1), /expires on 2027-01-02 \(in 1 day\): renew it/)
    assert.match(messages.githubTokenExpiring('2027-01-02', 14), /\(in 14 days\)[^]*every run fails from 2027-01-02 on/)
  })

  test('an unevaluated input is named, and the expression shown as the literal text a person typed', () => {
    assert.match(messages.unevaluatedInput('github-token'), /^Input 'github-token' is an unevaluated \$\{\{ … \}\} expression, not a value/)
  })

  test('a summary that could not be written says why', () => {
    assert.equal(messages.summaryNotWritten('EACCES'), 'Could not write the job summary: EACCES')
  })
})
