// Resharing to a new network file against real custosd processes: five
// nodes run, the vault starts on n1..n3 (threshold 2) and moves to n2..n5
// (threshold 3): n1 leaves, n4 and n5 join. The records open after on the
// new network (also with a node of it down, so the joining nodes hold
// shares), n1 holds no account nor share of the user, a reshare stopped at
// each stage is finished by the next call, a joining node without a token
// stops it until one is given, the plan refuses bad files and tokens, and a
// reshare to the vault's own file mends its degraded records, and a
// key share whose delivery the vault could not record is delivered again.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { networkFile } from './netfile.js'
import { Client, MemoryStorage, NoTokenError, NotEnoughCustodiansError, ReshareUnderWayError, VaultFormatError, type SecretRecord } from '../src/index.js'
import { changeHooks } from '../src/change.js'
import { utf8 } from '../src/bytes.js'
import { decodeVault, encodeVault, type VaultData } from '../src/vault/vault.js'
import { sealReshare } from '../src/vault/reshare.js'
import { Clients } from './clients.js'
import { FileStorage, nodeTransports } from '../src/node/index.js'
import { Devnet } from './devnet.js'

const password = 'reshare tests password'
let net: Devnet
let dir: string
let oldFile: Uint8Array
let newFile: Uint8Array
let clients: Clients

/** fileOf is a network file of the named nodes with threshold k. */
function fileOf(names: string[], k: number): Uint8Array {
  return networkFile(names.map((n) => net.node(n).card), k)
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'custos-js-reshare-'))
  clients = new Clients(dir, password)
  net = await Devnet.start({ n: 5, k: 2 })
  oldFile = fileOf(['n1', 'n2', 'n3'], 2)
  newFile = fileOf(['n2', 'n3', 'n4', 'n5'], 3)
})

after(async () => {
  changeHooks.fault = undefined
  await clients?.closeAll()
  await net?.stop()
  rmSync(dir, { recursive: true, force: true })
})



const storageOf = (user: string) => clients.storageOf(user)
const reopen = (user: string, unlock = true) => clients.reopen(user, unlock)
const close = (c: Client) => clients.close(c)

function onDisk(user: string): VaultData {
  return decodeVault(readFileSync(join(dir, user, 'vault.json')))
}

const records: Record<string, SecretRecord> = { acme: { username: 'svc', password: 'acme secret' }, globex: { password: 'globex secret' }, initech: { username: 'ci', password: 'initech secret' } }

/** enrolled makes user's vault on the old network, enrolls it there and puts the records; the client is closed. */
async function enrolled(user: string): Promise<void> {
  await Client.init(storageOf(user), oldFile, user)
  const c = await reopen(user, false)
  const res = await c.enroll(password, await net.invite(user, { names: ['n1', 'n2', 'n3'] }))
  assert.deepEqual(
    res.map((r) => r.state),
    ['enrolled now', 'enrolled now', 'enrolled now'],
  )
  await c.unlock(password)
  for (const [label, rec] of Object.entries(records)) await c.put(label, rec)
  await close(c)
}

/** joinTokens are fresh invite tokens of the joining nodes for user. */
async function joinTokens(user: string): Promise<Record<string, string>> {
  return net.invite(user, { names: ['n4', 'n5'] })
}

/** opensOnNewNetwork checks that user's vault is on the new network and every record opens there. */
async function opensOnNewNetwork(user: string): Promise<void> {
  const c = await reopen(user)
  assert.equal(c.network.threshold, 3)
  assert.deepEqual(
    c.network.nodes.map((n) => n.name),
    ['n2', 'n3', 'n4', 'n5'],
  )
  assert.equal(c.pendingReshare(), 0)
  for (const u of c.list()) {
    assert.equal(u.threshold, 3, u.label)
    assert.equal(u.nodes, 4, u.label)
    assert.equal(u.degraded, false, u.label)
  }
  for (const [label, rec] of Object.entries(records)) assert.deepEqual(await c.get(label), rec)
  await close(c)
}

/** nodeStatus is a node's account and share counts. */
async function nodeStatus(name: string): Promise<{ accounts: number; shares: number }> {
  const st = JSON.parse(await net.custosd(name, 'status', '--json')) as Record<string, unknown>
  assert.ok(typeof st.accounts === 'number' && typeof st.shares === 'number', JSON.stringify(st))
  return { accounts: st.accounts, shares: st.shares }
}

test('the vault keeps a reshare under way, round trip, and refuses a damaged one', async () => {
  const s = new MemoryStorage()
  await Client.init(s, oldFile, 'vera')
  const v = decodeVault(s.doc!)
  v.login = { epoch: 1, threshold: 2, shares: ['n1', 'n2', 'n3'].map((n, i) => ({ node: n, peerId: net.node(n).card.peer_id, index: i + 1, publicShare: element(i + 1) })) }
  const nodes = ['n2', 'n3', 'n4', 'n5'].map((n, i) => ({ name: n, peerId: net.node(n).card.peer_id, index: i + 1, publicShare: element(i + 1), authPublicKey: new Uint8Array(32).fill(9), keyShare: i < 2 ? new Uint8Array(32).fill(i + 1) : null }))
  v.reshare = { network: newFile, stage: 1, epoch: 2, threshold: 3, nodes, mac: new Uint8Array(0) }
  sealReshare(v.masterSecret, v.reshare)
  v.closedAccounts = ['n1']
  const back = decodeVault(encodeVault(v))
  assert.deepEqual(back.reshare, v.reshare)
  assert.deepEqual(back.closedAccounts, ['n1'])
  const good = JSON.parse(new TextDecoder().decode(encodeVault(v))) as Record<string, unknown>
  const r = (j: Record<string, unknown>) => j.reshare as Record<string, unknown>
  const node = (j: Record<string, unknown>, i: number) => (r(j).nodes as Record<string, unknown>[])[i]!
  const cases: [string, (j: Record<string, unknown>) => void, RegExp][] = [
    ['an unknown field', (j) => (r(j).extra = 1), /vault\.reshare has an unknown field "extra"/],
    ['a stage out of range', (j) => (r(j).stage = 4), /vault\.reshare\.stage is not a whole number from 1 to 3/],
    ['an epoch that does not follow the login', (j) => (r(j).epoch = 3), /vault\.reshare\.epoch is not the login dealing's plus one/],
    ['a threshold not the file', (j) => (r(j).threshold = 2), /vault\.reshare\.threshold is not the new network file's/],
    ['a node out of place', (j) => (node(j, 0).name = 'n3'), /vault\.reshare\.nodes\[0\]\.name is not the new network file's node at that place/],
    ['a public share that is no element', (j) => (node(j, 1).public_share = 'ff'.repeat(32)), /public_share is not a ristretto255 element/],
    ['a key share held after dealing', (j) => (r(j).stage = 2), /key_share is held after the new dealing was dealt/],
    ['a file that does not parse', (j) => (r(j).network = Buffer.from('nodes: [').toString('base64')), /vault\.reshare\.network is not a network file/],
    ['closed accounts without a reshare', (j) => delete j.reshare, /closed_accounts is there without a reshare under way/],
  ]
  for (const [what, spoil, want] of cases) {
    const j = structuredClone(good)
    spoil(j)
    assert.throws(() => decodeVault(utf8(JSON.stringify(j))), (e: Error) => e instanceof VaultFormatError && want.test(e.message), what)
  }  // Any one character of the reshare changed: read, or refused with a VaultFormatError, nothing else.
  const doc = new TextDecoder().decode(encodeVault(v))
  const from = doc.indexOf('"reshare"')
  for (let i = from; i < doc.length; i++) {
    for (const ch of ['0', '"', 'z', '}']) {
      if (doc[i] === ch) continue
      try {
        decodeVault(utf8(doc.slice(0, i) + ch + doc.slice(i + 1)))
      } catch (e) {
        assert.ok(e instanceof VaultFormatError, `at ${i} (${ch}): ${(e as Error).name}: ${(e as Error).message}`)
      }
    }
  }
})

/** element is a valid ristretto255 element: i times the base point's encoding, found by the SDK's own dealing. */
function element(i: number): Uint8Array {
  return elements[i - 1]!
}
const elements: Uint8Array[] = []

before(async () => {
  const { dealLogin } = await import('../src/threshold/toprf.js')
  const d = dealLogin(new Uint8Array(64).fill(1), 2, 4)
  d.rwd.wipe()
  for (const s of d.shares) elements.push(s.publicShare)
})

test('the plan says who stays, joins and leaves, and refuses bad files and tokens', async () => {
  await Client.init(storageOf('paula'), oldFile, 'paula')
  const c = await reopen('paula', false)
  const plan = c.planReshare(newFile, { n4: 'tok' })
  assert.deepEqual(plan, { oldThreshold: 2, newThreshold: 3, stay: ['n2', 'n3'], join: ['n4', 'n5'], leave: ['n1'], records: 0, degraded: 0, missingTokens: ['n5'], underWay: 0 })
  assert.throws(() => c.planReshare(utf8('version: 1\nthreshold: [')), /network/)
  assert.throws(() => c.planReshare(fileOf(['n2', 'n3'], 3)), /threshold/)
  assert.throws(() => c.planReshare(newFile, { n9: 'tok' }), /a token names node "n9", which is not in the new network file/)
  assert.throws(() => c.planReshare(newFile, { n2: 'tok' }), /a token names node "n2", which is in the network already: only nodes that join need one/)
  assert.throws(() => c.planReshare(newFile, { n4: 'x'.repeat(5000) }), /the token for n4 is too long/)
  await close(c)
})

test('a reshare moves every record to the new network: the joining nodes hold shares, the node that left nothing', async () => {
  await enrolled('alice')
  const c = await reopen('alice', false)
  const plan = c.planReshare(newFile, {})
  assert.deepEqual([plan.stay, plan.join, plan.leave, plan.records, plan.missingTokens], [['n2', 'n3'], ['n4', 'n5'], ['n1'], 3, ['n4', 'n5']])
  const seen: [number, number][] = []
  const res = await c.reshare(newFile, password, await joinTokens('alice'), { progress: (d, t) => seen.push([d, t]) })
  assert.deepEqual(res, { moved: 3, unreached: [] })
  assert.deepEqual(seen.at(-1), [3, 3])
  assert.equal(c.pendingReshare(), 0)
  assert.equal(c.unlocked, false)
  await close(c)
  const v = onDisk('alice')
  assert.equal(v.reshare, null)
  assert.equal(v.login!.epoch, 2)
  assert.deepEqual(v.pendingDeletes, [])
  assert.deepEqual(v.changes, [])
  assert.deepEqual(await nodeStatus('n1'), { accounts: 0, shares: 0 })
  await opensOnNewNetwork('alice')
  // Three of the four new nodes open every record: the joining ones hold their shares.
  for (const down of ['n2', 'n3']) {
    await net.kill(down)
    try {
      const d = await reopen('alice')
      for (const [label, rec] of Object.entries(records)) assert.deepEqual(await d.get(label), rec)
      await close(d)
    } finally {
      await net.restart(down)
    }
  }
  // The vault's own network file again: nothing to mend.
  const again = await reopen('alice', false)
  assert.deepEqual(await again.reshare(newFile, password), { moved: 0, unreached: [] })
  await close(again)
})

test('a joining node without a token stops the reshare at the dealing until a call gives it', async () => {
  await enrolled('bob')
  const c = await reopen('bob', false)
  const tokens = await joinTokens('bob')
  await assert.rejects(
    c.reshare(newFile, password, { n4: tokens.n4! }),
    (e: Error) => e instanceof NotEnoughCustodiansError && e.nodes.length === 1 && e.nodes[0]!.node === 'n5' && e.nodes[0]!.cause instanceof NoTokenError,
  )
  assert.equal(c.pendingReshare(), 1)
  assert.deepEqual(c.planReshare(newFile, {}).missingTokens, ['n5'])
  // Meanwhile: no other file, no change of records.
  await assert.rejects(c.reshare(fileOf(['n2', 'n3', 'n4'], 2), password, { n4: tokens.n4! }), ReshareUnderWayError)
  assert.throws(() => c.planReshare(fileOf(['n2', 'n3', 'n4'], 2)), ReshareUnderWayError)
  await c.unlock(password)
  await assert.rejects(c.rotate(), ReshareUnderWayError)
  await assert.rejects(c.changePassword(password, 'another'), ReshareUnderWayError)
  assert.deepEqual(await c.reshare(newFile, password, { n5: tokens.n5! }), { moved: 3, unreached: [] })
  await close(c)
  await opensOnNewNetwork('bob')
})

test('a reshare stopped at any step is finished by the next call', async () => {
  const steps = ['reshare delivered', 'staged', 'put n4', 'placed', 'committed', 'deleted', 'closed n1', 'reshare moved', 'reshare commit', 'reshare finished']
  for (const [i, step] of steps.entries()) {
    const user = `carol${i}`
    await enrolled(user)
    const tokens = await joinTokens(user)
    const c = await reopen(user, false)
    changeHooks.fault = (s) => (s === step ? new Error(`killed at ${s}`) : undefined)
    try {
      await assert.rejects(c.reshare(newFile, password, tokens), new RegExp(`killed at ${step}`), step)
    } finally {
      changeHooks.fault = undefined
    }
    await close(c)
    const d = await reopen(user, false)
    // Stopped after the end, the vault is on the new network, where no node joins.
    const finished = step === 'reshare finished'
    assert.equal(d.pendingReshare() === 0, finished, step)
    const res = await d.reshare(newFile, password, finished ? {} : tokens)
    assert.deepEqual(res.unreached, [], step)
    assert.equal(d.pendingReshare(), 0, step)
    await close(d)
    assert.deepEqual(onDisk(user).pendingDeletes, [], step)
    await opensOnNewNetwork(user)
  }
  assert.deepEqual(await nodeStatus('n1'), { accounts: 0, shares: 0 })
})

test('a reshare to the network the vault is on mends its degraded records, and refuses the same nodes at other addresses', async () => {
  const file = fileOf(['n1', 'n2', 'n3', 'n4'], 2)
  await Client.init(storageOf('dave'), file, 'dave')
  const c = await reopen('dave', false)
  await c.enroll(password, await net.invite('dave', { names: ['n1', 'n2', 'n3', 'n4'] }))
  await c.unlock(password)
  await c.put('acme', records.acme!)
  await net.kill('n4')
  try {
    await c.put('globex', records.globex!, { minAcks: 3 })
  } finally {
    await net.restart('n4')
  }
  assert.deepEqual(
    c.list().map((u) => [u.label, u.degraded]),
    [
      ['acme', false],
      ['globex', true],
    ],
  )
  const plan = c.planReshare(file)
  assert.deepEqual([plan.stay, plan.join, plan.leave, plan.records, plan.degraded], [['n1', 'n2', 'n3', 'n4'], [], [], 1, 1])
  const moved = utf8(new TextDecoder().decode(file).replace(/\n/g, '\n\n'))
  await assert.rejects(c.reshare(moved, password), /with other addresses or names: adopt it with updateNetwork/)
  assert.deepEqual(await c.reshare(file, password), { moved: 1, unreached: [] })
  await close(c)
  const d = await reopen('dave')
  assert.deepEqual(
    d.list().map((u) => [u.label, u.degraded, u.version]),
    [
      ['acme', false, 1n],
      ['globex', false, 2n],
    ],
  )
  assert.deepEqual(await d.get('globex'), records.globex)
  await close(d)
})

test('a reshare whose vault could not record a delivered key share delivers the same share again, not a wiped one', async () => {
  const user = 'walter'
  await enrolled(user)
  const tokens = await joinTokens(user)
  // The save that records the first node's key share as delivered fails, once.
  let failed = false
  const storage = new (class extends FileStorage {
    override async save(doc: Uint8Array) {
      const r = (JSON.parse(new TextDecoder().decode(doc)) as { reshare?: { nodes: object[] } }).reshare
      if (!failed && r !== undefined && r.nodes.filter((n) => 'key_share' in n).length === r.nodes.length - 1) {
        failed = true
        throw new Error('disk full')
      }
      await super.save(doc)
    }
  })(storageOf(user).path)
  const c = await Client.open(storage, { transports: nodeTransports() })
  try {
    await assert.rejects(c.reshare(newFile, password, tokens), /disk full/)
    assert.ok(failed)
    assert.equal(c.pendingReshare(), 1)
    // The same client (the vault in memory) finishes it.
    assert.deepEqual(await c.reshare(newFile, password, tokens), { moved: 3, unreached: [] })
  } finally {
    await c.close()
  }
  await opensOnNewNetwork(user)
})
