// A reshare under way, as the vault records it (docs/vault.md, "A reshare
// under way"; client/vault/reshare.go): the new network file, how far the
// reshare got, and the new login dealing over the new network's nodes,
// sealed with a MAC under a key of the master secret. Each new node's key
// share is kept until the node holds it, with the login public key the new
// dealing makes for it (public), so that a resumed reshare delivers the
// rest without the whole key. The names of the nodes that left where the
// user's account was closed are kept beside it.
import { ctEqual, lp, toBase64, toHex, u32, u64 } from '../bytes.js'
import { parseNetwork } from '../network.js'
import { decodeElement } from '../threshold/toprf.js'
import { vaultMac, type FieldReader } from './passwd.js'
import type { LoginDealing } from './vault.js'

/** How far a reshare got: 1 dealing the new login key, 2 moving the records, 3 committing the new login key (Go's vault.ReshareStage). */
export type ReshareStage = 1 | 2 | 3

export const RESHARE_DEALING: ReshareStage = 1
export const RESHARE_MOVING: ReshareStage = 2
export const RESHARE_COMMITTING: ReshareStage = 3

/** stageName says what a stage does, as the Go client says it. */
export function stageName(s: ReshareStage): string {
  return ['', 'dealing the new login key', 'moving the records', 'committing the new login key'][s]!
}

/** One new node's part of the new dealing. */
export interface ReshareNode {
  name: string
  peerId: string
  index: number
  publicShare: Uint8Array
  /** The login public key the new dealing makes for this node (public). */
  authPublicKey: Uint8Array
  /** The node's OPRF key share, until the node holds it (secret). */
  keyShare: Uint8Array | null
}

/** Reshare is the vault's record of a reshare under way. */
export interface Reshare {
  /** The new network file, as the user gave it. */
  network: Uint8Array
  stage: ReshareStage
  epoch: number
  threshold: number
  nodes: ReshareNode[]
  mac: Uint8Array
}

/** DamagedReshareError: the vault's reshare does not match its MAC; no node was asked to use it. */
export class DamagedReshareError extends Error {
  override name = 'DamagedReshareError'
  constructor() {
    super("the vault's reshare under way is damaged: it does not match its MAC")
  }
}

const RESHARE_MAC_LABEL = 'custos/v2/vault-reshare'
const MAX_NETWORK = 1 << 20

/**
 * reshareMac is HMAC-SHA256(HKDF-SHA256(M, no salt, "custos/v2/vault-reshare"), input), input:
 *
 *	lp(network) ‖ u32(epoch) ‖ u64(threshold) ‖ u32(node count) ‖
 *	(lp(name) ‖ lp(peer ID text) ‖ u64(index) ‖ lp(public share) ‖ lp(login public key)) per node
 *
 * The stage and the key shares are not in it: the stage moves on, and each
 * key share is dropped once its node holds it.
 */
export function reshareMac(masterSecret: Uint8Array, r: Omit<Reshare, 'mac' | 'stage'>): Uint8Array {
  const parts = [lp(r.network), u32(r.epoch), u64(BigInt(r.threshold)), u32(r.nodes.length)]
  for (const n of r.nodes) parts.push(lp(n.name), lp(n.peerId), u64(BigInt(n.index)), lp(n.publicShare), lp(n.authPublicKey))
  return vaultMac(masterSecret, RESHARE_MAC_LABEL, parts)
}

/** sealReshare sets r's MAC from its fields; only a reshare the caller vouches for may be sealed. */
export function sealReshare(masterSecret: Uint8Array, r: Reshare): void {
  r.mac = reshareMac(masterSecret, r)
}

/** checkReshareMac checks r against its MAC, in constant time (DamagedReshareError). */
export function checkReshareMac(masterSecret: Uint8Array, r: Reshare): void {
  if (!ctEqual(reshareMac(masterSecret, r), r.mac)) throw new DamagedReshareError()
}

/** reshareDealing is the new dealing as logins at the new network use it. */
export function reshareDealing(r: Reshare): LoginDealing {
  return { epoch: r.epoch, threshold: r.threshold, shares: r.nodes.map((n) => ({ node: n.name, peerId: n.peerId, index: n.index, publicShare: n.publicShare })) }
}

/** encodeReshare is the reshare's JSON form: public shares in hex, keys, the file and the MAC in base64. */
export function encodeReshare(r: Reshare): Record<string, unknown> {
  return {
    network: toBase64(r.network),
    stage: r.stage,
    epoch: r.epoch,
    threshold: r.threshold,
    nodes: r.nodes.map((n) => ({
      name: n.name,
      peer_id: n.peerId,
      index: n.index,
      public_share: toHex(n.publicShare),
      auth_public_key: toBase64(n.authPublicKey),
      ...(n.keyShare !== null ? { key_share: toBase64(n.keyShare) } : {}),
    })),
    mac: toBase64(r.mac),
  }
}

export const RESHARE_KEYS = ['network', 'stage', 'epoch', 'threshold', 'nodes', 'mac']

/**
 * decodeReshare reads a reshare and checks it as the Go vault does, and
 * against its own network file: a vault with a login dealing, the next
 * epoch, the file's threshold and nodes at their places, indexes 1 to n,
 * every public share a ristretto255 element, and key shares held only
 * while the new dealing is being dealt. The MAC is checked when the client
 * uses it (checkReshareMac).
 */
export function decodeReshare(f: FieldReader, fields: (x: unknown, at: string, keys: string[], optional?: string[]) => FieldReader, login: LoginDealing | null): Reshare {
  const network = f.b64('network', 1, MAX_NETWORK)
  let file
  try {
    file = parseNetwork(network)
  } catch (e) {
    f.bad('network', `is not a network file (${(e as Error).message})`)
  }
  const stage = f.int('stage', 1, 3) as ReshareStage
  if (login === null) f.bad('stage', 'is a reshare of a vault with no login dealing')
  const epoch = f.int('epoch', 2, 2 ** 32 - 1)
  if (epoch !== login.epoch + 1) f.bad('epoch', "is not the login dealing's plus one")
  const threshold = f.int('threshold', 2, 255)
  if (threshold !== file.threshold) f.bad('threshold', "is not the new network file's")
  const nodes = f.list('nodes', file.nodes.length, file.nodes.length).map((x, i): ReshareNode => {
    const g = fields(x, `vault.reshare.nodes[${i}]`, ['name', 'peer_id', 'index', 'public_share', 'auth_public_key'], ['key_share'])
    const n: ReshareNode = {
      name: g.nodeName('name'),
      peerId: g.str('peer_id'),
      index: g.int('index', 1, 255),
      publicShare: g.hex('public_share', 32),
      authPublicKey: g.b64('auth_public_key', 32, 32),
      keyShare: 'key_share' in g.o ? g.b64('key_share', 32, 32) : null,
    }
    const want = file.nodes[i]!
    if (n.name !== want.name || n.peerId !== want.peerIdText || n.index !== i + 1) g.bad('name', "is not the new network file's node at that place")
    try {
      decodeElement(n.publicShare)
    } catch {
      g.bad('public_share', 'is not a ristretto255 element')
    }
    if (n.keyShare !== null && stage !== 1) g.bad('key_share', 'is held after the new dealing was dealt')
    return n
  })
  return { network, stage, epoch, threshold, nodes, mac: f.b64('mac', 32, 32) }
}
