// Log entries (api/entry.go): the protobuf Entry, stored and hashed as the
// node marshalled it, so a verifier never re-encodes one.
import { fromBinary } from '@bufbuild/protobuf'
import { EntrySchema, type Entry } from '../gen/custos_pb.js'

export const ENTRY_FORMAT = 1
export const MAX_ENTRY_SIZE = 64 << 10

/** parseEntry decodes an entry read from a log; one of another format version is an error, not a guess. */
export function parseEntry(b: Uint8Array): Entry {
  if (b.length === 0 || b.length > MAX_ENTRY_SIZE) throw new Error('malformed log entry')
  let e: Entry
  try {
    e = fromBinary(EntrySchema, b)
  } catch {
    throw new Error('malformed log entry')
  }
  if (e.format !== ENTRY_FORMAT) throw new Error(`malformed log entry: unknown format ${e.format}`)
  return e
}
