/**
 * The real thing, not a stand-in: panva's oidc-provider (npm `oidc-provider`, a certified OpenID
 * Connect / OAuth 2.0 server), started in-process on 127.0.0.1 (port 0) for the tests. A test
 * helper, not a test.
 *
 * Why: oidc-provider implements refresh-token reuse detection (RFC 9700 §4.14.2). With rotation
 * on, a spent refresh token presented again is refused (400 invalid_grant, "grant request is
 * invalid") and the whole grant is revoked, the newest refresh token included
 * (lib/actions/grants/refresh_token.js: a `consumed` token → `revoke(ctx, grantId)`; docs/README.md,
 * `rotateRefreshToken`). The action must never present a possibly stale token to such a server;
 * the generic stand-in's `reuseDetection` (sandbox/standins/oauth2.ts) emulates this, this file is the
 * reference it is checked against.
 *
 * Set up: issuer `http://127.0.0.1:PORT` (no TLS), one confidential client (`client_secret_basic`,
 * grant types authorization_code and refresh_token, one redirect URI; the secret has characters
 * that Basic must form-encode, RFC 6749 §2.3.1), a refresh token with every code
 * (`issueRefreshToken` → true; the client asks for `offline_access` too, as a real one does),
 * rotation always (`rotateRefreshToken: true`). Quiet: its own signing key, cookie key, storage,
 * account lookup and TTLs, so that none of its "development only" notices is printed (on Node 20
 * the package prints one line at import: it supports Node 22 and later; it runs all the same).
 * The login and consent pages (devInteractions) are off: `/interaction/:uid` is answered here,
 * in-process, by signing in one fixed account and granting what the client asked for, so that
 * `issueRefreshToken()` is the authorization-code flow over HTTP, end to end (with PKCE), as a
 * browser and a client would run it.
 *
 * Deliberately not: a real login or consent page, persistence (the storage is a Map per instance),
 * dynamic registration, any feature the action does not use (introspection, revocation endpoint,
 * DPoP, mTLS, PAR, …), faults (use the stand-ins for those).
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider, { type Adapter, type AdapterPayload, type Configuration } from 'oidc-provider'

export interface OidcProviderOptions {
  /** Default 'oidc-client-3Fq8'. */
  clientId?: string
  /** Default a secret with `+`, `/` and `:`, which Basic must form-encode. */
  clientSecret?: string
  /** Default 'https://client.example/callback' (never contacted: the code is read from the redirect). */
  redirectUri?: string
  /** Refresh token lifetime, seconds. Default 14 days. */
  refreshTokenTtlS?: number
}

export interface OidcProviderServer {
  /** http://127.0.0.1:PORT */
  readonly issuer: string
  /** `{issuer}/token`: the action's `token-url`. */
  readonly tokenUrl: string
  readonly clientId: string
  readonly clientSecret: string
  readonly redirectUri: string
  /** The grants the provider revoked (its `grant.revoked` event), in order: reuse detection shows here. */
  readonly revokedGrants: string[]
  /** A fresh grant's refresh token: the authorization-code flow over HTTP, then the code exchanged. */
  issueRefreshToken(): Promise<string>
  /** A refresh request as the action sends it (form body, Basic, `accept: application/json`); the parsed answer. */
  refresh(token: string): Promise<{ status: number; body: Record<string, unknown> }>
  close(): Promise<void>
}

/** The one end user every grant belongs to. */
const ACCOUNT_ID = 'user-1001'

/** application/x-www-form-urlencoded encoding of one value, as RFC 6749 §2.3.1 wants inside Basic. */
const formEncode = (value: string): string => new URLSearchParams({ v: value }).toString().slice(2)

export function basicAuthorization(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`
}

/**
 * The provider's storage: a Map per instance. Passing our own keeps the package's process-wide
 * default store (and its "development-only in-memory adapter" warning) out, so two providers in
 * one process share nothing. The semantics the grants rely on: `consume` marks a token spent,
 * `revokeByGrantId` deletes every artifact of a grant (spent tokens included).
 */
function mapAdapter(): (model: string) => Adapter {
  const store = new Map<string, { payload: AdapterPayload; expiresAt: number | undefined }>()
  const live = (key: string): AdapterPayload | undefined => {
    const entry = store.get(key)
    if (entry?.expiresAt !== undefined && Date.now() >= entry.expiresAt) {
      store.delete(key)
      return undefined
    }
    return entry?.payload
  }
  return (model) => {
    const key = (id: string): string => `${model}:${id}`
    const findBy = (match: (payload: AdapterPayload) => boolean): AdapterPayload | undefined => {
      for (const name of store.keys()) {
        const payload = name.startsWith(`${model}:`) ? live(name) : undefined
        if (payload && match(payload)) return payload
      }
      return undefined
    }
    return {
      async upsert(id, payload, expiresIn) {
        store.set(key(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined })
      },
      async find(id) {
        return live(key(id))
      },
      async findByUid(uid) {
        return findBy((payload) => payload.uid === uid)
      },
      async findByUserCode(userCode) {
        return findBy((payload) => payload.userCode === userCode)
      },
      async consume(id) {
        const payload = live(key(id))
        if (payload) payload.consumed = Math.floor(Date.now() / 1000)
      },
      async destroy(id) {
        store.delete(key(id))
      },
      async revokeByGrantId(grantId) {
        for (const [name, { payload }] of store) if (name.startsWith(`${model}:`) && payload.grantId === grantId) store.delete(name)
      }
    }
  }
}

const base64url = (bytes: Buffer): string => bytes.toString('base64url')

async function readJson(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text()
  try {
    const value: unknown = JSON.parse(text)
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : { value }
  } catch {
    return { text }
  }
}

export async function startOidcProvider(options: OidcProviderOptions = {}): Promise<OidcProviderServer> {
  const clientId = options.clientId ?? 'oidc-client-3Fq8'
  const clientSecret = options.clientSecret ?? 'Zq4+rT7/wX:2pL9mN5vB8cK1jH6gF3dS0aQ'
  const redirectUri = options.redirectUri ?? 'https://client.example/callback'
  const refreshTokenTtlS = options.refreshTokenTtlS ?? 14 * 24 * 3600

  // The port is needed for the issuer before the provider exists: listen first, route later.
  let route: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end()
  const server = createServer((req, res) => route(req, res))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })
  const configuration: Configuration = {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: 'client_secret_basic'
      }
    ],
    adapter: mapAdapter(),
    jwks: { keys: [{ ...signingKey, kid: 'test-rs256', alg: 'RS256', use: 'sig' }] },
    cookies: { keys: [base64url(randomBytes(32))] },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    features: { devInteractions: { enabled: false } },
    scopes: ['openid', 'offline_access'],
    issueRefreshToken: () => true,
    rotateRefreshToken: true,
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: refreshTokenTtlS,
      RefreshToken: refreshTokenTtlS
    },
    // Errors as JSON instead of the default HTML page (which also asks, on the console, to be replaced).
    renderError: (ctx, out) => {
      ctx.type = 'json'
      ctx.body = out
    }
  }
  const provider = new Provider(issuer, configuration)
  const revokedGrants: string[] = []
  provider.on('grant.revoked', (_ctx, grantId) => revokedGrants.push(grantId))

  /** The user's part, automated: sign in ACCOUNT_ID and grant the scope the client asked for. */
  async function interaction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res)
    const grant = new provider.Grant({ accountId: ACCOUNT_ID, clientId: String(details.params.client_id) })
    grant.addOIDCScope(String(details.params.scope ?? 'openid'))
    const grantId = await grant.save()
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: ACCOUNT_ID }, consent: { grantId } },
      { mergeWithLastSubmission: false }
    )
  }

  const callback = provider.callback()
  route = (req, res) => {
    if (!(req.url ?? '').startsWith('/interaction/')) {
      void callback(req, res)
      return
    }
    interaction(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(`interaction failed: ${String(error)}`)
    })
  }

  const authorization = basicAuthorization(clientId, clientSecret)
  const tokenUrl = `${issuer}/token`
  const token = async (params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(tokenUrl, {
      method: 'POST',
      headers: { accept: 'application/json', authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString()
    })
    return { status: response.status, body: await readJson(response) }
  }

  /** The browser's part: follow the redirects from the authorization request, cookies kept, to the code. */
  async function authorizationCode(codeChallenge: string): Promise<string> {
    const state = base64url(randomBytes(12))
    let url = `${issuer}/auth?${new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid offline_access',
      prompt: 'consent', // OpenID Connect grants offline_access only with a consent prompt
      state,
      code_challenge: codeChallenge,
      code_challenge_method: 'S256'
    })}`
    const cookies = new Map<string, string>()
    for (let hop = 0; hop < 10; hop++) {
      const response = await fetch(url, {
        redirect: 'manual',
        headers: { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') }
      })
      for (const line of response.headers.getSetCookie()) {
        const pair = line.split(';', 1)[0] ?? ''
        const eq = pair.indexOf('=')
        const [name, value] = [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()]
        if (value === '' || /;\s*expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(name)
        else cookies.set(name, value)
      }
      const location = response.headers.get('location')
      const text = await response.text()
      if (!location) throw new Error(`oidc-provider: the authorization stopped at ${url} (${response.status}): ${text.slice(0, 300)}`)
      const next = new URL(location, url)
      if (next.href.startsWith(redirectUri)) {
        const code = next.searchParams.get('code')
        if (next.searchParams.get('state') !== state || !code) throw new Error(`oidc-provider: no code in the redirect: ${next.search}`)
        return code
      }
      url = next.href
    }
    throw new Error('oidc-provider: too many redirects on the way to the code')
  }

  return {
    issuer,
    tokenUrl,
    clientId,
    clientSecret,
    redirectUri,
    revokedGrants,
    async issueRefreshToken() {
      const verifier = base64url(randomBytes(32))
      const code = await authorizationCode(base64url(createHash('sha256').update(verifier).digest()))
      const answer = await token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier })
      const refreshToken = answer.body.refresh_token
      if (answer.status !== 200 || typeof refreshToken !== 'string') {
        throw new Error(`oidc-provider: the code exchange gave no refresh token (${answer.status}): ${JSON.stringify(answer.body)}`)
      }
      return refreshToken
    },
    refresh: (refreshToken) => token({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    close() {
      return new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      })
    }
  }
}
