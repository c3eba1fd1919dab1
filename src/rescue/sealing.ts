/**
 * libsodium sealed boxes (crypto_box_seal): how GitHub wants secret values encrypted, and how
 * rescued tokens are sealed to the user's own key. base64 ORIGINAL variant throughout.
 */
type Sodium = typeof import('libsodium-wrappers').default

let loading: Promise<Sodium> | undefined

/**
 * Loads libsodium and its WebAssembly. Loaded on first use rather than at start-up, so that the
 * first requests leave before this ~0.4 MB module is compiled: call it right after them.
 */
export function loadSodium(): Promise<Sodium> {
  loading ??= import('libsodium-wrappers').then(async ({ default: sodium }) => {
    await sodium.ready
    return sodium
  })
  return loading
}

export async function seal(value: string, publicKey: string): Promise<string> {
  const sodium = await loadSodium()
  const B64 = sodium.base64_variants.ORIGINAL
  const sealed = sodium.crypto_box_seal(sodium.from_string(value), sodium.from_base64(publicKey, B64))
  return sodium.to_base64(sealed, B64)
}

/** Opens a sealed box; throws when the keys do not match or the box was altered. */
export async function unseal(sealed: string, publicKey: string, privateKey: string): Promise<string> {
  const sodium = await loadSodium()
  const B64 = sodium.base64_variants.ORIGINAL
  const opened = sodium.crypto_box_seal_open(
    sodium.from_base64(sealed, B64),
    sodium.from_base64(publicKey, B64),
    sodium.from_base64(privateKey, B64)
  )
  return sodium.to_string(opened)
}

export async function generateKeyPair(): Promise<{ publicKey: string; privateKey: string }> {
  const sodium = await loadSodium()
  const B64 = sodium.base64_variants.ORIGINAL
  const pair = sodium.crypto_box_keypair()
  return { publicKey: sodium.to_base64(pair.publicKey, B64), privateKey: sodium.to_base64(pair.privateKey, B64) }
}

/** The public key of an X25519 private key. */
export async function publicKeyOf(privateKey: string): Promise<string> {
  const sodium = await loadSodium()
  const B64 = sodium.base64_variants.ORIGINAL
  return sodium.to_base64(sodium.crypto_scalarmult_base(sodium.from_base64(privateKey, B64)), B64)
}

/**
 * X25519 public keys of small order: sealing to one gives a shared secret that anyone can compute
 * (libsodium refuses them). As libsodium's blocklist: the top bit of the last byte is ignored.
 */
const SMALL_ORDER_KEYS = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'
]

export function isSmallOrderKey(bytes: Buffer): boolean {
  const normal = Buffer.from(bytes)
  normal[31] = (normal[31] ?? 0) & 0x7f
  return SMALL_ORDER_KEYS.includes(normal.toString('hex'))
}
