// A password change under way, as the vault records it (docs/vault.md, "A
// password change"): the new dealing's public shares and how far each node
// got, sealed with a MAC under a key of the master secret, as the Go vault's
// (client/vault/passwd.go). The client records each step here before it
// asks any node to take it, so that an interruption anywhere leaves a
// state from which one of the two passwords logs in.
import { hmacSha256 } from '../platform.js'
import { derive } from '../threshold/keys.js'
import { concat, ctEqual, lp, toBase64, toHex, u32, u64 } from '../bytes.js'
import { decodeElement } from '../threshold/toprf.js'
import type { LoginDealing } from './vault.js'

/**
 * Where a change stands; which password logs in follows from it: the old
 * one while staging or aborting, the new one once staged (every node holds
 * the new dealing) and while committing.
 */
export type PasswdState = 'staging' | 'staged' | 'committing' | 'aborting'

/** One node's part of a change: the login dealing's node, its public share R'_i of the new dealing, and its progress. */
export interface PasswdNode {
  name: string
  peerId: string
  index: number
  publicShare: Uint8Array
  /** The node took the new dealing; while aborting: it has not confirmed the abort yet. */
  staged: boolean
  /** The node made the new dealing its current one. */
  committed: boolean
}

/** PasswordChange is the vault's record of a change: the new dealing of epoch login.epoch+1 and each node's progress. */
export interface PasswordChange {
  state: PasswdState
  epoch: number
  threshold: number
  nodes: PasswdNode[]
  mac: Uint8Array
}

/** DamagedLoginError: the vault's password change does not match its MAC; no node was asked to use it. */
export class DamagedLoginError extends Error {
  override name = 'DamagedLoginError'
  constructor() {
    super("the vault's login dealing is damaged: its password change does not match its MAC")
  }
}

const PASSWD_MAC_LABEL = 'custos/v2/vault-passwd'
const STATES: PasswdState[] = ['staging', 'staged', 'committing', 'aborting']

/** usesNewPassword: logins take the new dealing (and password) once every node holds it and no abort began. */
export function usesNewPassword(p: PasswordChange | null | undefined): boolean {
  return p?.state === 'staged' || p?.state === 'committing'
}

/** passwdDealing is the change's new dealing as logins use it. */
export function passwdDealing(p: PasswordChange): LoginDealing {
  return { epoch: p.epoch, threshold: p.threshold, shares: p.nodes.map((n) => ({ node: n.name, peerId: n.peerId, index: n.index, publicShare: n.publicShare })) }
}

/**
 * passwdMac is HMAC-SHA256(HKDF-SHA256(M, no salt, "custos/v2/vault-passwd"), input), input:
 *
 *	lp(state) ‖ u32(epoch) ‖ u64(threshold) ‖ u32(node count) ‖
 *	(lp(name) ‖ lp(peer ID text) ‖ u64(index) ‖ lp(public share) ‖ u8(staged) ‖ u8(committed)) per node
 *
 * the Go vault's, byte for byte.
 */
export function passwdMac(masterSecret: Uint8Array, p: Omit<PasswordChange, 'mac'>): Uint8Array {
  const parts = [lp(p.state), u32(p.epoch), u64(BigInt(p.threshold)), u32(p.nodes.length)]
  for (const n of p.nodes) parts.push(lp(n.name), lp(n.peerId), u64(BigInt(n.index)), lp(n.publicShare), Uint8Array.of(n.staged ? 1 : 0, n.committed ? 1 : 0))
  return vaultMac(masterSecret, PASSWD_MAC_LABEL, parts)
}

/** vaultMac is HMAC-SHA256(HKDF-SHA256(M, no salt, label), parts concatenated): a MAC of the vault's under a key of the master secret for one purpose. */
export function vaultMac(masterSecret: Uint8Array, label: string, parts: Uint8Array[]): Uint8Array {
  const key = derive(masterSecret, new Uint8Array(0), label)
  try {
    return hmacSha256(key, concat(...parts))
  } finally {
    key.fill(0)
  }
}

/** sealPasswdChange sets p's MAC from its fields; only a change the caller vouches for may be sealed. */
export function sealPasswdChange(masterSecret: Uint8Array, p: PasswordChange): void {
  p.mac = passwdMac(masterSecret, p)
}

/** checkPasswdMac checks p against its MAC, in constant time (DamagedLoginError). */
export function checkPasswdMac(masterSecret: Uint8Array, p: PasswordChange): void {
  if (!ctEqual(passwdMac(masterSecret, p), p.mac)) throw new DamagedLoginError()
}

/** encodePasswordChange is the change's JSON form: public shares in hex, the MAC in base64. */
export function encodePasswordChange(p: PasswordChange): Record<string, unknown> {
  return {
    state: p.state,
    epoch: p.epoch,
    threshold: p.threshold,
    nodes: p.nodes.map((n) => ({ name: n.name, peer_id: n.peerId, index: n.index, public_share: toHex(n.publicShare), staged: n.staged, committed: n.committed })),
    mac: toBase64(p.mac),
  }
}

/** The reader of one JSON object that vault.ts uses; bad throws its VaultFormatError. */
export interface FieldReader {
  o: Record<string, unknown>
  bad(k: string, why: string): never
  str(k: string): string
  int(k: string, min: number, max: number): number
  bool(k: string): boolean
  b64(k: string, min: number, max: number): Uint8Array
  hex(k: string, n: number): Uint8Array
  list(k: string, min: number, max: number): unknown[]
  nodeName(k: string): string
}

/**
 * decodePasswordChange reads a change and checks it against the login dealing it
 * changes, as the Go vault does: a known state whose nodes' progress fits
 * it, the next epoch, the login dealing's threshold and nodes at their
 * places, every public share a ristretto255 element. The MAC is checked
 * when the client uses the change (checkPasswdMac).
 */
export function decodePasswordChange(f: FieldReader, fields: (x: unknown, at: string, keys: string[]) => FieldReader, login: LoginDealing | null): PasswordChange {
  const state = f.str('state') as PasswdState
  if (!STATES.includes(state)) f.bad('state', 'is not a known state')
  if (login === null) f.bad('state', 'is a password change of a vault with no login dealing')
  const epoch = f.int('epoch', 2, 2 ** 32 - 1)
  if (epoch !== login.epoch + 1) f.bad('epoch', "is not the login dealing's plus one")
  const threshold = f.int('threshold', 2, 255)
  if (threshold !== login.threshold) f.bad('threshold', "is not the login dealing's")
  const nodes = f.list('nodes', login.shares.length, login.shares.length).map((x, i): PasswdNode => {
    const g = fields(x, `vault.password_change.nodes[${i}]`, ['name', 'peer_id', 'index', 'public_share', 'staged', 'committed'])
    const n = { name: g.nodeName('name'), peerId: g.str('peer_id'), index: g.int('index', 1, 255), publicShare: g.hex('public_share', 32), staged: g.bool('staged'), committed: g.bool('committed') }
    const l = login.shares[i]!
    if (n.name !== l.node || n.peerId !== l.peerId || n.index !== l.index) g.bad('name', "is not the login dealing's node at that place")
    try {
      decodeElement(n.publicShare)
    } catch {
      g.bad('public_share', 'is not a ristretto255 element')
    }
    if (n.committed && !n.staged) g.bad('committed', 'is set, but not staged')
    return n
  })
  const staged = nodes.filter((n) => n.staged).length
  const committed = nodes.filter((n) => n.committed).length
  if ((state === 'staging' || state === 'aborting') && committed > 0) f.bad('state', `is ${state}, yet committed at a node`)
  if (state === 'staged' && (staged !== nodes.length || committed > 0)) f.bad('state', 'is staged, yet not staged at every node, or committed at one')
  if (state === 'committing' && staged !== nodes.length) f.bad('state', 'is committing, yet not staged at every node')
  return { state, epoch, threshold, nodes, mac: f.b64('mac', 32, 32) }
}

export const PASSWD_KEYS = ['state', 'epoch', 'threshold', 'nodes', 'mac']
