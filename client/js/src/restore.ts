// A node restored from a backup (custosd restore; client/restore.go) has
// lost its log after the backup, so a checkpoint the vault kept of it from
// after the backup is no longer extended by what the node shows: from the
// checkpoints alone, a restore is a fork. Restore logs an entry right
// after the restored log that says so, and a node serves its restore
// entries to every logged-in user. Before the SDK names a node whose log
// does not extend the kept checkpoint (ForkedLogError), it reads the
// node's log as the user may and looks for a restore entry that explains
// it: then it accepts the restore, as the entry says, keeps the checkpoint
// it replaced in the vault (restores), and goes on with the node's log
// from there.
//
// The entry must explain the kept checkpoint (explains, api.Restore.Explains)
// and must not already be in the log the kept checkpoint is of: a restore
// the vault accepted before explains nothing new, nor does one that the
// node logged before an entry of the kept log, at the restored log's size
// or later, that the vault holds a receipt of (the node's clock dates
// both).
import { ctEqual } from './bytes.js'
import { parseEntry } from './api/entry.js'
import type { Checkpoint } from './api/checkpoint.js'
import { BadLogError, ForkedLogError } from './errors.js'
import { readLog, restoreOf, type HistoryDeps, type LoggedEntry, type RestoreText } from './history.js'
import type { Logger } from './log.js'
import type { Node } from './network.js'
import type { Kept } from './receipts.js'
import type { VaultHandle } from './vault/handle.js'
import { addRestore, type Restore } from './vault/vault.js'

interface Custodian {
  node: Node
}

export interface RestorerDeps<C extends Custodian> {
  vault: VaultHandle
  logger: Logger
  /** The log reads' dependencies (history.ts): the user's session, the kept checkpoints, consistency proofs. */
  history(): HistoryDeps<C>
  /** setKept keeps a verified checkpoint of a node as the vault's (Releaser.setKept). */
  setKept(node: Node, got: Kept): void
}

/**
 * explains says why the restore entry r, found at index of a node's log,
 * does not explain that the log no longer extends old, a checkpoint of the
 * node kept before; '' when it does. The entry must directly follow the
 * restored log, that log must end below old, and the log it says it
 * replaced, if it names one, must not be smaller than old, nor of old's
 * size with another root.
 */
export function explains(r: RestoreText, index: bigint, old: Checkpoint): string {
  const rep = r.replaced
  if (index !== r.backupSize) return `the restore entry ${index} does not directly follow the restored log of size ${r.backupSize}`
  if (r.backupSize >= old.size) return `the restore entry ${index} restored a log of size ${r.backupSize}, not smaller than the size ${old.size} kept before`
  if (rep !== undefined && rep.size < old.size) return `the restore entry ${index} replaced a log of size ${rep.size}, smaller than the size ${old.size} kept before`
  if (rep !== undefined && rep.size === old.size && !ctEqual(rep.root, old.root)) return `the restore entry ${index} replaced a log of the size ${old.size} kept before, with another root than the one kept`
  return ''
}

/**
 * Restorer recognises the restores of nodes. It remembers, per node, how
 * far the last read that found no restore explaining the kept checkpoint
 * got, so that a node showing a fork is not read whole at every request.
 */
export class Restorer<C extends Custodian> {
  constructor(readonly d: RestorerDeps<C>) {}

  /** The last read of each node's log that found no restore: for which kept checkpoint, up to which one. */
  readonly #scans = new Map<string, { kept: Uint8Array; seen: Kept }>()
  /** One acceptance at a time per node: the tail of each node's queue. */
  readonly #locks = new Map<string, Promise<unknown>>()

  /** proves reports whether b is proven to extend a. */
  async #proves(c: C, a: Kept, b: Kept, signal: AbortSignal): Promise<boolean> {
    return this.d.history().prove(c, a, b, signal).then(
      () => true,
      () => false,
    )
  }

  /**
   * restoredSince reports whether a restore of c explains why head, a
   * verified checkpoint of c, does not extend kept, the checkpoint the
   * vault kept of c when the request was sent; if so, the vault has
   * accepted it, and keeps a checkpoint of c that extends head. It reads
   * c's log up to head's size, but only from where the last read that
   * found no such restore stopped, if head is proven to extend where it
   * stopped. A log that does not verify holds no restore; the error is for
   * a log that could not be read.
   */
  async restoredSince(c: C, kept: Kept, head: Kept, signal: AbortSignal): Promise<boolean> {
    let from = 0n
    const scan = this.#scans.get(c.node.name)
    if (scan !== undefined && ctEqual(scan.kept, kept.raw)) {
      const seen = scan.seen
      if (head.cp.size <= seen.cp.size && (await this.#proves(c, head, seen, signal))) return false // every entry of head was read
      if (head.cp.size > seen.cp.size && (await this.#proves(c, seen, head, signal))) {
        if (seen.cp.size >= kept.cp.size) return false // a restore that explains kept lies below its size
        from = seen.cp.size
      }
    }
    let read: { entries: LoggedEntry[]; newest: Kept }
    try {
      read = await readLog(this.d.history(), c, head, signal, from)
    } catch (e) {
      if (e instanceof BadLogError || e instanceof ForkedLogError) return false
      throw e
    }
    if (await this.explainFork(c, kept, read.newest, read.entries, signal)) return true
    this.#scans.set(c.node.name, { kept: kept.raw, seen: head })
    return false
  }

  /**
   * explainFork reports whether a restore entry among entries, read from
   * c's log and proven to be in newest's tree, explains why newest does not
   * extend kept, the checkpoint the vault kept of c when the read began. If
   * one does, it accepts the restore and warns. If the vault's kept
   * checkpoint changed meanwhile (another request accepted the same
   * restore), it reports whether newest is of one log with the one kept now.
   */
  async explainFork(c: C, kept: Kept, newest: Kept, entries: LoggedEntry[], signal: AbortSignal): Promise<boolean> {
    const name = c.node.name
    const prev = this.#locks.get(name) ?? Promise.resolve()
    const run = prev.then(() => this.#explainFork(c, kept, newest, entries, signal))
    const tail = run.catch(() => undefined)
    this.#locks.set(name, tail)
    try {
      return await run
    } finally {
      if (this.#locks.get(name) === tail) this.#locks.delete(name)
    }
  }

  async #explainFork(c: C, kept: Kept, newest: Kept, entries: LoggedEntry[], signal: AbortSignal): Promise<boolean> {
    const now = await this.d.history().kept(c)
    if (now === undefined) return false
    if (!ctEqual(now.raw, kept.raw)) {
      const [a, b] = newest.cp.size < now.cp.size ? [newest, now] : [now, newest]
      return this.#proves(c, a, b, signal)
    }
    const le = this.#explaining(c, kept, entries)
    if (le === undefined) return false
    const r = restoreOf(le.entry)!
    addRestore(this.d.vault.data, { node: name(c), accepted: new Date(), replaced: kept.raw, index: le.index, entry: le.raw, checkpoint: newest.raw })
    this.d.setKept(c.node, newest)
    // Saved at once: the evidence of what the node showed before is the
    // user's only copy.
    await this.d.vault.save().catch((e: unknown) => this.d.logger.warn(`the vault could not be saved with ${name(c)}'s accepted restore: ${(e as Error).message}`))
    this.d.logger.warn(`node ${name(c)} was restored from a backup of log size ${r.backupSize}; its log after ${r.backupSize} is gone: accepted, as its restore entry says`)
    return true
  }

  /** #explaining returns the last restore entry of entries that explains why c's log no longer extends kept, by the rules at the top of this file. */
  #explaining(c: C, kept: Kept, entries: LoggedEntry[]): LoggedEntry | undefined {
    for (let i = entries.length - 1; i >= 0; i--) {
      const le = entries[i]!
      const r = restoreOf(le.entry)
      if (r === undefined || explains(r, le.index, kept.cp) !== '' || this.#inKeptLog(c, le)) continue
      return le
    }
    return undefined
  }

  /**
   * #inKeptLog reports whether the vault shows that the restore entry le
   * of c was already in the log it keeps a checkpoint of: it accepted this
   * very restore before, or it holds the receipt of an entry of that log,
   * at or after le's index, that c logged after le.
   */
  #inKeptLog(c: C, le: LoggedEntry): boolean {
    const v = this.d.vault.data
    if (v.restores.some((r) => r.node === name(c) && r.index === le.index && ctEqual(r.entry, le.raw))) return true
    return v.receipts.some((r) => {
      if (r.node !== name(c) || r.evidence === 'fork' || r.index < le.index) return false
      try {
        return parseEntry(r.entry).timeUnixMs > le.entry.timeUnixMs
      } catch {
        return false
      }
    })
  }

  /** restores returns copies of the restores the vault accepted, oldest first. */
  restores(): Restore[] {
    return this.d.vault.data.restores.map((r) => ({ ...r, accepted: new Date(r.accepted), replaced: r.replaced.slice(), entry: r.entry.slice(), checkpoint: r.checkpoint.slice() }))
  }
}

function name(c: Custodian): string {
  return c.node.name
}

