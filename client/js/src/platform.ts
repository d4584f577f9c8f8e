// The hashes of the hot paths (a get checks a receipt's proofs and the
// vault's MACs) by the fastest means the platform has: Node.js's crypto
// module where there is one (about twice as fast as @noble/hashes on the
// short inputs of a get), @noble/hashes elsewhere (browsers' Web Crypto
// digests only asynchronously). Both compute the same bytes; the tests
// check them against each other and the Go side's vectors. HKDF stays
// @noble/hashes' everywhere: Node.js's hkdfSync took longer.
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import type * as NodeCrypto from 'node:crypto'

/**
 * nodeCrypto is Node.js's crypto module, where the platform is Node.js
 * (20.16 and later give built-in modules to code that cannot import them:
 * this code is also bundled for browsers), else undefined.
 */
export const nodeCrypto = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:crypto') as typeof NodeCrypto | undefined

/** bytes is a Buffer as a plain Uint8Array (what the rest of the SDK compares and encodes). */
function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.length)
}

/** sha256 is SHA-256(b). */
export function sha256(b: Uint8Array): Uint8Array {
  return nodeCrypto === undefined ? nobleSha256(b) : bytes(nodeCrypto.createHash('sha256').update(b).digest())
}

/** hmacSha256 is HMAC-SHA256 of msg under key. */
export function hmacSha256(key: Uint8Array, msg: Uint8Array): Uint8Array {
  return nodeCrypto === undefined ? hmac(nobleSha256, key, msg) : bytes(nodeCrypto.createHmac('sha256', key).update(msg).digest())
}
