// Changing the password at every node against a real local network of five
// custosd processes (threshold 3), as the Go client's tests do
// (client/passwd_test.go): the new password logs in and the old one is
// refused; a node down before, while staging and while committing, then
// back; an abort keeps the old password; a change stopped after staging,
// after the first commit, and after a node committed but before the vault
// recorded it, and which password logs in then; an auditor's
// `custos audit verify --full` over the nodes after it. Then the vault's
// record of a change: written and read back, sealed, and checked.
import { after, afterEach, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  ChangeCommittedError,
  Client,
  DamagedLoginError,
  MemoryStorage,
  NoPasswordChangeError,
  NotEnoughCustodiansError,
  PasswordChangePendingError,
  VaultFormatError,
  VaultLockedError,
  WrongPasswordError,
  type PasswdProgress,
} from '../src/index.js'
import { FileStorage, nodeTransports } from '../src/node/index.js'
import { toHex, utf8 } from '../src/bytes.js'
import { parseNetwork } from '../src/network.js'
import { encodeScalar, publicShare } from '../src/threshold/toprf.js'
import { passwdMac, checkPasswdMac, sealPasswdChange, type PasswordChange } from '../src/vault/passwd.js'
import { decodeVault, encodeVault, type VaultData } from '../src/vault/vault.js'
import { dealingInUse, noteMac } from '../src/passwd.js'
import { binaries, Devnet } from './devnet.js'

const password = 'correct horse battery staple'
const newPassword = 'tr0ub4dor&3 is not the new password'
const third = 'a third password, for epoch 3'
let net: Devnet
let dir: string
let auditKey: string
let auditor = ''

/** custos runs the Go CLI with a home of its own. */
function custos(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return binaries().then(
    (bin) =>
      new Promise((resolve) => {
        const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir }
        execFile(join(bin, 'custos'), args, { env, cwd: dir }, (err, stdout, stderr) => resolve({ stdout, stderr, code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1 }))
      }),
  )
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'custos-js-passwd-'))
  auditKey = join(dir, 'auditor.key')
  const init = await custos(['audit', 'init', '--key', auditKey])
  assert.equal(init.code, 0, init.stderr)
  auditor = init.stdout.split('\n').find((l) => l.startsWith('12D3KooW'))!
  net = await Devnet.start({ n: 5, k: 3, auditors: [auditor] })
})

// A test that failed with a node down does not take the next one with it.
afterEach(async () => {
  for (const n of net?.nodes ?? []) if (n.proc === undefined || n.proc.exitCode !== null || n.proc.signalCode !== null) await net.restart(n.name)
})

after(async () => {
  await net?.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** Steps records the progress of changes as "node step" lines ("all step" for the change as a whole) and runs the hook set for a line, once. */
class Steps {
  seen: string[] = []
  hooks = new Map<string, () => void | Promise<void>>()
  on(line: string, hook: () => void | Promise<void>): void {
    this.hooks.set(line, hook)
  }
  progress = async (p: PasswdProgress): Promise<void> => {
    const line = `${p.node || 'all'} ${p.step}`
    this.seen.push(line)
    const hook = this.hooks.get(line)
    this.hooks.delete(line)
    await hook?.()
  }
  take(): string[] {
    const out = this.seen
    this.seen = []
    return out
  }
}

function open(storage: FileStorage, steps?: Steps): Promise<Client> {
  return Client.open(storage, { transports: nodeTransports(), timeoutMs: 5000, ...(steps ? { passwdProgress: steps.progress } : {}) })
}

/** session runs fn with a client of storage's vault, closed after. */
async function session(storage: FileStorage, steps: Steps, fn: (c: Client) => Promise<void>): Promise<void> {
  const c = await open(storage, steps)
  try {
    await fn(c)
  } finally {
    await c.close()
  }
}

/** enrolled makes a vault for user, enrolled at every node, with one record. */
async function enrolled(user: string): Promise<FileStorage> {
  const storage = new FileStorage(join(dir, user, 'vault.json'))
  await Client.init(storage, net.networkFile, user)
  const c = await open(storage)
  try {
    const res = await c.enroll(password, await net.invite(user))
    assert.ok(res.every((r) => r.state === 'enrolled now'), JSON.stringify(res))
    await c.unlock(password)
    await c.put('acme-portal', { username: 'svc-acme', password: 'hunter2' })
  } finally {
    await c.close()
  }
  return storage
}

/** logsIn checks that pw opens the vault (want true, and the record with it) or is refused as a wrong password, in a client of its own. */
async function logsIn(storage: FileStorage, pw: string, want: boolean): Promise<void> {
  const c = await open(storage)
  try {
    const err = await c.unlock(pw).then(
      () => undefined,
      (e: unknown) => e,
    )
    if (want) {
      assert.equal(err, undefined, `the password that should log in is refused: ${String(err)}`)
      assert.deepEqual(await c.get('acme-portal'), { username: 'svc-acme', password: 'hunter2' })
    } else {
      assert.ok(err instanceof NotEnoughCustodiansError && err.reason === WrongPasswordError, `the password that should be refused: ${String(err)}`)
    }
  } finally {
    await c.close()
  }
}

/** failure awaits p, which must fail, and returns its error. */
async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail('it worked'),
    (e: unknown) => e,
  )
}

/** named checks that err is a NotEnoughCustodiansError naming exactly names. */
function named(err: unknown, names: string[]): NotEnoughCustodiansError {
  assert.ok(err instanceof NotEnoughCustodiansError, String(err))
  assert.deepEqual(err.nodes.map((n) => n.node), names, err.message)
  return err
}

test('a password change retires the old password and keeps the records', async () => {
  const storage = await enrolled('alice')
  const steps = new Steps()
  await session(storage, steps, async (c) => {
    await c.unlock(password)
    await c.changePassword(password, newPassword)
    const all = net.nodes.map((n) => n.name)
    assert.deepEqual(steps.take(), [...all.map((n) => `${n} staged`), 'all staged', ...all.map((n) => `${n} committed`), 'all committed'])
    assert.equal(c.pendingPasswordChange(), null)
    await assert.rejects(c.get('acme-portal'), VaultLockedError, 'the client is left locked')
    await c.unlock(newPassword)
    assert.deepEqual(await c.get('acme-portal'), { username: 'svc-acme', password: 'hunter2' })
  })
  await logsIn(storage, password, false)
  await logsIn(storage, newPassword, true)
  // Every node logged the stage and the commit of epoch 2 as PASSWORD entries: the auditor verifies them.
  const verify = await custos(['audit', 'verify', '--network', join(net.dir, 'network.yaml'), '--key', auditKey, '--state', join(dir, 'audit'), '--full'])
  assert.equal(verify.code, 0, verify.stderr)
  for (const n of net.nodes) assert.match(verify.stdout, new RegExp(`^${n.name}: OK`, 'm'))
})

test('a node down before, while staging and while committing: one password logs in, and the next call finishes', async () => {
  const storage = await enrolled('bob')
  const steps = new Steps()
  await session(storage, steps, async (c) => {
    // Down before the change: it needs every node, and records nothing.
    await net.kill('n5')
    named(await failure(c.changePassword(password, newPassword)), ['n5'])
    assert.equal(c.pendingPasswordChange(), null, 'a change that reached no node is recorded')
    await net.restart('n5')

    // Down while staging: the old password stays.
    steps.on('n1 staged', () => net.kill('n5'))
    named(await failure(c.changePassword(password, newPassword)), ['n5'])
    const staging = c.pendingPasswordChange()
    assert.deepEqual(staging && [staging.state, staging.epoch, staging.staged, staging.newPassword, staging.canAbort], ['staging', 2, ['n1', 'n2', 'n3', 'n4'], false, true])
  })
  await logsIn(storage, password, true)
  await logsIn(storage, newPassword, false)
  await net.restart('n5')
  steps.take()
  await session(storage, steps, async (c) => {
    await c.changePassword(password, newPassword)
    const got = steps.take()
    assert.equal(got.length, 12, `the change again took ${got}; want it dealt and staged anew at every node, then committed`)
    assert.equal(got[0], 'n1 staged')
  })
  await logsIn(storage, newPassword, true)
  await logsIn(storage, password, false)

  // Down while committing: only finishing, with the new password.
  await session(storage, steps, async (c) => {
    steps.on('n2 committed', () => net.kill('n5'))
    named(await failure(c.changePassword(newPassword, third)), ['n5'])
    const p = c.pendingPasswordChange()
    assert.deepEqual(p && [p.state, p.epoch, p.committed, p.newPassword, p.canAbort], ['committing', 3, ['n1', 'n2', 'n3', 'n4'], true, false])
    await assert.rejects(c.abortPasswordChange(newPassword), ChangeCommittedError)
  })
  await logsIn(storage, third, true) // n1 to n4 hold it
  await logsIn(storage, newPassword, false)
  await net.restart('n5')
  steps.take()
  await session(storage, steps, async (c) => {
    await c.changePassword('', third)
    assert.deepEqual(steps.take(), ['n5 committed', 'all committed'])
  })
  await logsIn(storage, third, true)
  await logsIn(storage, newPassword, false)
})

test('a change every node staged can be aborted with the old password, which then logs in again', async () => {
  const storage = await enrolled('carol')
  const steps = new Steps()
  await session(storage, steps, async (c) => {
    const stop = new AbortController()
    steps.on('all staged', () => stop.abort())
    await assert.rejects(c.changePassword(password, newPassword, { signal: stop.signal }), { name: 'AbortError' })
    const p = c.pendingPasswordChange()
    assert.deepEqual(p && [p.state, p.newPassword, p.canAbort], ['staged', true, true])
    await assert.rejects(c.enroll(password, {}), PasswordChangePendingError)

    // With n5 down no commit is sent: the change stays abortable.
    await net.kill('n5')
    named(await failure(c.changePassword('', newPassword)), ['n5'])
    assert.equal(c.pendingPasswordChange()?.state, 'staged', 'finishing with n5 down sent a commit')
  })
  await logsIn(storage, newPassword, true)

  await session(storage, steps, async (c) => {
    const wrong = await failure(c.abortPasswordChange('not the password'))
    assert.ok(wrong instanceof NotEnoughCustodiansError && wrong.reason === WrongPasswordError, String(wrong))
    assert.equal(c.pendingPasswordChange()?.state, 'staged', 'a refused abort changed the change')
    steps.take()
    named(await failure(c.abortPasswordChange(password)), ['n5'])
    const p = c.pendingPasswordChange()
    assert.deepEqual(p && [p.state, p.staged, p.newPassword], ['aborting', ['n5'], false])
    assert.deepEqual(steps.take(), ['n1 aborted', 'n2 aborted', 'n3 aborted', 'n4 aborted'])
  })
  await logsIn(storage, password, true)

  await net.restart('n5')
  await session(storage, steps, async (c) => {
    await c.abortPasswordChange(password)
    assert.deepEqual(steps.take(), ['n5 aborted', 'all aborted'])
    assert.equal(c.pendingPasswordChange(), null)
    await assert.rejects(c.abortPasswordChange(password), NoPasswordChangeError)
  })
  await logsIn(storage, password, true)
  await logsIn(storage, newPassword, false)
})

test('a change stopped after the first commit, or after a node committed but before the vault recorded it, is finished with the new password', async () => {
  const storage = await enrolled('dave')
  const steps = new Steps()
  await session(storage, steps, async (c) => {
    const stop = new AbortController()
    steps.on('n1 committed', () => stop.abort())
    await assert.rejects(c.changePassword(password, newPassword, { signal: stop.signal }), { name: 'AbortError' })
    const p = c.pendingPasswordChange()
    assert.deepEqual(p && [p.state, p.committed, p.newPassword, p.canAbort], ['committing', ['n1'], true, false])
    await assert.rejects(c.abortPasswordChange(password), ChangeCommittedError)
  })
  await logsIn(storage, newPassword, true)
  await logsIn(storage, password, false)

  // A crash after n3 answered its commit, before the vault recorded it: told first, recorded after.
  await session(storage, steps, async (c) => {
    steps.on('n3 committed', () => {
      throw new Error('stopped here')
    })
    await assert.rejects(c.changePassword('', newPassword), /stopped here/)
    assert.deepEqual(c.pendingPasswordChange()?.committed, ['n1', 'n2'])
  })
  await logsIn(storage, newPassword, true)
  steps.take()
  await session(storage, steps, async (c) => {
    await c.changePassword('', newPassword)
    assert.deepEqual(steps.take(), ['n3 committed', 'n4 committed', 'n5 committed', 'all committed'], 'n3, which committed before, is taken as committed')
    assert.equal(c.pendingPasswordChange(), null)
  })
  await logsIn(storage, newPassword, true)
  await logsIn(storage, password, false)
})

test('a progress callback that throws at the last step of a change or an abort is logged, and the change or abort is done', async () => {
  const storage = await enrolled('fiona')
  const warnings: string[] = []
  const stop = new AbortController()
  let stopStaged = false
  const c = await Client.open(storage, {
    transports: nodeTransports(),
    timeoutMs: 5000,
    logger: { warn: (m) => warnings.push(m) },
    passwdProgress: (p) => {
      if (p.node !== '') return
      if (p.step === 'staged') return stopStaged ? stop.abort() : undefined
      // A rejected promise for one, a throw for the other.
      if (p.step === 'committed') return Promise.reject(new Error('callback secret'))
      throw new Error('callback secret')
    },
  })
  try {
    await c.changePassword(password, newPassword)
    assert.equal(c.pendingPasswordChange(), null)
    // A change staged everywhere, then aborted.
    stopStaged = true
    await assert.rejects(c.changePassword(newPassword, third, { signal: stop.signal }), { name: 'AbortError' })
    assert.equal(c.pendingPasswordChange()?.state, 'staged')
    await c.abortPasswordChange(newPassword)
    assert.equal(c.pendingPasswordChange(), null)
  } finally {
    await c.close()
  }
  assert.equal(warnings.filter((w) => /progress callback threw/.test(w)).length, 2, warnings.join('\n'))
  assert.ok(!warnings.some((w) => w.includes('callback secret')), 'the callback\'s error was logged')
  await logsIn(storage, newPassword, true)
  await logsIn(storage, third, false)
})

test('a node that restarts between its stage and its commit is logged in again under the dealing of the key the client holds, and the change goes on', async () => {
  const storage = await enrolled('erin')
  const steps = new Steps()
  await session(storage, steps, async (c) => {
    // Every node staged, so the vault's logins now take the new dealing; the
    // client's sessions and keys are still the old password's, and n3 must
    // be logged in again with them (under epoch 1) for its commit.
    steps.on('all staged', () => net.restart('n3'))
    await c.changePassword(password, newPassword)
    assert.equal(c.pendingPasswordChange(), null)
  })
  await logsIn(storage, newPassword, true)
  await logsIn(storage, password, false)
  // No login at n3 was refused on the way: its log holds no wrong signature.
  const verify = await custos(['audit', 'verify', '--network', join(net.dir, 'network.yaml'), '--key', auditKey, '--state', join(dir, 'audit'), '--full'])
  assert.equal(verify.code, 0, verify.stderr)
})

// --- the vault's record of a change, with no network

/** element is i·G, a ristretto255 element. */
const element = (i: number) => publicShare(encodeScalar(BigInt(i)))

/** aVault is a vault enrolled at the devnet's five nodes (epoch 1), read from storage as the client reads it. */
async function aVault(): Promise<VaultData> {
  const s = new MemoryStorage()
  await Client.init(s, net.networkFile, 'alice')
  const v = decodeVault((await s.load())!)
  v.login = { epoch: 1, threshold: 3, shares: parseNetwork(net.networkFile).nodes.map((n, i) => ({ node: n.name, peerId: n.peerIdText, index: i + 1, publicShare: element(i + 2) })) }
  return v
}

const all = (b: boolean) => [b, b, b, b, b]

function aChange(v: VaultData, state: PasswordChange['state'], staged: boolean[], committed: boolean[]): PasswordChange {
  const p: PasswordChange = {
    state,
    epoch: 2,
    threshold: 3,
    nodes: v.login!.shares.map((s, i) => ({ name: s.node, peerId: s.peerId, index: s.index, publicShare: element(i + 10), staged: staged[i]!, committed: committed[i]! })),
    mac: new Uint8Array(0),
  }
  sealPasswdChange(v.masterSecret, p)
  return p
}

test('the vault writes a change under way and reads it back; a vault without one is written as before', async () => {
  const v = await aVault()
  const plain = encodeVault(v)
  assert.ok(!new TextDecoder().decode(plain).includes('password_change'), 'a vault with no change names one')
  assert.equal(decodeVault(plain).passwordChange, null)
  for (const [state, staged, committed] of [
    ['staging', [true, false, false, true, false], [false, false, false, false, false]],
    ['staged', [true, true, true, true, true], [false, false, false, false, false]],
    ['committing', [true, true, true, true, true], [true, false, true, false, false]],
    ['aborting', [false, true, false, false, false], [false, false, false, false, false]],
  ] as const) {
    v.passwordChange = aChange(v, state, [...staged], [...committed])
    const back = decodeVault(encodeVault(v))
    assert.deepEqual(back.passwordChange, v.passwordChange, state)
    assert.deepEqual(encodeVault(back), encodeVault(v), `${state}: written again the same`)
    checkPasswdMac(back.masterSecret, back.passwordChange!)
    // Which dealing logins use follows from the state.
    assert.equal(dealingInUse(back)!.epoch, state === 'staged' || state === 'committing' ? 2 : 1, state)
  }
})

test("a change's fields that do not match its MAC are refused before any node is asked", async () => {
  const v = await aVault()
  v.passwordChange = aChange(v, 'staged', all(true), all(false))
  const doc = JSON.parse(new TextDecoder().decode(encodeVault(v)))
  doc.password_change.nodes[1].public_share = toHex(element(2))
  const tampered = decodeVault(utf8(JSON.stringify(doc)))
  assert.throws(() => checkPasswdMac(tampered.masterSecret, tampered.passwordChange!), DamagedLoginError)
  assert.throws(() => dealingInUse(tampered), DamagedLoginError)
  // The MAC covers the state too: an aborting change made to look staged would name the new password.
  v.passwordChange = aChange(v, 'aborting', all(true), all(false))
  const moved = { ...v.passwordChange, state: 'staged' as const }
  assert.notDeepEqual(passwdMac(v.masterSecret, moved), v.passwordChange.mac)
  const s = new MemoryStorage()
  await Client.init(s, net.networkFile, 'alice')
  const c = await Client.open(s, { transports: nodeTransports() })
  try {
    assert.throws(() => c.checkPasswordChange(), /not enrolled/)
  } finally {
    await c.close()
  }
})

test('a change that breaks a rule of the format is refused, naming the rule', async () => {
  const v = await aVault()
  const bad = (f: (d: Record<string, any>) => void, why: RegExp) => {
    v.passwordChange = aChange(v, 'committing', all(true), [true, false, false, false, false])
    const doc = JSON.parse(new TextDecoder().decode(encodeVault(v)))
    f(doc)
    assert.throws(() => decodeVault(utf8(JSON.stringify(doc))), (e: Error) => e instanceof VaultFormatError && why.test(e.message), why.source)
  }
  bad((d) => (d.password_change.state = 'done'), /password_change\.state is not a known state/)
  bad((d) => (d.password_change.epoch = 3), /epoch is not the login dealing's plus one/)
  bad((d) => (d.password_change.threshold = 4), /threshold is not the login dealing's/)
  bad((d) => d.password_change.nodes.pop(), /nodes is not a list of 5 to 5/)
  bad((d) => (d.password_change.nodes[0].name = 'bolt'), /nodes\[0\]\.name is not the login dealing's node/)
  bad((d) => (d.password_change.nodes[2].public_share = 'ff'.repeat(32)), /public_share is not a ristretto255 element/)
  bad((d) => (d.password_change.nodes[1].staged = false), /committing, yet not staged at every node/)
  bad((d) => ((d.password_change.nodes[1].committed = true), (d.password_change.nodes[1].staged = false)), /committed is set, but not staged/)
  bad((d) => (d.password_change.state = 'staged'), /staged, yet .* committed at one/)
  bad((d) => (d.password_change.state = 'aborting'), /aborting, yet committed at a node/)
  bad((d) => (d.password_change.extra = 1), /unknown field "extra"/)
  bad((d) => (d.login = null), /password change of a vault with no login dealing/)
})

test('a login dealing that a change is checked against is read as the Go vault reads it: each node once, indexes ascending, every public share an element', async () => {
  const v = await aVault()
  const bad = (f: (d: Record<string, any>) => void, why: RegExp) => {
    const doc = JSON.parse(new TextDecoder().decode(encodeVault(v)))
    f(doc)
    assert.throws(() => decodeVault(utf8(JSON.stringify(doc))), (e: Error) => e instanceof VaultFormatError && why.test(e.message), why.source)
  }
  decodeVault(encodeVault(v))
  bad((d) => (d.login.shares[1].node = d.login.shares[0].node), /vault\.login\.shares names a node twice/)
  bad((d) => (d.login.shares[1].peer_id = d.login.shares[0].peer_id), /vault\.login\.shares names a node twice/)
  bad((d) => (d.login.shares[1].index = 1), /index is not above the one before/)
  bad((d) => ([d.login.shares[0].index, d.login.shares[1].index] = [2, 1]), /index is not above the one before/)
  bad((d) => (d.login.shares[3].public_share = 'ff'.repeat(32)), /shares\[3\]\.public_share is not a ristretto255 element/)
})

test("the change's MAC and the dealing note's MAC are the Go client's (known answers computed with client/vault and client)", () => {
  const m = Uint8Array.from({ length: 32 }, (_, i) => i + 1)
  const [a, b] = [element(2), element(3)]
  const note = { epoch: 2, threshold: 2, shares: [{ peerId: utf8('peer-a'), index: 1, publicShare: a }, { peerId: utf8('peer-b'), index: 2, publicShare: b }] }
  assert.equal(toHex(noteMac(m, 'alice', note)), 'aafbad5a1a130fa8d26e71da536c220113365b3cdd116ded6d8e7c4304136e0e')
  const change = {
    state: 'committing' as const,
    epoch: 2,
    threshold: 2,
    nodes: [
      { name: 'acme', peerId: 'peer-a', index: 1, publicShare: a, staged: true, committed: true },
      { name: 'bolt', peerId: 'peer-b', index: 2, publicShare: b, staged: true, committed: false },
    ],
  }
  assert.equal(toHex(passwdMac(m, change)), 'f3023f039dfbac61b962ec6cf959f0798f1db72d0d8d9879fc1a0546c55f93de')
})

test('a vault whose password_change holds anything at any place is read or refused with a VaultFormatError, never another error', async () => {
  const v = await aVault()
  v.passwordChange = aChange(v, 'committing', all(true), [true, false, true, false, false])
  const text = new TextDecoder().decode(encodeVault(v))
  const values: unknown[] = [null, -1, 0, 1, 2, 3, 2 ** 32, 2 ** 53, 1.5, '', 'x', 'staged', 'ff'.repeat(32), toHex(element(7)), [], [{}], {}, true, false]
  const rand = (n: number) => Math.floor(Math.random() * n)
  const read = (doc: Uint8Array, what: string) => {
    try {
      decodeVault(doc)
    } catch (e) {
      assert.ok(e instanceof VaultFormatError, `${what}: ${String(e)}`)
    }
  }
  for (let i = 0; i < 3000; i++) {
    const doc = JSON.parse(text)
    // Walk to a random place under password_change and put a random value there.
    let at: any = doc
    let key: string | number = 'password_change'
    for (let depth = 0; depth < 1 + rand(3) && typeof at[key] === 'object' && at[key] !== null; depth++) {
      at = at[key]
      const keys: (string | number)[] = Array.isArray(at) ? [...at.keys()] : Object.keys(at)
      if (keys.length === 0) break
      key = keys[rand(keys.length)]!
    }
    at[key] = values[rand(values.length)]
    read(utf8(JSON.stringify(doc)), `${String(key)}`)
  }
  const start = text.indexOf('"password_change"')
  for (let i = 0; i < 3000; i++) {
    const b = utf8(text)
    b[start + rand(b.length - start)] = rand(256)
    read(b, 'a byte changed')
  }
})
