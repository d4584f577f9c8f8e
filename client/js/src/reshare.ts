// Moving every record and the login to another network file (docs/client.md,
// "Moving to another network"; client/reshare.go): custodians added,
// removed or replaced, the threshold changed. With the Go client's stages,
// each recorded in the vault before the next, so that a call interrupted
// anywhere is finished by a call with the same file:
//
//  1. deal a new OPRF key over the new network and record it (each new
//     node's key share kept until the node holds it);
//  2. stage the new dealing at the nodes that stay and enroll at the nodes
//     that join (with their invite tokens), recording each;
//  3. move every record not dealt to the new network, and mend every
//     degraded one, as a change (src/change.ts, operation RESHARE), then
//     close the user's account at the nodes that left;
//  4. commit the new dealing at the nodes that stay, and make the new
//     network file and dealing the vault's.
import { AccountRequestSchema, AccountResponseSchema } from './gen/custos_pb.js'
import { ctEqual, utf8, wipe } from './bytes.js'
import { MAX_TOKEN_LEN, Protocol } from './api/protocol.js'
import { fromProto } from './api/status.js'
import { changeFault, type ChangeProgress, type ChangeSource, type Changer } from './change.js'
import { enrollAt, tokenFor } from './enrollat.js'
import { CustosError, NodeError, NoTokenError, NotEnoughCustodiansError } from './errors.js'
import type { Host } from './host.js'
import type { Logger } from './log.js'
import { parseNetwork, type Network } from './network.js'
import { sameCustodians } from './networkupdate.js'
import { commitAt, PasswordChangePendingError, stageAt, type StepContext } from './passwd.js'
import { call, withTimeout } from './rpc.js'
import { loginKeyV2, passwordKey } from './threshold/keys.js'
import { dealLogin } from './threshold/toprf.js'
import { checkUnit, type LoginDealing, type Unit, type VaultData } from './vault/vault.js'
import { checkReshareMac, RESHARE_COMMITTING, RESHARE_DEALING, RESHARE_MOVING, reshareDealing, sealReshare, stageName, type Reshare, type ReshareStage } from './vault/reshare.js'
import type { Custodian } from './client.js'

export type { ReshareStage }

/** ReshareUnderWayError: a reshare is under way in the vault and must be finished first (with its own network file). */
export class ReshareUnderWayError extends CustosError {
  override name = 'ReshareUnderWayError'
}

/** ResharePlan is what a reshare to a network file would do (Client.planReshare). */
export interface ResharePlan {
  oldThreshold: number
  newThreshold: number
  /** Node names: the new names of the nodes that stay. */
  stay: string[]
  join: string[]
  leave: string[]
  /** Records to move or mend. */
  records: number
  /** Of which degraded. */
  degraded: number
  /** Joining nodes with no token that still need one. */
  missingTokens: string[]
  /** How far a reshare to this file got (0: none under way). */
  underWay: ReshareStage | 0
}

/** ReshareResult is what a finished reshare reports. */
export interface ReshareResult {
  moved: number
  /**
   * The nodes that left and did not confirm deleting every share of the
   * user's, or closing the user's account after: their operators should be
   * asked to.
   */
  unreached: string[]
}

export interface ReshareOptions {
  /** How many new nodes must store each moved record (default every one; at least threshold+1: the record is then degraded). */
  minAcks?: number
  progress?: ChangeProgress
  signal?: AbortSignal
}

/** Side is a client of one network, old or new: its nodes and what the reshare asks of it (src/client.ts). */
export interface Side {
  network: Network
  nodes: Custodian[]
  authed<T>(c: Custodian, signal: AbortSignal, fn: () => Promise<T>): Promise<T>
  /** login logs in at every node with pwh under dealing and returns each node's error. */
  login(pwh: Uint8Array, dealing: LoginDealing, signal: AbortSignal | undefined): Promise<(Error | undefined)[]>
  quorum(op: string, need: number, errs: (Error | undefined)[]): NotEnoughCustodiansError | undefined
  changer: Changer<Custodian>
  retryDeletes(signal: AbortSignal | undefined): Promise<void>
  lock(): void
}

/** What a reshare needs of the client (src/client.ts). */
export interface ReshareContext {
  v: VaultData
  save(): Promise<void>
  host: Host
  timeoutMs: number
  logger: Logger
  old: Side
  /** unlockOld logs in with password at the old network, as unlock does. */
  unlockOld(password: Uint8Array, signal: AbortSignal | undefined): Promise<void>
  /** view is a client of the same vault, device and host on the new network; it logs in under the dealing it is given. */
  view(nw: Network): Side
}

/** target parses file and returns the reshare under way to it, if any (checked against its MAC); one to another file is ReshareUnderWayError. */
function target(v: VaultData, file: Uint8Array): { nw: Network; st: Reshare | null } {
  const nw = parseNetwork(file)
  const st = v.reshare ?? null
  if (st !== null) {
    if (!ctEqual(st.network, file)) throw new ReshareUnderWayError(`a reshare is under way, to another network file (${stageName(st.stage)}); finish it with that file first`)
    checkReshareMac(v.masterSecret, st)
  }
  return { nw, st }
}

/** checkTokens checks that tokens name nodes that join nw, each token no longer than a node takes. */
function checkTokens(old: Network, nw: Network, tokens: Record<string, string>): void {
  for (const [name, tok] of Object.entries(tokens)) {
    const n = nw.nodes.find((x) => x.name === name)
    if (n === undefined) throw new CustosError(`a token names node ${JSON.stringify(name).slice(0, 40)}, which is not in the new network file`)
    if (old.nodes.some((x) => x.peerIdText === n.peerIdText)) throw new CustosError(`a token names node ${JSON.stringify(name)}, which is in the network already: only nodes that join need one`)
    if (typeof tok !== 'string') throw new CustosError(`the token for ${name} is not a string`)
    if (utf8(tok).length > MAX_TOKEN_LEN) throw new CustosError(`the token for ${name} is too long`)
  }
}

/** onNetwork reports whether u is dealt to exactly nw's nodes, in its order, with its threshold. */
function onNetwork(u: Unit, nw: Network): boolean {
  return u.threshold === nw.threshold && u.nodes.length === nw.nodes.length && u.nodes.every((n, i) => n.peerId === nw.nodes[i]!.peerIdText)
}

/** planReshare says, asking no node, what a reshare of the vault (on old) to file with tokens would do. */
export function planReshare(v: VaultData, old: Network, file: Uint8Array, tokens: Record<string, string>): ResharePlan {
  const { nw, st } = target(v, file)
  checkTokens(old, nw, tokens)
  const inOld = new Set(old.nodes.map((n) => n.peerIdText))
  const inNew = new Set(nw.nodes.map((n) => n.peerIdText))
  const held = (name: string) => st === null || st.nodes.some((n) => n.name === name && n.keyShare !== null)
  const join = nw.nodes.filter((n) => !inOld.has(n.peerIdText)).map((n) => n.name)
  const moving = v.units.filter((u) => !onNetwork(u, nw) || u.degraded)
  return {
    oldThreshold: old.threshold,
    newThreshold: nw.threshold,
    stay: nw.nodes.filter((n) => inOld.has(n.peerIdText)).map((n) => n.name),
    join,
    leave: old.nodes.filter((n) => !inNew.has(n.peerIdText)).map((n) => n.name),
    records: moving.length,
    degraded: moving.filter((u) => u.degraded).length,
    missingTokens: join.filter((name) => !Object.hasOwn(tokens, name) && held(name)),
    underWay: st?.stage ?? 0,
  }
}

/** See Client.reshare. */
export async function reshare(ctx: ReshareContext, file: Uint8Array, password: Uint8Array, tokens: Record<string, string>, o: ReshareOptions): Promise<ReshareResult> {
  const { nw, st } = target(ctx.v, file)
  checkTokens(ctx.old.network, nw, tokens)
  if (ctx.v.login === null) throw new CustosError('this vault has not enrolled yet; call enroll')
  const others = ctx.v.changes.filter((c) => c.op !== 'reshare').length
  if (others > 0) throw new CustosError(`${others} records have a change under way: unlock to finish them first`)
  if (ctx.v.passwordChange != null) throw new PasswordChangePendingError()
  if (password.length === 0) throw new CustosError('the password is empty')
  if (st === null && isSameCustodians(ctx.old.network, nw)) return mend(ctx, file, password, o)
  return new Resharing(ctx, nw, tokens, o).run(file, password, st)
}

function isSameCustodians(a: Network, b: Network): boolean {
  try {
    sameCustodians(a, b)
    return true
  } catch {
    return false
  }
}

/**
 * mend is a reshare to the network the vault is on: it moves the degraded
 * records to every node again. A file with other addresses or names of the
 * same nodes is for updateNetwork.
 */
async function mend(ctx: ReshareContext, file: Uint8Array, password: Uint8Array, o: ReshareOptions): Promise<ReshareResult> {
  if (!ctEqual(file, ctx.v.network)) throw new CustosError("the new network file lists the vault's custodians and threshold, with other addresses or names: adopt it with updateNetwork")
  await ctx.unlockOld(password, o.signal)
  const degraded = ctx.v.units.filter((u) => u.degraded)
  for (const u of degraded) checkUnit(ctx.v.masterSecret, u)
  if (degraded.length === 0) return { moved: 0, unreached: [] }
  const ch = ctx.old.changer
  return { moved: await ch.reshare(degraded, ch.needAcks(o.minAcks), o.progress, o.signal), unreached: [] }
}

/** Resharing is one call of reshare: the old network's side, and the new network's (next). */
class Resharing {
  #next: Side | undefined
  #result: ReshareResult = { moved: 0, unreached: [] }

  constructor(
    readonly ctx: ReshareContext,
    readonly nw: Network,
    readonly tokens: Record<string, string>,
    readonly o: ReshareOptions,
  ) {}

  get st(): Reshare {
    return this.ctx.v.reshare!
  }

  async run(file: Uint8Array, password: Uint8Array, st: Reshare | null): Promise<ReshareResult> {
    const { ctx } = this
    try {
      if (st === null || st.stage < RESHARE_COMMITTING) await ctx.unlockOld(password, this.o.signal)
      const pwh = await passwordKey(password, ctx.v.passwordKdf)
      try {
        if (st === null) await this.#deal(file, pwh.bytes())
        this.#next = ctx.view(this.nw)
        const steps: [ReshareStage, () => Promise<void>, string][] = [
          [RESHARE_DEALING, () => this.#deliver(), 'reshare delivered'],
          [RESHARE_MOVING, () => this.#move(pwh.bytes()), 'reshare moved'],
          [RESHARE_COMMITTING, () => this.#commit(pwh.bytes()), 'reshare finished'],
        ]
        for (const [stage, step, done] of steps) {
          if (ctx.v.reshare?.stage !== stage) continue
          this.o.signal?.throwIfAborted()
          await step()
          if (stage < RESHARE_COMMITTING) await this.#setStage((stage + 1) as ReshareStage)
          changeFault(done)
        }
      } finally {
        pwh.wipe()
      }
      return this.#result
    } finally {
      this.#next?.lock()
      ctx.old.lock()
    }
  }

  /** #record applies f to the reshare and saves the vault; if the save fails, the reshare is put back as it was. */
  async #record(f: (r: Reshare) => void): Promise<void> {
    const before = this.ctx.v.reshare!
    checkReshareMac(this.ctx.v.masterSecret, before)
    const next: Reshare = { ...before, nodes: before.nodes.map((n) => ({ ...n })) }
    f(next)
    sealReshare(this.ctx.v.masterSecret, next)
    this.ctx.v.reshare = next
    try {
      await this.ctx.save()
    } catch (e) {
      this.ctx.v.reshare = before
      throw new CustosError(`record the reshare's progress in the vault: ${(e as Error).message}`)
    }
  }

  async #setStage(stage: ReshareStage): Promise<void> {
    await this.#record((r) => (r.stage = stage))
  }

  /**
   * #deal deals a new OPRF key of the epoch after the login dealing's over
   * the new network's nodes, makes each node's login public key of the
   * password from it, and records it, every key share held, before any
   * node is sent one.
   */
  async #deal(file: Uint8Array, pwh: Uint8Array): Promise<void> {
    const { v } = this.ctx
    const epoch = v.login!.epoch + 1
    if (epoch > 2 ** 32 - 1) throw new CustosError('the login dealing is of the last epoch there is')
    const dealt = dealLogin(pwh, this.nw.threshold, this.nw.nodes.length)
    try {
      const nodes = this.nw.nodes.map((n, i) => {
        const s = dealt.shares[i]!
        const k = loginKeyV2(dealt.rwd.bytes(), v.masterSecret, n.peerId)
        const out = { name: n.name, peerId: n.peerIdText, index: s.index, publicShare: s.publicShare, authPublicKey: k.publicKey, keyShare: s.keyShare.slice() }
        k.wipe()
        return out
      })
      const r: Reshare = { network: file.slice(), stage: RESHARE_DEALING, epoch, threshold: this.nw.threshold, nodes, mac: new Uint8Array(0) }
      sealReshare(v.masterSecret, r)
      v.reshare = r
      v.closedAccounts = []
      try {
        await this.ctx.save()
      } catch (e) {
        v.reshare = null
        throw e
      }
    } finally {
      dealt.rwd.wipe()
      wipe(...dealt.shares.map((s) => s.keyShare))
    }
  }

  /** #deliver stages the new dealing at each new node that stays and enrolls at each that joins, for the nodes whose key share the vault still holds, recording each. */
  async #deliver(): Promise<void> {
    const { ctx } = this
    const next = this.#next!
    const failed: NodeError[] = []
    for (const [i, nn] of this.st.nodes.entries()) {
      if (nn.keyShare === null) continue
      this.o.signal?.throwIfAborted()
      const share = { index: nn.index, keyShare: nn.keyShare, publicShare: nn.publicShare }
      const signal = withTimeout(this.o.signal, ctx.timeoutMs)
      try {
        const old = ctx.old.nodes.find((c) => c.node.peerIdText === nn.peerId)
        if (old !== undefined) {
          await stageAt({ host: ctx.host, authed: (c, s, f) => ctx.old.authed(c, s, f) }, old, { epoch: this.st.epoch, shares: [share], auth: [nn.authPublicKey] }, 0, signal)
        } else {
          await this.#enroll(next.nodes[i]!, share, nn.authPublicKey, signal)
        }
      } catch (e) {
        failed.push(new NodeError(nn.name, e instanceof Error ? e : new Error(String(e))))
        continue
      }
      // Wiped once the vault says the node holds it: until the save is
      // made, the reshare put back on a failure still needs it.
      await this.#record((r) => (r.nodes[i]!.keyShare = null))
      wipe(nn.keyShare)
    }
    const n = this.st.nodes.length
    if (failed.length > 0) throw new NotEnoughCustodiansError("give the new network's nodes the new login key", n, n - failed.length, failed)
  }

  /**
   * #enroll enrolls at a node that joins, with its token. A node that
   * answers that the user is enrolled there took this dealing in a run
   * interrupted before it was recorded, or holds another: the login at the
   * new network that follows tells which.
   */
  async #enroll(c: Custodian, share: { index: number; keyShare: Uint8Array; publicShare: Uint8Array }, auth: Uint8Array, signal: AbortSignal): Promise<void> {
    const token = tokenFor(this.tokens, c.node.name)
    if (token === undefined) throw new NoTokenError()
    const got = await enrollAt(this.ctx.host, c.node, this.ctx.v.user, token, this.st.epoch, share, auth, signal)
    if (got.state === 'not enrolled') throw got.error ?? new CustosError('not enrolled')
  }

  /** #login logs in at every new node under the new dealing. */
  async #login(pwh: Uint8Array): Promise<void> {
    const next = this.#next!
    const errs = await next.login(pwh, reshareDealing(this.st), this.o.signal)
    const q = next.quorum('log in at the new network', next.nodes.length, errs)
    if (q !== undefined) throw q
  }

  /** #move moves the records not dealt to the new network from the old one, mends the degraded records of the new one, and closes the user's account at the nodes that left. */
  async #move(pwh: Uint8Array): Promise<void> {
    const { ctx } = this
    const next = this.#next!
    await this.#login(pwh)
    const fromOld = ctx.v.units.filter((u) => !onNetwork(u, this.nw))
    const mending = ctx.v.units.filter((u) => onNetwork(u, this.nw) && u.degraded)
    for (const u of [...fromOld, ...mending]) checkUnit(ctx.v.masterSecret, u)
    const need = next.changer.needAcks(this.o.minAcks)
    const total = fromOld.length + mending.length
    const progress = this.o.progress
    const d = ctx.old.changer.d
    const source: ChangeSource<Custodian> = { nodes: ctx.old.nodes, release: d.release, deleteAt: d.deleteAt }
    let moved = 0
    if (fromOld.length > 0) moved += await next.changer.reshare(fromOld, need, progress && ((done) => progress(done, total)), this.o.signal, source)
    if (mending.length > 0) moved += await next.changer.reshare(mending, need, progress && ((done) => progress(moved + done, total)), this.o.signal)
    this.#result.moved = moved
    // The deletes at the new nodes of new versions given up.
    await next.retryDeletes(this.o.signal)
    // The nodes that left are asked now, while the old login's sessions are good.
    this.#result.unreached = await this.#closeLeft(await this.#leftBehind())
  }

  /** #leftBehind asks the nodes that left again for the deletes they have not confirmed, drops those from the pending deletes, and names the nodes that still have not. */
  async #leftBehind(): Promise<string[]> {
    const { ctx } = this
    await ctx.old.retryDeletes(this.o.signal)
    const inNew = new Set(this.nw.nodes.map((n) => n.name))
    const unreached = new Set<string>()
    const before = ctx.v.pendingDeletes
    ctx.v.pendingDeletes = before.flatMap((p) => {
      for (const n of p.nodes) if (!inNew.has(n)) unreached.add(n)
      const still = p.nodes.filter((n) => inNew.has(n))
      return still.length === 0 ? [] : [{ ...p, nodes: still }]
    })
    try {
      await ctx.save()
    } catch (e) {
      ctx.v.pendingDeletes = before
      ctx.logger.warn(`the vault could not drop the deletes of nodes that left: ${(e as Error).message}`)
    }
    return [...unreached].sort()
  }

  /**
   * #closeLeft closes the user's account at each node that left and
   * confirmed every delete (not in unreached), and records each closed one
   * (a resumed reshare does not ask it again: it no longer knows the user).
   * It returns unreached with the nodes that did not confirm the closing.
   */
  async #closeLeft(unreached: string[]): Promise<string[]> {
    const { ctx } = this
    const out = new Set(unreached)
    const inNew = new Set(this.nw.nodes.map((n) => n.peerIdText))
    for (const c of ctx.old.nodes) {
      const name = c.node.name
      if (inNew.has(c.node.peerIdText) || out.has(name) || (ctx.v.closedAccounts ?? []).includes(name)) continue
      try {
        await this.#closeAccountAt(c)
      } catch (e) {
        ctx.logger.warn(`${name}, which left, did not close the user's account: ${(e as Error).message}`)
        out.add(name)
        continue
      }
      const before = ctx.v.closedAccounts ?? []
      ctx.v.closedAccounts = [...before, name]
      await ctx.save().catch((e: Error) => {
        ctx.v.closedAccounts = before
        ctx.logger.warn(`the vault could not record a closed account: ${e.message}`)
      })
      changeFault(`closed ${name}`)
    }
    return [...out].sort()
  }

  /** #closeAccountAt closes the user's account at c (logged in), which holds none of the user's shares: the node refuses otherwise. */
  async #closeAccountAt(c: Custodian): Promise<void> {
    const signal = withTimeout(this.o.signal, this.ctx.timeoutMs)
    await this.ctx.old.authed(c, signal, async () => {
      const resp = await call(this.ctx.host, c.node, Protocol.account, AccountRequestSchema, { op: { case: 'close', value: {} } }, AccountResponseSchema, signal)
      const e = fromProto(resp.error)
      if (e !== undefined) throw e
    })
  }

  /** #commit commits the new dealing at the nodes that stay, and makes the new network file and dealing the vault's. */
  async #commit(pwh: Uint8Array): Promise<void> {
    const { ctx } = this
    const next = this.#next!
    if (next.nodes.some((c) => c.key === undefined)) await this.#login(pwh)
    const step: StepContext = { host: ctx.host, authed: (c, s, f) => next.authed(c, s, f) }
    const failed: NodeError[] = []
    for (const c of next.nodes) {
      if (!ctx.old.nodes.some((x) => x.node.peerIdText === c.node.peerIdText)) continue // it joined with the new dealing current
      try {
        await commitAt(step, c, this.st.epoch, withTimeout(this.o.signal, ctx.timeoutMs))
      } catch (e) {
        failed.push(new NodeError(c.node.name, e instanceof Error ? e : new Error(String(e))))
      }
    }
    const n = next.nodes.length
    if (failed.length > 0) throw new NotEnoughCustodiansError('commit the new login key', n, n - failed.length, failed)
    changeFault('reshare commit')
    const v = ctx.v
    const done = this.st
    const before = { network: v.network, login: v.login, reshare: v.reshare, closedAccounts: v.closedAccounts }
    v.network = done.network.slice()
    v.login = reshareDealing(done)
    v.reshare = null
    v.closedAccounts = []
    try {
      await ctx.save()
    } catch (e) {
      Object.assign(v, before)
      throw e
    }
  }
}

/** pendingReshare says how far a reshare under way got, or 0 when none is. */
export function pendingReshare(v: VaultData): ReshareStage | 0 {
  return v.reshare?.stage ?? 0
}

/** refuseDuringReshare throws ReshareUnderWayError while a reshare is under way. */
export function refuseDuringReshare(v: VaultData): void {
  if (v.reshare != null) throw new ReshareUnderWayError('a reshare is under way: finish it (reshare, with its network file) first')
}

