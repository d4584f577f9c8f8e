// Following another device's password change through its dealing note,
// without a network: a vault with its own reshare under way follows no
// note (the reshare's new dealing is of the next epoch; a vault that took
// another dealing of that epoch could not be saved), nor does a vault whose
// master secret was wiped (a MAC under zeros is anyone's).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { randomBytes } from '../src/bytes.js'
import { followNote, ForgedNoteError, noteLogin, StaleDealingError } from '../src/dealingnote.js'
import { DealingNoteSchema } from '../src/gen/custos_pb.js'
import type { Logger } from '../src/log.js'
import { parseNetwork, type Node } from '../src/network.js'
import { noteMac } from '../src/passwd.js'
import { dealLogin } from '../src/threshold/toprf.js'
import type { Reshare } from '../src/vault/reshare.js'
import type { VaultData } from '../src/vault/vault.js'
import { cards, networkFile } from './netfile.js'

const quiet: Logger = { warn() {} }

async function network(n: number, k: number): Promise<Node[]> {
  return parseNetwork(networkFile(await cards(Array.from({ length: n }, (_, i) => `n${i + 1}`)), k)).nodes
}

/** noteOf is a dealing note of epoch over nodes, sealed as v's device would seal it. */
function noteOf(v: VaultData, nodes: Node[], epoch: number, k: number) {
  const dealt = dealLogin(randomBytes(32), k, nodes.length)
  dealt.rwd.wipe()
  const shares = nodes.map((n, i) => ({ peerId: n.peerId, index: dealt.shares[i]!.index, publicShare: dealt.shares[i]!.publicShare }))
  return create(DealingNoteSchema, { epoch, threshold: k, shares, mac: noteMac(v.masterSecret, v.user, { epoch, threshold: k, shares }) })
}

test('a vault with a reshare under way follows no dealing note, however many nodes hand it out', async () => {
  const nodes = await network(3, 2)
  const v = { user: 'note-grace', masterSecret: randomBytes(32), passwordChange: null, reshare: null, login: { epoch: 1, threshold: 2, shares: [] } } as unknown as VaultData
  const note = noteOf(v, nodes, 2, 2)
  const errs = () => nodes.map(() => new StaleDealingError(note))
  // The control: the same vault and note, no reshare under way.
  assert.equal(followNote(v, nodes, 2, 1, errs(), quiet)?.epoch, 2, 'a true note of the threshold of nodes is followed')
  const resharing = { ...v, reshare: { stage: 1, epoch: 2 } as Reshare } as VaultData
  assert.equal(followNote(resharing, nodes, 2, 1, errs(), quiet), null)
})

test('a vault whose master secret was wiped takes no dealing note, not even one sealed under the wiped key', async () => {
  const nodes = await network(3, 2)
  const v = { user: 'note-heidi', masterSecret: new Uint8Array(32), passwordChange: null, reshare: null, login: { epoch: 1, threshold: 2, shares: [] } } as unknown as VaultData
  const forged = noteOf(v, nodes, 2, 2) // what anyone can seal: the key is zeros
  assert.throws(() => noteLogin(v, nodes, 2, forged), (e: Error) => !(e instanceof ForgedNoteError) && /master secret is missing/.test(e.message))
  assert.throws(() => followNote(v, nodes, 2, 1, nodes.map(() => new StaleDealingError(forged)), quiet), /master secret is missing/)
  assert.equal(v.login!.epoch, 1)
})
