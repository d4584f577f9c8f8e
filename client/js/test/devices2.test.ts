// A second device of the user against a real local network of three
// custosd processes (threshold 2): the vault exported, imported on a
// second storage under a fresh device key, the new device enrolled with
// new-device tokens (`custosd invite --new-device`), both devices opening
// the records; then a password change on one device that the other
// follows through the dealing note, both ways, and a forged note named.
import { after, afterEach, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateX25519Identity, identityToRecipient } from 'age-encryption'
import { Client, DamagedError, DamagedLoginError, ExportFormatError, MemoryStorage, ForgedNoteError, newRecoveryKey, NotEnoughCustodiansError, NotEnrolledError, TokenRefusedError, WrongPasswordError } from '../src/index.js'
import { FileStorage, nodeTransports } from '../src/node/index.js'
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf'
import { DealingNoteSchema } from '../src/gen/custos_pb.js'
import { noteLogin } from '../src/dealingnote.js'
import { parseNetwork } from '../src/network.js'
import { noteMac } from '../src/passwd.js'
import { randomBytes } from '../src/bytes.js'
import { dealLogin } from '../src/threshold/toprf.js'
import { decodeVault, type VaultData } from '../src/vault/vault.js'
import { binaries, Devnet } from './devnet.js'

const password = 'correct horse battery staple'
const newPassword = 'tr0ub4dor&3 is not the new password'
const third = 'a third password, for epoch 3'
const record = { username: 'svc-acme', password: 'hunter2' }
let net: Devnet
let dir: string

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'custos-js-devices2-'))
  net = await Devnet.start({ n: 3, k: 2 })
})

// A test that left a node down or faulty does not take the next one with it.
afterEach(async () => {
  for (const n of net?.nodes ?? []) if (n.proc === undefined || n.proc.exitCode !== null || n.proc.signalCode !== null) await net.restart(n.name)
})

after(async () => {
  await net?.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** custos runs the Go CLI with a home of its own; a failure is the test's. */
async function custos(args: string[]): Promise<void> {
  const bin = await binaries()
  await new Promise<void>((resolve, reject) =>
    execFile(join(bin, 'custos'), args, { env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir } }, (err, _out, stderr) => (err === null ? resolve() : reject(new Error(`custos ${args[0]}: ${stderr}`)))),
  )
}

function open(storage: FileStorage, warnings: string[] = []): Promise<Client> {
  return Client.open(storage, { transports: nodeTransports(), timeoutMs: 5000, logger: { warn: (m) => warnings.push(m) } })
}

/** session runs fn with a client of storage's vault, closed after. */
async function session<T>(storage: FileStorage, fn: (c: Client) => Promise<T>, warnings: string[] = []): Promise<T> {
  const c = await open(storage, warnings)
  try {
    return await fn(c)
  } finally {
    await c.close()
  }
}

/** twoDevices makes user's first device (enrolled, with one record) and a second one, imported from its export and added at every node. */
async function twoDevices(user: string): Promise<{ first: FileStorage; second: FileStorage }> {
  const first = new FileStorage(join(dir, user, 'first', 'vault.json'))
  await Client.init(first, net.networkFile, user)
  const key = await newRecoveryKey()
  const exported = await session(first, async (c) => {
    const res = await c.enroll(password, await net.invite(user))
    assert.ok(res.every((r) => r.state === 'enrolled now'), JSON.stringify(res))
    await c.unlock(password)
    await c.put('acme-portal', record)
    return c.exportVault([key.recipient])
  })
  const second = new FileStorage(join(dir, user, 'second', 'vault.json'))
  const hdr = await Client.importVault(second, exported, key.identity)
  assert.equal(hdr.user, user)
  const added = await session(second, async (c) => c.addDevice(password, await net.invite(user, { newDevice: true })))
  assert.deepEqual(
    added.map((e) => e?.message),
    net.nodes.map(() => undefined),
  )
  return { first, second }
}

/** opens checks that pw unlocks storage's vault and opens the record. */
async function opens(storage: FileStorage, pw: string, warnings: string[] = []): Promise<void> {
  await session(
    storage,
    async (c) => {
      await c.unlock(pw)
      assert.deepEqual(await c.get('acme-portal'), record)
    },
    warnings,
  )
}

/** refused checks that pw is refused as a wrong password at storage's vault. */
async function refused(storage: FileStorage, pw: string): Promise<void> {
  const err = await session(storage, (c) => c.unlock(pw)).then(
    () => undefined,
    (e: unknown) => e,
  )
  assert.ok(err instanceof NotEnoughCustodiansError && err.reason === WrongPasswordError, `the password that should be refused: ${String(err)}`)
}

async function epochOf(storage: FileStorage): Promise<number> {
  return decodeVault((await storage.load())!).login!.epoch
}

test('an imported vault is the same vault under a new device key, which the nodes do not know until addDevice', async () => {
  const user = 'import-alice'
  const first = new FileStorage(join(dir, user, 'first', 'vault.json'))
  await Client.init(first, net.networkFile, user)
  const key = await newRecoveryKey()
  const { exported, device } = await session(first, async (c) => {
    await c.enroll(password, await net.invite(user))
    await c.unlock(password)
    await c.put('acme-portal', record)
    return { exported: await c.exportVault([key.recipient]), device: c.device }
  })
  const second = new FileStorage(join(dir, user, 'second', 'vault.json'))
  assert.deepEqual((await Client.importVault(second, exported, key.identity)).device, device)
  const [a, b] = [decodeVault((await first.load())!), decodeVault((await second.load())!)]
  assert.notDeepEqual(b.deviceKey, a.deviceKey)
  assert.deepEqual({ ...b, deviceKey: a.deviceKey }, a)
  // Not over a vault; not with another identity.
  await assert.rejects(Client.importVault(second, exported, key.identity), /exists/)
  await assert.rejects(Client.importVault(new FileStorage(join(dir, user, 'third', 'vault.json')), exported, (await newRecoveryKey()).identity), /decrypt the export/)
  // The nodes do not know the new device: it is not enrolled anywhere, and no wrong-password attempt is counted.
  const err = await session(second, (c) => c.unlock(password)).then(
    () => undefined,
    (e: unknown) => e,
  )
  assert.ok(err instanceof NotEnoughCustodiansError && err.reason === NotEnrolledError, String(err))
  // A refused token is named; the good ones add the device.
  const tokens = await net.invite(user, { newDevice: true })
  const bad = await session(second, (c) => c.addDevice(password, { ...tokens, n1: 'not-a-token' }))
  assert.ok(bad[0] instanceof TokenRefusedError, String(bad[0]))
  assert.deepEqual(bad.slice(1), [undefined, undefined])
  const rest = await session(second, async (c) => c.addDevice(password, { n1: (await net.invite(user, { newDevice: true })).n1! }))
  assert.deepEqual(rest, [undefined, undefined, undefined])
  await opens(second, password)
  await opens(first, password)
})

test('an export that is not this SDK’s, or holds a damaged record, is refused and makes no vault', async () => {
  const user = 'import-bob'
  const first = new FileStorage(join(dir, user, 'first', 'vault.json'))
  await Client.init(first, net.networkFile, user)
  const key = await newRecoveryKey()
  const { Encrypter } = await import('age-encryption')
  const enc = new Encrypter()
  enc.addRecipient(key.recipient)
  const target = new FileStorage(join(dir, user, 'second', 'vault.json'))
  // A Go client's export, of a vault the Go CLI made, is named as one.
  const goKey = await generateX25519Identity()
  const goVault = join(dir, user, 'go', 'vault.db')
  writeFileSync(join(dir, 'network.yaml'), net.networkFile)
  await custos(['init', '--vault', goVault, '--network', join(dir, 'network.yaml'), '--user', user])
  await custos(['vault', 'export', '--vault', goVault, '--out', join(dir, user, 'go', 'export.age'), '--recipient', await identityToRecipient(goKey)])
  await assert.rejects(Client.importVault(target, readFileSync(join(dir, user, 'go', 'export.age')), goKey), (e: unknown) => e instanceof ExportFormatError && /Go client's export/.test(e.message))
  const exported = await session(first, (c) => c.exportVault([key.recipient]))
  const { Decrypter } = await import('age-encryption')
  const dec = new Decrypter()
  dec.addIdentity(key.identity)
  const doc = JSON.parse(await dec.decrypt(exported, 'text')) as { vault: Record<string, unknown> }
  assert.ok(!('device_key' in doc.vault), 'the export holds no device key')
  await assert.rejects(Client.importVault(target, await enc.encrypt(JSON.stringify({ ...doc, vault: { ...doc.vault, device_key: 'AAAA' } })), key.identity), ExportFormatError)
  // A record whose MAC does not match.
  await session(first, async (c) => {
    await c.enroll(password, await net.invite(user))
    await c.unlock(password)
    await c.put('acme-portal', record)
  })
  const good = JSON.parse(await dec.decrypt(await session(first, (c) => c.exportVault([key.recipient])), 'text')) as { vault: { units: { label: string }[] } }
  good.vault.units[0]!.label = 'acme-portal-2'
  await assert.rejects(Client.importVault(target, await enc.encrypt(JSON.stringify(good)), key.identity), DamagedError)
  assert.equal(await target.load(), undefined)
  // Damaged at any one place (a character replaced), an export is imported or refused with a named error, never another.
  const text = JSON.stringify(JSON.parse(await dec.decrypt(await session(first, (c) => c.exportVault([key.recipient])), 'text')))
  const named = [ExportFormatError, DamagedError, DamagedLoginError]
  for (let i = 0; i < 150; i++) {
    const at = Math.floor(Math.random() * text.length)
    const damaged = text.slice(0, at) + String.fromCharCode(32 + Math.floor(Math.random() * 95)) + text.slice(at + 1)
    const err = await Client.importVault(new MemoryStorage(), await enc.encrypt(damaged), key.identity).then(
      () => undefined,
      (e: unknown) => e,
    )
    assert.ok(err === undefined || named.some((k) => err instanceof k), `damaged at ${at}: ${String(err)}`)
  }
})

test('a device follows a password change made on the other device, both ways', async () => {
  const { first, second } = await twoDevices('follow-carol')
  await opens(first, password)
  await opens(second, password)
  // The second device changes the password; the first follows at its next unlock.
  await session(second, (c) => c.changePassword(password, newPassword))
  assert.equal(await epochOf(first), 1)
  const warnings: string[] = []
  await opens(first, newPassword, warnings)
  assert.equal(await epochOf(first), 2)
  assert.ok(
    warnings.some((w) => /changed on another device/.test(w)),
    warnings.join('\n'),
  )
  await refused(first, password)
  // The first changes it again; the second follows.
  await session(first, (c) => c.changePassword(newPassword, third))
  await opens(second, third)
  assert.equal(await epochOf(second), 3)
  await refused(second, newPassword)
  await opens(first, third)
})

test('a dealing note no device of the user made is named and not followed', async () => {
  const { first, second } = await twoDevices('forged-dave')
  await session(second, (c) => c.changePassword(password, newPassword))
  // Two of the three nodes hand out forged notes: the one true note is fewer than the threshold.
  await net.restart('n1', 'forge-note')
  await net.restart('n2', 'forge-note')
  const warnings: string[] = []
  const err = await session(first, (c) => c.unlock(newPassword), warnings).then(
    () => undefined,
    (e: unknown) => e,
  )
  assert.ok(err instanceof NotEnoughCustodiansError, String(err))
  assert.deepEqual(
    err.nodes.filter((n) => n.cause instanceof ForgedNoteError).map((n) => n.node),
    ['n1', 'n2'],
  )
  assert.ok(warnings.some((w) => w.includes('n1') && /no device of this user made/.test(w)), warnings.join('\n'))
  assert.equal(await epochOf(first), 1, 'a forged note changes nothing in the vault')
  // One forged note among true ones: named, and the true ones are followed.
  await net.restart('n2')
  warnings.length = 0
  await opens(first, newPassword, warnings)
  assert.equal(await epochOf(first), 2)
  assert.ok(warnings.some((w) => w.includes('n1') && /no device of this user made/.test(w)), warnings.join('\n'))
  await net.restart('n1')
})

test('a dealing note is taken only as its device sealed it: changed at any byte, it is a ForgedNoteError', () => {
  const nodes = parseNetwork(net.networkFile).nodes
  const v = { user: 'note-erin', masterSecret: randomBytes(32) } as VaultData
  const dealt = dealLogin(randomBytes(32), 2, nodes.length)
  dealt.rwd.wipe()
  const shares = nodes.map((n, i) => ({ peerId: n.peerId, index: dealt.shares[i]!.index, publicShare: dealt.shares[i]!.publicShare }))
  const note = create(DealingNoteSchema, { epoch: 2, threshold: 2, shares, mac: noteMac(v.masterSecret, v.user, { epoch: 2, threshold: 2, shares }) })
  assert.deepEqual(noteLogin(v, nodes, 2, note), {
    epoch: 2,
    threshold: 2,
    shares: nodes.map((n, i) => ({ node: n.name, peerId: n.peerIdText, index: i + 1, publicShare: dealt.shares[i]!.publicShare })),
  })
  assert.throws(() => noteLogin({ ...v, user: 'note-frank' }, nodes, 2, note), ForgedNoteError)
  assert.throws(() => noteLogin({ ...v, masterSecret: randomBytes(32) }, nodes, 2, note), ForgedNoteError)
  assert.throws(() => noteLogin(v, nodes, 3, note), ForgedNoteError)
  assert.throws(() => noteLogin(v, [...nodes].reverse(), 2, note), ForgedNoteError)
  const wire = toBinary(DealingNoteSchema, note)
  for (let i = 0; i < 2000; i++) {
    const b = wire.slice()
    const at = Math.floor(Math.random() * b.length)
    b[at] = b[at]! ^ (1 + Math.floor(Math.random() * 255))
    let m
    try {
      m = fromBinary(DealingNoteSchema, b)
    } catch {
      continue // the wire decoder's refusal
    }
    if (equals(DealingNoteSchema, m, note)) continue
    assert.throws(() => noteLogin(v, nodes, 2, m), ForgedNoteError, `changed: ${Buffer.from(b).toString('hex')}`)
  }
})
