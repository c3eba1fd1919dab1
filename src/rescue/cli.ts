#!/usr/bin/env node
/**
 * token-rotation-rescue: the user's side of the action — its set-up, and a rescue.
 *
 *   token-rotation-rescue init           sets up one account's rotation in the repository of this folder:
 *                                        the workflow, the secrets, the rescue key, the first exchange
 *                                        (src/init/; `init --help` lists its flags)
 *   token-rotation-rescue keygen         a new key pair: the public half goes into `rescue-public-key`
 *   token-rotation-rescue open [FILE]         opens every rescue line found in FILE (or stdin): amocrm-rescue:v1:…,
 *                                        bitrix24-rescue:v1:… or oauth2-rescue:v1:… — one line prints its
 *                                        JSON, several a JSON array (one value per line with --field)
 *        --key-file PATH                 the private key, from a file (default: $TOKEN_ROTATION_RESCUE_KEY,
 *                                        or its 1.1 name $AMOCRM_RESCUE_PRIVATE_KEY)
 *        --field NAME                    print one field (e.g. refresh_token) instead of the JSON
 *
 * Bundled into dist/rescue/index.js: `node dist/rescue/index.js …` from a clone of the action, or
 * `npx -y github:amocrm-actions/token-rotation#v1 …` (package.json's bin).
 */
import { readFileSync } from 'node:fs'
import { localTools } from '../init/github.js'
import { runInit } from '../init/init.js'
import { randomSource } from '../init/schedule.js'
import { streamTerminal } from '../init/terminal.js'
import { normalizeKey, openRescues, type RescueBundle } from './rescue.js'
import { generateKeyPair, publicKeyOf } from './sealing.js'

const USAGE = `usage:
  token-rotation-rescue init [flags]       (init --help lists them)
  token-rotation-rescue keygen
  token-rotation-rescue open [FILE] [--key-file PATH] [--field NAME]
The private key is read from --key-file or the TOKEN_ROTATION_RESCUE_KEY environment variable
(AMOCRM_RESCUE_PRIVATE_KEY works too).`

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  if (i < 0) return undefined
  const value = args[i + 1]
  if (!value || value.startsWith('--')) throw new Error(`${name} needs a value`)
  args.splice(i, 2)
  return value
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv
  if (command === 'init') {
    return runInit({
      argv: args,
      env: process.env,
      cwd: process.cwd(),
      terminal: streamTerminal(process.stdin, process.stdout, process.stderr),
      tools: localTools,
      random: randomSource(process.env),
      now: () => new Date(),
      localOffset: (date) => -date.getTimezoneOffset(),
      exit: (code) => process.exit(code)
    })
  }
  if (command === 'keygen') {
    const { publicKey, privateKey } = await generateKeyPair()
    process.stdout.write(
      [
        `public key (put it in the workflow as rescue-public-key; it is not a secret):`,
        `  ${publicKey}`,
        `private key (keep it offline, e.g. in a password manager; never in GitHub):`,
        `  ${privateKey}`,
        ''
      ].join('\n')
    )
    return 0
  }
  if (command === 'open') {
    const keyFile = option(args, '--key-file')
    const field = option(args, '--field')
    const fromEnv = process.env.TOKEN_ROTATION_RESCUE_KEY || process.env.AMOCRM_RESCUE_PRIVATE_KEY || ''
    const given = (keyFile ? readFileSync(keyFile, 'utf8') : fromEnv).trim()
    if (!given) throw new Error('no private key: pass --key-file PATH or set TOKEN_ROTATION_RESCUE_KEY')
    const privateKey = normalizeKey(given)
    const file = args[0]
    const text = file ? readFileSync(file, 'utf8') : await readStdin()
    const bundles = await openRescues(text, await publicKeyOf(privateKey), privateKey)
    if (bundles.length > 1) process.stderr.write(`${bundles.length} rescue lines opened with this key.\n`)
    if (field) {
      for (const bundle of bundles) {
        // Only the bundle's own fields: never what an object inherits (constructor, toString, …).
        const value: unknown = Object.hasOwn(bundle, field) ? bundle[field as keyof RescueBundle] : undefined
        if (typeof value !== 'string' && typeof value !== 'number') {
          throw new Error(`no field '${field}' in the rescue (fields: ${Object.keys(bundle).join(', ')})`)
        }
        process.stdout.write(`${String(value)}\n`)
      }
    } else {
      process.stdout.write(`${JSON.stringify(bundles.length === 1 ? bundles[0] : bundles, null, 2)}\n`)
    }
    return 0
  }
  process.stderr.write(`${USAGE}\n`)
  return command === undefined || command === '--help' || command === '-h' ? 0 : 2
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`token-rotation-rescue: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  }
)
