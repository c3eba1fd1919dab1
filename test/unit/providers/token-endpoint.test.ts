/**
 * token-endpoint.ts: the exchange with a provider's token endpoint.
 *
 * First against an amoCRM account: the request, a success, each documented refusal, pages that are
 * not OAuth answers, retries and odd answers. Then how an answer's body is read and what is taken
 * from it — the rules of round three (the answer's own object over an echo, a cut refresh token, a
 * false content encoding, a body that keeps coming, a pair inside an error answer, token fields never
 * quoted).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import type { Fetch } from '../../../src/http.js'
import type { Grant } from '../../../src/providers/provider.js'
import { amoCrm, resolveAccount } from '../../../src/providers/amocrm.js'
import { oauth2 } from '../../../src/providers/oauth2.js'
import {
  exchangeToken,
  readBody,
  TokenEndpointError,
  tokenFields,
  type ExchangeDeps,
  type Failure,
  type TokenRequest
} from '../../../src/providers/token-endpoint.js'
import type { RetryPolicy } from '../../../src/retry.js'

// ---------------------------------------------------------------------------------------------
// An amoCRM account's token endpoint, behind a fake fetch that plays its answers in order.
// ---------------------------------------------------------------------------------------------

const ACCESS = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhY2NvdW50X2lkIjozMTIzNDU2N30.c2lnbmF0dXJl'
const REFRESH = 'def50200f1e2d3c4b5a69788'
const TOKENS_JSON = JSON.stringify({ token_type: 'Bearer', expires_in: 86400, access_token: ACCESS, refresh_token: REFRESH })

const NEW_CODE =
  "Take a new authorization code (the integration's Keys and scopes tab; a code lives 20 minutes and works once) and run the workflow manually with it in 'authorization-code' (README: \"First run\")."

const REFRESH_GRANT: Grant = { type: 'refresh_token', refreshToken: 'def50200oldrefresh' }
const CODE_GRANT: Grant = { type: 'authorization_code', code: 'def50200authcode' }

const AMO_CLIENT = {
  clientId: '0b8f3c1e-5a1d-4c6e-9b2a-7d3e4f5a6b7c',
  clientSecret: 'Zx8Qw3Rt5Yu7Io9Pa1Sd2Fg4Hj6Kl8',
  redirectUri: 'https://example.com/'
}

function request(grant: Grant = REFRESH_GRANT, baseUrl?: string): TokenRequest {
  return { provider: amoCrm('amocrm', resolveAccount('mycompany', 'amocrm.ru', baseUrl)), client: AMO_CLIENT, grant }
}

type Step = Response | Error | (() => Response)

interface Call {
  url: string
  init: RequestInit | undefined
}

/** A fetch that plays `steps` in order: a Response is returned, an Error thrown. */
function fakeFetch(steps: Step[]): Fetch & { calls: Call[] } {
  const calls: Call[] = []
  const fn = async (url: string, init?: RequestInit): Promise<Response> => {
    calls.push({ url, init })
    const step = steps[calls.length - 1]
    if (step === undefined) throw new Error(`unexpected request #${calls.length}`)
    if (step instanceof Error) throw step
    return typeof step === 'function' ? step() : step
  }
  return Object.assign(fn, { calls })
}

function setup(steps: Step[], retry: Partial<RetryPolicy> = {}) {
  const fetch = fakeFetch(steps)
  const masked: string[] = []
  const retries: string[] = []
  const slept: number[] = []
  const deps = {
    fetch,
    retry: {
      attempts: 3,
      baseMs: 0,
      maxWaitMs: 0,
      isCancelled: () => false,
      sleep: async (ms: number) => {
        slept.push(ms)
      },
      ...retry
    },
    timeoutMs: 5000,
    mask: (value: string) => {
      masked.push(value)
    },
    redact: (text: string) => text,
    onRetry: (message: string) => {
      retries.push(message)
    }
  }
  return { fetch, masked, retries, slept, deps }
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } })
const problem = (status: number, fields: Record<string, string>): Response =>
  new Response(JSON.stringify({ ...fields, type: 'https://developers.amocrm.ru/v3/errors/OAuthProblemJson', status }), {
    status,
    headers: { 'content-type': 'application/problem+json' }
  })
const html = (status: number, body: string, headers: Record<string, string> = {}): Response =>
  new Response(body, { status, headers: { 'content-type': 'text/html; charset=utf-8', ...headers } })
const ok = (): Response => new Response(TOKENS_JSON, { status: 200, headers: { 'content-type': 'application/json' } })
const networkError = (): TypeError =>
  new TypeError('fetch failed', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) })

const NGINX_403 =
  '<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n'
const NGINX_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n'

async function rejection(
  promise: Promise<unknown>
): Promise<{ message: string; failure: Failure; maybeSpent: boolean; status: number | undefined }> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof TokenEndpointError, `expected a TokenEndpointError, got ${String(error)}`)
    return {
      message: error.message,
      failure: error.failure,
      maybeSpent: error.maybeSpent,
      status: error.status
    }
  }
  assert.fail('expected a rejection')
}
describe('exchangeToken: the request', () => {
  for (const [grant, expected] of [
    [REFRESH_GRANT, { grant_type: 'refresh_token', refresh_token: 'def50200oldrefresh' }],
    [CODE_GRANT, { grant_type: 'authorization_code', code: 'def50200authcode' }]
  ] as const) {
    test(`${grant.type}: one JSON POST to the token URL, redirects not followed`, async () => {
      const { fetch, deps } = setup([ok()])
      await exchangeToken(request(grant), deps)
      assert.equal(fetch.calls.length, 1)
      const call = fetch.calls[0]
      assert.ok(call)
      assert.equal(call.url, 'https://mycompany.amocrm.ru/oauth2/access_token')
      assert.equal(call.init?.method, 'POST')
      assert.equal(call.init?.redirect, 'manual')
      assert.ok(call.init?.signal instanceof AbortSignal)
      const headers = new Headers(call.init?.headers)
      assert.equal(headers.get('content-type'), 'application/json')
      assert.equal(typeof call.init?.body, 'string')
      assert.deepEqual(JSON.parse(String(call.init?.body)), {
        client_id: '0b8f3c1e-5a1d-4c6e-9b2a-7d3e4f5a6b7c',
        client_secret: 'Zx8Qw3Rt5Yu7Io9Pa1Sd2Fg4Hj6Kl8',
        redirect_uri: 'https://example.com/',
        ...expected
      })
    })
  }

  test('goes to base-url when it is set', async () => {
    const { fetch, deps } = setup([ok()])
    await exchangeToken(request(REFRESH_GRANT, 'http://127.0.0.1:8080/amo'), deps)
    assert.equal(fetch.calls[0]?.url, 'http://127.0.0.1:8080/amo/oauth2/access_token')
  })
})

describe('exchangeToken: success', () => {
  test('returns the pair, both tokens masked', async () => {
    const { deps, masked } = setup([ok()])
    const tokens = await exchangeToken(request(), deps)
    assert.deepEqual(tokens, {
      accessToken: ACCESS,
      refreshToken: REFRESH,
      refreshIncomplete: false,
      complete: true,
      tokenType: 'Bearer',
      expiresIn: 86400,
      serverTime: undefined,
      anomaly: undefined,
      fields: JSON.parse(TOKENS_JSON)
    })
    assert.deepEqual([...masked].sort(), [ACCESS, REFRESH].sort())
  })

  test('masks each token before the promise settles, even when the caller never looks at it', async () => {
    const order: string[] = []
    const { deps } = setup([ok()])
    deps.mask = (value) => {
      order.push(`mask ${value === ACCESS ? 'access' : value === REFRESH ? 'refresh' : '?'}`)
    }
    await exchangeToken(request(), deps).then(() => order.push('returned'))
    assert.deepEqual(order, ['mask access', 'mask refresh', 'returned'])
  })

  test('only the two tokens are required; other fields are optional', async () => {
    const { deps } = setup([json(200, { access_token: 'opaque-access', refresh_token: 'opaque-refresh' })])
    assert.deepEqual(await exchangeToken(request(), deps), {
      accessToken: 'opaque-access',
      refreshToken: 'opaque-refresh',
      refreshIncomplete: false,
      complete: true,
      tokenType: 'Bearer',
      expiresIn: undefined,
      serverTime: undefined,
      anomaly: undefined,
      fields: { access_token: 'opaque-access', refresh_token: 'opaque-refresh' }
    })
  })

  test('any 2xx carrying a pair is a success (a proxy in front may answer 201): the spent token’s successor is kept', async () => {
    const { deps, masked } = setup([json(201, { access_token: 'a2', refresh_token: 'r2' })])
    assert.equal((await exchangeToken(request(), deps)).refreshToken, 'r2')
    assert.ok(masked.includes('r2'))
  })

  test('expires_in as a numeric string', async () => {
    const { deps } = setup([json(200, { access_token: 'a', refresh_token: 'r', token_type: 'bearer', expires_in: '3600' })])
    const tokens = await exchangeToken(request(), deps)
    assert.equal(tokens.expiresIn, 3600)
    assert.equal(tokens.tokenType, 'bearer')
  })
})

/** Each row of the table in amocrm-oauth.md, "Errors". */
const ROWS: Array<{ name: string; grant: Grant; response: () => Response; message: string; failure: Failure }> = [
  {
    name: 'refresh token already used (Token has been revoked)',
    grant: REFRESH_GRANT,
    response: () =>
      problem(401, { hint: 'Token has been revoked', title: 'Некорректный запрос', detail: 'В запросе отсутствует обязательный параметр' }),
    message: 'amoCRM refused the refresh token (401 Token has been revoked): the refresh token was already used.',
    failure: 'revoked'
  },
  {
    name: 'refresh token unused for 3 months (Token has expired): a new code, never "check client-id"',
    grant: REFRESH_GRANT,
    response: () => problem(401, { hint: 'Token has expired', title: 'Unauthorized', detail: 'Срок действия refresh token истёк' }),
    message: `amoCRM refused the refresh token (401 Token has expired): the refresh token went unused too long: amoCRM lets a refresh token expire when it has not been used for 3 months, so the chain of tokens has ended. ${NEW_CODE} Then keep the schedule running (at least monthly) so that it never lapses again.`,
    failure: 'expired'
  },
  {
    name: 'a damaged refresh token (Cannot decrypt the refresh token): a new code, not "copy the code again"',
    grant: REFRESH_GRANT,
    response: () => problem(401, { hint: 'Cannot decrypt the refresh token', title: 'Unauthorized' }),
    message: `amoCRM refused the refresh token (401 Cannot decrypt the refresh token): the refresh token is damaged (cut short or altered on its way into the secret), so amoCRM cannot read it. ${NEW_CODE}`,
    failure: 'rejected'
  },
  {
    name: 'refresh token of another integration',
    grant: REFRESH_GRANT,
    response: () => problem(401, { hint: 'Token is not linked to client', title: 'Некорректный запрос' }),
    message:
      "amoCRM refused the refresh token (401 Token is not linked to client): the refresh token belongs to another integration: check that 'client-id' is the ID of the integration that issued it.",
    failure: 'rejected'
  },
  {
    name: 'authorization code already used',
    grant: CODE_GRANT,
    response: () => problem(400, { hint: 'Authorization code has been revoked', title: 'Некорректный запрос' }),
    message: `amoCRM refused the authorization code (400 Authorization code has been revoked): the authorization code was already used (a code works once). ${NEW_CODE}`,
    failure: 'rejected'
  },
  {
    name: 'authorization code expired',
    grant: CODE_GRANT,
    response: () => problem(400, { hint: 'Authorization code has expired', title: 'Некорректный запрос' }),
    message: `amoCRM refused the authorization code (400 Authorization code has expired): the authorization code is older than 20 minutes. ${NEW_CODE}`,
    failure: 'rejected'
  },
  {
    name: 'malformed authorization code',
    grant: CODE_GRANT,
    response: () => problem(400, { hint: 'Cannot decrypt the authorization code', title: 'Некорректный запрос' }),
    message: `amoCRM refused the authorization code (400 Cannot decrypt the authorization code): the authorization code is malformed: copy it again in full (no spaces, no line breaks). ${NEW_CODE}`,
    failure: 'rejected'
  },
  {
    name: 'wrong client id',
    grant: REFRESH_GRANT,
    response: () => problem(400, { hint: 'Check the `client_id` parameter', title: 'Некорректный клиент' }),
    message:
      "amoCRM refused the refresh token (400 Check the `client_id` parameter): amoCRM does not know this integration: check 'client-id' (Integration ID on the integration's Keys and scopes tab) and that 'subdomain' is the account where the integration is installed.",
    failure: 'rejected'
  },
  {
    name: 'wrong client secret',
    grant: REFRESH_GRANT,
    response: () => problem(400, { hint: 'Check the `client_secret` parameter', title: 'Некорректный клиент' }),
    message:
      "amoCRM refused the refresh token (400 Check the `client_secret` parameter): the secret key is wrong: copy 'client-secret' again from the integration's Keys and scopes tab (it changes when the key is regenerated).",
    failure: 'rejected'
  },
  {
    name: 'wrong redirect uri',
    grant: CODE_GRANT,
    response: () => problem(400, { hint: 'Redirect URI is not associated with client', title: 'Некорректный запрос' }),
    message:
      "amoCRM refused the authorization code (400 Redirect URI is not associated with client): 'redirect-uri' differs from the integration's: it must match exactly, scheme and trailing slash included.",
    failure: 'rejected'
  },
  {
    name: 'wrong account',
    grant: REFRESH_GRANT,
    response: () => problem(400, { hint: 'Invalid account', title: 'Некорректный запрос' }),
    message:
      "amoCRM refused the refresh token (400 Invalid account): the integration is not installed in this account: check 'subdomain' and 'domain' (amocrm.ru, amocrm.com or kommo.com).",
    failure: 'rejected'
  },
  {
    name: '"Некорректный клиент" without a hint',
    grant: REFRESH_GRANT,
    response: () => problem(401, { title: 'Некорректный клиент', detail: 'Клиент не найден' }),
    message:
      "amoCRM refused the refresh token (401 Некорректный клиент): 'client-id', 'client-secret' and 'redirect-uri' do not belong to one integration: copy all three again from the integration's settings.",
    failure: 'rejected'
  }
]

describe('exchangeToken: known refusals (amocrm-oauth.md, Errors)', () => {
  for (const row of ROWS) {
    test(row.name, async () => {
      const { deps, fetch, masked, slept } = setup([row.response(), ok()])
      const error = await rejection(exchangeToken(request(row.grant), deps))
      assert.equal(error.message, row.message)
      assert.equal(error.failure, row.failure)
      assert.equal(error.maybeSpent, false)
      assert.equal(fetch.calls.length, 1, 'a refusal is final: no retry')
      assert.deepEqual(slept, [])
      assert.deepEqual(masked, [])
    })
  }

  test('an unknown problem quotes hint, title and detail and names the inputs to check', async () => {
    const { deps } = setup([problem(400, { hint: 'Something new', title: 'Ошибка', detail: 'Подробности' })])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(
      error.message,
      "amoCRM refused the refresh token (400: Something new — Ошибка — Подробности). Check 'client-id', 'client-secret', 'redirect-uri' and 'subdomain'."
    )
    assert.equal(error.failure, 'rejected')
    assert.equal(error.status, 400)
  })
})

describe('exchangeToken: pages that are not OAuth answers', () => {
  test('403 nginx HTML page: an IP block, not retried', async () => {
    const { deps, fetch } = setup([html(403, NGINX_403), ok()])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(
      error.message,
      'amoCRM refused the refresh token: the server answered 403 with an HTML page ("403 Forbidden 403 Forbidden nginx"). amoCRM blocks an address that sends too many requests (more than 7 a second, by its documented limit); wait before trying again, and check that no other job uses this integration\'s tokens.'
    )
    assert.equal(error.failure, 'rejected')
    assert.equal(error.status, 403)
    assert.equal(fetch.calls.length, 1)
  })

  test('404 HTML: the address is wrong', async () => {
    const { deps } = setup([html(404, '<html><body><h1>Not Found</h1></body></html>')])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(
      error.message,
      "amoCRM refused the refresh token: the server answered 404 with an HTML page (\"Not Found\"), not an OAuth answer. Check 'subdomain', 'domain' and 'base-url'."
    )
  })

  test('200 with an HTML login page is a bad answer, not retried', async () => {
    const page =
      '<!DOCTYPE html><html><head><title>Авторизация</title><script>var x = "<b>";</script></head><body><form>Войти в amoCRM</form></body></html>'
    const { deps, fetch, masked } = setup([html(200, page), ok()])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(
      error.message,
      'amoCRM answered 200 without a readable token pair (an HTML page: a login page means that the integration\'s owner is not an active user of the account): "Авторизация Войти в amoCRM". The token may have been spent: if the next run reports "Token has been revoked", a new authorization code is needed.'
    )
    assert.equal(error.failure, 'bad-answer')
    assert.equal(error.status, 200)
    assert.equal(fetch.calls.length, 1)
    assert.deepEqual(masked, [])
  })

  test('200 JSON with an access token only: the access token is kept (and masked), the refresh token is empty', async () => {
    const { deps, masked, fetch } = setup([json(200, { access_token: ACCESS, token_type: 'Bearer' }), ok()])
    const tokens = await exchangeToken(request(), deps)
    assert.equal(tokens.accessToken, ACCESS)
    assert.equal(tokens.refreshToken, '')
    assert.deepEqual(masked, [ACCESS])
    assert.equal(fetch.calls.length, 1, 'a 2xx is never retried')
  })

  test('200 JSON with neither token is a bad answer that may have spent the token, never retried', async () => {
    const { deps, fetch } = setup([json(200, { token_type: 'Bearer' }), ok()])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(error.failure, 'bad-answer')
    assert.equal(error.maybeSpent, true)
    assert.doesNotMatch(error.message, /HTML page/)
    assert.equal(fetch.calls.length, 1)
  })

  test('a 3xx redirect is not followed', async () => {
    const { deps, fetch } = setup([
      new Response(null, { status: 301, headers: { location: 'https://mycompany.kommo.com/oauth2/access_token' } }),
      ok()
    ])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(
      error.message,
      "amoCRM answered with a redirect (301 to mycompany.kommo.com), which is not followed so that credentials go only to mycompany.amocrm.ru. Check 'subdomain' and 'domain': if the account's address changed (for example to kommo.com), set them to the new one."
    )
    assert.equal(error.failure, 'rejected')
    assert.equal(error.status, 301)
    assert.equal(fetch.calls.length, 1)
  })

  test('a redirect without Location', async () => {
    const { deps } = setup([new Response(null, { status: 302 })])
    const error = await rejection(exchangeToken(request(), deps))
    assert.match(error.message, /^amoCRM answered with a redirect \(302\), which is not followed/)
  })
})

describe('exchangeToken: retries', () => {
  test('429, then success', async () => {
    const { deps, fetch, retries, masked } = setup([html(429, '<html><body>429 Too Many Requests</body></html>'), ok()])
    const tokens = await exchangeToken(request(), deps)
    assert.equal(tokens.refreshToken, REFRESH)
    assert.equal(fetch.calls.length, 2)
    assert.deepEqual(retries, ['amoCRM attempt 1 got 429 "429 Too Many Requests"; retrying in 0.0 s.'])
    assert.deepEqual(masked.sort(), [ACCESS, REFRESH].sort())
    assert.equal(fetch.calls[0]?.init?.body, fetch.calls[1]?.init?.body, 'the same request is repeated')
  })

  test("429 with Retry-After: the server's wait is honoured", async () => {
    const { deps, slept } = setup([html(429, 'slow down', { 'retry-after': '2' }), ok()], { maxWaitMs: 10_000 })
    await exchangeToken(request(), deps)
    assert.deepEqual(slept, [2000])
  })

  test('502 HTML, then success', async () => {
    const { deps, fetch, retries } = setup([html(502, NGINX_502), ok()])
    const tokens = await exchangeToken(request(), deps)
    assert.equal(tokens.accessToken, ACCESS)
    assert.equal(fetch.calls.length, 2)
    assert.deepEqual(retries, ['amoCRM attempt 1 got 502 "502 Bad Gateway 502 Bad Gateway nginx"; retrying in 0.0 s.'])
  })

  test('a network error (ECONNRESET), then success', async () => {
    const { deps, fetch, retries } = setup([networkError(), ok()])
    const tokens = await exchangeToken(request(), deps)
    assert.equal(tokens.refreshToken, REFRESH)
    assert.equal(fetch.calls.length, 2)
    assert.deepEqual(retries, ['amoCRM attempt 1 got the connection failed (ECONNRESET); retrying in 0.0 s.'])
  })

  test('network errors until the attempts run out: the token may or may not have been spent', async () => {
    const { deps, fetch } = setup([networkError(), networkError(), networkError(), ok()])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(fetch.calls.length, 3)
    assert.equal(error.failure, 'unavailable')
    assert.equal(error.maybeSpent, true)
    assert.equal(error.status, undefined)
    assert.equal(
      error.message,
      'amoCRM did not issue tokens after 3 attempts: the last one got the connection failed (ECONNRESET). Its token endpoint https://mycompany.amocrm.ru/oauth2/access_token may be down or unreachable from this runner; try again later. The refresh token may or may not have been spent: the secret still holds it; if the next run reports "Token has been revoked", a new authorization code is needed.'
    )
  })

  test('429 until the attempts run out: unavailable, and no attempt went unanswered', async () => {
    const { deps, fetch } = setup([html(429, ''), html(429, ''), html(429, '')])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(fetch.calls.length, 3)
    assert.equal(error.failure, 'unavailable')
    assert.equal(error.maybeSpent, false)
    assert.equal(error.status, 429)
    assert.match(error.message, /^amoCRM did not issue tokens after 3 attempts: the last one got 429\. /)
  })

  test('a timeout is reported as no answer in time', async () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError')
    const { deps } = setup([timeout, timeout, timeout], { attempts: 3 })
    const error = await rejection(exchangeToken(request(CODE_GRANT), deps))
    assert.match(error.message, /the last one got no answer within the time limit\./)
    assert.equal(error.maybeSpent, true)
    assert.doesNotMatch(error.message, /may or may not have been spent/, 'that sentence is about the refresh token')
  })

  test('a network error, then "Token has been revoked": the first attempt may have spent it', async () => {
    const { deps } = setup([networkError(), problem(401, { hint: 'Token has been revoked' })])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(error.failure, 'revoked')
    assert.equal(error.maybeSpent, true)
  })

  test('a 5xx counts as possibly reaching amoCRM; a 429 does not', async () => {
    const after502 = await rejection(
      exchangeToken(request(), setup([html(502, NGINX_502), problem(401, { hint: 'Token has been revoked' })]).deps)
    )
    assert.equal(after502.maybeSpent, true)
    const after429 = await rejection(
      exchangeToken(request(), setup([html(429, ''), problem(401, { hint: 'Token has been revoked' })]).deps)
    )
    assert.equal(after429.maybeSpent, false)
  })

  test('a 2xx cut off mid-body is never retried: the tokens are recovered when they arrived whole', async () => {
    let sent = false
    const cutAfter = (text: string) => (): Response => {
      sent = false
      return new Response(
        new ReadableStream({
          // The part that arrived is read first; the connection breaks on the next read.
          pull(controller) {
            if (sent) return controller.error(new TypeError('terminated'))
            sent = true
            controller.enqueue(new TextEncoder().encode(text))
          }
        }),
        { status: 200, headers: { 'content-type': 'application/json' } }
      )
    }
    const whole = `{"access_token":"${ACCESS}","refresh_token":"${REFRESH}","token_type":"Bea`
    const { deps, fetch, masked, retries } = setup([cutAfter(whole), ok()])
    const tokens = await exchangeToken(request(), deps)
    assert.equal(tokens.refreshToken, REFRESH)
    assert.equal(tokens.accessToken, ACCESS)
    assert.match(tokens.anomaly ?? '', /cut off/)
    assert.deepEqual(masked.sort(), [ACCESS, REFRESH].sort())
    assert.equal(fetch.calls.length, 1)
    assert.deepEqual(retries, [])

    // Cut inside the refresh token: no half token is taken for a whole one, nothing is retried.
    const half = `{"access_token":"${ACCESS}","refresh_token":"${REFRESH.slice(0, 10)}`
    const second = setup([cutAfter(half), ok()])
    const partial = await exchangeToken(request(), second.deps)
    assert.equal(partial.refreshToken, '')
    assert.equal(partial.accessToken, ACCESS)
    assert.equal(second.fetch.calls.length, 1)

    // Cut before any token: an error that says the token may be spent, and quotes none of the body.
    const third = setup([cutAfter(`{"access_token":"${ACCESS.slice(0, 20)}`), ok()])
    const error = await rejection(exchangeToken(request(), third.deps))
    assert.equal(error.failure, 'bad-answer')
    assert.equal(error.maybeSpent, true)
    assert.match(error.message, /cut off/)
    assert.ok(!error.message.includes(ACCESS.slice(0, 12)), error.message)
    assert.equal(third.fetch.calls.length, 1)
  })

  test('a 2xx that is not clean JSON still yields the pair: junk after, a PHP notice before, null fields', async () => {
    for (const body of [
      `${TOKENS_JSON}<!-- cache -->`,
      `<br />\n<b>Notice</b>:  Undefined index: foo in <b>/var/www/oauth.php</b> on line <b>12</b><br />\n${TOKENS_JSON}`,
      JSON.stringify({ token_type: null, expires_in: null, access_token: ACCESS, refresh_token: REFRESH, server_time: 1767261600 })
    ]) {
      const { deps, masked, fetch } = setup([new Response(body, { status: 200, headers: { 'content-type': 'text/html' } }), ok()])
      const tokens = await exchangeToken(request(), deps)
      assert.equal(tokens.refreshToken, REFRESH, body)
      assert.equal(tokens.accessToken, ACCESS, body)
      assert.equal(tokens.tokenType, 'Bearer')
      assert.deepEqual(masked.sort(), [ACCESS, REFRESH].sort())
      assert.equal(fetch.calls.length, 1)
    }
  })

  test('server_time is read (the account clock)', async () => {
    const { deps } = setup([json(200, { access_token: 'a', refresh_token: 'r', server_time: 1767261600 })])
    assert.equal((await exchangeToken(request(), deps)).serverTime, 1767261600)
  })

  test('a cancelled run starts no further attempt', async () => {
    const controller = new AbortController()
    const { deps, fetch } = setup([html(502, NGINX_502), ok()], { signal: controller.signal })
    deps.retry.sleep = async () => controller.abort()
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(fetch.calls.length, 1)
    assert.equal(error.failure, 'unavailable')
    assert.equal(error.maybeSpent, true)
    assert.match(error.message, /before the run was cancelled/)
  })

  test('a huge error body is bounded and its secrets redacted before it is cut', async () => {
    const secret = 'Zx8Qw3Rt5Yu7Io9Pa1Sd2Fg4Hj6Kl8'
    const body = `${'<'.repeat(400_000)}`
    const started = performance.now()
    const { deps } = setup([html(400, body)])
    await rejection(exchangeToken(request(), deps))
    assert.ok(performance.now() - started < 5000)
    for (let offset = 0; offset < 200; offset += 7) {
      const echoed = `${'x'.repeat(offset)} client_secret=${secret} ##[stop-commands]x ::add-mask::y`
      const registry = new Map([[secret, true]])
      const { deps: d } = setup([html(400, echoed)])
      d.redact = (text) => [...registry.keys()].reduce((out, value) => out.split(value).join('***'), text)
      const error = await rejection(exchangeToken(request(), d))
      assert.ok(!error.message.includes(secret.slice(0, 12)), `offset ${offset}: ${error.message}`)
      assert.ok(!error.message.includes('##['), error.message)
      assert.ok(!error.message.includes('::'), error.message)
    }
  })
})

describe('exchangeToken: odd answers', () => {
  test('a body over the bound is not read past it, and no more than that is kept', async () => {
    const big = new Response(
      new ReadableStream({
        pull(controller) {
          controller.enqueue(new Uint8Array(256 * 1024).fill(0x78))
        }
      }),
      { status: 400, headers: { 'content-type': 'text/plain' } }
    )
    const { deps } = setup([big])
    const error = await rejection(exchangeToken(request(), deps))
    assert.match(error.message, /the server answered 400 \("x+…"\)/)
  })

  test('a 401 that is not JSON names the three inputs', async () => {
    const { deps } = setup([new Response('Unauthorized', { status: 401, headers: { 'content-type': 'text/plain' } })])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(
      error.message,
      "amoCRM refused the refresh token (401 \"Unauthorized\"): check 'client-id', 'client-secret' and 'redirect-uri'."
    )
  })

  test('a redirect whose Location is not a URL', async () => {
    const { deps } = setup([new Response(null, { status: 302, headers: { location: 'http://[::1' } })])
    const error = await rejection(exchangeToken(request(), deps))
    assert.match(error.message, /^amoCRM answered with a redirect \(302\), which is not followed/)
  })

  test('a field with a broken escape is no value; the rest is still read', async () => {
    const body = `junk {"access_token":"${ACCESS}","refresh_token":"${REFRESH}","token_type":"\\u12"}`
    const { deps } = setup([new Response(body, { status: 200 })])
    const tokens = await exchangeToken(request(), deps)
    assert.equal(tokens.refreshToken, REFRESH)
    assert.equal(tokens.tokenType, 'Bearer')
  })
})

describe('exchangeToken: refusals without a body to quote', () => {
  const empty = (status: number, contentType = 'text/plain'): Response =>
    new Response('', { status, headers: { 'content-type': contentType } })
  for (const [status, expected] of [
    [
      403,
      "amoCRM refused the refresh token: the server answered 403. amoCRM blocks an address that sends too many requests (more than 7 a second, by its documented limit); wait before trying again, and check that no other job uses this integration's tokens."
    ],
    [401, "amoCRM refused the refresh token (401): check 'client-id', 'client-secret' and 'redirect-uri'."],
    [418, "amoCRM refused the refresh token: the server answered 418, not an OAuth answer. Check 'subdomain', 'domain' and 'base-url'."]
  ] as const) {
    test(`${status} with an empty body`, async () => {
      const { deps } = setup([empty(status)])
      assert.equal((await rejection(exchangeToken(request(), deps))).message, expected)
    })
  }

  test('a problem with no text at all, and a JSON null', async () => {
    const none = setup([json(400, {})])
    assert.equal(
      (await rejection(exchangeToken(request(), none.deps))).message,
      "amoCRM refused the refresh token (400). Check 'client-id', 'client-secret', 'redirect-uri' and 'subdomain'."
    )
    const nil = setup([new Response('null', { status: 400, headers: { 'content-type': 'application/json' } })])
    assert.match((await rejection(exchangeToken(request(), nil.deps))).message, /the server answered 400 \("null"\), not an OAuth answer/)
  })
})

// ---------------------------------------------------------------------------------------------
// How an answer's body is read and what is taken from it (a generic OAuth 2.0 provider).
// ---------------------------------------------------------------------------------------------

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

  test('the status line must come within timeoutMs (the body has limits of its own: see readBody)', async () => {
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

describe('round three, a second look: pairs in other shapes, never quoted', () => {
  const NEW = [ANSWER.access_token, ANSWER.refresh_token]
  const run = (d: ExchangeDeps) => exchangeToken({ provider: PROVIDER, client: CLIENT, grant: GRANT }, d)
  const failure = (d: ExchangeDeps) =>
    run(d).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => {
        assert.ok(e instanceof TokenEndpointError)
        return e
      }
    )
  const showsNoToken = (text: string): void => {
    for (const token of NEW) assert.equal(text.includes(token.slice(4, 16)), false, `a piece of ${token} in: ${text}`)
  }

  test('clean JSON with the pair in an envelope: the object that holds the access token', () => {
    const found = tokenFields(JSON.stringify({ status: 'ok', data: ANSWER }))
    assert.equal(found.fields.refresh_token, ANSWER.refresh_token)
    assert.equal(found.whole, true)
  })

  test('a 502 whose body carries the pair as an escaped JSON string: a pair in an error, masked, never retried, never quoted', async () => {
    const body = JSON.stringify({ message: 'Bad gateway', body: JSON.stringify(ANSWER) })
    const d = deps([new Response(body, { status: 502 }), new Response(JSON.stringify(ANSWER))])
    const error = await failure(d)
    assert.equal(error.failure, 'pair-in-error')
    assert.equal(error.pair?.refreshToken, ANSWER.refresh_token)
    assert.deepEqual(d.masked.sort(), [...NEW].sort())
    assert.equal(d.state.calls, 1)
    showsNoToken(error.message)
  })

  test('a 200 that is form-encoded (as some servers answer by default): the pair is read', async () => {
    const body = new URLSearchParams({ ...ANSWER, expires_in: String(ANSWER.expires_in) }).toString()
    const tokens = await run(deps([new Response(body, { headers: { 'content-type': 'application/x-www-form-urlencoded' } })]))
    assert.deepEqual([tokens.accessToken, tokens.refreshToken, tokens.expiresIn], [...NEW, 3600])
  })

  test('a 200 with the tokens in a shape that cannot be read (PHP print_r): described, never quoted', async () => {
    const body = `Array\n(\n    [access_token] => ${ANSWER.access_token}\n    [refresh_token] => ${ANSWER.refresh_token}\n)\n`
    const error = await failure(deps([new Response(body)]))
    assert.equal(error.failure, 'bad-answer')
    showsNoToken(error.message)
  })

  test('no 2xx body is ever quoted: it may hold the pair under any name', async () => {
    const body = `{"ok":1,"rt":"${ANSWER.refresh_token}","at":"${ANSWER.access_token}"}`
    const error = await failure(deps([new Response(body)]))
    showsNoToken(error.message)
    assert.match(error.message, /without a readable token pair/)
  })

  test('a 5xx with token keys in another spelling (HTML entities, print_r): described, not quoted', async () => {
    const retries: string[] = []
    const pages = [
      `<pre>{&quot;refresh_token&quot;:&quot;${ANSWER.refresh_token}&quot;}</pre>`,
      `[refresh_token] => ${ANSWER.refresh_token}`
    ]
    for (const page of pages) {
      const d = deps([new Response(page, { status: 503 }), new Response(JSON.stringify(ANSWER))], {
        onRetry: (m) => void retries.push(m)
      })
      await run(d)
    }
    assert.equal(retries.length, 2)
    for (const line of retries) {
      showsNoToken(line)
      assert.match(line, /a body with token fields, not shown/)
    }
  })

  test('a content-encoding that names an object property is no encoding: the pair is read', async () => {
    for (const label of ['constructor', '__proto__', 'toString']) {
      const tokens = await run(deps([new Response(JSON.stringify(ANSWER), { headers: { 'content-encoding': label } })]))
      assert.equal(tokens.refreshToken, ANSWER.refresh_token, label)
    }
  })

  test('gzip labelled deflate (or a list): decoded all the same', async () => {
    for (const label of ['deflate', 'gzip, br']) {
      const body = await readBody(new Response(gzipSync(JSON.stringify(ANSWER)), { headers: { 'content-encoding': label } }), {
        idleMs: 1000
      })
      assert.deepEqual(JSON.parse(body.text), ANSWER, label)
    }
  })

  test('an odd quote in the junk before the answer, the request echoed after it: the answer’s own token', () => {
    const body = `Notice: Undefined "x in a.php\n${JSON.stringify(ANSWER)}\nDEBUG request: {"grant_type":"refresh_token","refresh_token":"${SPENT}"}`
    const found = tokenFields(body)
    assert.equal(found.fields.refresh_token, ANSWER.refresh_token)
    assert.equal(found.fields.access_token, ANSWER.access_token)
  })
})
