// Splitting a record's server key among the custodians, the commitments the
// vault keeps, and combining with blame (docs/threshold.md). Shamir's scheme
// over GF(2^8) comes from shamir-secret-sharing, whose shares are
// byte-compatible with hashicorp/vault/shamir's: y_1 … y_32 ‖ x.
import { combine, split } from 'shamir-secret-sharing'
import { sha256 } from '../platform.js'
import { concat, ctEqual, lp, u64, wipe } from '../bytes.js'
import { KEY_SIZE } from './keys.js'

export const SHARE_SIZE = KEY_SIZE + 1
export const MAX_SHARES = 255
const MAX_PEER_ID = 128

/** checkThreshold refuses a dealing outside 2 ≤ k ≤ n ≤ 255. */
export function checkThreshold(k: number, n: number): void {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 2 || n < k || n > MAX_SHARES) {
    throw new Error(`threshold ${k} of ${n}: it must be 2 ≤ k ≤ n ≤ ${MAX_SHARES}`)
  }
}

/** checkPeerIds refuses an empty, over-long or repeated peer ID: a custodian listed twice could hold two shares. */
export function checkPeerIds(ids: (Uint8Array | undefined)[]): void {
  const seen = new Set<string>()
  for (const id of ids) {
    if (id === undefined || id.length === 0 || id.length > MAX_PEER_ID) throw new Error('a custodian has no valid peer ID')
    const key = id.join(',')
    if (seen.has(key)) throw new Error('a custodian is listed twice')
    seen.add(key)
  }
}

/** shareCommitment is c_i = SHA-256(lp("custos/v1/share") ‖ unit_id ‖ u64(version) ‖ lp(peer_id) ‖ share). */
export function shareCommitment(unitId: Uint8Array, version: bigint, peerId: Uint8Array, share: Uint8Array): Uint8Array {
  return sha256(shareCommitmentInput(unitId, version, peerId, share))
}

/** shareCommitmentInput is the bytes shareCommitment hashes. */
export function shareCommitmentInput(unitId: Uint8Array, version: bigint, peerId: Uint8Array, share: Uint8Array): Uint8Array {
  return concat(lp('custos/v1/share'), unitId, u64(version), lp(peerId), share)
}

/** keyCommitment is SHA-256(lp("custos/v1/key") ‖ unit_id ‖ u64(version) ‖ S). */
export function keyCommitment(unitId: Uint8Array, version: bigint, s: Uint8Array): Uint8Array {
  return sha256(concat(lp('custos/v1/key'), unitId, u64(version), s))
}

/** A Dealing is a server key split among custodians: share i goes to peer i. */
export interface Dealing {
  shares: Uint8Array[]
  commitments: Uint8Array[]
  keyCommit: Uint8Array
}

/** deal splits s among peers with threshold k; the caller wipes s and, once sent, the shares. */
export async function deal(s: Uint8Array, unitId: Uint8Array, version: bigint, k: number, peers: Uint8Array[]): Promise<Dealing> {
  checkThreshold(k, peers.length)
  checkPeerIds(peers)
  if (s.length !== KEY_SIZE) throw new Error(`a server key is ${KEY_SIZE} bytes`)
  const shares = await split(s, peers.length, k)
  const commitments = shares.map((sh, i) => shareCommitment(unitId, version, peers[i]!, sh))
  return { shares, commitments, keyCommit: keyCommitment(unitId, version, s) }
}

/** A Slot is one custodian's place in a unit's share set, with the share it returned (if any). */
export interface Slot {
  node: string
  peerId: Uint8Array
  commitment: Uint8Array
  share?: Uint8Array | undefined
}

/** Blame names the custodians that did not contribute a good share. */
export interface Blame {
  bad: string[]
  missing: string[]
}

/** NotEnoughSharesError: fewer than need shares passed their commitments. */
export class NotEnoughSharesError extends Error {
  override name = 'NotEnoughSharesError'
  constructor(readonly need: number, readonly have: number, readonly blame: Blame) {
    super(`not enough good shares: need ${need}, have ${have}`)
  }
}

/** KeyMismatchError: k good shares combined to another key than the one committed to. */
export class KeyMismatchError extends Error {
  override name = 'KeyMismatchError'
  constructor() {
    super('the shares combine to another key than was dealt (wrong threshold?)')
  }
}

/**
 * combineShares rebuilds a unit version's server key from the first k shares,
 * in slot order, that pass their commitments (compared in constant time). A
 * share that fails is dropped and its node named in blame.bad; a node with
 * no share in blame.missing. Fewer than k good shares throw
 * NotEnoughSharesError and give no key; a key that does not match keyCommit
 * throws KeyMismatchError. Shamir's combination checks nothing itself, so
 * both checks are needed. The caller wipes the key, and reports the blame
 * even on success.
 */
export async function combineShares(k: number, unitId: Uint8Array, version: bigint, keyCommit: Uint8Array, slots: Slot[]): Promise<{ key: Uint8Array; blame: Blame }> {
  if (k < 2 || k > MAX_SHARES || slots.length > MAX_SHARES) throw new Error(`cannot combine ${k} of ${slots.length} shares`)
  checkPeerIds(slots.map((s) => s.peerId))
  const blame: Blame = { bad: [], missing: [] }
  const parts: Uint8Array[] = []
  const usedX = new Set<number>()
  for (const s of slots) {
    if (s.share === undefined) {
      blame.missing.push(s.node)
    } else if (s.share.length !== SHARE_SIZE || !ctEqual(shareCommitment(unitId, version, s.peerId, s.share), s.commitment)) {
      blame.bad.push(s.node)
    } else if (parts.length < k && !usedX.has(s.share[SHARE_SIZE - 1]!)) {
      usedX.add(s.share[SHARE_SIZE - 1]!)
      parts.push(s.share)
    }
  }
  if (parts.length < k) throw new NotEnoughSharesError(k, parts.length, blame)
  const key = await combine(parts)
  if (!ctEqual(keyCommitment(unitId, version, key), keyCommit)) {
    wipe(key)
    throw new KeyMismatchError()
  }
  return { key, blame }
}
