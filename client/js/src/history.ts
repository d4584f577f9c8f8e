// A user's own history (client/history.go): at every node, the entries of
// its audit log about the user, each with its inclusion proof against a
// checkpoint signed by the node's pinned key; every checkpoint read must
// extend the one the vault keeps of the node, and the newest is kept.
import { CheckpointRequestSchema, CheckpointResponseSchema, Code, EntriesRequestSchema, EntriesResponseSchema, EntryKind, Operation, type Entry } from './gen/custos_pb.js'
import { ctEqual, fromBase64, toHex } from './bytes.js'
import { Protocol } from './api/protocol.js'
import { fromProto } from './api/status.js'
import { parseEntry } from './api/entry.js'
import { proofHashes, verifyInclusion } from './api/tlog.js'
import { BadLogError, ForkedLogError, NodeError } from './errors.js'
import type { Host } from './host.js'
import type { Node } from './network.js'
import { peerIdText } from './devices.js'
import { openNodeCheckpoint, type Kept } from './receipts.js'
import { call, withTimeout } from './rpc.js'

/** One unit of one release request, or one put or delete of a change of a record, as a node logged it. */
export interface HistoryEntry {
  /** A release, or a change's put (a new version stored) or delete (a version deleted), or a change of the user's devices (change says which). */
  kind: 'release' | 'put' | 'delete' | 'device'
  /** For a put or a delete, the change it was part of: 'replace', 'rotate', 'reshare' or 'undo'; '' for a release. */
  operation: string
  time: Date
  node: string
  index: bigint
  /** The unit's label in the vault, or "" for a unit it no longer has. */
  label: string
  unitId: string
  version: bigint
  released: boolean
  outcome: Code
  reason: string
  /** The device that asked for the release, put or delete (peer ID); for a device change, the device added or revoked. */
  device: string
  /** '' for a release, else the device change the entry is, with no unit (label and unitId '', version 0). */
  change: '' | 'device added' | 'device revoked'
}

/** LoggedEntry is an entry of a node's log whose inclusion in the node's signed tree was verified. */
export interface LoggedEntry {
  /** The node's name in the network file. */
  node: string
  /** The entry's index in the node's log. */
  index: bigint
  entry: Entry
  /** The entry as the node stored it (and hashed it). */
  raw: Uint8Array
}

/**
 * restoreText matches a restore entry's admin text exactly (api/restore.go,
 * ParseRestore): sizes in canonical decimal, the replaced root in canonical
 * standard base64 of 32 bytes.
 */
const restoreText = /^restore: backup of log size (0|[1-9][0-9]{0,18})( replaces a log of size (0|[1-9][0-9]{0,18}) with root ([A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=))?$/

function size(s: string | undefined): boolean {
  return s === undefined || BigInt(s) <= 2n ** 63n - 1n
}

/** What a restore entry says (api.Restore): the restored log's size, and the log it replaced if it names one. */
export interface RestoreText {
  backupSize: bigint
  replaced?: { size: bigint; root: Uint8Array }
}

/** restoreOf returns what e says if it is a restore entry: an ADMIN entry of no user whose text is a restore's (api.RestoreOf). */
export function restoreOf(e: Entry): RestoreText | undefined {
  const m = e.kind === EntryKind.ADMIN && e.user === '' ? restoreText.exec(e.admin) : null
  if (m === null || !size(m[1]) || !size(m[3])) return undefined
  const r: RestoreText = { backupSize: BigInt(m[1]!) }
  if (m[2] !== undefined) r.replaced = { size: BigInt(m[3]!), root: fromBase64(m[4]!) }
  return r
}

/** isRestore reports whether e is a restore entry (restoreOf). */
export function isRestore(e: Entry): boolean {
  return restoreOf(e) !== undefined
}

interface Custodian {
  node: Node
}

export interface HistoryDeps<C extends Custodian> {
  host: Host
  user: string
  nodes: C[]
  timeoutMs: number
  authed<T>(c: C, signal: AbortSignal, fn: () => Promise<T>): Promise<T>
  kept(c: C): Promise<Kept | undefined>
  advance(c: C, sent: Kept | undefined, got: Kept, signal: AbortSignal): Promise<boolean>
  /** prove checks that b extends a (ForkedLogError if not), asking the node for a consistency proof. */
  prove(c: C, a: Kept, b: Kept, signal: AbortSignal): Promise<void>
  /** explain reports whether a restore entry among entries explains why newest does not extend kept, and if so has accepted it (restore.ts). */
  explain(c: C, kept: Kept, newest: Kept, entries: LoggedEntry[], signal: AbortSignal): Promise<boolean>
  labels: Map<string, string>
}

async function head<C extends Custodian>(d: HistoryDeps<C>, c: C, signal: AbortSignal): Promise<Kept> {
  const resp = await call(d.host, c.node, Protocol.checkpoint, CheckpointRequestSchema, {}, CheckpointResponseSchema, signal)
  const e = fromProto(resp.error)
  if (e !== undefined) throw e
  try {
    return await openNodeCheckpoint(c.node, resp.checkpoint)
  } catch {
    throw new BadLogError('the checkpoint is not signed by the node')
  }
}

/**
 * readLog pages through c's log from from up to top's size with the
 * user's session, checking every page, and returns the user's entries and
 * the restore entries.
 */
export async function readLog<C extends Custodian>(d: HistoryDeps<C>, c: C, top: Kept, signal: AbortSignal, from = 0n): Promise<{ entries: LoggedEntry[]; newest: Kept }> {
  let newest = top
  const out: LoggedEntry[] = []
  let start = from
  while (start < top.cp.size) {
    const er = await d.authed(c, signal, async () => {
      const resp = await call(d.host, c.node, Protocol.entries, EntriesRequestSchema, { start, end: top.cp.size }, EntriesResponseSchema, signal)
      const e = fromProto(resp.error)
      if (e !== undefined) throw e
      return resp
    })
    if (er.start !== start || er.next <= start || er.next > top.cp.size || er.proofs.length !== er.entries.length) throw new BadLogError(`entries from ${start}: an answer that does not fit the request`)
    let page: Kept
    try {
      page = await openNodeCheckpoint(c.node, er.checkpoint)
    } catch {
      throw new BadLogError(`entries from ${start}: the checkpoint is not signed by the node`)
    }
    if (page.cp.size < top.cp.size) throw new BadLogError(`entries from ${start}: a checkpoint smaller than the log's`)
    // Every page's checkpoint is of one log with the read's newest.
    if (page.cp.size < newest.cp.size) await d.prove(c, page, newest, signal)
    else {
      await d.prove(c, newest, page, signal)
      newest = page
    }
    let next = start
    for (const [i, b] of er.entries.entries()) {
      const p = er.proofs[i]!
      if (p.index < next || p.index >= er.next) throw new BadLogError(`entries from ${start}: an entry out of order or out of the page`)
      let ok = false
      try {
        ok = verifyInclusion(proofHashes(p.hashes), page.cp.size, page.cp.root, p.index, b)
      } catch {
        ok = false
      }
      if (!ok) throw new BadLogError(`entry ${p.index} is not in its checkpoint's log`)
      let e: Entry
      try {
        e = parseEntry(b)
      } catch {
        throw new BadLogError(`entry ${p.index} is malformed`)
      }
      // The node serves a user their own entries and the restore entries
      // only; another is not shown, whatever the node meant by it.
      if (e.user === d.user || isRestore(e)) out.push({ node: c.node.name, index: p.index, entry: e, raw: b })
      next = p.index + 1n
    }
    start = er.next
  }
  return { entries: out, newest }
}

/** changes turns the put or delete of a change of a record (client/history_changes.go) into a HistoryEntry. */
function changes(node: string, index: bigint, e: Entry, labels: Map<string, string>, only: Uint8Array | undefined): HistoryEntry[] {
  const u = e.units[0]
  if ((e.kind !== EntryKind.PUT && e.kind !== EntryKind.DELETE) || e.operation === Operation.UNSPECIFIED || e.units.length !== 1 || u === undefined) return []
  if (only !== undefined && !ctEqual(u.unitId, only)) return []
  const id = toHex(u.unitId)
  const kind = e.kind === EntryKind.PUT ? 'put' : 'delete'
  const operation = (Operation[e.operation] ?? String(e.operation)).toLowerCase()
  return [{ kind, operation, time: new Date(Number(e.timeUnixMs)), node, index, label: labels.get(id) ?? '', unitId: id, version: u.version, released: false, outcome: e.outcome, reason: e.reason, device: peerIdText(e.clientPeerId) ?? '', change: '' }]
}

function releases(node: string, index: bigint, e: Entry, labels: Map<string, string>, only: Uint8Array | undefined): HistoryEntry[] {
  if (e.kind !== EntryKind.RELEASE) return changes(node, index, e, labels, only)
  const refused = new Map(e.refusals.map((r) => [r.unitIndex, r.code]))
  return e.units.flatMap((u, i) => {
    if (only !== undefined && !ctEqual(u.unitId, only)) return []
    const id = toHex(u.unitId)
    const h: HistoryEntry = { kind: 'release', operation: '', time: new Date(Number(e.timeUnixMs)), node, index, label: labels.get(id) ?? '', unitId: id, version: u.version, released: true, outcome: Code.OK, reason: '', device: peerIdText(e.clientPeerId) ?? '', change: '' }
    const code = refused.get(i)
    if (code !== undefined) Object.assign(h, { released: false, outcome: code })
    if (e.outcome !== Code.OK) Object.assign(h, { released: false, outcome: e.outcome, reason: e.reason })
    return [h]
  })
}

const deviceChangeOf = { [EntryKind.DEVICE_ADD]: 'device added', [EntryKind.DEVICE_REVOKE]: 'device revoked' } as const

/** deviceChanges turns a device change entry (one of the user's devices added or revoked) into its HistoryEntry; other entries give none. */
function deviceChanges(x: LoggedEntry): HistoryEntry[] {
  const e = x.entry
  if ((e.kind !== EntryKind.DEVICE_ADD && e.kind !== EntryKind.DEVICE_REVOKE) || e.outcome !== Code.OK) return []
  const h: HistoryEntry = { kind: 'device', operation: '', time: new Date(Number(e.timeUnixMs)), node: x.node, index: x.index, label: '', unitId: '', version: 0n, released: false, outcome: Code.OK, reason: e.reason, device: peerIdText(e.device) ?? '', change: deviceChangeOf[e.kind] }
  return [h]
}

/**
 * readUserLog reads every node's log in parallel (see Client.log): the
 * verified entries about the user of each node that answered, in network
 * order, and the nodes that failed.
 */
export async function readUserLog<C extends Custodian>(d: HistoryDeps<C>, signal: AbortSignal | undefined): Promise<{ entries: LoggedEntry[][]; failed: NodeError[] }> {
  const failed: NodeError[] = []
  const entries = await Promise.all(
    d.nodes.map(async (c) => {
      const sig = withTimeout(signal, d.timeoutMs * 3)
      try {
        const top = await head(d, c, sig)
        const kept = await d.kept(c)
        const { entries, newest } = await readLog(d, c, top, sig)
        if (kept !== undefined) {
          try {
            await d.prove(c, kept, newest, sig)
          } catch (e) {
            // A restore explains the fork: the vault now keeps newest.
            if (e instanceof ForkedLogError && (await d.explain(c, kept, newest, entries, sig))) return entries
            throw e
          }
        }
        await d.advance(c, kept, newest, sig)
        return entries
      } catch (e) {
        failed.push(new NodeError(c.node.name, e as Error))
        return []
      }
    }),
  )
  const at = new Map(d.nodes.map((c, i) => [c.node.name, i]))
  return { entries, failed: failed.sort((a, b) => at.get(a.node)! - at.get(b.node)!) }
}

/** readHistory reads every node's log in parallel; see Client.history. */
export async function readHistory<C extends Custodian>(d: HistoryDeps<C>, only: Uint8Array | undefined, signal: AbortSignal | undefined): Promise<{ entries: HistoryEntry[]; failed: NodeError[] }> {
  const { entries: per, failed } = await readUserLog(d, signal)
  const entries = per.flat().flatMap((x) => [...releases(x.node, x.index, x.entry, d.labels, only), ...(only === undefined ? deviceChanges(x) : [])]).sort((a, b) => b.time.getTime() - a.time.getTime() || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) || Number(b.index - a.index))
  return { entries, failed }
}
