/**
 * token-endpoint.ts: how an answer's body is read and what is taken from it — the rules of round
 * three (the answer's own object over an echo, a cut refresh token, a false content encoding, a
 * body that keeps coming, a pair inside an error answer, token fields never quoted).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import type { Fetch } from '../../src/http.js'
import type { Grant } from '../../src/providers/provider.js'
import { oauth2 } from '../../src/providers/oauth2.js'
import { exchangeToken, readBody, TokenEndpointError, tokenFields, type ExchangeDeps } from '../../src/providers/token-endpoint.js'

const SPENT = 'spent-refresh-token-0001'
const GRANT: Grant = { type: 'refresh_token', refreshToken: SPENT }
const PROVIDER = oauth2({ tokenUrl: 'https://auth.example.com/oauth/token', clientAuth: 'basic', bodyFormat: 'form', scope: undefined })
const CLIENT = { clientId: 'client', clientSecret: 'secret', redirectUri: undefined }
const ANSWER = { access_token: 'new-access-token-0002', token_type: 'Bearer', expires_in: 3600, refresh_token: 'new-refresh-token-0003' }

/** A body that the test feeds piece by piece: `push` a string, `end`, or leave it hanging. */
function feed(): { stream: ReadableStream<Uint8Array>; push(text: string): void; end(): void } {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  const stream = new ReadableStream<Uint8Array>({ start: (c) => (controller = c) })
  return { stream, push: (text) => controller.enqueue(new TextEncoder().encode(text)), end: () => controller.close() }
}

function deps(
  responses: Array<Response | (() => Response)>,
  extra: Partial<ExchangeDeps> = {}
): ExchangeDeps & { masked: string[]; state: { calls: number } } {
  const masked: string[] = []
  const state = { calls: 0 }
  const fetch: Fetch = async () => {
    const next = responses[state.calls++]
    if (!next) throw new Error('unexpected request')
    return typeof next === 'function' ? next() : next
  }
  return Object.assign(
    {
      fetch,
      retry: { attempts: 3, baseMs: 0, maxWaitMs: 0, isCancelled: () => false, sleep: async () => undefined },
      timeoutMs: 5000,
      mask: (value: string) => void masked.push(value),
      redact: (text: string) => text,
      ...extra
    },
    { masked, state }
  )
}

describe('tokenFields: the answer is the object that holds the access token', () => {
  test('an echo of the request before the JSON: its spent token is not taken for the new one', () => {
    const body = `debug: {"grant_type":"refresh_token","refresh_token":"${SPENT}"}\n${JSON.stringify(ANSWER)}`
    const found = tokenFields(body)
    assert.equal(found.fields.refresh_token, ANSWER.refresh_token)
    assert.equal(found.clean, false)
    assert.equal(found.whole, true)
  })

  test('an echo after the answer, and an answer nested in an envelope: still the answer’s own', () => {
    const body = `{"data":${JSON.stringify(ANSWER)}} trailing {"refresh_token":"${SPENT}"}`
    assert.equal(tokenFields(body).fields.refresh_token, ANSWER.refresh_token)
  })

  test('braces and keys inside strings do not confuse it', () => {
    const body = `note: "{\\"access_token\\": 1}" ${JSON.stringify({ ...ANSWER, token_type: 'Bearer}{' })} <!-- { -->`
    const found = tokenFields(body)
    assert.equal(found.fields.refresh_token, ANSWER.refresh_token)
    assert.equal(found.fields.token_type, 'Bearer}{')
  })

  test('cut inside the refresh token: the access token is read, the refresh token reported incomplete', () => {
    const json = JSON.stringify(ANSWER)
    const found = tokenFields(json.slice(0, json.indexOf('new-refresh') + 5))
    assert.equal(found.fields.access_token, ANSWER.access_token)
    assert.equal(found.fields.refresh_token, undefined)
    assert.deepEqual([found.whole, found.refreshIncomplete], [false, true])
  })

  test('cut before any refresh_token key: not whole, nothing incomplete', () => {
    const found = tokenFields('{"access_token":"a-token-value-1234","token_type":"Bearer","expi')
    assert.deepEqual([found.whole, found.refreshIncomplete], [false, false])
  })

  test('clean JSON: a refresh_token of null or "" is no new token; a number is one that did not arrive as one', () => {
    assert.equal(tokenFields(JSON.stringify({ ...ANSWER, refresh_token: null })).refreshIncomplete, false)
    assert.equal(tokenFields(JSON.stringify({ ...ANSWER, refresh_token: '' })).refreshIncomplete, false)
    assert.equal(tokenFields(JSON.stringify({ ...ANSWER, refresh_token: 12 })).refreshIncomplete, true)
    assert.equal(tokenFields(JSON.stringify({ access_token: 'x' })).refreshIncomplete, false)
  })

  test('junk inside the answer’s object: the fields are found one by one, the last of each', () => {
    const body = `{"refresh_token":"${SPENT}", <b>x</b> "access_token":"a-1","refresh_token":"r-2"}`
    const found = tokenFields(body)
    assert.deepEqual([found.fields.access_token, found.fields.refresh_token, found.whole], ['a-1', 'r-2', false])
  })
})

describe('readBody', () => {
  test('gzip is decoded; a body labelled br that is not: read as it came, with a note', async () => {
    const gz = new Response(gzipSync(JSON.stringify(ANSWER)), { headers: { 'content-encoding': 'gzip' } })
    assert.deepEqual(JSON.parse((await readBody(gz, { idleMs: 1000 })).text), ANSWER)
    const lying = await readBody(new Response(JSON.stringify(ANSWER), { headers: { 'content-encoding': 'br' } }), { idleMs: 1000 })
    assert.deepEqual(JSON.parse(lying.text), ANSWER)
    assert.match(lying.note ?? '', /labelled content-encoding: br but was not so encoded/)
    const unknown = await readBody(new Response('{"a":1}', { headers: { 'content-encoding': 'zstd' } }), { idleMs: 1000 })
    assert.equal(unknown.text, '{"a":1}')
  })

  test('a gzip body cut off decodes as far as it arrived', async () => {
    // Padding that does not compress, after the tokens: the cut falls in it.
    const whole = gzipSync(JSON.stringify({ ...ANSWER, padding: randomBytes(2500).toString('hex') }))
    const body = await readBody(new Response(whole.subarray(0, whole.length - 40), { headers: { 'content-encoding': 'gzip' } }), {
      idleMs: 1000
    })
    assert.match(body.text, /"refresh_token":"new-refresh-token-0003"/)
  })

  test('a body that goes silent is cut after idleMs, keeping what arrived', async () => {
    const { stream, push } = feed()
    push('{"access_token":"a-1",')
    const body = await readBody(new Response(stream), { idleMs: 30 })
    assert.equal(body.text, '{"access_token":"a-1",')
    assert.match(body.cutOff ?? '', /no data arrived for 0\.03 s/)
  })

  test('a body that keeps coming is read whole, however long it takes: only silence cuts it', async () => {
    const { stream, push, end } = feed()
    const reading = readBody(new Response(stream), { idleMs: 1000 })
    // 120 pieces 10 ms apart: longer than idleMs in all, never silent for long.
    for (let i = 0; i < 120; i++) {
      push(String(i % 10))
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    end()
    const body = await reading
    assert.equal(body.text.length, 120)
    assert.equal(body.cutOff, undefined)
  })

  test('stop (a cancelled run out of time) and totalMs cut it too', async () => {
    const stopping = new AbortController()
    const first = feed()
    first.push('{"access')
    const reading = readBody(new Response(first.stream), { idleMs: 60_000, stop: stopping.signal })
    stopping.abort()
    assert.deepEqual(await reading, { text: '{"access', cutOff: 'the run was cancelled and its time was up', note: undefined })
    const second = feed()
    assert.match((await readBody(new Response(second.stream), { idleMs: 60_000, totalMs: 20 })).cutOff ?? '', /not complete within 0\.02 s/)
  })
})

describe('exchangeToken: an error answer with a token pair in it', () => {
  test('a 502 with a new pair: masked, handed on as pair-in-error, never retried', async () => {
    const d = deps([new Response(JSON.stringify(ANSWER), { status: 502 }), new Response(JSON.stringify(ANSWER))])
    const error = await exchangeToken({ provider: PROVIDER, client: CLIENT, grant: GRANT }, d).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e
    )
    assert.ok(error instanceof TokenEndpointError)
    assert.equal(error.failure, 'pair-in-error')
    assert.equal(error.pair?.refreshToken, ANSWER.refresh_token)
    assert.deepEqual(d.masked.sort(), [ANSWER.access_token, ANSWER.refresh_token].sort())
    assert.equal(d.state.calls, 1)
    assert.doesNotMatch(error.message, /new-refresh|new-access/)
  })

  test('an error that only echoes the spent token is a refusal, and the token field is not quoted', async () => {
    const body = JSON.stringify({ error: 'invalid_grant', error_description: 'bad', refresh_token: SPENT })
    const d = deps([new Response(body, { status: 400, headers: { 'content-type': 'application/json' } })])
    const error = await exchangeToken({ provider: PROVIDER, client: CLIENT, grant: GRANT }, d).catch((e: unknown) => e)
    assert.ok(error instanceof TokenEndpointError)
    assert.equal(error.failure, 'revoked')
    assert.match(error.message, /400 invalid_grant: bad/)
    assert.doesNotMatch(error.message, /spent-refresh/)
  })

  test('a 503 whose body has token fields but no new token: described, not quoted, and retried', async () => {
    const body = `<pre>{"refresh_token":"${SPENT}","x":1}</pre>`
    const d = deps([new Response(body, { status: 503 }), new Response(JSON.stringify(ANSWER))])
    const messages: string[] = []
    const tokens = await exchangeToken(
      { provider: PROVIDER, client: CLIENT, grant: GRANT },
      { ...d, onRetry: (m) => void messages.push(m) }
    )
    assert.equal(tokens.refreshToken, ANSWER.refresh_token)
    assert.match(messages[0] ?? '', /got 503 \(a body with token fields, not shown\)/)
  })
})

describe('exchangeToken: what passes into the outputs', () => {
  test('a token_type that is no token type is not passed on; a missing one is Bearer', async () => {
    const odd = await exchangeToken(
      { provider: PROVIDER, client: CLIENT, grant: GRANT },
      deps([new Response(JSON.stringify({ ...ANSWER, token_type: 'Bearer\n::set-output name=x::y' }))])
    )
    assert.equal(odd.tokenType, '')
    const none = await exchangeToken(
      { provider: PROVIDER, client: CLIENT, grant: GRANT },
      deps([new Response(JSON.stringify({ ...ANSWER, token_type: undefined }))])
    )
    assert.equal(none.tokenType, 'Bearer')
  })

  test('a token is taken exactly as it came: nothing trimmed off it', async () => {
    const tokens = await exchangeToken(
      { provider: PROVIDER, client: CLIENT, grant: GRANT },
      deps([new Response(JSON.stringify({ ...ANSWER, refresh_token: ' padded ' }))])
    )
    assert.equal(tokens.refreshToken, ' padded ')
  })

  test('the status line must come within timeoutMs; after a 2xx, the body has its own limits', async () => {
    const d = deps([], { timeoutMs: 20 })
    d.fetch = (_url, init) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason as Error)))
    const error = await exchangeToken(
      { provider: PROVIDER, client: CLIENT, grant: GRANT },
      { ...d, retry: { ...d.retry, attempts: 1 } }
    ).catch((e: unknown) => e)
    assert.ok(error instanceof TokenEndpointError)
    assert.match(error.message, /no answer within the time limit/)
  })
})

describe('exchangeToken: the cancel deadline', () => {
  test('a request in flight when the deadline passes is aborted: no answer, and no further attempt', async () => {
    const deadline = new AbortController()
    const d = deps([], { deadline: deadline.signal })
    d.fetch = (_url, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason as Error))
        deadline.abort()
      })
    const error = await exchangeToken(
      { provider: PROVIDER, client: CLIENT, grant: GRANT },
      { ...d, retry: { ...d.retry, attempts: 1, signal: deadline.signal } }
    ).catch((e: unknown) => e)
    assert.ok(error instanceof TokenEndpointError)
    assert.equal(error.failure, 'unavailable')
    assert.equal(error.maybeSpent, true)
  })

  test('a deadline already past: the request is sent aborted', async () => {
    const deadline = new AbortController()
    deadline.abort()
    let aborted: boolean | undefined
    const d = deps([], { deadline: deadline.signal })
    d.fetch = async (_url, init) => {
      aborted = init?.signal?.aborted
      throw new DOMException('aborted', 'AbortError')
    }
    await exchangeToken({ provider: PROVIDER, client: CLIENT, grant: GRANT }, { ...d, retry: { ...d.retry, attempts: 1 } }).catch(
      () => undefined
    )
    assert.equal(aborted, true)
  })
})
