/**
 * The stand-ins as a background service, for running the action with `uses: ./` in a real workflow
 * (.github/workflows/ci.yml) or by hand:
 *
 *   node .build/sandbox/demo/serve.js --detach      start in the background; print key=value lines
 *                                                   (for $GITHUB_OUTPUT): urls, credentials, a code
 *   node .build/sandbox/demo/serve.js --check URL   ask the service whether the repository secret
 *                                                   holds amoCRM's current refresh token; exit 1 if not
 *
 * The service stops by itself after 30 minutes.
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { startAmoCrm } from '../standins/amocrm.js'
import { DEMO_GITHUB_TOKEN, startGitHub } from '../standins/github/github.js'

const LIFETIME_MS = 30 * 60_000

async function serve(): Promise<void> {
  const amo = await startAmoCrm()
  const gh = await startGitHub()
  const control = createServer((req, res) => {
    const secret = gh.secret({ repo: 'acme/crm-sync' }, 'AMOCRM_REFRESH_TOKEN')
    const ok = req.url === '/check' && secret !== undefined && secret.value === amo.currentRefreshToken()
    res.writeHead(ok ? 200 : 409, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ ok, rotations: amo.issued.length, secretUpdatedAt: secret?.updated_at ?? null }))
  })
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve))
  const address = control.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const lines = {
    'amocrm-url': amo.url,
    'github-api-url': gh.url,
    'client-id': amo.clientId,
    'client-secret': amo.clientSecret,
    'redirect-uri': amo.redirectUri,
    code: amo.issueCode(),
    'github-token': DEMO_GITHUB_TOKEN,
    'control-url': `http://127.0.0.1:${port}`
  }
  process.send?.(
    Object.entries(lines)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')
  )
  setTimeout(() => process.exit(0), LIFETIME_MS).unref()
  setInterval(() => undefined, 60_000)
}

async function detach(): Promise<void> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  const info = await new Promise<string>((resolve, reject) => {
    child.once('message', (message) => resolve(String(message)))
    child.once('exit', (code) => reject(new Error(`the stand-ins exited (${code})`)))
  })
  console.log(info)
  child.disconnect()
  child.unref()
}

async function check(url: string): Promise<void> {
  const response = await fetch(`${url}/check`)
  const body = await response.text()
  console.log(body)
  process.exitCode = response.ok ? 0 : 1
}

const [mode, arg] = process.argv.slice(2)
if (mode === '--serve') await serve()
else if (mode === '--detach') await detach()
else if (mode === '--check' && arg) await check(arg)
else {
  console.error('usage: serve.js --detach | --check CONTROL_URL')
  process.exitCode = 2
}
