// Releasing records (client/units.go, receipts.go): one signed release
// request per node and batch, every nonce in the journal before any is
// sent, every answer's receipt checked before any of its shares is used,
// the newest verified checkpoint of each node kept, and the first threshold
// of shares that pass their commitments combined per record.
import { Code, ProofRequestSchema, ProofResponseSchema, ReleaseRequestSchema, ReleaseResponseSchema, type ReleaseRequest, type ReleaseResponse } from './gen/custos_pb.js'
import { create } from '@bufbuild/protobuf'
import { ctEqual, randomBytes, toHex, wipe } from './bytes.js'
import { MAX_BATCH, Protocol, REQUEST_NONCE_SIZE } from './api/protocol.js'
import { fromProto, StatusError } from './api/status.js'
import { parseEntry } from './api/entry.js'
import { proofHashes, verifyInclusion } from './api/tlog.js'
import { releaseTranscript } from './api/transcript.js'
import { BadNodeError, BadReceiptError, BadShareError, CustosError, ForkedLogError, NodeError, NotEnoughCustodiansError } from './errors.js'
import type { Logger } from './log.js'
import type { Host } from './host.js'
import type { Node } from './network.js'
import { extendedBy, matchEntry, openNodeCheckpoint, type Kept } from './receipts.js'
import { call, withTimeout } from './rpc.js'
import { Latency, rankNodes } from './latency.js'
import { recordKey } from './threshold/keys.js'
import { open } from './threshold/seal.js'
import { combineShares, NotEnoughSharesError, shareCommitment, type Slot } from './threshold/shares.js'
import type { VaultHandle } from './vault/handle.js'
import type { Receipt, Unit } from './vault/vault.js'

interface Custodian {
  node: Node
}

export interface ReleaserDeps<C extends Custodian> {
  host: Host
  vault: VaultHandle
  user: string
  nodes: C[]
  timeoutMs: number
  logger: Logger
  authed<T>(c: C, signal: AbortSignal, fn: () => Promise<T>): Promise<T>
  keep(rs: Receipt[]): Promise<void>
  /** restored reports whether a restore of c explains why got does not extend kept, and if so has accepted it (restore.ts). */
  restored(c: C, kept: Kept, got: Kept, signal: AbortSignal): Promise<boolean>
  /** markLost records the shares nodes proved lost (the records degrade), before any record is opened: also when one cannot be. */
  markLost(lost: Lost[]): Promise<void>
  background(p: Promise<unknown>): void
}

/**
 * releaseHooks.opened, when a test sets it, is told each record's plaintext
 * as a release opens it, so that a test can see it wiped when a later record
 * of the same release fails to open. Only tests set it.
 */
export const releaseHooks: { opened: ((plain: Uint8Array) => void) | undefined } = { opened: undefined }

/** How long requests journaled ahead are used: they sign the time they were journaled at, and a node refuses one more than 5 minutes off. */
const SPARE_FRESH_MS = 60_000

/** One unlock's requests as the journal holds them: the time they all sign, and a nonce per node (in network order) and batch. */
interface Journaled {
  asked: bigint
  nonces: Uint8Array[][]
}

/** A unit version a node proved it no longer holds (NOT_FOUND, with a receipt). */
export interface Lost {
  node: string
  id: Uint8Array
  version: bigint
}

/** What one node answered to an unlock's requests, all batches together. */
interface Answer {
  shares: (Uint8Array | undefined)[]
  unitErrs: (Error | undefined)[]
  receipts: Receipt[]
  err: Error | undefined
}

/** distrusted: the node's answer cannot be trusted at all, so none of its shares may be used. */
function distrusted(e: Error | undefined): boolean {
  return e instanceof BadNodeError
}

/** Where one node's request of an unlock is: overdue is asked and past its hedge delay, no longer counted on. */
type Asked = 'not asked' | 'awaited' | 'overdue' | 'answered'

/**
 * Collector gathers the nodes' answers to one unlock until every unit has
 * its threshold of shares that pass their commitments, then stops the
 * requests still out. A late answer keeps no share; its receipts still count.
 *
 * It also tells the hedge whom to ask: a unit is short while its good
 * shares and the nodes still expected to bring one (asked, holding it,
 * neither answered nor past their hedge delay) do not reach its threshold.
 */
class Collector {
  readonly answers: (Answer | undefined)[]
  readonly asked: Asked[]
  readonly #holds: boolean[][]
  readonly #good: number[]
  readonly #pending: number[]
  #enough = 0
  closed = false

  constructor(
    readonly units: Unit[],
    nodes: Node[],
    readonly stop: () => void,
  ) {
    this.answers = nodes.map(() => undefined)
    this.asked = nodes.map(() => 'not asked')
    this.#holds = nodes.map((n) => units.map((u) => holds(u, n)))
    this.#good = units.map(() => 0)
    this.#pending = units.map(() => 0)
  }

  complete(): boolean {
    return this.#enough === this.units.length
  }

  holds(i: number, j: number): boolean {
    return this.#holds[i]![j]!
  }

  #short(j: number): boolean {
    const t = this.units[j]!.threshold
    return this.#good[j]! < t && this.#good[j]! + this.#pending[j]! < t
  }

  /** nextUseful is the first node of order not asked yet that holds a share of a short unit; none once complete or closed. */
  nextUseful(order: number[]): number | undefined {
    if (this.closed || this.complete()) return undefined
    return order.find((i) => this.asked[i] === 'not asked' && this.units.some((_, j) => this.#holds[i]![j] && this.#short(j)))
  }

  ask(i: number): void {
    this.asked[i] = 'awaited'
    this.#count(i, 1)
  }

  /** slow notes that node i's hedge delay passed: unanswered, it is no longer counted on (its answer is still taken). */
  slow(i: number): void {
    if (this.asked[i] !== 'awaited') return
    this.asked[i] = 'overdue'
    this.#count(i, -1)
  }

  /** outstanding is how many nodes were asked and have not answered. */
  outstanding(): number {
    return this.asked.filter((a) => a === 'awaited' || a === 'overdue').length
  }

  #count(i: number, d: number): void {
    this.units.forEach((_, j) => {
      if (this.#holds[i]![j]) this.#pending[j]! += d
    })
  }

  /** add takes node i's answer; it returns false when the answer came too late to be used. */
  add(i: number, node: Node, a: Answer): boolean {
    if (this.asked[i] === 'awaited') this.#count(i, -1)
    this.asked[i] = 'answered'
    if (this.closed || this.complete()) {
      a.shares.forEach((s) => wipe(s))
      return false
    }
    this.answers[i] = a
    if (a.err !== undefined) return true
    this.units.forEach((u, j) => {
      const s = a.shares[j]
      if (s !== undefined && verifies(u, node, s) && ++this.#good[j]! === u.threshold) this.#enough++
    })
    if (this.complete()) this.stop()
    return true
  }
}

/** holds reports whether the vault has node's share of u as stored there. */
function holds(u: Unit, node: Node): boolean {
  return u.nodes.find((n) => n.peerId === node.peerIdText)?.stored === true
}

function verifies(u: Unit, node: Node, share: Uint8Array): boolean {
  const un = u.nodes.find((n) => n.peerId === node.peerIdText)
  return un !== undefined && combineSlotOk(u, node.peerId, un.commitment, share)
}

function combineSlotOk(u: Unit, peerId: Uint8Array, commitment: Uint8Array, share: Uint8Array): boolean {
  return share.length === 33 && ctEqual(shareCommitment(u.id, u.version, peerId, share), commitment)
}

export class Releaser<C extends Custodian> {
  constructor(readonly d: ReleaserDeps<C>) {}

  /** The kept checkpoints opened last, by node: each was verified once, when it was kept. */
  readonly #opened = new Map<string, Kept>()

  /** kept is the checkpoint of node the vault keeps, opened; one that does not open counts as none. */
  async kept(node: Node): Promise<Kept | undefined> {
    const raw = this.d.vault.data.checkpoints.find((c) => c.node === node.name)?.checkpoint
    if (raw === undefined) return undefined
    const memo = this.#opened.get(node.name)
    if (memo !== undefined && memo.raw === raw) return memo
    try {
      const k = await openNodeCheckpoint(node, raw)
      this.#opened.set(node.name, k)
      return k
    } catch {
      this.d.logger.warn(`the vault's checkpoint of ${node.name} does not verify; the next one replaces it`)
      return undefined
    }
  }

  /** setKept keeps got, a verified checkpoint of node, as the vault's checkpoint of it (not saved here). */
  setKept(node: Node, got: Kept): void {
    const raw = got.raw
    this.#opened.set(node.name, got)
    const cps = this.d.vault.data.checkpoints
    const i = cps.findIndex((c) => c.node === node.name)
    if (i >= 0) cps[i] = { node: node.name, checkpoint: raw }
    else cps.push({ node: node.name, checkpoint: raw })
  }

  /** proveExtends checks that b, a verified checkpoint of c, extends a, with a consistency proof from the node. */
  async proveExtends(c: C, a: Kept, b: Kept, signal: AbortSignal): Promise<void> {
    if (b.cp.size <= a.cp.size) return extendedBy(a, b.cp, [])
    const resp = await call(this.d.host, c.node, Protocol.proof, ProofRequestSchema, { query: { case: 'consistency', value: { oldSize: a.cp.size, newSize: b.cp.size } } }, ProofResponseSchema, signal)
    const e = fromProto(resp.error)
    if (e !== undefined) throw e
    extendedBy(a, b.cp, resp.hashes)
  }

  /**
   * advance keeps got as c's newest checkpoint if it is newer than the one
   * kept, now that it is proven to extend sent (the one kept when the
   * request was sent). Another request may have kept another checkpoint
   * meanwhile: got must then be proven consistent with that one too.
   */
  async advance(c: C, sent: Kept | undefined, got: Kept, signal: AbortSignal): Promise<boolean> {
    for (;;) {
      const raw = this.d.vault.data.checkpoints.find((x) => x.node === c.node.name)?.checkpoint
      if (raw !== undefined && (sent === undefined || !ctEqual(raw, sent.raw))) {
        let cur: Kept | undefined
        try {
          const memo = this.#opened.get(c.node.name)
          cur = memo !== undefined && memo.raw === raw ? memo : await openNodeCheckpoint(c.node, raw)
        } catch {
          cur = undefined
        }
        if (cur !== undefined) {
          const [a, b] = got.cp.size < cur.cp.size ? [got, cur] : [cur, got]
          try {
            await this.proveExtends(c, a, b, signal)
          } catch (e) {
            if (e instanceof ForkedLogError) throw e
            throw new BadReceiptError(`its checkpoint could not be proven consistent with the newer one kept meanwhile: ${(e as Error).message}`)
          }
          sent = cur
          continue
        }
      } else if (raw !== undefined && sent !== undefined && got.cp.size <= sent.cp.size) {
        return false
      }
      this.setKept(c.node, got)
      return true
    }
  }

  /**
   * checkReceipt verifies that resp's receipt proves c logged exactly the
   * release resp answers, and returns the receipt to keep. A receipt that
   * verifies but proves a lie is kept as evidence, and the lie thrown.
   */
  async #checkReceipt(c: C, req: ReleaseRequest, units: Unit[], resp: ReleaseResponse, kept: Kept | undefined, signal: AbortSignal): Promise<Receipt> {
    const r = resp.receipt
    if (r === undefined) throw new BadReceiptError('there is none')
    let got: Kept
    try {
      got = await openNodeCheckpoint(c.node, r.checkpoint)
    } catch {
      throw new BadReceiptError('the checkpoint is not signed by the node')
    }
    let included = false
    try {
      included = verifyInclusion(proofHashes(r.proof), got.cp.size, got.cp.root, r.index, r.entry)
    } catch {
      throw new BadReceiptError('the proof is malformed')
    }
    if (!included) throw new BadReceiptError("the entry is not in the checkpoint's log")
    let entry
    try {
      entry = parseEntry(r.entry)
    } catch {
      throw new BadReceiptError('the entry is malformed')
    }
    const rcpt: Receipt = { node: c.node.name, units: units.map((u) => ({ id: u.id, version: u.version })), index: r.index, checkpoint: r.checkpoint, entry: r.entry, evidence: '' }
    const evidence = async (kind: Receipt['evidence'], e: Error): Promise<never> => {
      rcpt.evidence = kind
      await this.d.keep([rcpt])
      throw e
    }
    try {
      if (!(await this.#restored(c, kept, got, r.consistency, signal))) await this.advance(c, kept, got, signal)
    } catch (e) {
      if (e instanceof ForkedLogError) return evidence('fork', e)
      throw e
    }
    const lie = matchEntry(entry, this.d.host.peerId, this.d.user, req, resp.shares)
    if (lie !== undefined) return evidence(lie.evidence, lie.error)
    return rcpt
  }

  /**
   * #restored checks that got extends kept, as proof proves, or reports
   * true when a restore of c explains why not (the vault then keeps a
   * checkpoint of c that extends got); a fork nothing explains is thrown.
   */
  async #restored(c: C, kept: Kept | undefined, got: Kept, proof: Uint8Array[], signal: AbortSignal): Promise<boolean> {
    try {
      extendedBy(kept, got.cp, proof)
      return false
    } catch (e) {
      if (!(e instanceof ForkedLogError) || kept === undefined) throw e
      let restored: boolean
      try {
        restored = await this.d.restored(c, kept, got, signal)
      } catch (rerr) {
        throw new BadReceiptError(`${e.message}, and its log could not be read for a restore entry: ${(rerr as Error).message}`)
      }
      if (!restored) throw e
      return true
    }
  }

  /** #batch asks c for its shares of units in one signed request with the journal's nonce. */
  async #batch(c: C, asked: bigint, nonce: Uint8Array, units: Unit[], a: Answer, offset: number, signal: AbortSignal): Promise<void> {
    await this.d.authed(c, signal, async () => {
      const kept = await this.kept(c.node)
      const req = create(ReleaseRequestSchema, { units: units.map((u) => ({ unitId: u.id, version: u.version })), timeUnixMs: asked, nonce, knownSize: kept?.cp.size ?? 0n })
      req.deviceSignature = await this.d.host.sign(releaseTranscript(c.node.peerId, this.d.host.peerId, this.d.user, asked, nonce, req.units))
      const resp = await call(this.d.host, c.node, Protocol.release, ReleaseRequestSchema, req, ReleaseResponseSchema, signal)
      const dropAll = () => resp.shares.forEach((s) => wipe(s.share))
      const refused = fromProto(resp.error)
      if (refused !== undefined) {
        dropAll()
        throw refused
      }
      if (resp.shares.length !== units.length) {
        dropAll()
        throw new CustosError(`the node answered ${resp.shares.length} units for ${units.length} asked`)
      }
      try {
        a.receipts.push(await this.#checkReceipt(c, req, units, resp, kept, signal))
      } catch (e) {
        dropAll()
        throw e
      }
      resp.shares.forEach((s, i) => {
        const u = units[i]!
        let err: Error | undefined
        if (s.unit === undefined || s.unit.version !== u.version || !ctEqual(s.unit.unitId, u.id)) err = new CustosError('the node answered for another unit')
        else err = fromProto(s.error)
        if (err !== undefined) {
          wipe(s.share)
          a.unitErrs[offset + i] = err
        } else {
          a.shares[offset + i] = s.share
        }
      })
    })
  }

  async #releaseAll(c: C, asked: bigint, nonces: Uint8Array[], units: Unit[], signal: AbortSignal): Promise<Answer> {
    const a: Answer = { shares: units.map(() => undefined), unitErrs: units.map(() => undefined), receipts: [], err: undefined }
    for (let b = 0, start = 0; start < units.length && a.err === undefined; b++, start += MAX_BATCH) {
      try {
        await this.#batch(c, asked, nonces[b]!, units.slice(start, start + MAX_BATCH), a, start, signal)
      } catch (e) {
        a.err = e as Error
      }
    }
    if (distrusted(a.err)) {
      this.d.logger.warn(`custodian ${c.node.name}: ${a.err!.message}; none of its shares is used`)
      a.shares.forEach((s, i) => {
        wipe(s)
        a.shares[i] = undefined
      })
    }
    return a
  }

  /**
   * release asks the nodes for their shares of units (as many as needed,
   * see #hedge) and returns each record's plaintext (the caller wipes
   * them), and the shares nodes proved lost. Every node's request is in the
   * journal, durably, before any is sent; all of one unlock's requests carry
   * the same time, its own. With keys, each record's data key is added
   * to them too (the caller wipes them).
   */
  async release(units: Unit[], masterSecret: Uint8Array, signal: AbortSignal | undefined, keys?: Uint8Array[]): Promise<{ records: Uint8Array[]; lost: Lost[] }> {
    const { asked, nonces } = await this.#journaled(Math.ceil(units.length / MAX_BATCH))

    const stop = new AbortController()
    const col = new Collector(
      units,
      this.d.nodes.map((c) => c.node),
      () => stop.abort(new Error('enough shares')),
    )
    const lost: Lost[] = []
    const ask = async (i: number, sig: AbortSignal): Promise<Answer> => {
      const c = this.d.nodes[i]!
      const a = await this.#releaseAll(c, asked, nonces[i]!, units, sig)
      if (a.err === undefined) {
        a.unitErrs.forEach((e, j) => {
          if (e instanceof StatusError && e.code === Code.NOT_FOUND) lost.push({ node: c.node.name, id: units[j]!.id, version: units[j]!.version })
        })
      }
      col.add(i, c.node, a)
      await this.d.keep(a.receipts)
      return a
    }
    const all = this.#hedge(col, stop.signal, signal, ask)
    this.d.background(all)
    await Promise.race([all, new Promise<void>((res) => stop.signal.addEventListener('abort', () => res(), { once: true })), ...(signal ? [new Promise<void>((res) => signal.addEventListener('abort', () => res(), { once: true }))] : [])])
    col.closed = true
    try {
      await this.d.markLost(lost)
      const records: Uint8Array[] = []
      try {
        for (const [j, u] of units.entries()) {
          records.push(await this.#open(u, j, col, masterSecret, keys))
          releaseHooks.opened?.(records[j]!)
        }
      } catch (e) {
        // The records opened before the one that failed are never handed
        // out: their plaintexts (up to 255 of a rotation's batch) go now.
        wipe(...records)
        throw e
      }
      return { records, lost }
    } finally {
      for (const a of col.answers) a?.shares.forEach((s) => wipe(s))
    }
  }

  /** The newest signed time given out, Unix ms: every unlock signs its own. */
  #last = 0
  /** One unlock of one batch journaled ahead, and the append making the next. */
  #spare: Journaled | undefined
  #filling: Promise<void> | undefined

  /**
   * #journaled returns an unlock's requests, in the journal durably: the
   * spare journaled ahead when it is fresh and the unlock has one batch
   * (its first request then waits for no fsync; the next spare is
   * journaled meanwhile), else requests journaled now.
   */
  async #journaled(batches: number): Promise<Journaled> {
    if (batches === 1) {
      if (this.#filling !== undefined) await this.#filling
      const s = this.#spare
      this.#spare = undefined
      if (s !== undefined && Date.now() - Number(s.asked) < SPARE_FRESH_MS) {
        this.#refill()
        return s
      }
    }
    const j = await this.#journal(batches)
    if (batches === 1 && this.#filling === undefined && this.#spare === undefined) this.#refill()
    return j
  }

  #refill(): void {
    const f: Promise<void> = this.#journal(1).then(
      (j) => {
        this.#spare = j
      },
      () => {},
    )
    this.#filling = f
    void f.then(() => {
      if (this.#filling === f) this.#filling = undefined
    })
    this.d.background(f)
  }

  /** #journal records a nonce per node and batch, all with one fresh time, and returns them. */
  async #journal(batches: number): Promise<Journaled> {
    const ms = Math.max(Date.now(), this.#last + 1)
    this.#last = ms
    const nonces = this.d.nodes.map(() => Array.from({ length: batches }, () => randomBytes(REQUEST_NONCE_SIZE)))
    const when = new Date(ms)
    await this.d.vault.appendRequests(this.d.nodes.flatMap((c, i) => nonces[i]!.map((n) => ({ node: c.node.name, time: when, nonce: toHex(n) }))))
    return { asked: BigInt(ms), nonces }
  }

  /** The latency measured of each node, by name (latency.ts). */
  readonly #lat = new Map<string, Latency>()

  #latency(node: Node): Latency {
    let l = this.#lat.get(node.name)
    if (l === undefined) this.#lat.set(node.name, (l = new Latency()))
    return l
  }

  /**
   * #hedge asks nodes with ask, in the order of their latency, as many at
   * once as col needs, and one more each time one fails, answers without
   * a good share of some record, or has not answered within its hedge
   * delay, until col has what it needs or no node it could use is left;
   * then it waits for the requests still out (stopped once col is
   * complete). Every node's request was journaled before the first was
   * sent, so asking one more never waits for the journal.
   */
  async #hedge(col: Collector, stop: AbortSignal, signal: AbortSignal | undefined, ask: (i: number, sig: AbortSignal) => Promise<Answer>): Promise<void> {
    const cancelled = () => stop.aborted || signal?.aborted === true
    const order = rankNodes(
      this.d.nodes.map((_, i) => i),
      (i) => this.#latency(this.d.nodes[i]!.node),
      Date.now(),
    )
    const events: { i: number; slow: boolean }[] = []
    let wake: (() => void) | undefined
    const push = (e: { i: number; slow: boolean }) => {
      events.push(e)
      wake?.()
    }
    const timers: ReturnType<typeof setTimeout>[] = []
    const running: Promise<void>[] = []
    try {
      for (;;) {
        for (let i = col.nextUseful(order); i !== undefined && !cancelled(); i = col.nextUseful(order)) {
          const n = i
          const lat = this.#latency(this.d.nodes[n]!.node)
          col.ask(n)
          const delay = lat.hedgeAfterMs()
          timers.push(setTimeout(() => push({ i: n, slow: true }), delay))
          const sig = withTimeout(signal === undefined ? stop : AbortSignal.any([signal, stop]), this.d.timeoutMs)
          const start = performance.now()
          running.push(
            ask(n, sig)
              .then((a) => {
                const ms = performance.now() - start
                if (a.err === undefined) lat.observe(ms)
                else if (cancelled()) {
                  if (ms >= delay) lat.observe(ms)
                } else lat.fail(Date.now())
              })
              .finally(() => push({ i: n, slow: false })),
          )
        }
        if (col.outstanding() === 0) return
        while (events.length === 0) await new Promise<void>((res) => (wake = res))
        wake = undefined
        const ev = events.shift()!
        if (ev.slow) col.slow(ev.i)
      }
    } finally {
      timers.forEach((t) => clearTimeout(t))
      await Promise.all(running)
    }
  }

  /** #open combines unit j's shares and opens its record; with keys, a copy of its data key is added to them (a change seals under it). */
  async #open(u: Unit, j: number, col: Collector, masterSecret: Uint8Array, keys?: Uint8Array[]): Promise<Uint8Array> {
    // A reason is an Error, or the message of a CustosError made only if
    // the record cannot be opened (most gets leave nodes unasked, and an
    // Error costs its stack trace).
    const reasons = new Map<string, Error | string>()
    const slots: Slot[] = u.nodes.map((un) => {
      const i = this.d.nodes.findIndex((c) => c.node.peerIdText === un.peerId)
      const c = this.d.nodes[i]
      const slot: Slot = { node: un.name, peerId: c?.node.peerId ?? new Uint8Array(0), commitment: un.commitment }
      const a = col.answers[i]
      if (c === undefined) reasons.set(un.name, 'not in the network file any more')
      else if (a === undefined && col.asked[i] === 'not asked') reasons.set(un.name, col.holds(i, j) ? 'not asked' : 'not asked: the vault has no share of this record stored there')
      else if (a === undefined) reasons.set(un.name, 'no answer was waited for')
      else if (a.err !== undefined) reasons.set(un.name, a.err)
      else if (a.unitErrs[j] !== undefined) reasons.set(un.name, a.unitErrs[j]!)
      else slot.share = a.shares[j]
      return slot
    })
    let key: Uint8Array
    try {
      const got = await combineShares(u.threshold, u.id, u.version, u.keyCommit, slots)
      key = got.key
      for (const name of got.blame.bad) {
        reasons.set(name, new BadShareError())
        this.d.logger.warn(`custodian ${name} sent a share of ${u.label} that does not match its commitment`)
      }
    } catch (e) {
      if (!(e instanceof NotEnoughSharesError)) throw new CustosError(`get ${u.label}: ${(e as Error).message}`)
      for (const name of e.blame.bad) {
        reasons.set(name, new BadShareError())
        this.d.logger.warn(`custodian ${name} sent a share of ${u.label} that does not match its commitment`)
      }
      const nodes = [...reasons.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, err]) => new NodeError(n, typeof err === 'string' ? new CustosError(err) : err))
      throw new NotEnoughCustodiansError(`get ${u.label}`, u.threshold, e.have, nodes)
    }
    const k = recordKey(masterSecret, key, u.id, u.version)
    try {
      const plain = open(k, this.d.user, u.id, u.version, u.sealed)
      keys?.push(k.slice())
      return plain
    } catch (e) {
      throw new CustosError(`get ${u.label}: ${(e as Error).message}`)
    } finally {
      wipe(key, k)
    }
  }
}
