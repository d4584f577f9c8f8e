// Ed25519 for the device key's signatures and the checkpoints' checks, by
// the fastest means the platform has:
//   - Node.js: its crypto module, synchronously. On a busy machine Web
//     Crypto's round trip through the thread pool cost the event loop more
//     than the check itself (about 0.4 ms of a warm get's 4).
//   - browsers: Web Crypto (Chromium 137 and later have Ed25519).
//   - elsewhere: @noble/curves, about ten times slower than either.
// Ed25519 signatures are deterministic: every way signs the same bytes.
import { ed25519 } from '@noble/curves/ed25519.js'
import { toHex } from './bytes.js'
import { nodeCrypto } from './platform.js'

/** The DER prefixes of an Ed25519 key (RFC 8410): PKCS #8 before a private key's 32-byte seed, SPKI before a public key. */
const PKCS8_ED25519 = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20)
const SPKI_ED25519 = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00)

function der(prefix: Uint8Array, key: Uint8Array): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(prefix.length + key.length)
  b.set(prefix)
  b.set(key, prefix.length)
  return b
}

/** A public key made ready for checks, per platform. */
type Verifier = (sig: Uint8Array, msg: Uint8Array) => boolean | Promise<boolean>

const verifiers = new Map<string, Promise<Verifier>>()
const MAX_KEYS = 1024

async function makeVerifier(pub: Uint8Array): Promise<Verifier> {
  const noble: Verifier = (sig, msg) => ed25519.verify(sig, msg, pub)
  const nc = nodeCrypto
  if (nc !== undefined) {
    try {
      const k = nc.createPublicKey({ key: Buffer.from(der(SPKI_ED25519, pub)), format: 'der', type: 'spki' })
      return (sig, msg) => nc.verify(null, msg, k, sig)
    } catch {
      return noble
    }
  }
  try {
    const k = await globalThis.crypto.subtle.importKey('raw', pub.slice(), { name: 'Ed25519' }, false, ['verify'])
    return (sig, msg) => globalThis.crypto.subtle.verify({ name: 'Ed25519' }, k, sig.slice(), msg.slice()).catch(() => noble(sig, msg))
  } catch {
    return noble
  }
}

/** verifyEd25519 reports whether sig is pub's Ed25519 signature of msg. */
export async function verifyEd25519(pub: Uint8Array, sig: Uint8Array, msg: Uint8Array): Promise<boolean> {
  if (pub.length !== 32 || sig.length !== 64) return false
  const id = toHex(pub)
  let v = verifiers.get(id)
  if (v === undefined) {
    if (verifiers.size >= MAX_KEYS) verifiers.clear()
    v = makeVerifier(pub.slice())
    verifiers.set(id, v)
  }
  return (await v)(sig, msg)
}

/** A Signer signs with one private key. */
export type Signer = (msg: Uint8Array) => Uint8Array | Promise<Uint8Array>

/**
 * platformSigner makes the private key whose 32-byte seed is given a key of
 * the platform's (not extractable, where Web Crypto holds it), or returns
 * undefined where the platform has no Ed25519: the caller signs otherwise.
 * The seed is not kept, and the DER copy of it made here is wiped.
 */
export async function platformSigner(seed: Uint8Array): Promise<Signer | undefined> {
  const d = der(PKCS8_ED25519, seed)
  const nc = nodeCrypto
  try {
    if (nc !== undefined) {
      const k = nc.createPrivateKey({ key: Buffer.from(d.buffer, d.byteOffset, d.length), format: 'der', type: 'pkcs8' })
      return (msg) => new Uint8Array(nc.sign(null, msg, k))
    }
    const k = await globalThis.crypto.subtle.importKey('pkcs8', d, { name: 'Ed25519' }, false, ['sign'])
    return async (msg) => new Uint8Array(await globalThis.crypto.subtle.sign({ name: 'Ed25519' }, k, msg.slice()))
  } catch {
    return undefined
  } finally {
    d.fill(0)
  }
}
