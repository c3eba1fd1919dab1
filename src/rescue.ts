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
export const RESCUE_PREFIXES = ['amocrm-rescue:v1:', 'bitrix24-rescue:v1:', 'oauth2-rescue:v1:'] as const

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

/** Finds the rescue line in `text` (a log excerpt is fine), whatever its provider's prefix, and opens it. */
export async function openRescue(text: string, publicKey: string, privateKey: string): Promise<RescueBundle> {
  const match = /(?:amocrm|bitrix24|oauth2)-rescue:v1:([A-Za-z0-9+/=]+)/.exec(text)
  if (!match?.[1]) throw new Error(`no rescue line (${RESCUE_PREFIXES.join('…, ')}…) found in the input`)
  let json: string
  try {
    json = await unseal(match[1], publicKey, privateKey)
  } catch {
    throw new Error('the rescue line does not open with this private key (wrong key, or the line was cut or altered)')
  }
  return JSON.parse(json) as RescueBundle
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
