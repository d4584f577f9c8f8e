// Lying and failing custodians against real custosd processes (the
// custosfault build lies when CUSTOS_FAULT says so), and a wrong password
// refused and counted. Each lie is made decisive by killing honest nodes,
// so the error must name the liar for what it did.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  BadEvaluationError,
  BadReceiptError,
  BadShareError,
  Client,
  DamagedError,
  FalseReceiptError,
  ForkedLogError,
  ImpostorError,
  MemoryStorage,
  NotEnoughCustodiansError,
  VaultLockedError,
  WrongPasswordError,
} from '../src/index.js'
import { nodeTransports } from '../src/node/index.js'
import { failure } from './clients.js'
import { Devnet } from './devnet.js'

const password = 'correct horse battery staple'
const record = { username: 'svc-acme', password: 'hunter2' }
let net: Devnet
let client: Client
let storage: MemoryStorage
const warnings: string[] = []

before(async () => {
  net = await Devnet.start({ n: 5, k: 3 })
  storage = new MemoryStorage()
  await Client.init(storage, net.networkFile, 'alice')
  client = await Client.open(storage, { transports: nodeTransports(), timeoutMs: 5000, logger: { warn: (m) => warnings.push(m) } })
  await client.enroll(password, await net.invite('alice'))
  await client.unlock(password)
  await client.put('acme-portal', record)
  assert.deepEqual(await client.get('acme-portal'), record)
})

after(async () => {
  await client?.close()
  await net?.stop()
})

function causeOf(err: NotEnoughCustodiansError, node: string): Error | undefined {
  return err.nodes.find((n) => n.node === node)?.cause
}

/** withOnly runs fn with only the nodes named up (the others killed), then restarts every node honest. */
async function withOnly(up: string[], faults: Record<string, string>, fn: () => Promise<void>): Promise<void> {
  for (const n of net.nodes) {
    if (!up.includes(n.name)) await net.kill(n.name)
    else if (faults[n.name] !== undefined) await net.restart(n.name, faults[n.name])
  }
  try {
    await fn()
  } finally {
    for (const n of net.nodes) await net.restart(n.name)
  }
}

test('a node that alters shares is named for a bad share', async () => {
  await withOnly(['n1', 'n2', 'n3'], { n1: 'alter-shares' }, async () => {
    const err = await failure(() => client.get('acme-portal'))
    assert.ok(causeOf(err, 'n1') instanceof BadShareError, err.message)
    assert.equal(err.have, 2)
    assert.ok(warnings.some((w) => w.includes('n1') && w.includes('does not match its commitment')))
  })
  assert.deepEqual(await client.get('acme-portal'), record)
})

test("a node whose receipt's entry is altered is named, and none of its shares used", async () => {
  await withOnly(['n1', 'n2', 'n3'], { n1: 'bad-receipt' }, async () => {
    const err = await failure(() => client.get('acme-portal'))
    assert.ok(causeOf(err, 'n1') instanceof BadReceiptError, err.message)
  })
})

test('a node that logs a release as refused is named, and its receipt kept as evidence', async () => {
  await withOnly(['n1', 'n2', 'n3'], { n1: 'refused-entry' }, async () => {
    const err = await failure(() => client.get('acme-portal'))
    assert.ok(causeOf(err, 'n1') instanceof FalseReceiptError, err.message)
    assert.ok(client.receipts().some((r) => r.node === 'n1' && r.evidence === 'refusal'))
  })
})

test('a node that serves a checkpoint of another log is named by history, and none of its entries shown', async () => {
  await withOnly(['n1', 'n2', 'n3', 'n4', 'n5'], { n1: 'fork-checkpoint' }, async () => {
    const h = await client.history('acme-portal')
    assert.deepEqual(
      h.failed.map((f) => f.node),
      ['n1'],
    )
    assert.ok(h.failed[0]!.cause instanceof ForkedLogError, h.failed[0]!.message)
    assert.ok(h.entries.length > 0 && h.entries.every((e) => e.node !== 'n1'))
  })
})

test('a node whose login evaluation or proof is wrong is named, and no login key comes of it', async () => {
  for (const fault of ['bad-evaluation', 'bad-proof']) {
    client.lock()
    await withOnly(['n1', 'n2', 'n3'], { n2: fault }, async () => {
      const err = await failure(() => client.unlock(password))
      assert.ok(causeOf(err, 'n2') instanceof BadEvaluationError, `${fault}: ${err.message}`)
      assert.equal(client.unlocked, false)
      await assert.rejects(client.get('acme-portal'), VaultLockedError)
    })
  }
  await client.unlock(password)
  assert.deepEqual(await client.get('acme-portal'), record)
})

test('a wrong password is refused at every node, counted, and the right one then works', async () => {
  client.lock()
  const first = await failure(() => client.unlock('not the password'))
  assert.equal(first.reason, WrongPasswordError)
  assert.equal(first.have, 0)
  assert.match(first.message, /^unlock: wrong password \(refused by n1, n2, n3, n4 and n5\)/)
  assert.equal(first.attemptsLeft, 9)
  const second = await failure(() => client.unlock('still not it'))
  assert.equal(second.attemptsLeft, 8)
  assert.ok(second.nodes.every((n) => n.cause instanceof WrongPasswordError && n.cause.attemptsLeft === 8))
  const users = await net.custosd('n1', 'users')
  assert.match(users, /alice\s+\S+\s+failures 2\b/)
  await client.unlock(password)
  assert.match(await net.custosd('n1', 'users'), /alice\s+\S+\s+failures 0\b/)
  assert.deepEqual(await client.get('acme-portal'), record)
})

test('a node that presents another key than the network file pins is named as an impostor', async () => {
  const file = new TextDecoder().decode(net.networkFile)
  const [a, b] = [net.nodes[0]!.card.peer_id, net.nodes[1]!.card.peer_id]
  const swapped = file.replace(a, 'SWAP').replace(b, a).replace('SWAP', b)
  const storage = new MemoryStorage()
  await Client.init(storage, new TextEncoder().encode(swapped), 'mallory')
  const c = await Client.open(storage, { transports: nodeTransports(), timeoutMs: 5000 })
  try {
    const st = await c.status()
    for (const s of st.slice(0, 2)) {
      assert.ok(s.error instanceof ImpostorError, `${s.name}: ${s.error}`)
      assert.equal(s.reachable, false)
    }
    assert.match(String(st[0]!.error?.message), new RegExp(`it is ${a}`))
    assert.ok(st.slice(2).every((s) => s.reachable))
  } finally {
    await c.close()
  }
})

test('a record damaged in the vault is refused before any node is asked, and the others still open', async () => {
  await client.put('globex-api', { password: 'globex-s3cret' })
  await client.close()
  const doc = JSON.parse(new TextDecoder().decode(storage.doc!))
  const u = doc.units.find((x: { label: string }) => x.label === 'acme-portal')
  u.key_commit = 'ff'.repeat(32)
  storage.doc = new TextEncoder().encode(JSON.stringify(doc))
  client = await Client.open(storage, { transports: nodeTransports(), timeoutMs: 5000 })
  await client.unlock(password)
  const before = (await client.requests()).requests.length
  await assert.rejects(client.get('acme-portal'), DamagedError)
  assert.equal((await client.requests()).requests.length, before, 'no release request was made')
  assert.deepEqual(await client.get('globex-api'), { password: 'globex-s3cret' })
})

test('after its idle timeout the client locks itself and drops its login keys', async () => {
  const storage = new MemoryStorage()
  await Client.init(storage, net.networkFile, 'bob')
  const c = await Client.open(storage, { transports: nodeTransports(), idleTimeoutMs: 300 })
  try {
    await c.enroll(password, await net.invite('bob'))
    await c.unlock(password)
    await c.put('x', { password: 'y' })
    assert.equal(c.unlocked, true)
    await new Promise((r) => setTimeout(r, 600))
    assert.equal(c.unlocked, false)
    await assert.rejects(c.get('x'), VaultLockedError)
    await c.unlock(password)
    assert.deepEqual(await c.get('x'), { password: 'y' })
  } finally {
    await c.close()
  }
})
