// What a node must prove before its shares are used (docs/client.md,
// "Receipts"): the checkpoint signed with its pinned key, the entry in that
// checkpoint's tree, the checkpoint extending the one the vault keeps, and
// the entry recording exactly this release as answered.
import { ctEqual } from './bytes.js'
import { Code, type Entry, type ReleaseRequest, type ReleasedShare } from './gen/custos_pb.js'
import { openCheckpoint, logOrigin, type Checkpoint } from './api/checkpoint.js'
import { proofHashes, verifyConsistency } from './api/tlog.js'
import { FalseReceiptError, ForkedLogError } from './errors.js'
import type { Node } from './network.js'
import type { Evidence } from './vault/vault.js'

/** A checkpoint of a node, as signed and as opened. */
export interface Kept {
  raw: Uint8Array
  cp: Checkpoint
}

/** openNodeCheckpoint opens a checkpoint signed by node's pinned key, of node's log. */
export async function openNodeCheckpoint(node: Node, raw: Uint8Array): Promise<Kept> {
  return { raw, cp: await openCheckpoint(raw, logOrigin(node.name), node.publicKey) }
}

/**
 * extendedBy checks that cp, a verified checkpoint of the same node,
 * extends kept (none: anything does): the same root at the same size, or a
 * larger tree that proof, the node's consistency proof, shows extends it.
 */
export function extendedBy(kept: Kept | undefined, cp: Checkpoint, proof: Uint8Array[]): void {
  if (kept === undefined) return
  const k = kept.cp
  if (cp.size < k.size) throw new ForkedLogError(`its checkpoint of size ${cp.size} is older than the one of size ${k.size} it signed before`)
  if (cp.size === k.size) {
    if (!ctEqual(cp.root, k.root)) throw new ForkedLogError(`it signed two trees of size ${cp.size}`)
    return
  }
  let ok = false
  try {
    ok = verifyConsistency(proofHashes(proof), k.size, k.root, cp.size, cp.root)
  } catch {
    ok = false
  }
  if (!ok) throw new ForkedLogError(`its tree of size ${cp.size} is not proven to extend the one of size ${k.size} it signed before`)
}

/** answerCode is how a release answer treated its unit: OK for a share, else its refusal's code. */
function answerCode(s: ReleasedShare): Code {
  return s.error !== undefined && s.error.code !== Code.OK ? s.error.code : Code.OK
}

/** wholeRefusal: the entry logs a request refused whole, as nodes log one: no units, so no signature. */
function wholeRefusal(e: Entry): boolean {
  return e.outcome !== Code.OK && e.units.length === 0 && e.deviceSignature.length === 0
}

/** loggedCodes is the outcome e records for each of the request's n units, or undefined when e cannot be of it. */
function loggedCodes(e: Entry, n: number): Code[] | undefined {
  const codes: Code[] = Array.from({ length: n }, () => e.outcome)
  if (e.units.length !== n && !(e.units.length === 0 && e.outcome !== Code.OK)) return undefined
  const seen = new Set<number>()
  for (const r of e.refusals) {
    if (r.unitIndex >= n || seen.has(r.unitIndex) || r.code === Code.OK) return undefined
    seen.add(r.unitIndex)
    codes[r.unitIndex] = r.code
  }
  return codes
}

/**
 * matchEntry checks that e is the log entry of req, a release request of
 * device for user, as answered. A mismatch is a FalseReceiptError with the
 * evidence it is: a refusal of something the answer released is 'refusal',
 * any other 'other-entry'.
 */
export function matchEntry(e: Entry, device: Uint8Array, user: string, req: ReleaseRequest, answer: ReleasedShare[]): { evidence: Evidence; error: FalseReceiptError } | undefined {
  const other = (why: string) => ({ evidence: 'other-entry' as const, error: new FalseReceiptError(why) })
  if (e.kind !== 6 /* RELEASE */) return other('the entry is not of a release')
  if (!ctEqual(e.clientPeerId, device) || e.user !== user) return other('the entry is of another device or user')
  if (!ctEqual(e.requestNonce, req.nonce) || e.requestTimeUnixMs !== req.timeUnixMs) return other('the entry is of another request')
  if (!wholeRefusal(e) && !ctEqual(e.deviceSignature, req.deviceSignature)) return other('the entry is of another request')
  const logged = loggedCodes(e, req.units.length)
  if (logged === undefined) return other("the entry's units or refusals are not those of the request")
  for (const [i, u] of req.units.entries()) {
    const lu = e.units[i]
    if (e.units.length > 0 && (lu === undefined || lu.version !== u.version || !ctEqual(lu.unitId, u.unitId))) return other('the entry names other units')
  }
  let refused = false
  let otherwise = false
  logged.forEach((code, i) => {
    const answered = answerCode(answer[i]!)
    if (answered !== code) {
      refused ||= answered === Code.OK
      otherwise ||= answered !== Code.OK
    }
  })
  if (refused) return { evidence: 'refusal', error: new FalseReceiptError('the node released shares that its log entry records as refused') }
  if (otherwise) return other('the entry releases, or refuses otherwise, a unit that the answer refused')
  return undefined
}
