// The request journal (docs/vault.md#the-request-journal), in the Go
// vault's text format: "custos-requests/1", an optional "dropped-until
// TIME", then one "node time nonce" line per release request, each recorded
// durably before the request is sent.
import { utf8 } from '../bytes.js'
import { validNodeName } from '../network.js'

const HEADER = 'custos-requests/1'
const MAX_REQUESTS = 10000
const KEEP = 5000

/** A release request as the journal records it. */
export interface Request {
  node: string
  time: Date
  nonce: string // 32 lower-case hexadecimal digits
}

export class JournalError extends Error {
  override name = 'JournalError'
}

/** JournalState is a journal as read: its requests, what it dropped, and whether its last line was torn. */
export interface JournalState {
  requests: Request[]
  droppedUntil: Date | undefined
  torn: boolean
}

const timeRe = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

function parseTime(s: string, line: number): Date {
  const d = new Date(s)
  if (!timeRe.test(s) || Number.isNaN(d.getTime()) || d.toISOString() !== s) throw new JournalError(`the request journal is damaged: line ${line}: the time is not RFC 3339 UTC with three fractional digits`)
  return d
}

/** parseJournal reads a journal strictly; a last line without its newline was never sent, and is ignored. */
export function parseJournal(b: Uint8Array | undefined): JournalState {
  const state: JournalState = { requests: [], droppedUntil: undefined, torn: false }
  if (b === undefined || b.length === 0) return state
  if (b.length > 2 << 20) throw new JournalError('the request journal is too large')
  const text = new TextDecoder().decode(b)
  const whole = text.lastIndexOf('\n')
  state.torn = whole !== text.length - 1
  if (whole < 0) return state
  const lines = text.slice(0, whole).split('\n')
  if (lines[0] !== HEADER) {
    if (lines[0]!.startsWith('custos-requests/')) throw new JournalError(`unknown request journal format ${JSON.stringify(lines[0]!.slice(0, 40))}`)
    throw new JournalError('the request journal is damaged: line 1: not a request journal')
  }
  lines.slice(1).forEach((line, i) => {
    const no = i + 2
    const f = line.split(' ')
    if (no === 2 && f.length === 2 && f[0] === 'dropped-until') {
      state.droppedUntil = parseTime(f[1]!, no)
      return
    }
    if (f.length !== 3) throw new JournalError(`the request journal is damaged: line ${no}: not three fields separated by single spaces`)
    if (!validNodeName(f[0]!)) throw new JournalError(`the request journal is damaged: line ${no}: not a node name`)
    if (!/^[0-9a-f]{32}$/.test(f[2]!)) throw new JournalError(`the request journal is damaged: line ${no}: the nonce is not 32 lower-case hexadecimal digits`)
    state.requests.push({ node: f[0]!, time: parseTime(f[1]!, no), nonce: f[2]! })
  })
  if (state.requests.length >= MAX_REQUESTS) throw new JournalError('the request journal is damaged: it holds too many requests')
  return state
}

function line(r: Request): string {
  return `${r.node} ${r.time.toISOString()} ${r.nonce}\n`
}

/** render writes a whole journal. */
export function renderJournal(s: JournalState): Uint8Array {
  let out = HEADER + '\n'
  if (s.droppedUntil !== undefined) out += `dropped-until ${s.droppedUntil.toISOString()}\n`
  for (const r of s.requests) out += line(r)
  return utf8(out)
}

/** renderLines writes requests as lines to append (with the header first when the journal is new). */
export function renderLines(rs: Request[], fresh: boolean): Uint8Array {
  return utf8((fresh ? HEADER + '\n' : '') + rs.map(line).join(''))
}

/**
 * compacted is s with rs added, or, when that would bring it to 10000
 * requests, the newest 5000 with dropped-until moved up to the newest time
 * of those dropped; compact says whether the journal must be rewritten.
 */
export function compacted(s: JournalState, rs: Request[]): { state: JournalState; compact: boolean } {
  const all = [...s.requests, ...rs]
  if (all.length < MAX_REQUESTS) return { state: { ...s, requests: all }, compact: false }
  const dropped = all.slice(0, all.length - KEEP)
  let until = s.droppedUntil
  for (const r of dropped) if (until === undefined || r.time > until) until = r.time
  return { state: { requests: all.slice(all.length - KEEP), droppedUntil: until, torn: false }, compact: true }
}
