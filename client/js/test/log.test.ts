// What the account's log and the device list read from a node, read
// strictly: restore entries as the Go side reads them (api/restore.go,
// ParseRestore, TestRestoreEntryText), so that the SDK and the Go client
// show the same entries of a node's log; a node's device list, peer IDs
// only. Both also under random mutations (the Go side's fuzz targets).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { DeviceInfoSchema, EntryKind, EntrySchema } from '../src/gen/custos_pb.js'
import { isRestore } from '../src/history.js'
import { MAX_DEVICES, parseDevices } from '../src/devices.js'
import { CustosError } from '../src/errors.js'

const root = new Uint8Array(32)
root[0] = 0xfe
root[31] = 0x01
const r64 = Buffer.from(root).toString('base64')
const replaces = 'restore: backup of log size 12 replaces a log of size 20 with root '

const admin = (text: string, o: { user?: string; kind?: EntryKind } = {}) => create(EntrySchema, { kind: o.kind ?? EntryKind.ADMIN, user: o.user ?? '', admin: text })

test('restore entries are read as strictly as the Go side reads them', () => {
  const cases: [string, string, boolean][] = [
    ['a restore into an empty data directory', 'restore: backup of log size 12', true],
    ['a restore of an empty backup', 'restore: backup of log size 0', true],
    ['a restore that says what it replaced', replaces + r64, true],
    ['the largest size', 'restore: backup of log size 9223372036854775807', true],
    ['a size with a leading zero is refused', 'restore: backup of log size 012', false],
    ['a negative size is refused', 'restore: backup of log size -1', false],
    ['a size with a sign is refused', 'restore: backup of log size +1', false],
    ['a size beyond int64 is refused', 'restore: backup of log size 9223372036854775808', false],
    ['no size is refused', 'restore: backup of log size ', false],
    ['a trailing space is refused', 'restore: backup of log size 12 ', false],
    ['a replaced log without a root is refused', 'restore: backup of log size 12 replaces a log of size 20', false],
    ['a root of 31 bytes is refused', replaces + Buffer.from(root.subarray(0, 31)).toString('base64'), false],
    ['a root in URL base64 is refused', replaces + Buffer.from(root).toString('base64url') + '=', false],
    ['a root in non-canonical base64 is refused', replaces + r64.slice(0, 42) + 'B=', false],
    ['text after the root is refused', replaces + r64 + ' ok', false],
    ['another admin text is refused', 'backup', false],
    ['another wording is refused', 'restore: a backup of log size 12', false],
  ]
  for (const [name, text, want] of cases) assert.equal(isRestore(admin(text)), want, name)
  assert.equal(isRestore(admin('restore: backup of log size 12', { user: 'alice' })), false, "a user's entry is not a restore entry")
  assert.equal(isRestore(admin('restore: backup of log size 12', { kind: EntryKind.LOGIN })), false, 'only an ADMIN entry is')
})

test('mutated restore texts never throw, and every one accepted is in canonical form', () => {
  const seeds = ['restore: backup of log size 12', replaces + r64, 'restore: backup of log size 0']
  const alphabet = 'restore: backuplgsizwhtARS0123456789+/=-_ '
  let accepted = 0
  for (let i = 0; i < 20000; i++) {
    const chars = [...seeds[i % seeds.length]!]
    for (let m = 1 + (i % 3); m > 0; m--) {
      const at = Math.floor(Math.random() * (chars.length + 1))
      const c = alphabet[Math.floor(Math.random() * alphabet.length)]!
      const op = Math.floor(Math.random() * 3)
      if (op === 0) chars.splice(at, 1)
      else if (op === 1) chars.splice(at, 0, c)
      else chars[Math.min(at, chars.length - 1)] = c
    }
    const text = chars.join('')
    if (!isRestore(admin(text))) continue
    accepted++
    const m = /^restore: backup of log size (\d+)(?: replaces a log of size (\d+) with root (\S+))?$/.exec(text)!
    let canonical = `restore: backup of log size ${BigInt(m[1]!)}`
    if (m[2] !== undefined) canonical += ` replaces a log of size ${BigInt(m[2])} with root ${Buffer.from(Buffer.from(m[3]!, 'base64')).toString('base64')}`
    assert.equal(text, canonical)
    assert.equal(Buffer.from(m[3] ?? r64, 'base64').length, 32)
  }
  assert.ok(accepted > 0)
})

test("a node's device list is read strictly: peer IDs only, at most 16 devices", async () => {
  const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const good = id.toMultihash().bytes
  const info = (peerId: Uint8Array, revoked = 0n) => create(DeviceInfoSchema, { peerId, addedUnixMs: 1000n, revokedUnixMs: revoked })
  assert.deepEqual(parseDevices([info(good), info(good, 2000n)], id.toString()), [
    { id: id.toString(), added: new Date(1000), this: true },
    { id: id.toString(), added: new Date(1000), revoked: new Date(2000), this: true },
  ])
  assert.throws(() => parseDevices(Array.from({ length: MAX_DEVICES + 1 }, () => info(good)), ''), CustosError)
  for (let i = 0; i < 5000; i++) {
    const b = good.slice(0, Math.floor(Math.random() * (good.length + 4)))
    const j = Math.floor(Math.random() * b.length)
    if (b.length > 0) b[j] = b[j]! ^ (1 << Math.floor(Math.random() * 8))
    try {
      const [d] = parseDevices([info(b)], '')
      assert.equal(d!.id.length > 0, true)
    } catch (e) {
      assert.ok(e instanceof CustosError, String(e))
      assert.equal((e as Error).message, 'the node listed a device that is not a peer ID')
    }
  }
})
