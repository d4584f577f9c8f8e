// The hashes of the hot paths (a get checks a receipt's proofs, derives a
// record's key and checks its MACs) by the fastest means the platform has:
// Node.js's crypto module where there is one, @noble/hashes elsewhere
// (browsers' Web Crypto digests only asynchronously). Both compute the same
// bytes; test/vectors.test.ts checks them against the Go side's vectors.
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import type * as NodeCrypto from 'node:crypto'

/**
 * nodeCrypto is Node.js's crypto module, where the platform is Node.js
 * (20.16 and later give built-in modules to code that cannot import them:
 * this code is also bundled for browsers), else undefined.
 */
export const nodeCrypto = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:crypto') as typeof NodeCrypto | undefined

function bytes(b: Buffer | ArrayBuffer): Uint8Array {
  return b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.length)
}

/** sha256 is SHA-256(b). */
export function sha256(b: Uint8Array): Uint8Array {
  return nodeCrypto === undefined ? nobleSha256(b) : bytes(nodeCrypto.createHash('sha256').update(b).digest())
}

/** hmacSha256 is HMAC-SHA256 of msg under key. */
export function hmacSha256(key: Uint8Array, msg: Uint8Array): Uint8Array {
  return nodeCrypto === undefined ? hmac(nobleSha256, key, msg) : bytes(nodeCrypto.createHmac('sha256', key).update(msg).digest())
}

/** hkdfSha256 is HKDF-SHA256(ikm, salt, info) to n bytes (RFC 5869; an empty salt is a salt of zeros). */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, n: number): Uint8Array {
  return nodeCrypto === undefined ? hkdf(nobleSha256, ikm, salt, info, n) : bytes(nodeCrypto.hkdfSync('sha256', ikm, salt, info, n))
}
