// The network file (client/network.go): the custodians of a network, each
// with the peer ID clients pin and its addresses, and the threshold k that
// must agree. YAML, version 1, read strictly.
import { parseDocument } from 'yaml'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'

export const NETWORK_VERSION = 1
const MAX_NETWORK_FILE = 1 << 20
const MAX_NODE_NAME = 32

/** A custodian as the network file lists it. */
export interface Node {
  /** Its position in the network file, from 0; share i and OPRF index i+1 go to it. */
  index: number
  name: string
  /** The peer ID in text (base58), as the vault names nodes. */
  peerIdText: string
  /** The peer ID in binary form, as commitments and transcripts bind it. */
  peerId: Uint8Array
  /** The Ed25519 key the peer ID embeds: the key that signs the node's checkpoints. */
  publicKey: Uint8Array
  addrs: Multiaddr[]
}

export interface Network {
  threshold: number
  nodes: Node[]
}

/** validNodeName: 1 to 32 lower-case letters, digits and hyphens, not starting with a hyphen. */
export function validNodeName(name: string): boolean {
  return name.length <= MAX_NODE_NAME && /^[a-z0-9][a-z0-9-]*$/.test(name)
}

const bad = (why: string) => new Error('network file: ' + why)

function strictKeys(o: unknown, keys: string[], what: string): Record<string, unknown> {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad(`${what} is not a mapping`)
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw bad(`${what} has an unknown field ${JSON.stringify(k).slice(0, 40)}`)
  return o as Record<string, unknown>
}

/** parseNetwork decodes and checks a network file: version, 2 ≤ k ≤ n ≤ 255, and every node's card. */
export function parseNetwork(file: Uint8Array): Network {
  if (file.length > MAX_NETWORK_FILE) throw bad('too large')
  const doc = parseDocument(new TextDecoder().decode(file), { uniqueKeys: true, strict: true })
  if (doc.errors.length > 0) throw bad('not a custos network file: ' + doc.errors[0]!.message.split('\n')[0])
  const top = strictKeys(doc.toJS(), ['version', 'threshold', 'nodes'], 'the file')
  if (top.version !== NETWORK_VERSION) throw bad(`version ${String(top.version).slice(0, 20)} is not known (this SDK reads version ${NETWORK_VERSION})`)
  const list = top.nodes
  if (!Array.isArray(list) || list.length < 2 || list.length > 255) throw bad('a network has 2 to 255 nodes')
  const k = top.threshold
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 2 || k > list.length) throw bad(`threshold ${String(k).slice(0, 20)}: it must be from 2 to the ${list.length} nodes`)
  const names = new Set<string>()
  const ids = new Set<string>()
  const nodes = list.map((raw, index) => {
    const n = strictKeys(raw, ['name', 'peer_id', 'addrs'], `node ${index + 1}`)
    const name = n.name
    if (typeof name !== 'string' || !validNodeName(name)) throw bad(`node ${index + 1}: a node name is 1 to ${MAX_NODE_NAME} lower-case letters, digits and hyphens`)
    if (typeof n.peer_id !== 'string') throw bad(`node ${name}: no peer ID`)
    let id
    try {
      id = peerIdFromString(n.peer_id)
    } catch {
      throw bad(`node ${name}: the peer ID does not decode`)
    }
    if (id.type !== 'Ed25519') throw bad(`node ${name}: the node's key is not Ed25519`)
    if (!Array.isArray(n.addrs) || n.addrs.length === 0) throw bad(`node ${name}: no addresses`)
    const addrs = n.addrs.map((a) => {
      try {
        if (typeof a !== 'string') throw new Error()
        return multiaddr(a)
      } catch {
        throw bad(`node ${name}: an address does not parse`)
      }
    })
    const text = id.toString()
    if (names.has(name) || ids.has(text)) throw bad(`node ${name} is listed twice (by name or peer ID)`)
    names.add(name)
    ids.add(text)
    return { index, name, peerIdText: text, peerId: id.toMultihash().bytes, publicKey: id.publicKey.raw, addrs }
  })
  return { threshold: k, nodes }
}
