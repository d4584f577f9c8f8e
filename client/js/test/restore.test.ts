// A node restored from a backup (custosd backup, custosd restore) against
// real custosd processes: its restore entry explains why its log no longer
// extends the checkpoint the vault kept, so the SDK accepts it (one
// warning, the replaced checkpoint kept in the vault's restores), and the
// records put after the backup degrade when the node answers NOT_FOUND for
// them. A copied data directory run under the same identity has no restore
// entry: a fork, named ForkedLogError. And the vault's restores field is
// read strictly and survives a round trip.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Client, ForkedLogError, MemoryStorage, NotEnoughCustodiansError, StatusError, VaultFormatError, type Restore } from '../src/index.js'
import { nodeTransports } from '../src/node/index.js'
import { create } from '@bufbuild/protobuf'
import { Code, EntryKind, EntrySchema } from '../src/gen/custos_pb.js'
import { parseEntry } from '../src/api/entry.js'
import { restoreOf } from '../src/history.js'
import { openNodeCheckpoint } from '../src/receipts.js'
import { explains } from '../src/restore.js'
import { addRestore, decodeVault, encodeVault, MAX_RESTORES, type VaultData } from '../src/vault/vault.js'
import { parseNetwork } from '../src/network.js'
import { adopted } from '../src/networkupdate.js'
import { failure } from './clients.js'
import { Devnet } from './devnet.js'

const password = 'correct horse battery staple'
const acme = { username: 'svc-acme', password: 'hunter2' }
const globex = { username: 'svc-globex', password: 'swordfish' }

async function logSize(net: Devnet, name: string): Promise<bigint> {
  return BigInt((JSON.parse(await net.custosd(name, 'status', '--json')) as { log_size: number }).log_size)
}

/** keptSize is the size of the checkpoint of node c keeps. */
async function keptSize(c: Client, node: string): Promise<bigint> {
  const raw = c.checkpoints().find((x) => x.node === node)!.checkpoint
  return (await openNodeCheckpoint(c.network.nodes.find((n) => n.name === node)!, raw)).cp.size
}

function keptOf(c: Client, node: string): Uint8Array | undefined {
  return c.checkpoints().find((x) => x.node === node)?.checkpoint
}

async function opened(storage: MemoryStorage, warnings: string[]): Promise<Client> {
  return Client.open(storage, { transports: nodeTransports(), timeoutMs: 10_000, logger: { warn: (m) => warnings.push(m) } })
}

async function enrolled(net: Devnet, user: string, warnings: string[]): Promise<{ c: Client; storage: MemoryStorage }> {
  const storage = new MemoryStorage()
  await Client.init(storage, net.networkFile, user)
  const c = await opened(storage, warnings)
  await c.enroll(password, await net.invite(user))
  await c.unlock(password)
  return { c, storage }
}

const causeOf = (err: NotEnoughCustodiansError, node: string) => err.nodes.find((n) => n.node === node)?.cause

/** restoreNode stops node, restores backup with custosd restore (over its store with replace, else into an empty data directory) and starts it again. */
async function restoreNode(net: Devnet, name: string, backup: string, replace: boolean): Promise<void> {
  await net.kill(name)
  const data = join(net.node(name).dir, 'data')
  if (!replace) renameSync(data, data + '.old')
  await net.custosd(name, 'restore', '--in', backup, ...(replace ? ['--replace'] : []))
  await net.restart(name)
}

/** withAliceAndBob runs fn on three nodes (threshold 2) where alice stored acme-portal and bob globex-api, and stops them after. */
async function withAliceAndBob(fn: (net: Devnet, alice: Client, bob: Client, warnings: string[]) => Promise<void>): Promise<void> {
  const net = await Devnet.start({ n: 3, k: 2 })
  const warnings: string[] = []
  let alice: Client | undefined
  let bob: Client | undefined
  try {
    alice = (await enrolled(net, 'alice', warnings)).c
    bob = (await enrolled(net, 'bob', warnings)).c
    await alice.put('acme-portal', acme)
    await bob.put('globex-api', globex)
    await fn(net, alice, bob, warnings)
  } finally {
    await alice?.close()
    await bob?.close()
    await net.stop()
  }
}

/**
 * fork makes n1 show alice a fork (n2 stopped, so that n1 answers each
 * get): n1 is stopped and its data directory copied; alice's gets grow
 * n1's log past the copy (her vault keeps that branch's checkpoint); then
 * n1's identity runs on the copy, where bob's gets grow another branch
 * past alice's.
 */
async function fork(net: Devnet, alice: Client, bob: Client): Promise<void> {
  const data = join(net.node('n1').dir, 'data')
  const snapshot = join(net.dir, 'n1-copy')
  await net.kill('n1')
  cpSync(data, snapshot, { recursive: true })
  await net.restart('n1')
  for (let i = 0; i < 3; i++) assert.deepEqual(await alice.get('acme-portal'), acme)
  const seen = await keptSize(alice, 'n1')
  await net.kill('n1')
  rmSync(data, { recursive: true, force: true })
  cpSync(snapshot, data, { recursive: true })
  await net.restart('n1')
  while ((await logSize(net, 'n1')) <= seen) assert.deepEqual(await bob.get('globex-api'), globex)
}

async function restoredNodeIsAccepted(replace: boolean, history: boolean): Promise<void> {
  const net = await Devnet.start({ n: 3, k: 2 })
  const warnings: string[] = []
  let c: Client | undefined
  try {
    const alice = await enrolled(net, 'alice', warnings)
    c = alice.c
    await c.put('acme-portal', acme)
    const backup = join(net.dir, 'n1.backup')
    await net.custosd('n1', 'backup', '--out', backup)
    const backupSize = await logSize(net, 'n1')
    await c.put('globex-api', globex)
    // With n2 stopped, both records come from n1 and n3: the vault keeps a
    // checkpoint of n1 past the backup.
    await net.kill('n2')
    assert.deepEqual(await c.getMany(['acme-portal', 'globex-api']), [acme, globex])
    const before = keptOf(c, 'n1')!
    assert.ok((await keptSize(c, 'n1')) > backupSize, 'the vault keeps a checkpoint of n1 past the backup')

    await restoreNode(net, 'n1', backup, replace)

    // The first unlock, or history read, since: n1 is needed (n2 is still stopped).
    if (history) {
      const { entries, failed } = await c.history()
      assert.deepEqual(
        failed.map((f) => f.node),
        ['n2'],
        failed.map((f) => f.message).join('; '),
      )
      assert.ok(entries.every((h) => h.label === 'acme-portal' || h.label === 'globex-api' || h.kind === 'device'))
      const log = await c.log()
      assert.ok(log.entries.some((le) => le.node === 'n1' && le.index === backupSize && restoreOf(le.entry) !== undefined), 'the log read at n1 holds its restore entry')
    } else {
      assert.deepEqual(await c.get('acme-portal'), acme)
    }
    const want = `node n1 was restored from a backup of log size ${backupSize}`
    assert.equal(warnings.filter((w) => w.includes(want)).length, 1, warnings.join('\n'))
    assert.deepEqual(
      c.receipts().filter((r) => r.node === 'n1' && r.evidence !== ''),
      [],
      "n1's answer is kept as evidence",
    )
    const restores = c.restores()
    assert.equal(restores.length, 1)
    const r = restores[0]!
    assert.equal(r.node, 'n1')
    assert.equal(r.index, backupSize)
    assert.deepEqual(r.replaced, before)
    assert.deepEqual(r.checkpoint, keptOf(c, 'n1'))
    const said = restoreOf(parseEntry(r.entry))
    assert.ok(said !== undefined && said.backupSize === backupSize && (said.replaced !== undefined) === replace, 'the kept restore entry')

    // The next unlock uses n1 as any other node, and warns no more.
    assert.deepEqual(await c.get('acme-portal'), acme)
    assert.equal(warnings.filter((w) => w.includes('was restored')).length, 1)

    // globex-api was put after the backup: n1 has no share of it. With n3
    // stopped, n1's NOT_FOUND is read, and the record cannot open now.
    await net.kill('n3')
    await net.restart('n2')
    const err = await failure(() => c!.get('globex-api'))
    const n1 = causeOf(err, 'n1')
    assert.ok(n1 instanceof StatusError && n1.code === Code.NOT_FOUND, String(n1))
    assert.deepEqual(Object.fromEntries(c.list().map((u) => [u.label, u.degraded])), { 'acme-portal': false, 'globex-api': true })
    await net.restart('n3')
    assert.deepEqual(await c.get('globex-api'), globex)

    // The vault keeps the restore and the checkpoint it replaced.
    await c.close()
    c = await opened(alice.storage, warnings)
    assert.equal(c.restores().length, 1)
    assert.deepEqual(c.restores()[0]!.replaced, before)
    assert.notDeepEqual(keptOf(c, 'n1'), before)
  } finally {
    await c?.close()
    await net.stop()
  }
}

test('a restored node is accepted and its lost shares degrade (empty data directory, met by a get)', () => restoredNodeIsAccepted(false, false))

test('a restored node is accepted and its lost shares degrade (over the store it replaces, met by a history read)', () => restoredNodeIsAccepted(true, true))

// n1's data directory is copied and run on under its identity (fork): no
// restore entry explains it, so n1 is named a fork.
test('a node showing a forked log without a restore entry is named ForkedLogError', () =>
  withAliceAndBob(async (net, alice, bob, warnings) => {
    await net.kill('n2')
    await fork(net, alice, bob)

    const err = await failure(() => alice.get('acme-portal'))
    assert.ok(causeOf(err, 'n1') instanceof ForkedLogError, String(causeOf(err, 'n1')))
    assert.equal(causeOf(err, 'n3'), undefined)
    assert.ok(
      alice.receipts().some((r) => r.node === 'n1' && r.evidence === 'fork'),
      "n1's answer is kept as evidence of the fork",
    )
    assert.deepEqual(alice.restores(), [])
    assert.equal(warnings.filter((w) => w.includes('was restored')).length, 0)

    // A history read names it too; the next request still does.
    const { failed } = await alice.history()
    assert.ok(failed.find((f) => f.node === 'n1')?.cause instanceof ForkedLogError, failed.map((f) => f.message).join('; '))
    const again = await failure(() => alice.get('acme-portal'))
    assert.ok(causeOf(again, 'n1') instanceof ForkedLogError)
  }))

// n1 is restored, and the restore accepted; alice's vault then keeps
// checkpoints of n1's log after the restore entry. n1's data directory is
// copied and run on (fork): the restore entry is in both
// branches, but it was in the log the vault kept already, so it explains
// nothing: n1 is named a fork, and no second restore is recorded.
test('a restore already in the kept log does not explain a new fork', () =>
  withAliceAndBob(async (net, alice, bob, warnings) => {
    const backup = join(net.dir, 'n1.backup')
    await net.custosd('n1', 'backup', '--out', backup)
    await net.kill('n2')
    assert.deepEqual(await alice.get('acme-portal'), acme)
    assert.deepEqual(await alice.get('acme-portal'), acme)
    await restoreNode(net, 'n1', backup, false)
    assert.deepEqual(await alice.get('acme-portal'), acme)
    assert.equal(alice.restores().length, 1)

    await fork(net, alice, bob)

    const err = await failure(() => alice.get('acme-portal'))
    assert.ok(causeOf(err, 'n1') instanceof ForkedLogError, String(causeOf(err, 'n1')))
    assert.equal(alice.restores().length, 1)
    assert.equal(warnings.filter((w) => w.includes('node n1 was restored')).length, 1, warnings.join('\n'))
  }))

test('a restore entry explains a fork only by its rules', () => {
  const root = new Uint8Array(32).fill(5)
  const old = { origin: 'custos/n1', size: 10n, root }
  assert.equal(explains({ backupSize: 4n }, 4n, old), '')
  assert.equal(explains({ backupSize: 4n, replaced: { size: 12n, root: new Uint8Array(32) } }, 4n, old), '')
  assert.equal(explains({ backupSize: 4n, replaced: { size: 10n, root: root.slice() } }, 4n, old), '')
  assert.match(explains({ backupSize: 4n }, 5n, old), /does not directly follow/)
  assert.match(explains({ backupSize: 10n }, 10n, old), /not smaller than the size 10/)
  assert.match(explains({ backupSize: 4n, replaced: { size: 9n, root } }, 4n, old), /smaller than the size 10/)
  assert.match(explains({ backupSize: 4n, replaced: { size: 10n, root: new Uint8Array(32) } }, 4n, old), /another root/)
})

function restore(i: number): Restore {
  return { node: 'acme', accepted: new Date(1_700_000_000_000 + i), replaced: Uint8Array.of(1, 2, i & 0xff), index: BigInt(i), entry: Uint8Array.of(8, i & 0xff), checkpoint: Uint8Array.of(3, 4) }
}

function vaultWith(restores: Restore[]): VaultData {
  return {
    user: 'alice',
    network: Uint8Array.of(1),
    deviceKey: new Uint8Array(68).fill(7),
    masterSecret: new Uint8Array(32).fill(9),
    passwordKdf: { salt: new Uint8Array(16).fill(1), time: 3, memoryKiB: 65536, threads: 4 },
    login: null,
    units: [],
    pendingDeletes: [],
    changes: [],
    receipts: [],
    checkpoints: [],
    restores,
  }
}

test("the vault's restores survive a round trip and are read strictly", () => {
  const rs = [restore(1), restore(2)]
  assert.deepEqual(decodeVault(encodeVault(vaultWith(rs))).restores, rs)
  // A vault without the field (written before it, or with none) has none.
  const none = encodeVault(vaultWith([]))
  assert.ok(!new TextDecoder().decode(none).includes('"restores"'))
  assert.deepEqual(decodeVault(none).restores, [])

  const edit = (f: (j: { restores: Record<string, unknown>[] }) => void): Uint8Array => {
    const j = JSON.parse(new TextDecoder().decode(encodeVault(vaultWith([restore(1)])))) as { restores: Record<string, unknown>[] }
    f(j)
    return new TextEncoder().encode(JSON.stringify(j))
  }
  const bad: [string, (j: { restores: Record<string, unknown>[] }) => void][] = [
    ['an unknown field', (j) => (j.restores[0]!.extra = 1)],
    ['a missing field', (j) => delete j.restores[0]!.entry],
    ['a bad node name', (j) => (j.restores[0]!.node = 'Not A Node')],
    ['an index beyond any log', (j) => (j.restores[0]!.index = 2 ** 48)],
    ['an empty replaced checkpoint', (j) => (j.restores[0]!.replaced = '')],
    ['a checkpoint over 4 KiB', (j) => (j.restores[0]!.checkpoint = Buffer.alloc(4097).toString('base64'))],
    ['an entry over 64 KiB', (j) => (j.restores[0]!.entry = Buffer.alloc((64 << 10) + 1).toString('base64'))],
    ['a bad time', (j) => (j.restores[0]!.accepted = 'yesterday')],
    ['more than the vault keeps', (j) => (j.restores = Array.from({ length: MAX_RESTORES + 1 }, () => j.restores[0]!))],
    ['not a list', (j) => ((j as unknown as Record<string, unknown>).restores = {})],
  ]
  for (const [why, f] of bad) assert.throws(() => decodeVault(edit(f)), VaultFormatError, why)

  // The vault keeps the newest MAX_RESTORES.
  const v = vaultWith([])
  for (let i = 0; i <= MAX_RESTORES; i++) addRestore(v, restore(i))
  assert.equal(v.restores.length, MAX_RESTORES)
  assert.equal(v.restores[0]!.index, 1n)
  assert.equal(decodeVault(encodeVault(v)).restores.length, MAX_RESTORES)
})

test('an accepted restore follows its node when the network file renames it', () => {
  const file = (n2: string) =>
    new TextEncoder().encode(`version: 1
threshold: 2
nodes:
  - name: acme
    peer_id: 12D3KooWNW98jY6oC8EEaFFbYCc24HPRaNAJaEY7eiAvspiAgFak
    addrs: [/ip4/127.0.0.1/tcp/1/ws]
  - name: ${n2}
    peer_id: 12D3KooWGgBPd8bW7cuVEJorcjE3yai4ZK7maXiEr5SLvXyMFLkK
    addrs: [/ip4/127.0.0.1/tcp/2/ws]
`)
  const v = vaultWith([{ ...restore(1), node: 'bolt' }, restore(2)])
  const old = parseNetwork(file('bolt'))
  const got = adopted(v, old, file('volt'), new Map([[old.nodes[1]!.peerIdText, 'volt']]))
  assert.deepEqual(
    got.restores.map((r) => r.node),
    ['volt', 'acme'],
  )
})

test("a vault document's restores under random mutations decode or are refused as VaultFormatError", () => {
  const good = new TextDecoder().decode(encodeVault(vaultWith([restore(1), restore(2)])))
  const at = good.indexOf('"restores"')
  const alphabet = '{}[]",:0123456789-abcdefghijklmnopqrstuvwxyzAZ+/= \n'
  for (let i = 0; i < 3000; i++) {
    const chars = [...good]
    for (let m = 1 + Math.floor(Math.random() * 3); m > 0; m--) {
      const p = at + Math.floor(Math.random() * (chars.length - at))
      const c = alphabet[Math.floor(Math.random() * alphabet.length)]!
      const op = Math.floor(Math.random() * 3)
      if (op === 0) chars.splice(p, 1)
      else if (op === 1) chars.splice(p, 0, c)
      else chars[p] = c
    }
    const doc = new TextEncoder().encode(chars.join(''))
    let v: VaultData
    try {
      v = decodeVault(doc)
    } catch (e) {
      assert.ok(e instanceof VaultFormatError, String(e))
      continue
    }
    assert.deepEqual(decodeVault(encodeVault(v)).restores, v.restores)
  }
})

test("a restore entry's text says what restoreOf reads", () => {
  const root = new Uint8Array(32).map((_, i) => i)
  const entry = (admin: string) => create(EntrySchema, { kind: EntryKind.ADMIN, admin })
  assert.deepEqual(restoreOf(entry('restore: backup of log size 4')), { backupSize: 4n })
  assert.deepEqual(restoreOf(entry(`restore: backup of log size 4 replaces a log of size 9 with root ${Buffer.from(root).toString('base64')}`)), { backupSize: 4n, replaced: { size: 9n, root } })
  assert.equal(restoreOf(entry('restore: backup of log size 04')), undefined)
  assert.equal(restoreOf(create(EntrySchema, { kind: EntryKind.ADMIN, admin: 'restore: backup of log size 4', user: 'alice' })), undefined)
})
