// The log's proof checks (api/logproof.go): an RFC 6962 Merkle tree over the
// entries as stored, leaf hash SHA-256(0x00 ‖ entry), node hash SHA-256(0x01
// ‖ left ‖ right); inclusion and consistency proofs as RFC 9162 §2.1.3.2 and
// §2.1.4.2 verify them.
import { sha256 } from '../platform.js'
import { concat, ctEqual } from '../bytes.js'

/** The largest tree size or index a proof check takes (api.MaxLogSize). */
export const MAX_LOG_SIZE = 1n << 48n
const MAX_PROOF_LEN = 128
const HASH_SIZE = 32

export function leafHash(entry: Uint8Array): Uint8Array {
  return sha256(concat(Uint8Array.of(0), entry))
}

function nodeHash(l: Uint8Array, r: Uint8Array): Uint8Array {
  return sha256(concat(Uint8Array.of(1), l, r))
}

/** proofHashes checks that every hash of a proof as it travels is 32 bytes. */
export function proofHashes(p: Uint8Array[]): Uint8Array[] {
  if (p.length > MAX_PROOF_LEN || p.some((h) => h.length !== HASH_SIZE)) throw new Error('a proof hash is not 32 bytes')
  return p
}

/** verifyInclusion reports whether proof shows entry at index in the tree of size size with this root. */
export function verifyInclusion(proof: Uint8Array[], size: bigint, root: Uint8Array, index: bigint, entry: Uint8Array): boolean {
  if (size < 1n || size > MAX_LOG_SIZE || index < 0n || index >= size || proof.length > MAX_PROOF_LEN) return false
  let fn = index
  let sn = size - 1n
  let r = leafHash(entry)
  for (const p of proof) {
    if (sn === 0n) return false
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r)
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n
        sn >>= 1n
      }
    } else {
      r = nodeHash(r, p)
    }
    fn >>= 1n
    sn >>= 1n
  }
  return sn === 0n && ctEqual(r, root)
}

/** emptyRoot is the root of the empty tree: SHA-256 of nothing. */
export const emptyRoot = sha256(new Uint8Array(0))

/** verifyConsistency reports whether proof shows the tree (newSize, newRoot) extends (oldSize, oldRoot). */
export function verifyConsistency(proof: Uint8Array[], oldSize: bigint, oldRoot: Uint8Array, newSize: bigint, newRoot: Uint8Array): boolean {
  if (oldSize < 0n || oldSize > newSize || newSize > MAX_LOG_SIZE || proof.length > MAX_PROOF_LEN) return false
  if (oldSize === 0n) return proof.length === 0 && ctEqual(oldRoot, emptyRoot) && (newSize !== 0n || ctEqual(newRoot, emptyRoot))
  if (oldSize === newSize) return proof.length === 0 && ctEqual(oldRoot, newRoot)
  const path = (oldSize & (oldSize - 1n)) === 0n ? [oldRoot, ...proof] : proof
  if (path.length === 0) return false
  let fn = oldSize - 1n
  let sn = newSize - 1n
  while ((fn & 1n) === 1n) {
    fn >>= 1n
    sn >>= 1n
  }
  let fr = path[0]!
  let sr = path[0]!
  for (const c of path.slice(1)) {
    if (sn === 0n) return false
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr)
      sr = nodeHash(c, sr)
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n
        sn >>= 1n
      }
    } else {
      sr = nodeHash(sr, c)
    }
    fn >>= 1n
    sn >>= 1n
  }
  return sn === 0n && ctEqual(fr, oldRoot) && ctEqual(sr, newRoot)
}
