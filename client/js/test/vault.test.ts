// The vault without a network: both storage adapters pass one conformance
// suite; the file adapter keeps its files private and refuses open ones;
// the vault document and the request journal are read strictly; a unit
// whose fields do not match their MAC is refused before any node is asked.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, DamagedError, MemoryStorage, VaultBusyError, VaultFormatError, type VaultStorage } from '../src/index.js'
import { FileStorage } from '../src/node/index.js'
import { utf8 } from '../src/bytes.js'
import { VaultHandle } from '../src/vault/handle.js'
import { JournalError, parseJournal } from '../src/vault/journal.js'
import { checkUnit, decodeVault, unitMac, type Unit } from '../src/vault/vault.js'

const network = utf8(`version: 1
threshold: 2
nodes:
  - name: acme
    peer_id: 12D3KooWNW98jY6oC8EEaFFbYCc24HPRaNAJaEY7eiAvspiAgFak
    addrs: [/ip4/127.0.0.1/tcp/1/ws]
  - name: bolt
    peer_id: 12D3KooWGgBPd8bW7cuVEJorcjE3yai4ZK7maXiEr5SLvXyMFLkK
    addrs: [/ip4/127.0.0.1/tcp/2/ws]
  - name: cove
    peer_id: 12D3KooWMTTaprnNL24L79cgi1AeQnVbGiKcCva2J8JX2FcUu8ak
    addrs: [/ip4/127.0.0.1/tcp/3/ws]
`)

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'custos-js-test-'))
}

async function conformance(name: string, make: () => VaultStorage) {
  await test(`${name}: create, lock, save and the journal`, async () => {
    const s = make()
    assert.equal(await s.load(), undefined)
    await Client.init(s, network, 'alice')
    await assert.rejects(Client.init(s, network, 'alice'), /exists/)
    const vh = await VaultHandle.open(s)
    await assert.rejects(VaultHandle.open(s), VaultBusyError)
    assert.equal(vh.data.user, 'alice')
    const when = new Date('2026-01-21T12:53:20.000Z')
    await vh.appendRequests([{ node: 'acme', time: when, nonce: '6e'.repeat(16) }])
    await vh.appendRequests([{ node: 'bolt', time: when, nonce: '62'.repeat(16) }])
    assert.equal(
      new TextDecoder().decode(await s.loadJournal()),
      `custos-requests/1\nacme 2026-01-21T12:53:20.000Z ${'6e'.repeat(16)}\nbolt 2026-01-21T12:53:20.000Z ${'62'.repeat(16)}\n`,
    )
    vh.data.checkpoints.push({ node: 'acme', checkpoint: utf8('x') })
    await vh.save()
    await vh.close()
    const again = await VaultHandle.open(s)
    assert.equal(again.data.checkpoints.length, 1)
    assert.equal((await again.requests()).requests.length, 2)
    await again.close()
  })
  await test(`${name}: appends after the journal is replaced land in the new journal`, async () => {
    const s = make()
    await Client.init(s, network, 'alice')
    const unlock = await s.lock()
    const head = 'custos-requests/1\n'
    const line = (n: string) => `${n} 2026-01-21T12:53:20.000Z ${'6e'.repeat(16)}\n`
    await s.appendJournal(utf8(head + line('acme')))
    await s.replaceJournal(utf8(head + line('bolt')))
    await s.appendJournal(utf8(line('cove')))
    assert.equal(new TextDecoder().decode(await s.loadJournal()), head + line('bolt') + line('cove'))
    await unlock()
  })
}

await conformance('memory', () => new MemoryStorage())
const fileDir = tmp()
let files = 0
await conformance('file', () => new FileStorage(join(fileDir, `v${++files}`, 'vault.json')))
rmSync(fileDir, { recursive: true, force: true })

test('the file adapter writes 0600 files in a 0700 directory and refuses a vault others may read, or a link', async () => {
  const dir = tmp()
  try {
    const s = new FileStorage(join(dir, 'sub', 'vault.json'))
    await Client.init(s, network, 'alice')
    assert.equal(statSync(s.path).mode & 0o777, 0o600)
    assert.equal(statSync(join(dir, 'sub')).mode & 0o777, 0o700)
    const vh = await VaultHandle.open(s)
    await vh.appendRequests([{ node: 'acme', time: new Date(), nonce: '00'.repeat(16) }])
    assert.equal(statSync(s.journalPath).mode & 0o777, 0o600)
    await vh.close()
    chmodSync(s.path, 0o644)
    await assert.rejects(s.load(), /chmod 600/)
    chmodSync(s.path, 0o600)
    symlinkSync(s.path, join(dir, 'link.json'))
    await assert.rejects(new FileStorage(join(dir, 'link.json')).load(), /not a regular file/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test("saves that overlap (two operations of one client) each succeed, one after the other, and the file holds the vault's last contents", async () => {
  const dir = tmp()
  try {
    const s = new FileStorage(join(dir, 'vault.json'))
    await Client.init(s, network, 'alice')
    const vh = await VaultHandle.open(s)
    try {
      const saves = []
      for (let i = 1; i <= 8; i++) {
        vh.data.pendingDeletes.push({ id: Uint8Array.from({ length: 16 }, () => i), version: 1n, nodes: ['acme'] })
        saves.push(vh.save())
      }
      await Promise.all(saves)
      assert.equal(decodeVault((await s.load())!).pendingDeletes.length, 8)
    } finally {
      await vh.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a vault document that breaks a rule is refused with what is wrong', async () => {
  const s = new MemoryStorage()
  await Client.init(s, network, 'alice')
  const good = JSON.parse(new TextDecoder().decode(s.doc!))
  const cases: [string, (j: Record<string, unknown>) => void, RegExp][] = [
    ['an unknown format', (j) => (j.format = 'custos-js-vault/9'), /unknown vault format "custos-js-vault\/9"/],
    ['an unknown field', (j) => (j.extra = 1), /unknown field "extra"/],
    ['a missing field', (j) => delete j.units, /no field "units"/],
    ['a short master secret', (j) => (j.master_secret = 'AAAA'), /master_secret is not 32 to 32 bytes/],
    ['a weakened Argon2id', (j) => ((j.password_kdf as Record<string, number>).memory_kib = 1024), /memory_kib is not a whole number/],
    ['a bad user', (j) => (j.user = 'a b'), /user is not a valid user name/],
  ]
  for (const [what, edit, want] of cases) {
    const j = structuredClone(good)
    edit(j)
    assert.throws(() => decodeVault(utf8(JSON.stringify(j))), (e: unknown) => e instanceof VaultFormatError && want.test(e.message), what)
  }
  assert.throws(() => decodeVault(utf8('{')), VaultFormatError)
  const secret = good.master_secret as string
  for (const [, edit] of cases) {
    const j = structuredClone(good)
    edit(j)
    try {
      decodeVault(utf8(JSON.stringify(j)))
    } catch (e) {
      assert.ok(!(e as Error).message.includes(secret), 'no error holds the secret')
    }
  }
})

test('the request journal is read strictly, a torn last line ignored, and compacted at 10000 requests', async () => {
  const nonce = 'ab'.repeat(16)
  const ok = `custos-requests/1\nacme 2026-01-21T12:53:20.000Z ${nonce}\n`
  assert.equal(parseJournal(utf8(ok)).requests.length, 1)
  const torn = parseJournal(utf8(ok + 'bolt 2026-01-21T12:5'))
  assert.equal(torn.requests.length, 1)
  assert.equal(torn.torn, true)
  for (const bad of [
    `custos-requests/1\nacme  2026-01-21T12:53:20.000Z ${nonce}\n`,
    `custos-requests/1\nacme 2026-01-21T12:53:20Z ${nonce}\n`,
    `custos-requests/1\nacme 2026-01-21T12:53:20.000Z ${nonce.toUpperCase()}\n`,
    `custos-requests/1\n\n`,
    `custos-requests/1\r\nacme 2026-01-21T12:53:20.000Z ${nonce}\n`,
  ]) {
    assert.throws(() => parseJournal(utf8(bad)), JournalError, JSON.stringify(bad))
  }
  assert.throws(() => parseJournal(utf8('custos-requests/2\n')), /unknown request journal format/)

  const s = new MemoryStorage()
  await Client.init(s, network, 'alice')
  const vh = await VaultHandle.open(s)
  await vh.appendRequests(Array.from({ length: 9999 }, (_, i) => ({ node: 'acme', time: new Date(1_700_000_000_000 + i), nonce })))
  await vh.appendRequests([{ node: 'bolt', time: new Date(1_800_000_000_000), nonce }])
  const after = parseJournal(await s.loadJournal())
  assert.equal(after.requests.length, 5000)
  assert.equal(after.requests.at(-1)!.node, 'bolt')
  assert.equal(after.droppedUntil?.getTime(), 1_700_000_000_000 + 4999)
  await vh.close()
})

test('a unit checks against its MAC, and any changed field fails it', () => {
  const m = new Uint8Array(32).fill(7)
  const now = new Date('2026-01-01T00:00:00Z')
  const unit: Omit<Unit, 'mac'> = {
    label: 'acme-portal',
    id: new Uint8Array(16).fill(1),
    version: 1n,
    threshold: 2,
    nodes: ['acme', 'bolt', 'cove'].map((name, i) => ({ name, peerId: `p${i}`, commitment: new Uint8Array(32).fill(i + 1), stored: true })),
    keyCommit: new Uint8Array(32).fill(9),
    sealed: new Uint8Array(60).fill(1),
    degraded: false,
    created: now,
    updated: now,
  }
  const mac = unitMac(m, unit)
  assert.doesNotThrow(() => checkUnit(m, { ...unit, mac }))
  const changes: Partial<Unit>[] = [
    { label: 'other' },
    { version: 2n },
    { threshold: 3 },
    { keyCommit: new Uint8Array(32).fill(8) },
    { degraded: true },
    { updated: new Date('2026-01-01T00:00:00.001Z') },
    { nodes: unit.nodes.map((n, i) => (i === 1 ? { ...n, stored: false } : n)) },
  ]
  for (const c of changes) assert.throws(() => checkUnit(m, { ...unit, ...c, mac }), DamagedError, JSON.stringify(Object.keys(c)))
})
