// Network files of fresh node keys, for the tests that ask no node.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { stringify } from 'yaml'
import { utf8 } from '../src/bytes.js'

export interface NodeCard {
  name: string
  peer_id: string
  addrs: string[]
}

/** cards makes a node card of a fresh Ed25519 key for each name. */
export async function cards(names: string[]): Promise<NodeCard[]> {
  const out = []
  for (const [i, name] of names.entries()) {
    const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    out.push({ name, peer_id: id.toString(), addrs: [`/ip4/127.0.0.1/tcp/${4001 + i}`] })
  }
  return out
}

/** networkFile is the network file of nodes with threshold k. */
export function networkFile(nodes: NodeCard[], k: number): Uint8Array {
  return utf8(stringify({ version: 1, threshold: k, nodes }))
}
