// Changing records against five real custosd processes (threshold 3):
// replace and rotate make new versions and delete the old ones at the nodes
// (the nodes log each put and delete as part of the change), a node down
// during a replace, a change interrupted at every step and finished by the
// next unlock, and a replace by the SDK logged as the Go client's is
// (`custos audit report` passes and shows the same changes).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, MemoryStorage, NotEnoughCustodiansError, NotFoundError, VaultFormatError, type HistoryEntry, type SecretRecord } from '../src/index.js'
import { changeHooks } from '../src/change.js'
import { retryHooks } from '../src/client.js'
import { releaseHooks } from '../src/release.js'
import { decodeVault, encodeVault, type VaultData } from '../src/vault/vault.js'
import { toHex, utf8 } from '../src/bytes.js'
import { Clients } from './clients.js'
import { binaries, Devnet } from './devnet.js'

const password = 'change tests password'
let net: Devnet
let dir: string
let auditorKey: string
let clients: Clients

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'custos-js-change-'))
  clients = new Clients(dir, password)
  auditorKey = join(dir, 'auditor.key')
  const init = await custos(['audit', 'init', '--key', auditorKey])
  assert.equal(init.code, 0, init.stderr)
  net = await Devnet.start({ n: 5, k: 3, auditors: [init.stdout.split('\n').find((l) => l.startsWith('12D3KooW'))!] })
  writeFileSync(join(dir, 'network.yaml'), net.networkFile)
})

after(async () => {
  changeHooks.fault = undefined
  retryHooks.beforeDelete = undefined
  releaseHooks.opened = undefined
  await clients?.closeAll()
  await net?.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** custos runs the Go CLI with a vault and password of its own in dir. */
async function custos(args: string[], input = ''): Promise<{ stdout: string; stderr: string; code: number }> {
  const bin = await binaries()
  writeFileSync(join(dir, 'go-password'), 'go users password', { mode: 0o600 })
  const env = { ...process.env, CUSTOS_VAULT: join(dir, 'go', 'vault.db'), CUSTOS_PASSWORD_FILE: join(dir, 'go-password'), HOME: dir, XDG_CONFIG_HOME: dir }
  return new Promise((resolve) => {
    const p = execFile(join(bin, 'custos'), args, { env, cwd: dir }, (err, stdout, stderr) => resolve({ stdout, stderr, code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1 }))
    p.stdin?.end(input)
  })
}



const storageOf = (user: string) => clients.storageOf(user)
const reopen = (user: string, unlock = true) => clients.reopen(user, unlock)
const close = (c: Client) => clients.close(c)

/** enrolled makes user's vault, enrolls it, unlocks it and puts recs. */
async function enrolled(user: string, recs: Record<string, SecretRecord>): Promise<Client> {
  await Client.init(storageOf(user), net.networkFile, user)
  const c = await reopen(user, false)
  await c.enroll(password, await net.invite(user))
  await c.unlock(password)
  for (const [label, rec] of Object.entries(recs)) await c.put(label, rec)
  return c
}

/** onDisk is the vault as saved. */
function onDisk(user: string): VaultData {
  return decodeVault(readFileSync(join(dir, user, 'vault.json')))
}

/** changesAt lists a record's change entries in the nodes' logs as "node kind operation version outcome", sorted. */
async function changesAt(c: Client, label: string): Promise<string[]> {
  const h = await c.history(label)
  assert.deepEqual(h.failed, [])
  return h.entries
    .filter((e: HistoryEntry) => e.kind !== 'release')
    .map((e) => `${e.node} ${e.kind} ${e.operation} ${e.version} ${e.outcome}`)
    .sort()
}

function each(nodes: string[], what: string): string[] {
  return nodes.map((n) => `${n} ${what}`)
}

const all = ['n1', 'n2', 'n3', 'n4', 'n5']

test("the vault keeps a change under way and a pending delete's operation, reads a vault from before them, and refuses bad ones", async () => {
  const s = new MemoryStorage()
  await Client.init(s, net.networkFile, 'vera')
  const v = decodeVault(s.doc!)
  const id = new Uint8Array(16).fill(7)
  v.changes = [{ op: 'replace', label: 'acme', id, from: 1n, to: 2n, nodes: ['n1', 'n2'], content: new Uint8Array(40).fill(1), started: new Date('2026-01-21T12:53:20.123Z') }]
  v.pendingDeletes = [
    { id, version: 1n, nodes: ['n3'], operation: 1 },
    { id: new Uint8Array(16).fill(8), version: 4n, nodes: ['n1'] },
  ]
  const back = decodeVault(encodeVault(v))
  assert.deepEqual(back.changes, v.changes)
  assert.deepEqual(back.pendingDeletes, v.pendingDeletes)

  const good = JSON.parse(new TextDecoder().decode(encodeVault(v))) as Record<string, unknown>
  const old = structuredClone(good)
  delete old.changes
  assert.deepEqual(decodeVault(utf8(JSON.stringify(old))).changes, [])
  const change = (j: Record<string, unknown>) => (j.changes as Record<string, unknown>[])[0]!
  const cases: [string, (j: Record<string, unknown>) => void, RegExp][] = [
    ['an unknown change', (j) => (change(j).op = 'move'), /changes\[0\]\.op is not replace, rotate or reshare/],
    ['a change to an older version', (j) => (change(j).to = 1), /changes\[0\]\.to is not a whole number from 2/],
    ['a replace without its record', (j) => (change(j).content = ''), /changes\[0\]\.content is not 1 to/],
    ['a rotation with a record', (j) => (change(j).op = 'rotate'), /changes\[0\]\.content is not 0 to 0 bytes/],
    ['a change sent to a node twice', (j) => (change(j).nodes = ['n1', 'n1']), /changes\[0\]\.nodes names a node twice/],
    ['two changes of a unit', (j) => (j.changes = [change(j), change(j)]), /changes holds a unit ID twice/],
    ['an unknown operation', (j) => ((j.pending_deletes as Record<string, unknown>[])[0]!.operation = 5), /pending_deletes\[0\]\.operation is not a whole number from 1 to 4/],
  ]
  for (const [what, edit, want] of cases) {
    const j = structuredClone(good)
    edit(j)
    assert.throws(() => decodeVault(utf8(JSON.stringify(j))), (e: unknown) => e instanceof VaultFormatError && want.test(e.message), what)
  }  // Whatever a field of a change or a pending delete holds, the read
  // refuses it with a VaultFormatError, or takes it: it never fails otherwise.
  const odd: unknown[] = [null, -1, 0, 1.5, 2 ** 60, '', 'zz', '=', [], ['n1', 7], {}, true]
  const targets: [string, (j: Record<string, unknown>) => Record<string, unknown>][] = [
    ['change', change],
    ['pending delete', (j) => (j.pending_deletes as Record<string, unknown>[])[0]!],
  ]
  for (const [what, at] of targets) {
    for (const field of [...Object.keys(at(good)), 'extra']) {
      for (const value of odd) {
        const j = structuredClone(good)
        at(j)[field] = value
        try {
          decodeVault(utf8(JSON.stringify(j)))
        } catch (e) {
          assert.ok(e instanceof VaultFormatError, `${what}.${field} = ${JSON.stringify(value)}: ${String(e)}`)
        }
      }
    }
  }
})

test('replace makes a new version that get returns, deletes the old one at every node as part of a replace, and survives the vault round trip', async () => {
  const c = await enrolled('rita', { acme: { username: 'svc', password: 'old secret' }, globex: { password: 'other' } })
  await c.replace('acme', { username: 'svc2', password: 'new secret' })
  assert.deepEqual(await c.get('acme'), { username: 'svc2', password: 'new secret' })
  assert.deepEqual(
    c.list().map((u) => [u.label, u.version, u.degraded]),
    [
      ['acme', 2n, false],
      ['globex', 1n, false],
    ],
  )
  // The old version was deleted at every node (OK = 0), and each node logged
  // the put and the delete as part of a replace.
  assert.deepEqual(await changesAt(c, 'acme'), [...each(all, 'delete replace 1 0'), ...each(all, 'put replace 2 0')].sort())
  assert.deepEqual(c.pendingChanges(), [])
  assert.deepEqual(onDisk('rita').pendingDeletes, [])
  await assert.rejects(c.replace('nope', { password: 'x' }), NotFoundError)
  await assert.rejects(c.replace('acme', { password: 'x' }, { minAcks: 3 }), /minAcks 3: it must be from 4/)

  await close(c)
  const again = await reopen('rita')
  assert.deepEqual(await again.getMany(['acme', 'globex']), [{ username: 'svc2', password: 'new secret' }, { password: 'other' }])
  await close(again)
})

test('rotate keeps every record and gives each a new server key', async () => {
  const recs = { a: { password: 'pa' }, b: { username: 'u', password: 'pb' }, c: { password: 'pc' } }
  const c = await enrolled('ron', recs)
  const before = onDisk('ron').units
  const seen: number[] = []
  await c.rotate([], { progress: (done, total) => seen.push(done, total) })
  assert.deepEqual(seen, [0, 3, 3, 3])
  const afterUnits = onDisk('ron').units
  for (const u of afterUnits) {
    const b = before.find((x) => x.label === u.label)!
    assert.equal(u.version, 2n)
    assert.equal(toHex(u.id), toHex(b.id))
    assert.notEqual(toHex(u.keyCommit), toHex(b.keyCommit), `${u.label}: the server key did not change`)
    assert.notDeepEqual(u.nodes[0]!.commitment, b.nodes[0]!.commitment)
  }
  assert.deepEqual(await c.getMany(['a', 'b', 'c']), [recs.a, recs.b, recs.c])
  assert.deepEqual(await changesAt(c, 'b'), [...each(all, 'delete rotate 1 0'), ...each(all, 'put rotate 2 0')].sort())
  await c.rotate(['a'])
  assert.deepEqual(
    c.list().map((u) => [u.label, u.version]),
    [
      ['a', 3n],
      ['b', 2n],
      ['c', 2n],
    ],
  )
  assert.deepEqual(await c.get('a'), recs.a)
  await close(c)
})

test('a node down during a replace: given up without minAcks (its shares undone), degraded with it, and the old version deleted there once it is back', async () => {
  const c = await enrolled('dora', { acme: { password: 'v1' } })
  const id = c.list()[0]!.id
  await net.kill('n5')
  try {
    await assert.rejects(c.replace('acme', { password: 'v2' }), (e: unknown) => {
      assert.ok(e instanceof NotEnoughCustodiansError, String(e))
      assert.deepEqual(
        e.nodes.map((n) => n.node),
        ['n5'],
      )
      return true
    })
    // Given up: the record is as it was, and the placed shares deleted as an undo.
    assert.deepEqual(await c.get('acme'), { password: 'v1' })
    assert.deepEqual(
      c.list().map((u) => [u.version, u.degraded]),
      [[1n, false]],
    )
    assert.deepEqual(c.pendingChanges(), [])
    assert.deepEqual(
      onDisk('dora').pendingDeletes.map((p) => [toHex(p.id), p.version, p.nodes, p.operation]),
      [[id, 2n, ['n5'], 4]],
    )

    await c.replace('acme', { password: 'v3' }, { minAcks: 4 })
    assert.deepEqual(await c.get('acme'), { password: 'v3' })
    assert.deepEqual(
      c.list().map((u) => [u.version, u.degraded]),
      [[3n, true]],
    )
    assert.deepEqual(
      onDisk('dora')
        .pendingDeletes.map((p) => [p.version, p.nodes, p.operation])
        .sort(),
      [
        [1n, ['n5'], 1],
        [2n, ['n5'], 4],
      ],
    )
  } finally {
    await net.restart('n5')
  }
  // The next unlock retries both deletes at n5, each as what it was part of.
  c.lock()
  await c.unlock(password)
  assert.deepEqual(onDisk('dora').pendingDeletes, [])
  const n5 = (await changesAt(c, 'acme')).filter((l) => l.startsWith('n5 ')).map((l) => l.split(' ').slice(0, 4).join(' '))
  assert.deepEqual(n5, ['n5 delete replace 1', 'n5 delete undo 2'])
  assert.deepEqual(await c.get('acme'), { password: 'v3' })
  await close(c)
})

test('a retry of pending deletes keeps what another operation recorded meanwhile: only the deletes it confirmed leave the list', async () => {
  const c = await enrolled('lea', { a: { password: 'a1' }, b: { password: 'b1' }, c: { password: 'c1' } })
  const [a, b] = ['a', 'b'].map((l) => c.list().find((u) => u.label === l)!.id)
  // A pending delete of a's version 1 at n5.
  await net.kill('n5')
  try {
    await c.replace('a', { password: 'a2' }, { minAcks: 4 })
  } finally {
    await net.restart('n5')
  }
  assert.deepEqual(
    onDisk('lea').pendingDeletes.map((p) => [toHex(p.id), p.version, p.nodes]),
    [[a!, 1n, ['n5']]],
  )
  // The retry the next unlock makes is held before its delete at n5 while
  // two replaces run: c's, whose old version is deleted everywhere (the list
  // is rebuilt without it), then b's with n5 down (its old version is left
  // pending at n5 in the rebuilt list).
  let held = false
  retryHooks.beforeDelete = async () => {
    if (held) return
    held = true
    await c.replace('c', { password: 'c2' })
    await net.kill('n5')
    try {
      await c.replace('b', { password: 'b2' }, { minAcks: 4 })
    } finally {
      await net.restart('n5')
    }
  }
  try {
    c.lock()
    await c.unlock(password)
  } finally {
    retryHooks.beforeDelete = undefined
  }
  assert.ok(held, 'the retry did not run')
  assert.deepEqual(
    onDisk('lea').pendingDeletes.map((p) => [toHex(p.id), p.version, p.nodes]),
    [[b!, 1n, ['n5']]],
  )
  // The next retry deletes it.
  c.lock()
  await c.unlock(password)
  assert.deepEqual(onDisk('lea').pendingDeletes, [])
  assert.deepEqual(await c.getMany(['a', 'b', 'c']), [{ password: 'a2' }, { password: 'b2' }, { password: 'c2' }])
  await close(c)
})

test('a get that fails at a later record wipes the plaintexts of the records it opened before it', async () => {
  const c = await enrolled('max', { a: { password: 'pa' }, b: { password: 'pb' } })
  await close(c)
  // A copy of the vault from before b is replaced: the nodes no longer hold
  // the version of b it knows, so a get of a then b opens a and fails at b.
  mkdirSync(join(dir, 'max-old'), { recursive: true })
  copyFileSync(join(dir, 'max', 'vault.json'), join(dir, 'max-old', 'vault.json'))
  const now = await reopen('max')
  await now.replace('b', { password: 'pb2' })
  await close(now)
  const old = await reopen('max-old')
  const opened: Uint8Array[] = []
  releaseHooks.opened = (p) => opened.push(p)
  try {
    await assert.rejects(old.getMany(['a', 'b']), NotEnoughCustodiansError)
  } finally {
    releaseHooks.opened = undefined
  }
  assert.equal(opened.length, 1, 'a was not opened')
  assert.ok(opened[0]!.length > 0 && opened[0]!.every((x) => x === 0), "a's plaintext was not wiped")
  await close(old)
})

/** The steps of a change a kill is simulated at: before any share is placed, with one node's share placed, with every share placed, after the commit, after the old versions' deletes. */
const killPoints = ['staged', 'put n2', 'placed', 'committed', 'deleted']

test('a change stopped at any step leaves every record open, and the next unlock finishes it', async () => {
  const want: Record<string, string> = { a: 'pa', b: 'pb' }
  let c = await enrolled('kim', { a: { password: want.a! }, b: { password: want.b! } })
  let round = 0
  for (const op of ['replace', 'rotate'] as const) {
    for (const step of killPoints) {
      round++
      const what = `${op} stopped at ${step}`
      const killed = new Error(`killed at ${step}`)
      changeHooks.fault = (s) => (s === step ? killed : undefined)
      const versions = Object.fromEntries(c.list().map((u) => [u.label, u.version]))
      const next = { ...want }
      if (op === 'replace') {
        next.a = `pa ${round}`
        await assert.rejects(c.replace('a', { password: next.a }), (e) => e === killed, what)
      } else {
        await assert.rejects(c.rotate(), (e) => e === killed, what)
      }
      await close(c)

      // Opened again, with the same step still failing: the change is in
      // the vault until it is committed, and every record opens, at its
      // old version or at its new one.
      c = await reopen('kim', false)
      const committed = step === 'committed' || step === 'deleted'
      assert.equal(c.pendingChanges().length, committed ? 0 : op === 'replace' ? 1 : 2, what)
      await c.unlock(password)
      const got = await c.getMany(['a', 'b'])
      assert.ok(got[0]!.password === want.a || got[0]!.password === next.a, `${what}: a holds ${got[0]!.password}`)
      assert.equal(got[1]!.password, want.b, what)

      // Then the next unlock finishes it.
      changeHooks.fault = undefined
      c.lock()
      await c.unlock(password)
      assert.deepEqual(c.pendingChanges(), [], what)
      assert.deepEqual(onDisk('kim').pendingDeletes, [], `${what}: deletes left`)
      assert.deepEqual(await c.getMany(['a', 'b']), [{ password: next.a }, { password: next.b }], what)
      for (const u of c.list()) {
        if (op === 'rotate' || u.label === 'a') assert.ok(u.version > versions[u.label]!, `${what}: ${u.label} is still at version ${u.version}`)
        assert.equal(u.degraded, false, what)
      }
      Object.assign(want, next)
    }
  }
  await close(c)
})

test('a replace by the SDK is logged as the Go client logs its own: audit report passes and shows the same changes', async () => {
  const must = async (args: string[], input?: string) => {
    const r = await custos(args, input)
    assert.equal(r.code, 0, `custos ${args.join(' ')}: ${r.stdout}${r.stderr}`)
    return r.stdout
  }
  await must(['init', '--network', join(dir, 'network.yaml'), '--user', 'gopher'])
  await must(['enroll', ...Object.entries(await net.invite('gopher')).flatMap(([n, t]) => ['--token', `${n}=${t}`])])
  await must(['put', 'portal', '--username', 'svc'], 'old')
  await must(['put', 'portal', '--username', 'svc', '--replace'], 'new')
  const goId = (await must(['ls', '--json'])).match(/"unit_id":\s*"([0-9a-f]{32})"/)?.[1]
  assert.ok(goId !== undefined)

  const c = await enrolled('jsgopher', { portal: { username: 'svc', password: 'old' } })
  await c.replace('portal', { username: 'svc', password: 'new' })
  assert.deepEqual(await c.get('portal'), { username: 'svc', password: 'new' })
  const jsId = c.list()[0]!.id
  await close(c)

  const report = async (id: string) => {
    const out = await must(['--vault', join(dir, 'none.db'), 'audit', 'report', '--unit', id, '--network', join(dir, 'network.yaml'), '--key', auditorKey])
    assert.match(out, /0 flagged$/m, out)
    return out
      .split('\n')
      .filter((l) => / change /.test(l))
      .map((l) => l.replace(/^\S+\s+change\s+/, ''))
      .sort()
  }
  const js = await report(jsId)
  assert.deepEqual(js, [...each(all, 'replace: deleted version 1'), ...each(all, 'replace: stored version 2')].map((l) => l.replace(' ', '  ')).sort())
  assert.deepEqual(js, await report(goId))
})
