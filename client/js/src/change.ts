// Changing records (client/change.go, replace.go; docs/client.md,
// "Changing records"): a replace (a new record) or a rotation (a new server
// key) makes a new version of each unit, and every change goes the same
// way:
//
//  1. release the units' current versions (their data keys kept);
//  2. record each unit's change in the vault, with, for a replace, the new
//     record sealed under a key only the old version's server key gives;
//  3. deal each new version's server key among the nodes and put every
//     share, each put saying what it is part of;
//  4. make each new version that enough nodes stored the unit's, its old
//     version a pending delete, in one save of the vault; give up the
//     others (their placed shares deleted);
//  5. delete the old versions at their nodes, and record the nodes that did
//     not confirm (retried, with the operation, at the next unlock).
//
// Until 4 the unit is its old version, which opens; from 4 on it is the new
// one, which opens. A change interrupted before 4 is found in the vault by
// the next unlock, given up and made again (resume).
import { Operation, PutRequestSchema, PutResponseSchema } from './gen/custos_pb.js'
import { wipe } from './bytes.js'
import { Protocol } from './api/protocol.js'
import { fromProto } from './api/status.js'
import { CustosError, NodeError, NotEnoughCustodiansError } from './errors.js'
import type { Host } from './host.js'
import type { Logger } from './log.js'
import type { Node } from './network.js'
import { call, withTimeout } from './rpc.js'
import { open, seal } from './threshold/seal.js'
import { abandonChanges, commitChanges, hasPendingDelete, sameId, saveStep, setPendingDeletes, stageChanges, type Commit } from './vault/changes.js'
import { checkUnit, type Change, type ChangeOp, type PendingDelete, type Unit } from './vault/vault.js'
import type { VaultHandle } from './vault/handle.js'

/** How many units one round of a change releases and places: a bounded amount of work lost to an interruption. */
const CHANGE_BATCH = 256

/** How many units' shares are placed at once. */
const PLACE_WORKERS = 16

/** The record a change writes, as the client's put takes it. */
export interface ChangeRecord {
  username?: string
  password: string
}

/** ChangeProgress is told how many units of a change are done, of how many: once before the first, and after each round. */
export type ChangeProgress = (done: number, total: number) => void

/** PendingChange describes a change under way in the vault, without its content. */
export interface PendingChange {
  op: ChangeOp
  label: string
  from: bigint
  to: bigint
  nodes: string[]
  started: Date
}

/**
 * changeFault, when a test sets it, is asked at each step of every change
 * ("staged", "put NODE", "placed", "committed", "deleted") and may return
 * an error: the change then stops there at once, as a kill would, with
 * nothing cleaned up. Only tests set it.
 */
export const changeHooks: { fault: ((step: string) => Error | undefined) | undefined } = { fault: undefined }

function fault(step: string): void {
  const e = changeHooks.fault?.(step)
  if (e !== undefined) throw e
}

/** changeFault asks the test hook at a step of a reshare (src/reshare.ts), as fault does at a change's. */
export { fault as changeFault }

interface Custodian {
  node: Node
}

export interface ChangerDeps<C extends Custodian> {
  host: Host
  vault: VaultHandle
  user: string
  nodes: C[]
  threshold: number
  timeoutMs: number
  logger: Logger
  authed<T>(c: C, signal: AbortSignal, fn: () => Promise<T>): Promise<T>
  /** release opens units' current versions: each plaintext, and each data key in keys (the caller wipes both). */
  release(units: Unit[], signal: AbortSignal | undefined, keys: Uint8Array[]): Promise<Uint8Array[]>
  /** seal makes version of unit id for rec: a new server key dealt among the nodes, the sealed record; the shares are the caller's to wipe. */
  seal(label: string, rec: ChangeRecord, id: Uint8Array, version: bigint): Promise<{ unit: Omit<Unit, 'mac'>; shares: Uint8Array[] }>
  /** deleteAt deletes one version's share at c as part of op; a share the node does not hold is deleted already. */
  deleteAt(c: C, ref: { unitId: Uint8Array; version: bigint }, signal: AbortSignal | undefined, op: Operation): Promise<void>
  marshal(rec: ChangeRecord): Uint8Array
  /** parse reads a record's plaintext and wipes it. */
  parse(plain: Uint8Array): ChangeRecord
}

/**
 * ChangeSource is where a reshare's units are now (another network's
 * client, src/reshare.ts): their current versions are released from its
 * nodes and deleted there, while the new versions go to this changer's.
 */
export interface ChangeSource<C extends Custodian> {
  nodes: C[]
  release: ChangerDeps<C>['release']
  deleteAt: ChangerDeps<C>['deleteAt']
}

/** What a change makes of each unit. */
interface Job<C extends Custodian> {
  op: ChangeOp
  wire: Operation
  need: number
  progress: ChangeProgress | undefined
  total: number
  done: number
  /** Where the units are, when not at this changer's nodes (a reshare). */
  from?: ChangeSource<C>
}

/** One unit's change in a round. */
interface Plan {
  old: Unit
  rec: ChangeRecord | undefined
  change: Change
  redo: Change | undefined
  unit: Omit<Unit, 'mac'> | undefined
  errs: (Error | undefined)[]
  failure: Error | undefined
}

/** wireOp is the Operation the nodes log for a change. */
export function wireOp(op: ChangeOp): Operation {
  return op === 'replace' ? Operation.REPLACE : op === 'rotate' ? Operation.ROTATE : Operation.RESHARE
}

export class Changer<C extends Custodian> {
  constructor(readonly d: ChangerDeps<C>) {}

  /** needAcks is how many nodes must store a new version: all, or minAcks (from threshold+1 to all). */
  needAcks(minAcks: number | undefined): number {
    const n = this.d.nodes.length
    const k = this.d.threshold
    if (minAcks === undefined || minAcks === 0) return n
    if (!Number.isInteger(minAcks) || minAcks < k + 1 || minAcks > n) throw new CustosError(`minAcks ${minAcks}: it must be from ${k + 1} (threshold+1) to ${n}`)
    return minAcks
  }

  /** pending lists the changes under way in the vault. */
  pending(): PendingChange[] {
    return this.d.vault.data.changes.map((c) => ({ op: c.op, label: c.label, from: c.from, to: c.to, nodes: [...c.nodes], started: c.started }))
  }

  /** #changesOf returns the changes under way of units: a new change of such a unit gives the old one up. */
  #changesOf(units: Unit[]): Map<Unit, Change> {
    const out = new Map<Unit, Change>()
    for (const u of units) {
      const ch = this.d.vault.data.changes.find((c) => sameId(c.id, u.id))
      if (ch !== undefined) out.set(u, ch)
    }
    return out
  }

  /** replace makes a new version of unit u holding rec (Client.replace). */
  async replace(u: Unit, rec: ChangeRecord, need: number, signal: AbortSignal | undefined): Promise<void> {
    const job: Job<C> = { op: 'replace', wire: Operation.REPLACE, need, progress: undefined, total: 1, done: 0 }
    await this.#rewrite(job, [u], new Map([[u, rec]]), this.#changesOf([u]), signal)
  }

  /** rotate gives units new server keys, their contents unchanged (Client.rotate). */
  async rotate(units: Unit[], need: number, progress: ChangeProgress | undefined, signal: AbortSignal | undefined): Promise<void> {
    const job: Job<C> = { op: 'rotate', wire: Operation.ROTATE, need, progress, total: units.length, done: 0 }
    await this.#rewrite(job, units, new Map(), this.#changesOf(units), signal)
  }

  /**
   * reshare moves units to this changer's nodes (their new versions dealt
   * with its threshold), from source's nodes when given, and otherwise
   * mends them at these nodes (degraded records): the nodes log each put
   * and delete as part of a reshare. A reshare interrupted before is made
   * again, its new version given up.
   */
  async reshare(units: Unit[], need: number, progress: ChangeProgress | undefined, signal: AbortSignal | undefined, from?: ChangeSource<C>): Promise<number> {
    const job: Job<C> = { op: 'reshare', wire: Operation.RESHARE, need, progress, total: units.length, done: 0, ...(from !== undefined ? { from } : {}) }
    await this.#rewrite(job, units, new Map(), this.#changesOf(units), signal)
    return job.done
  }

  /**
   * resume makes again the changes an earlier run left under way, and
   * gives up those whose unit moved on (removed, or at another version):
   * their new versions' shares become pending deletes. What fails is
   * logged: the records still open at their old versions.
   */
  async resume(signal: AbortSignal | undefined): Promise<void> {
    if (this.d.vault.data.changes.length === 0) return
    const v = this.d.vault.data
    const stale: PendingDelete[] = []
    const byOp = new Map<ChangeOp, Unit[]>()
    const redo = new Map<Unit, Change>()
    for (const ch of v.changes) {
      if (ch.op === 'reshare') continue // only the reshare under way makes it again (src/reshare.ts)
      const u = v.units.find((x) => x.label === ch.label)
      if (u === undefined || !sameId(u.id, ch.id) || u.version !== ch.from) {
        stale.push({ id: ch.id, version: ch.to, nodes: ch.nodes, operation: Operation.UNDO })
        continue
      }
      try {
        checkUnit(v.masterSecret, u)
      } catch (e) {
        this.d.logger.warn(`a record with a change under way is damaged: ${(e as Error).message}`)
        continue
      }
      byOp.set(ch.op, [...(byOp.get(ch.op) ?? []), u])
      redo.set(u, ch)
    }
    try {
      if (stale.length > 0) await saveStep(this.d.vault, (x) => abandonChanges(x, stale))
    } catch (e) {
      this.d.logger.warn(`the vault could not give up stale changes: ${(e as Error).message}`)
    }
    for (const [op, units] of byOp) {
      const job: Job<C> = { op, wire: wireOp(op), need: this.d.nodes.length, progress: undefined, total: units.length, done: 0 }
      try {
        await this.#rewrite(job, units, new Map(), redo, signal)
      } catch (e) {
        this.d.logger.warn(`an interrupted ${op} could not be finished; the records still open at their old versions, and the next unlock tries again: ${(e as Error).message}`)
      }
    }
  }

  /** #rewrite changes units in rounds of CHANGE_BATCH; recs are a replace's new records, redo the changes under way these make again. */
  async #rewrite(job: Job<C>, units: Unit[], recs: Map<Unit, ChangeRecord>, redo: Map<Unit, Change>, signal: AbortSignal | undefined): Promise<void> {
    job.progress?.(job.done, job.total)
    for (let start = 0; start < units.length; start += CHANGE_BATCH) {
      signal?.throwIfAborted()
      await this.#round(job, units.slice(start, start + CHANGE_BATCH), recs, redo, signal)
    }
  }

  async #round(job: Job<C>, units: Unit[], recs: Map<Unit, ChangeRecord>, redo: Map<Unit, Change>, signal: AbortSignal | undefined): Promise<void> {
    const plans = await this.#plan(job, units, recs, redo, signal)
    const abandoned: PendingDelete[] = plans.flatMap((p) => (p.redo === undefined ? [] : [{ id: p.redo.id, version: p.redo.to, nodes: p.redo.nodes, operation: Operation.UNDO }]))
    await saveStep(this.d.vault, (v) =>
      stageChanges(
        v,
        plans.map((p) => p.change),
        abandoned,
      ),
    )
    fault('staged')
    await this.#placeAll(job, plans, signal)
    fault('placed')
    await this.#settle(job, plans, signal)
  }

  /** #plan releases the units' current versions and makes each unit's change: its record (recs', a redone replace's, or its own) and its new version. */
  async #plan(job: Job<C>, units: Unit[], recs: Map<Unit, ChangeRecord>, redo: Map<Unit, Change>, signal: AbortSignal | undefined): Promise<Plan[]> {
    const keys: Uint8Array[] = []
    let plains: Uint8Array[] = []
    try {
      plains = await (job.from?.release ?? this.d.release)(units, signal, keys)
      return units.map((u, i) => this.#planOne(job, u, recs.get(u), redo.get(u), plains[i]!, keys[i]!))
    } finally {
      wipe(...plains, ...keys)
    }
  }

  #planOne(job: Job<C>, u: Unit, rec: ChangeRecord | undefined, redo: Change | undefined, plain: Uint8Array, key: Uint8Array): Plan {
    const to = this.#nextVersion(u, redo)
    let op = job.op
    if (rec === undefined && redo !== undefined && redo.op === 'replace' && redo.from === u.version) {
      // A replace made again: its new record, which only this unit's
      // current server key opens.
      let got: Uint8Array
      try {
        got = open(key, this.d.user, u.id, redo.to, redo.content)
      } catch (e) {
        throw new CustosError(`the new record of the interrupted replace of ${u.label}: ${(e as Error).message}`)
      }
      rec = this.d.parse(got)
      op = 'replace'
    }
    rec ??= this.d.parse(plain.slice())
    const change: Change = { op, label: u.label, id: u.id, from: u.version, to, nodes: this.d.nodes.map((c) => c.node.name), content: new Uint8Array(0), started: new Date() }
    if (op === 'replace') {
      const m = this.d.marshal(rec)
      try {
        // Sealed under the old version's data key with the new version in
        // its associated data: nothing else is sealed so, and only a
        // release of the old version opens it.
        change.content = seal(key, this.d.user, u.id, to, m)
      } finally {
        wipe(m)
      }
    }
    return { old: u, rec, change, redo, unit: undefined, errs: [], failure: undefined }
  }

  /** #nextVersion is the version u's change makes: after u's, after the one of the change it makes again, and after any version waiting to be deleted. */
  #nextVersion(u: Unit, redo: Change | undefined): bigint {
    let to = u.version + 1n
    if (redo !== undefined && redo.to + 1n > to) to = redo.to + 1n
    while (hasPendingDelete(this.d.vault.data, u.id, to)) to++
    return to
  }

  /** #placeAll seals each plan's new version and puts its shares at every node, PLACE_WORKERS units at a time. */
  async #placeAll(job: Job<C>, plans: Plan[], signal: AbortSignal | undefined): Promise<void> {
    let next = 0
    let stop: unknown
    const worker = async () => {
      while (next < plans.length && stop === undefined) {
        const p = plans[next++]!
        try {
          await this.#placeOne(job, p, signal)
        } catch (e) {
          stop ??= e
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(PLACE_WORKERS, plans.length) }, worker))
    if (stop !== undefined) throw stop
  }

  /** #placeOne seals p's new version and puts its shares; a node's failure is in p.errs, and only a fault hook's error is thrown. */
  async #placeOne(job: Job<C>, p: Plan, signal: AbortSignal | undefined): Promise<void> {
    let sealed
    try {
      sealed = await this.d.seal(p.old.label, p.rec!, p.old.id, p.change.to)
    } catch (e) {
      p.failure = e as Error
      return
    }
    const { unit, shares } = sealed
    try {
      unit.created = p.old.created
      p.unit = unit
      const ref = { unitId: unit.id, version: unit.version }
      let faulted: Error | undefined
      p.errs = await Promise.all(
        this.d.nodes.map(async (c, i) => {
          try {
            fault(`put ${c.node.name}`)
          } catch (e) {
            faulted = e as Error
            return faulted
          }
          return this.#putAt(c, ref, shares[i]!, job.wire, signal).then(
            () => undefined,
            (e: Error) => e,
          )
        }),
      )
      if (faulted !== undefined) throw faulted
      p.errs.forEach((e, i) => (unit.nodes[i]!.stored = e === undefined))
      unit.degraded = p.errs.some((e) => e !== undefined)
    } finally {
      wipe(...shares)
    }
  }

  async #putAt(c: C, ref: { unitId: Uint8Array; version: bigint }, share: Uint8Array, op: Operation, signal: AbortSignal | undefined): Promise<void> {
    const sig = withTimeout(signal, this.d.timeoutMs)
    await this.d.authed(c, sig, async () => {
      const resp = await call(this.d.host, c.node, Protocol.put, PutRequestSchema, { unit: ref, share, operation: op }, PutResponseSchema, sig)
      const e = fromProto(resp.error)
      if (e !== undefined) throw e
    })
  }

  /** #settle commits the plans whose new version enough nodes stored, gives up the others, and deletes the versions they replace. */
  async #settle(job: Job<C>, plans: Plan[], signal: AbortSignal | undefined): Promise<void> {
    const commits: Commit[] = []
    const failed: Plan[] = []
    let firstErr: Error | undefined
    for (const p of plans) {
      p.failure ??= this.#quorum(job, p)
      if (p.failure !== undefined) {
        failed.push(p)
        firstErr ??= p.failure
        continue
      }
      commits.push({ unit: p.unit!, old: { id: p.old.id, version: p.old.version, nodes: p.old.nodes.filter((n) => n.stored).map((n) => n.name), operation: job.wire } })
    }
    if (commits.length > 0) await saveStep(this.d.vault, (v) => commitChanges(v, commits))
    fault('committed')
    await this.#undoPlaced(failed, signal)
    await this.#deleteOld(job, commits, signal)
    job.done += commits.length
    job.progress?.(job.done, job.total)
    if (firstErr !== undefined) throw firstErr
  }

  #quorum(job: Job<C>, p: Plan): NotEnoughCustodiansError | undefined {
    const failed = p.errs.flatMap((e, i) => (e === undefined ? [] : [new NodeError(this.d.nodes[i]!.node.name, e)]))
    const have = p.errs.length - failed.length
    return have >= job.need ? undefined : new NotEnoughCustodiansError(`change ${p.old.label}`, job.need, Math.min(have, job.need - 1), failed)
  }

  /** #undoPlaced gives up the changes of failed plans: their new versions' shares are deleted where they were sent, and the nodes that do not confirm are recorded. */
  async #undoPlaced(failed: Plan[], signal: AbortSignal | undefined): Promise<void> {
    if (failed.length === 0) return
    const give = await Promise.all(
      failed.map(async (p): Promise<PendingDelete> => {
        const ref = { unitId: p.old.id, version: p.change.to }
        return { id: p.old.id, version: p.change.to, nodes: await this.#deleteEach(p.change.nodes, ref, Operation.UNDO, signal), operation: Operation.UNDO }
      }),
    )
    await saveStep(this.d.vault, (v) => abandonChanges(v, give))
  }

  /** #deleteOld deletes the versions commits replaced at the nodes that held them, and records the nodes that did not confirm. */
  async #deleteOld(job: Job<C>, commits: Commit[], signal: AbortSignal | undefined): Promise<void> {
    if (commits.length === 0) return
    const left: PendingDelete[] = []
    let next = 0
    const worker = async () => {
      while (next < commits.length) {
        const old = commits[next++]!.old
        const nodes = await this.#deleteEach(old.nodes, { unitId: old.id, version: old.version }, old.operation!, signal, job.from)
        left.push({ ...old, nodes })
      }
    }
    await Promise.all(Array.from({ length: Math.min(PLACE_WORKERS, commits.length) }, worker))
    fault('deleted')
    await saveStep(this.d.vault, (v) => setPendingDeletes(v, left))
  }

  /** #deleteEach deletes ref at the nodes named (of at: this changer's, or a reshare's source), in parallel, and returns those that did not confirm (a name not in the network too). */
  async #deleteEach(names: string[], ref: { unitId: Uint8Array; version: bigint }, op: Operation, signal: AbortSignal | undefined, at: Pick<ChangeSource<C>, 'nodes' | 'deleteAt'> = this.d): Promise<string[]> {
    const left: string[] = []
    await Promise.all(
      names.map(async (name) => {
        const c = at.nodes.find((x) => x.node.name === name)
        if (c === undefined) return left.push(name)
        await at.deleteAt(c, ref, signal, op).catch(() => left.push(name))
      }),
    )
    return left
  }
}
