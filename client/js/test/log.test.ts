// The restore entries the account's log keeps beside the user's own
// (Client.log): read as strictly as the Go side (api/restore.go,
// ParseRestore, TestRestoreEntryText), so that the SDK and the Go client
// show the same entries of a node's log.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { EntryKind, EntrySchema } from '../src/gen/custos_pb.js'
import { isRestore } from '../src/history.js'

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
