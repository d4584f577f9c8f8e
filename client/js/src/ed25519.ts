// Ed25519 signature checks of checkpoints: the platform's Web Crypto where it
// has Ed25519 (Node.js 20, Chromium 137 and later), about ten times faster
// than @noble/curves' pure-JavaScript check, which is the fallback.
import { ed25519 } from '@noble/curves/ed25519.js'
import { toHex } from './bytes.js'

const keys = new Map<string, Promise<CryptoKey | undefined>>()
const MAX_KEYS = 1024

function importKey(pub: Uint8Array): Promise<CryptoKey | undefined> {
  const id = toHex(pub)
  let k = keys.get(id)
  if (k === undefined) {
    if (keys.size >= MAX_KEYS) keys.clear()
    k = globalThis.crypto.subtle.importKey('raw', pub.slice(), { name: 'Ed25519' }, false, ['verify']).catch(() => undefined)
    keys.set(id, k)
  }
  return k
}

/** verifyEd25519 reports whether sig is pub's Ed25519 signature of msg. */
export async function verifyEd25519(pub: Uint8Array, sig: Uint8Array, msg: Uint8Array): Promise<boolean> {
  if (pub.length !== 32 || sig.length !== 64) return false
  const key = await importKey(pub)
  if (key === undefined) return ed25519.verify(sig, msg, pub)
  try {
    return await globalThis.crypto.subtle.verify({ name: 'Ed25519' }, key, sig.slice(), msg.slice())
  } catch {
    return ed25519.verify(sig, msg, pub)
  }
}
