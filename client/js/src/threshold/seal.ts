// The sealed record (docs/threshold.md): 0x01 ‖ nonce ‖
// XChaCha20-Poly1305(K, nonce, record, AD), AD = lp("custos/v1") ‖ lp(user)
// ‖ unit_id ‖ u64(version).
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { concat, lp, randomBytes, u64 } from '../bytes.js'

const FORMAT = 0x01
const NONCE_SIZE = 24
const TAG_SIZE = 16
export const MAX_RECORD = 1 << 20
const MIN_SEALED = 1 + NONCE_SIZE + TAG_SIZE

/** OpenError is the one error of a record that does not open (the only detail given: an unknown format). */
export class OpenError extends Error {
  override name = 'OpenError'
}

/** associatedData is AD = lp("custos/v1") ‖ lp(user) ‖ unit_id ‖ u64(version). */
export function associatedData(user: string, unitId: Uint8Array, version: bigint): Uint8Array {
  return concat(lp('custos/v1'), lp(user), unitId, u64(version))
}

/** seal seals record under K with a fresh random nonce (or the one given, for known-answer tests). */
export function seal(k: Uint8Array, user: string, unitId: Uint8Array, version: bigint, record: Uint8Array, nonce = randomBytes(NONCE_SIZE)): Uint8Array {
  if (record.length > MAX_RECORD) throw new Error(`a record is at most ${MAX_RECORD} bytes`)
  const ct = xchacha20poly1305(k, nonce, associatedData(user, unitId, version)).encrypt(record)
  return concat(Uint8Array.of(FORMAT), nonce, ct)
}

/** open opens a sealed record; nothing of it is returned before the tag checks. */
export function open(k: Uint8Array, user: string, unitId: Uint8Array, version: bigint, sealed: Uint8Array): Uint8Array {
  if (sealed.length < MIN_SEALED || sealed.length > MIN_SEALED + MAX_RECORD) throw new OpenError('the sealed record does not open')
  if (sealed[0] !== FORMAT) throw new OpenError(`the sealed record has format version ${sealed[0]}, which this SDK does not know`)
  try {
    return xchacha20poly1305(k, sealed.subarray(1, 1 + NONCE_SIZE), associatedData(user, unitId, version)).decrypt(sealed.subarray(1 + NONCE_SIZE))
  } catch {
    throw new OpenError('the sealed record does not open')
  }
}
