// The user's devices and network updates against real custosd processes:
// this device listed; a second device (a copy of the vault with a key of
// its own, added with new-device tokens) listed, revoked from JS, then
// refused at every node, the account's log showing both; the last active
// device kept; a node moved to a new
// port reached through an updated network file; updates that change the
// custodians or the threshold refused, the vault untouched.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { Client, CustosError, DeviceRevokedError, LastDeviceError, MemoryStorage, NeedsReshareError, NotEnoughCustodiansError, NotEnrolledError, PasswordChangePendingError } from '../src/index.js'
import { nodeTransports } from '../src/node/index.js'
import { toBase64, toHex } from '../src/bytes.js'
import { EntryKind } from '../src/gen/custos_pb.js'
import { Devnet } from './devnet.js'
import { networkFile, type NodeCard } from './netfile.js'
import { changeHooks } from '../src/change.js'

const password = 'devices test password'
const opts = { transports: nodeTransports(), timeoutMs: 20_000 }
let net: Devnet
const open: Client[] = []

before(async () => {
  net = await Devnet.start({ n: 3, k: 2 })
})

after(async () => {
  for (const c of open) await c.close()
  await net?.stop()
})

async function openClient(s: MemoryStorage): Promise<Client> {
  const c = await Client.open(s, opts)
  open.push(c)
  return c
}

async function closeClient(c: Client): Promise<void> {
  await c.close()
  open.splice(open.indexOf(c), 1)
}

/** enrolled makes a vault for user, enrolled at every node, and an unlocked client of it. */
async function enrolled(user: string): Promise<{ storage: MemoryStorage; client: Client }> {
  const storage = new MemoryStorage()
  await Client.init(storage, net.networkFile, user)
  const client = await openClient(storage)
  const res = await client.enroll(password, await net.invite(user))
  assert.deepEqual(
    res.map((r) => r.state),
    net.nodes.map(() => 'enrolled now'),
  )
  await client.unlock(password)
  return { storage, client }
}

/** copyWithNewKey is a copy of a vault with a device key of its own: what a second device holds. */
async function copyWithNewKey(s: MemoryStorage): Promise<MemoryStorage> {
  const doc = JSON.parse(new TextDecoder().decode(s.doc)) as Record<string, unknown>
  doc.device_key = toBase64(privateKeyToProtobuf(await generateKeyPair('Ed25519')))
  const copy = new MemoryStorage()
  copy.doc = new TextEncoder().encode(JSON.stringify(doc))
  return copy
}

test('devices lists this device, active, at every node', async () => {
  const { client } = await enrolled('dana')
  const got = await client.devices()
  assert.deepEqual(
    got.map((n) => n.node),
    net.nodes.map((n) => n.name),
  )
  for (const n of got) {
    assert.equal(n.error, undefined, `${n.node}: ${n.error?.message}`)
    assert.equal(n.devices.length, 1)
    assert.equal(n.devices[0]!.id, client.device)
    assert.equal(n.devices[0]!.this, true)
    assert.equal(n.devices[0]!.revoked, undefined)
  }
  await closeClient(client)
})

test('a second device is added with new-device tokens, listed, revoked from JS, then refused at every node; the last active device is kept', async () => {
  const { storage, client: first } = await enrolled('erin')
  await first.put('acme', { username: 'svc', password: 'acme-s3cret' })
  const second = await openClient(await copyWithNewKey(storage))
  assert.notEqual(second.device, first.device)

  // Not enrolled yet: every node says so, and no token was spent.
  await assert.rejects(second.unlock(password), (e: unknown) => e instanceof NotEnoughCustodiansError && e.reason === NotEnrolledError)

  const errs = await second.addDevice(password, await net.invite('erin', { newDevice: true }))
  assert.deepEqual(errs, [undefined, undefined, undefined])
  assert.deepEqual(await second.get('acme'), { username: 'svc', password: 'acme-s3cret' })

  for (const n of await first.devices()) {
    assert.equal(n.error, undefined, `${n.node}: ${n.error?.message}`)
    assert.deepEqual(
      n.devices.map((d) => [d.id, d.this, d.revoked === undefined]),
      [
        [first.device, true, true],
        [second.device, false, true],
      ],
    )
  }
  const seen = await second.devices()
  assert.deepEqual(seen[0]!.devices.map((d) => d.this), [false, true])

  const revoked = await first.revokeDevice(second.device)
  for (const n of revoked) {
    const d = n.devices.find((x) => x.id === second.device)
    assert.ok(d?.revoked instanceof Date, `${n.node} lists the second device as revoked`)
  }
  // Its session ended at once: the next request logs in again, and the hello is refused.
  for (const n of await second.devices()) assert.ok(n.error instanceof DeviceRevokedError, `${n.node}: ${n.error?.message}`)
  await closeClient(second)

  // The account's log at every node shows the addition and the revocation,
  // each entry verified in the node's tree, in network order then log order.
  const { entries, failed } = await first.log()
  assert.deepEqual(failed, [])
  const bin = (id: string) => toHex(peerIdFromString(id).toMultihash().bytes)
  for (const n of net.nodes) {
    const mine = entries.filter((e) => e.node === n.name)
    assert.ok(mine.length > 0 && mine.every((e, i) => i === 0 || e.index > mine[i - 1]!.index), `${n.name}: in log order`)
    assert.ok(mine.every((e) => e.entry.user === 'erin' && e.raw.length > 0))
    const added = mine.filter((e) => e.entry.kind === EntryKind.DEVICE_ADD)
    const revokes = mine.filter((e) => e.entry.kind === EntryKind.DEVICE_REVOKE)
    assert.deepEqual(added.map((e) => toHex(e.entry.device)), [bin(second.device)], n.name)
    assert.deepEqual(revokes.map((e) => [toHex(e.entry.clientPeerId), toHex(e.entry.device)]), [[bin(first.device), bin(second.device)]], n.name)
    assert.ok(mine.some((e) => e.entry.kind === EntryKind.PUT))
  }
  assert.ok(entries.some((e) => e.entry.kind === EntryKind.RELEASE))
  assert.deepEqual([...new Set(entries.map((e) => e.node))], ['n1', 'n2', 'n3'])

  // history shows the device changes too, with the device each names, and
  // each release with the device that asked; a record's history shows its
  // releases alone.
  await first.get('acme')
  const h = await first.history()
  assert.deepEqual(h.failed, [])
  for (const n of net.nodes) {
    const changes = h.entries.filter((e) => e.node === n.name && e.change !== '')
    assert.deepEqual(changes.map((e) => [e.change, e.device, e.label]), [
      ['device revoked', second.device, ''],
      ['device added', second.device, ''],
    ])
  }
  assert.deepEqual(new Set(h.entries.filter((e) => e.change === '').map((e) => [e.label, e.device].join(' '))), new Set([`acme ${first.device}`, `acme ${second.device}`]))
  assert.ok((await first.history('acme')).entries.every((e) => e.change === '' && e.label === 'acme'))

  // Revoking it again answers as a revocation (it stays revoked).
  await first.revokeDevice(second.device)

  // The first device is the last active one now: no node revokes it.
  await assert.rejects(first.revokeDevice(first.device), (e: unknown) => {
    assert.ok(e instanceof NotEnoughCustodiansError)
    assert.equal(e.reason, LastDeviceError)
    assert.match(e.message, /^revoke device 12D3KooW\w+: last active device at n1, n2 and n3/)
    return true
  })
  await assert.rejects(first.revokeDevice('not-a-peer-id'), CustosError)
  assert.deepEqual(await first.get('acme'), { username: 'svc', password: 'acme-s3cret' })
  await closeClient(first)
})

test('a device may revoke itself while another is active; it is then refused at login at every node, as a revoked device', async () => {
  const { storage, client: first } = await enrolled('fay')
  const copy = await copyWithNewKey(storage)
  const second = await openClient(copy)
  assert.deepEqual(await second.addDevice(password, await net.invite('fay', { newDevice: true })), [undefined, undefined, undefined])
  const lists = await second.revokeDevice(second.device)
  for (const n of lists) assert.deepEqual(n.devices.map((d) => [d.this, d.revoked === undefined]), [[false, true], [true, false]], n.node)
  await closeClient(second)
  const back = await openClient(copy)
  await assert.rejects(back.unlock(password), (e: unknown) => {
    assert.ok(e instanceof NotEnoughCustodiansError)
    assert.equal(e.reason, DeviceRevokedError)
    assert.match(e.message, /^unlock: device revoked at n1, n2 and n3/)
    return true
  })
  await closeClient(back)
  for (const n of await first.devices()) assert.equal(n.devices.filter((d) => d.revoked === undefined).length, 1, n.node)
  await closeClient(first)
})

test('network files that change the custodians, their order or the threshold are refused with what differs; the vault is left as it was', async () => {
  const { storage, client } = await enrolled('ivy')
  const base = () => parse(new TextDecoder().decode(net.networkFile)) as { threshold: number; nodes: NodeCard[] }
  const was = storage.doc!.slice()
  const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

  const replaced = base()
  const gone = replaced.nodes[2]!.peer_id
  replaced.nodes[2]!.peer_id = stranger
  const cases: [string, unknown, RegExp][] = [
    ['a changed peer ID', replaced, new RegExp(`n3 \\(…${gone.slice(-8)}\\) is not in it; n3 \\(…${stranger.slice(-8)}\\) is new`)],
    ['another threshold', { ...base(), threshold: 3 }, /the threshold goes from 2 to 3/],
    ['another order', (() => {
      const b = base()
      b.nodes.reverse()
      return b
    })(), /another order/],
    ['a node left out', (() => {
      const b = base()
      b.nodes.pop()
      return b
    })(), /n3 \(…\w+\) is not in it/],
  ]
  for (const [what, file, why] of cases) {
    await assert.rejects(client.updateNetwork(new TextEncoder().encode(stringify(file))), (e: unknown) => {
      assert.ok(e instanceof NeedsReshareError, `${what}: ${String(e)}`)
      assert.match(e.message, why, what)
      return true
    })
  }
  await assert.rejects(client.updateNetwork(new TextEncoder().encode('version: 1\nthreshold: 2\nnodes: []\n')), /network file: a network has 2 to 255 nodes/)
  assert.deepEqual(storage.doc, was)
  await closeClient(client)
})

test('a network update is refused while a change of records or a password change is under way', async () => {
  const { storage, client } = await enrolled('joe')
  await client.put('acme', { password: 'v1' })
  const killed = new Error('killed once staged')
  changeHooks.fault = (step) => (step === 'staged' ? killed : undefined)
  try {
    await assert.rejects(client.replace('acme', { password: 'v2' }), (e) => e === killed)
  } finally {
    changeHooks.fault = undefined
  }
  assert.equal(client.pendingChanges().length, 1)
  await assert.rejects(client.updateNetwork(net.networkFile), /^CustosError: 1 records have a change under way: unlock to finish them first$/)
  client.lock()
  await client.unlock(password) // finishes the replace
  assert.deepEqual(client.pendingChanges(), [])
  assert.deepEqual(await client.updateNetwork(net.networkFile), [])
  await closeClient(client)

  const stop = new AbortController()
  const c = await Client.open(storage, { ...opts, passwdProgress: (p) => void (p.step === 'staged' && p.node === '' ? stop.abort() : undefined) })
  open.push(c)
  await assert.rejects(c.changePassword(password, 'the next password', { signal: stop.signal }), { name: 'AbortError' })
  assert.equal(c.pendingPasswordChange()?.state, 'staged')
  const was = storage.doc!.slice()
  await assert.rejects(c.updateNetwork(net.networkFile), PasswordChangePendingError)
  assert.deepEqual(storage.doc, was)
  await c.abortPasswordChange(password)
  assert.deepEqual(await c.updateNetwork(net.networkFile), [])
  await closeClient(c)
})

test('a network file with a node at a new address is taken without a reshare, and the node is reached through it', async () => {
  const { storage, client } = await enrolled('gus')
  await client.put('portal', { password: 'p0rtal' })
  const was = storage.doc!.slice()
  assert.deepEqual(await client.updateNetwork(net.networkFile), [])
  assert.deepEqual(storage.doc, was, 'a file that changes nothing leaves the vault as it was')
  await closeClient(client)

  await net.move('n3')
  await net.kill('n1')
  // With the old file only n2 is reached: fewer than the threshold.
  let c = await openClient(storage)
  await assert.rejects(c.unlock(password), NotEnoughCustodiansError)

  const file = networkFile(net.nodes.map((n) => n.card), net.k)
  assert.deepEqual(await c.updateNetwork(file), [{ node: 'n3', readdress: true }])
  await closeClient(c)

  c = await openClient(storage)
  assert.deepEqual(c.network.nodes[2]!.addrs.map(String), net.node('n3').card.addrs)
  await c.unlock(password)
  assert.deepEqual(await c.get('portal'), { password: 'p0rtal' })
  await closeClient(c)
  await net.restart('n1')
  net.networkFile = file
})

test('a network file that renames a node renames it wherever the vault names it', async () => {
  const { storage, client } = await enrolled('hal')
  await client.put('portal', { password: 'p0rtal' })
  await client.get('portal') // keeps a checkpoint of every node
  const net0 = parse(new TextDecoder().decode(net.networkFile)) as { nodes: { name: string }[] }
  net0.nodes[1]!.name = 'n2-renamed'
  const got = await client.updateNetwork(new TextEncoder().encode(stringify(net0)))
  assert.deepEqual(got, [{ node: 'n2-renamed', oldName: 'n2', readdress: false }])
  await closeClient(client)
  const doc = JSON.parse(new TextDecoder().decode(storage.doc)) as { units: { nodes: { name: string }[] }[]; login: { shares: { node: string }[] }; checkpoints: { node: string }[] }
  assert.deepEqual(
    doc.units[0]!.nodes.map((n) => n.name),
    ['n1', 'n2-renamed', 'n3'],
  )
  assert.deepEqual(
    doc.login.shares.map((s) => s.node),
    ['n1', 'n2-renamed', 'n3'],
  )
  assert.ok(!doc.checkpoints.some((c) => c.node === 'n2' || c.node === 'n2-renamed'), 'the checkpoint kept of the renamed node is dropped')
  assert.ok(doc.checkpoints.some((c) => c.node === 'n1'))
  // The operator renames the node (it signs its log as custos/n2-renamed
  // now); the renamed vault opens (its units' MACs hold), and a release
  // from it checks the node's receipt under the new name.
  const yaml = join(net.node('n2').dir, 'node.yaml')
  await net.kill('n2')
  writeFileSync(yaml, readFileSync(yaml, 'utf8').replace(/^name: n2$/m, 'name: n2-renamed'))
  await net.restart('n2')
  net.networkFile = new TextEncoder().encode(stringify(net0))
  const c = await openClient(storage)
  assert.equal(c.network.nodes[1]!.name, 'n2-renamed')
  await c.unlock(password)
  assert.deepEqual(await c.get('portal'), { password: 'p0rtal' })
  assert.ok(c.checkpoints().some((x) => x.node === 'n2-renamed'), 'the renamed node\'s checkpoint is kept under its new name')
  assert.ok(c.receipts().some((r) => r.node === 'n2-renamed'))
  await closeClient(c)
})
