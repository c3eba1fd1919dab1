/**
 * The naive chain's first step, as users run it today (a PHP script or curl in a `run:` step):
 * trade the refresh token for a new pair and save it to a file for the next step.
 * Used only by the benchmark (npm run bench).
 */
import { writeFileSync } from 'node:fs'

const env = (name: string): string => process.env[name] ?? ''
const response = await fetch(`${env('AMOCRM_URL')}/oauth2/access_token`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    client_id: env('CLIENT_ID'),
    client_secret: env('CLIENT_SECRET'),
    grant_type: 'refresh_token',
    refresh_token: env('REFRESH_TOKEN'),
    redirect_uri: env('REDIRECT_URI')
  })
})
if (!response.ok) throw new Error(`token request failed: ${response.status}`)
writeFileSync(env('TOKENS_FILE'), await response.text())
