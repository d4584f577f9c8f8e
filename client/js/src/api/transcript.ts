// The byte strings a client signs (api/transcript.go). Each starts with its
// own label and names the node, so a signature made for one purpose or one
// node is useless for another.
import { concat, lp, u32, u64 } from '../bytes.js'

/** loginTranscript: lp("custos/v2/login") ‖ lp(node) ‖ lp(client) ‖ lp(user) ‖ lp(nonce), peer IDs in binary form. */
export function loginTranscript(nodePeer: Uint8Array, clientPeer: Uint8Array, user: string, nonce: Uint8Array): Uint8Array {
  return concat(lp('custos/v2/login'), lp(nodePeer), lp(clientPeer), lp(user), lp(nonce))
}

/** A unit version as a release names it. */
export interface UnitVersion {
  unitId: Uint8Array
  version: bigint
}

/**
 * releaseTranscript: lp("custos/v1/release") ‖ lp(node) ‖ lp(client) ‖
 * lp(user) ‖ u64(time) ‖ lp(nonce) ‖ u32(count) ‖ (unit ID ‖ u64(version))…
 */
export function releaseTranscript(nodePeer: Uint8Array, clientPeer: Uint8Array, user: string, timeUnixMs: bigint, nonce: Uint8Array, units: UnitVersion[]): Uint8Array {
  const parts = [lp('custos/v1/release'), lp(nodePeer), lp(clientPeer), lp(user), u64(timeUnixMs), lp(nonce), u32(units.length)]
  for (const u of units) parts.push(u.unitId, u64(u.version))
  return concat(...parts)
}
