import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { resolveAccount } from '../../src/account.js'
import { AmoCrmError, exchangeToken, grantName, requestBody, type AmoFailure, type TokenRequest } from '../../src/amocrm.js'
import type { Fetch } from '../../src/http.js'
import type { Grant } from '../../src/inputs.js'
import type { RetryPolicy } from '../../src/retry.js'

const ACCESS = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhY2NvdW50X2lkIjozMTIzNDU2N30.c2lnbmF0dXJl'
const REFRESH = 'def50200f1e2d3c4b5a69788'
const TOKENS_JSON = JSON.stringify({ token_type: 'Bearer', expires_in: 86400, access_token: ACCESS, refresh_token: REFRESH })

const REFRESH_GRANT: Grant = { type: 'refresh_token', refreshToken: 'def50200oldrefresh' }
const CODE_GRANT: Grant = { type: 'authorization_code', code: 'def50200authcode' }

function request(grant: Grant = REFRESH_GRANT): TokenRequest {
  return {
    account: resolveAccount('mycompany', 'amocrm.ru', undefined),
    clientId: '0b8f3c1e-5a1d-4c6e-9b2a-7d3e4f5a6b7c',
    clientSecret: 'Zx8Qw3Rt5Yu7Io9Pa1Sd2Fg4Hj6Kl8',
    redirectUri: 'https://example.com/',
    grant
  }
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
): Promise<{ message: string; failure: AmoFailure; earlierAttemptUnanswered: boolean; status: number | undefined }> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof AmoCrmError, `expected an AmoCrmError, got ${String(error)}`)
    return {
      message: error.message,
      failure: error.failure,
      earlierAttemptUnanswered: error.earlierAttemptUnanswered,
      status: error.status
    }
  }
  assert.fail('expected a rejection')
}

describe('requestBody', () => {
  test('refresh grant: exactly the five fields', () => {
    assert.deepEqual(requestBody(request()), {
      client_id: '0b8f3c1e-5a1d-4c6e-9b2a-7d3e4f5a6b7c',
      client_secret: 'Zx8Qw3Rt5Yu7Io9Pa1Sd2Fg4Hj6Kl8',
      redirect_uri: 'https://example.com/',
      grant_type: 'refresh_token',
      refresh_token: 'def50200oldrefresh'
    })
  })

  test('code grant: exactly the five fields', () => {
    assert.deepEqual(requestBody(request(CODE_GRANT)), {
      client_id: '0b8f3c1e-5a1d-4c6e-9b2a-7d3e4f5a6b7c',
      client_secret: 'Zx8Qw3Rt5Yu7Io9Pa1Sd2Fg4Hj6Kl8',
      redirect_uri: 'https://example.com/',
      grant_type: 'authorization_code',
      code: 'def50200authcode'
    })
  })

  test('grantName', () => {
    assert.equal(grantName(REFRESH_GRANT), 'refresh token')
    assert.equal(grantName(CODE_GRANT), 'authorization code')
  })
})

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
    await exchangeToken({ ...request(), account: resolveAccount('mycompany', 'amocrm.ru', 'http://127.0.0.1:8080/amo') }, deps)
    assert.equal(fetch.calls[0]?.url, 'http://127.0.0.1:8080/amo/oauth2/access_token')
  })
})

describe('exchangeToken: success', () => {
  test('returns the pair, both tokens masked', async () => {
    const { deps, masked } = setup([ok()])
    const tokens = await exchangeToken(request(), deps)
    assert.deepEqual(tokens, { accessToken: ACCESS, refreshToken: REFRESH, tokenType: 'Bearer', expiresIn: 86400 })
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
      tokenType: 'Bearer',
      expiresIn: undefined
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
const ROWS: Array<{ name: string; grant: Grant; response: () => Response; message: string; failure: AmoFailure }> = [
  {
    name: 'refresh token already used (Token has been revoked)',
    grant: REFRESH_GRANT,
    response: () =>
      problem(401, { hint: 'Token has been revoked', title: 'Некорректный запрос', detail: 'В запросе отсутствует обязательный параметр' }),
    message: 'amoCRM refused the refresh token (401 Token has been revoked): the refresh token was already used or has expired.',
    failure: 'revoked'
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
    message:
      'amoCRM refused the authorization code (400 Authorization code has been revoked): the authorization code was already used (a code works once). Take a new authorization code (integration settings → Keys and scopes; a code lives 20 minutes and works once) and run the workflow manually with it.',
    failure: 'rejected'
  },
  {
    name: 'authorization code expired',
    grant: CODE_GRANT,
    response: () => problem(400, { hint: 'Authorization code has expired', title: 'Некорректный запрос' }),
    message:
      'amoCRM refused the authorization code (400 Authorization code has expired): the authorization code is older than 20 minutes. Take a new authorization code (integration settings → Keys and scopes; a code lives 20 minutes and works once) and run the workflow manually with it.',
    failure: 'rejected'
  },
  {
    name: 'malformed authorization code',
    grant: CODE_GRANT,
    response: () => problem(400, { hint: 'Cannot decrypt the authorization code', title: 'Некорректный запрос' }),
    message:
      'amoCRM refused the authorization code (400 Cannot decrypt the authorization code): the authorization code is malformed: copy it again in full (no spaces, no line breaks). Take a new authorization code (integration settings → Keys and scopes; a code lives 20 minutes and works once) and run the workflow manually with it.',
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
      assert.equal(error.earlierAttemptUnanswered, false)
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
      'amoCRM refused the refresh token: the server answered 403 with an HTML page ("403 Forbidden 403 Forbidden nginx"). amoCRM blocks an address after too many requests; wait an hour, and check that no other job uses this integration\'s tokens.'
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
      "amoCRM answered 200 without a token pair (an HTML page: a deactivated user or a login page): \"Авторизация Войти в amoCRM\". Check that the integration's owner is an active user of the account and that 'subdomain' is right."
    )
    assert.equal(error.failure, 'bad-answer')
    assert.equal(error.status, 200)
    assert.equal(fetch.calls.length, 1)
    assert.deepEqual(masked, [])
  })

  test('200 JSON without both tokens is a bad answer', async () => {
    const { deps } = setup([json(200, { access_token: ACCESS, token_type: 'Bearer' })])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(error.failure, 'bad-answer')
    assert.doesNotMatch(error.message, /HTML page/)
  })

  test('a 3xx redirect is not followed', async () => {
    const { deps, fetch } = setup([
      new Response(null, { status: 301, headers: { location: 'https://mycompany.kommo.com/oauth2/access_token' } }),
      ok()
    ])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(
      error.message,
      "amoCRM answered with a redirect (301 to mycompany.kommo.com), which is not followed so that credentials go only to mycompany.amocrm.ru. Check 'subdomain' and 'domain': an account moved to kommo.com needs domain: kommo.com."
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
    assert.equal(error.earlierAttemptUnanswered, true)
    assert.equal(error.status, undefined)
    assert.equal(
      error.message,
      'amoCRM did not issue tokens after 3 attempts: the last one got the connection failed (ECONNRESET). Its token endpoint https://mycompany.amocrm.ru/oauth2/access_token may be down or unreachable from this runner; try again later. The refresh token may or may not have been spent: the secret still holds it, and the next run will tell; if that run reports "Token has been revoked", a new authorization code is needed.'
    )
  })

  test('429 until the attempts run out: unavailable, and no attempt went unanswered', async () => {
    const { deps, fetch } = setup([html(429, ''), html(429, ''), html(429, '')])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(fetch.calls.length, 3)
    assert.equal(error.failure, 'unavailable')
    assert.equal(error.earlierAttemptUnanswered, false)
    assert.equal(error.status, 429)
    assert.match(error.message, /^amoCRM did not issue tokens after 3 attempts: the last one got 429\. /)
  })

  test('a timeout is reported as no answer in time', async () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError')
    const { deps } = setup([timeout, timeout, timeout], { attempts: 3 })
    const error = await rejection(exchangeToken(request(CODE_GRANT), deps))
    assert.match(error.message, /the last one got no answer within the time limit\./)
    assert.equal(error.earlierAttemptUnanswered, true)
    assert.doesNotMatch(error.message, /may or may not have been spent/, 'that sentence is about the refresh token')
  })

  test('a network error, then "Token has been revoked": the first attempt may have spent it', async () => {
    const { deps } = setup([networkError(), problem(401, { hint: 'Token has been revoked' })])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(error.failure, 'revoked')
    assert.equal(error.earlierAttemptUnanswered, true)
  })

  test('a 5xx counts as possibly reaching amoCRM; a 429 does not', async () => {
    const after502 = await rejection(
      exchangeToken(request(), setup([html(502, NGINX_502), problem(401, { hint: 'Token has been revoked' })]).deps)
    )
    assert.equal(after502.earlierAttemptUnanswered, true)
    const after429 = await rejection(
      exchangeToken(request(), setup([html(429, ''), problem(401, { hint: 'Token has been revoked' })]).deps)
    )
    assert.equal(after429.earlierAttemptUnanswered, false)
  })

  test('an answer cut off mid-body is retried and counts as unanswered', async () => {
    const cutOff = (): Response =>
      new Response(
        new ReadableStream({
          start(controller) {
            controller.error(new TypeError('terminated'))
          }
        }),
        { status: 200, headers: { 'content-type': 'application/json' } }
      )
    const { deps, retries } = setup([cutOff, problem(401, { hint: 'Token has been revoked' })])
    const error = await rejection(exchangeToken(request(), deps))
    assert.equal(error.failure, 'revoked')
    assert.equal(error.earlierAttemptUnanswered, true)
    assert.match(retries[0] ?? '', /^amoCRM attempt 1 got the answer was cut off/)
  })
})
