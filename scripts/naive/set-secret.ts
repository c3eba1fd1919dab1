/**
 * The naive chain's second step, as a typical "set secret" action does it: read the public key,
 * seal, write — each request after the previous one, in a process of its own.
 * Used only by the benchmark (npm run bench), bundled with ncc like such an action.
 */
import { readFileSync } from 'node:fs'
import { Octokit } from '@octokit/rest'
import sodium from 'libsodium-wrappers'

const env = (name: string): string => process.env[name] ?? ''
const [owner = '', repo = ''] = env('REPOSITORY').split('/')
const tokens = JSON.parse(readFileSync(env('TOKENS_FILE'), 'utf8')) as { refresh_token: string }
const octokit = new Octokit({ auth: env('GH_TOKEN'), baseUrl: env('GITHUB_API_URL') })
const { data: key } = await octokit.rest.actions.getRepoPublicKey({ owner, repo })
await sodium.ready
const sealed = sodium.crypto_box_seal(
  sodium.from_string(tokens.refresh_token),
  sodium.from_base64(key.key, sodium.base64_variants.ORIGINAL)
)
await octokit.rest.actions.createOrUpdateRepoSecret({
  owner,
  repo,
  secret_name: env('SECRET_NAME'),
  key_id: key.key_id,
  encrypted_value: sodium.to_base64(sealed, sodium.base64_variants.ORIGINAL)
})
