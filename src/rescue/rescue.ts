/**
 * Rescue: when the new tokens cannot be stored, they are sealed to the user's own X25519 key and
 * printed as one line, `<provider>-rescue:v1:<base64 sealed box>` (`amocrm-rescue:v1:` for amoCRM
 * and Kommo, as in 1.0), which only that key's private half opens (`amocrm-rescue open`, any
 * prefix). The plaintext is JSON.
 */
import { seal, unseal } from './sealing.js'

/** The amoCRM / Kommo prefix (1.0). */
export const RESCUE_PREFIX = 'amocrm-rescue:v1:'
/** Every prefix the action writes. */
const RESCUE_PREFIXES = ['amocrm-rescue:v1:', 'bitrix24-rescue:v1:', 'oauth2-rescue:v1:'] as const

export interface RescueBundle {
  version: 1
  /** The provider (absent in 1.0 lines: amoCRM). */
  provider?: string
  account: string
  api_url: string
  client_id: string
  secret: string
  target: string
  token_type: string
  access_token: string
  refresh_token: string
  expires_at: string
  issued_at: string
}

export async function sealRescue(bundle: RescueBundle, publicKey: string, prefix: string = RESCUE_PREFIX): Promise<string> {
  return `${prefix}${await seal(JSON.stringify(bundle), publicKey)}`
}

const RESCUE_LINE = /(?:amocrm|bitrix24|oauth2)-rescue:v1:([A-Za-z0-9+/=]+)/g

/**
 * Opens every rescue line in `text` (a whole log is fine: a job that rotates several accounts
 * prints one line for each, and the summary repeats them), whatever their providers' prefixes.
 * A line sealed to another key is skipped; none opening with this key is an error.
 */
export async function openRescues(text: string, publicKey: string, privateKey: string): Promise<RescueBundle[]> {
  const sealed = [...new Set([...text.matchAll(RESCUE_LINE)].map((m) => m[1] ?? ''))].filter(Boolean)
  if (sealed.length === 0) throw new Error(`no rescue line (${RESCUE_PREFIXES.join('…, ')}…) found in the input`)
  const opened: RescueBundle[] = []
  for (const box of sealed) {
    try {
      opened.push(JSON.parse(await unseal(box, publicKey, privateKey)) as RescueBundle)
    } catch {
      // sealed to another key, or cut or altered: not this key's
    }
  }
  if (opened.length === 0) {
    throw new Error(
      `the rescue line${sealed.length > 1 ? 's do' : ' does'} not open with this private key (wrong key, or the line was cut or altered)`
    )
  }
  return opened
}

/** The first rescue line in `text` that opens with this key. */
export async function openRescue(text: string, publicKey: string, privateKey: string): Promise<RescueBundle> {
  const [first] = await openRescues(text, publicKey, privateKey)
  return first as RescueBundle
}

/**
 * The private key as libsodium wants it (base64, original alphabet, padded). A key copied through
 * a tool that speaks base64url (`-`, `_`, no padding) is accepted too.
 */
export function normalizeKey(text: string): string {
  const original = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '')
  if (!/^[A-Za-z0-9+/]+$/.test(original)) {
    throw new Error('the private key is not base64: copy it again as keygen printed it (44 characters)')
  }
  const padded = original + '='.repeat((4 - (original.length % 4)) % 4)
  if (Buffer.from(padded, 'base64').length !== 32) {
    throw new Error(
      `the private key must be 32 bytes of base64 (44 characters, as keygen printed it); this one is ${Buffer.from(padded, 'base64').length} bytes`
    )
  }
  return padded
}
