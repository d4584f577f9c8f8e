// Byte helpers shared by every module: the field encodings of
// docs/threshold.md (lp, u64, u32), hex and base64, and a constant-time
// comparison. Nothing here touches a platform API, so the core runs in
// Node.js and in browsers alike.
import { equalBytes } from '@noble/curves/utils.js'

const encoder = new TextEncoder()

/** utf8 is the UTF-8 encoding of s, as Go's []byte(s) gives it. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s)
}

/** concat joins byte strings. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/** u32 is n as 4 bytes big-endian. */
export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n >>> 0)
  return b
}

/** u64 is n as 8 bytes big-endian; n must be in [0, 2^64). */
export function u64(n: bigint): Uint8Array {
  if (n < 0n || n >= 1n << 64n) throw new RangeError('u64 out of range')
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, n)
  return b
}

/** lp is x's length as 4 bytes big-endian followed by x. */
export function lp(x: Uint8Array | string): Uint8Array {
  const b = typeof x === 'string' ? utf8(x) : x
  return concat(u32(b.length), b)
}

/** ctEqual compares two byte strings in time that depends only on their lengths; strings of two lengths are unequal. */
export function ctEqual(a: Uint8Array, b: Uint8Array): boolean {
  return equalBytes(a, b)
}

/** wipe overwrites buffers that held secrets (best effort: see docs/js.md). */
export function wipe(...bufs: (Uint8Array | undefined | null)[]): void {
  for (const b of bufs) b?.fill(0)
}

/** toHex is b in lower-case hexadecimal. */
export function toHex(b: Uint8Array): string {
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}

/** fromHex decodes lower- or upper-case hexadecimal; it throws on anything else. */
export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error('not hexadecimal')
  const out = new Uint8Array(s.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16)
  return out
}

const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** toBase64 is b in standard base64 with padding (RFC 4648 §4), through the platform's btoa (Node.js 16 and browsers). */
export function toBase64(b: Uint8Array): string {
  // btoa takes a "binary string", one character per byte; it is built in
  // chunks, as an argument list has a limit.
  let bin = ''
  for (let i = 0; i < b.length; i += 0x2000) bin += String.fromCharCode.apply(null, b.subarray(i, i + 0x2000) as unknown as number[])
  return btoa(bin)
}

/**
 * fromBase64 decodes canonical standard base64 with padding: it refuses other
 * characters, missing padding and non-zero padding bits, so that a value has
 * one encoding (as the Go side insists for checkpoints).
 */
export function fromBase64(s: string): Uint8Array {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new Error('not base64')
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0
  // The bits the last character before the padding holds beyond the bytes
  // must be zero: one '=' leaves 2 such bits, two leave 4.
  if (pad > 0 && (b64.indexOf(s[s.length - pad - 1]!) & (pad === 1 ? 3 : 15)) !== 0) throw new Error('not canonical base64')
  const bin = atob(s)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/** randomBytes draws n bytes from the platform's CSPRNG (Web Crypto, in Node.js 20 and browsers). */
export function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n)
  globalThis.crypto.getRandomValues(b)
  return b
}
