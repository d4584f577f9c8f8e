// Client is one user's view of a custos network: the local vault, the
// device's libp2p host, and, once unlocked, the sessions at the nodes and
// the login keys. It follows the Go library's journey and guarantees
// (client/*.go, docs/client.md): unlock at least k nodes in parallel, put
// at every node (or minAcks ≥ k+1), get with every share checked against its
// commitment and every receipt checked, typed errors naming each node.
import { Code, Operation, DeleteRequestSchema, DeleteResponseSchema, ListRequestSchema, ListResponseSchema, PutRequestSchema, PutResponseSchema } from './gen/custos_pb.js'
import { ctEqual, randomBytes, utf8, wipe } from './bytes.js'
import { MAX_TOKEN_LEN, Protocol, validUser } from './api/protocol.js'
import { fromProto, isCode, StatusError } from './api/status.js'
import {
  ClosedError,
  CustosError,
  ExistsError,
  LockedError,
  NodeError,
  NoTokenError,
  NotEnoughCustodiansError,
  NotEnrolledError,
  NotFoundError,
  RateLimitedError,
  VaultLockedError,
  WrongPasswordError,
} from './errors.js'
import { Host, type Transports } from './host.js'
import { deriveLoginKeys, loginAgain, loginFull, LoginRound, type Session } from './login.js'
import { parseNetwork, type Network, type Node } from './network.js'
import { call, withTimeout } from './rpc.js'
import { newPasswordKDF, loginKeyV2, passwordKey, recordKey, type LoginKey } from './threshold/keys.js'
import { deal } from './threshold/shares.js'
import { seal } from './threshold/seal.js'
import { dealLogin } from './threshold/toprf.js'
import { VaultHandle } from './vault/handle.js'
import { checkUnit, unitMac, validLabel, type Receipt, type Restore, type Unit, type VaultData } from './vault/vault.js'
import type { VaultStorage } from './vault/storage.js'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { Releaser } from './release.js'
import { Restorer } from './restore.js'
import { readHistory, readUserLog, type HistoryDeps, type HistoryEntry, type LoggedEntry } from './history.js'
import type { Request } from './vault/journal.js'
import { Changer, type ChangeProgress, type PendingChange } from './change.js'
import { dropConfirmed, type ConfirmedDelete } from './vault/changes.js'
import type { LoginDealing } from './vault/vault.js'
import * as passwd from './passwd.js'
import { adoptLogin, followNote } from './dealingnote.js'
import * as vaultmove from './vaultmove.js'
import { deviceOp, devicePeerId, type NodeDevices } from './devices.js'
import { adopted, changes, sameCustodians, type NodeUpdate } from './networkupdate.js'
import { enrollAt, tokenFor, type EnrollState } from './enrollat.js'
import * as reshare from './reshare.js'

import type { Logger } from './log.js'

/**
 * retryHooks.beforeDelete, when a test sets it, is awaited before each
 * delete a retry of the pending deletes sends (with the node's name), so
 * that a test can change the vault's list while a retry is under way. Only
 * tests set it.
 */
export const retryHooks: { beforeDelete: ((node: string) => Promise<void>) | undefined } = { beforeDelete: undefined }

export type { Logger }

export interface ClientOptions {
  /** The transports of the device's host: nodeTransports() in Node.js. */
  transports: Transports
  /** Bounds one request to one node (default 10 s). */
  timeoutMs?: number
  /** After this long with no operation the client locks itself: it forgets the login keys and ends its sessions (default 5 min; 0: never). */
  idleTimeoutMs?: number
  /** The longest login backoff unlock waits out itself, once (default 5 s; negative: never). */
  maxLoginWaitMs?: number
  logger?: Logger
  /** Told each step of a password change (src/passwd.ts); a returned promise is awaited. A throw at the last step is logged, not thrown: the change is done then. */
  passwdProgress?: (p: passwd.PasswdProgress) => void | Promise<void>
}

/** Record is what a unit holds: a vendor username and its password (or any secret). */
export interface SecretRecord {
  username?: string
  password: string
}

/** UnitInfo describes a record in the vault, without its secret. */
export interface UnitInfo {
  label: string
  id: string
  version: bigint
  threshold: number
  nodes: number
  degraded: boolean
  created: Date
}

export type { EnrollState }

export interface EnrollResult {
  node: string
  state: EnrollState
  error?: Error
}

export interface NodeStatus {
  name: string
  peerId: string
  reachable: boolean
  loggedIn: boolean
  latencyMs: number
  error?: Error
}

export const MAX_USERNAME_LEN = 256
const RECORD_FORMAT = 'custos-record/1'
const LOGIN_GRACE_MS = 250
const BACKOFF_SLACK_MS = 50

/** validUsername: empty, or up to 256 bytes of printable UTF-8 with no space at either end. */
export function validUsername(u: string): boolean {
  return u === '' || validLabelLike(u, MAX_USERNAME_LEN)
}

function validLabelLike(s: string, max: number): boolean {
  const n = utf8(s).length
  return n >= 1 && n <= max && !/^\s|\s$/u.test(s) && /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]+$/u.test(s)
}

/** Custodian is one node and this client's state with it. */
export class Custodian {
  session: Session | undefined
  key: LoginKey | undefined
  /** The epoch of the dealing key is of: a login again names it, whatever dealing the vault's logins take meanwhile (a password change under way). */
  epoch = 0
  relogin: Promise<void> | undefined
  constructor(readonly node: Node) {}

  forget(): void {
    this.key?.wipe()
    this.key = undefined
    this.session = undefined
  }
}

function passwordBytes(p: string | Uint8Array): Uint8Array {
  return typeof p === 'string' ? utf8(p) : p.slice()
}

export class Client {
  readonly #vh: VaultHandle
  readonly #v: VaultData
  readonly network: Network
  readonly #host: Host
  readonly #nodes: Custodian[]
  readonly #opts: Required<Omit<ClientOptions, 'logger' | 'passwdProgress'>> & Pick<ClientOptions, 'passwdProgress'> & { logger: Logger }
  #unlocked = false
  #closed = false
  #ops = 0
  #idle: ReturnType<typeof setTimeout> | undefined
  #background = new Set<Promise<unknown>>()
  #unsaved = 0
  #savedAt = Date.now()
  /** The receipts' save under way, if one is. */
  #saving: Promise<void> | undefined
  readonly #releaser: Releaser<Custodian>
  readonly #restorer: Restorer<Custodian>
  readonly #changer: Changer<Custodian>
  /** New-device invite tokens by node name while addDevice runs. */
  #tokens: Record<string, string> | undefined

  private constructor(vh: VaultHandle, network: Network, host: Host, opts: ClientOptions) {
    this.#vh = vh
    this.#v = vh.data
    this.network = network
    this.#host = host
    this.#nodes = network.nodes.map((n) => new Custodian(n))
    this.#opts = {
      transports: opts.transports,
      timeoutMs: opts.timeoutMs ?? 10_000,
      idleTimeoutMs: opts.idleTimeoutMs ?? 5 * 60_000,
      maxLoginWaitMs: opts.maxLoginWaitMs ?? 5_000,
      logger: opts.logger ?? { warn: () => {} },
      passwdProgress: opts.passwdProgress,
    }
    this.#restorer = new Restorer({ vault: vh, logger: this.#opts.logger, history: () => this.#historyDeps(), setKept: (node, got) => this.#releaser.setKept(node, got) })
    this.#releaser = new Releaser({
      host,
      vault: vh,
      user: this.#v.user,
      nodes: this.#nodes,
      timeoutMs: this.#opts.timeoutMs,
      logger: this.#opts.logger,
      authed: (c, signal, fn) => this.#authed(c, signal, fn),
      keep: (rs) => this.#keepReceipts(rs),
      restored: (c, kept, got, signal) => this.#restorer.restoredSince(c, kept, got, signal),
      markLost: (lost) => this.#markLost(lost),
      background: (p) => this.#track(p),
    })
    this.#changer = new Changer({
      host,
      vault: vh,
      user: this.#v.user,
      nodes: this.#nodes,
      threshold: network.threshold,
      timeoutMs: this.#opts.timeoutMs,
      logger: this.#opts.logger,
      authed: (c, signal, fn) => this.#authed(c, signal, fn),
      release: async (units, signal, keys) => {
        const opened = await this.#releaser.release(units, this.#v.masterSecret, signal, keys)
        return opened.records
      },
      seal: (label, rec, id, version) => this.#seal(label, rec, id, version),
      deleteAt: (c, ref, signal, op) => this.#deleteAt(c, ref, signal, op),
      marshal: marshalRecord,
      parse: parseRecord,
    })
  }

  /**
   * init makes a new vault in storage for user on the network networkFile
   * describes: a fresh device key, master secret and password salt. It
   * refuses to overwrite a vault. Nothing leaves the device.
   */
  static async init(storage: VaultStorage, networkFile: Uint8Array, user: string): Promise<void> {
    if (!validUser(user)) throw new CustosError(`${JSON.stringify(user).slice(0, 140)} is not a valid user name: use 1 to 128 letters, digits and . _ @ + -`)
    parseNetwork(networkFile)
    const key = await generateKeyPair('Ed25519')
    const data: VaultData = {
      user,
      network: networkFile.slice(),
      deviceKey: privateKeyToProtobuf(key),
      masterSecret: randomBytes(32),
      passwordKdf: newPasswordKDF(randomBytes(16)),
      login: null,
      units: [],
      pendingDeletes: [],
      changes: [],
      receipts: [],
      checkpoints: [],
      restores: [],
    }
    try {
      await VaultHandle.create(storage, data)
    } finally {
      wipe(data.masterSecret, data.deviceKey)
    }
  }

  /** open opens the vault in storage, holding it against other clients until close, and starts the device's host. It does not log in. */
  static async open(storage: VaultStorage, opts: ClientOptions): Promise<Client> {
    const vh = await VaultHandle.open(storage)
    try {
      const network = parseNetwork(vh.data.network)
      const host = await Host.start(vh.data.deviceKey, opts.transports)
      return new Client(vh, network, host, opts)
    } catch (e) {
      await vh.close()
      throw e
    }
  }

  get user(): string {
    return this.#v.user
  }

  /** device is the peer ID of the vault's device key, as nodes log it. */
  get device(): string {
    return this.#host.peerIdText
  }

  get unlocked(): boolean {
    return this.#unlocked
  }

  // --- operations and the idle timeout

  #begin(needUnlocked: boolean): () => void {
    if (this.#closed) throw new ClosedError()
    if (needUnlocked && !this.#unlocked) throw new VaultLockedError()
    this.#ops++
    if (this.#idle !== undefined) clearTimeout(this.#idle)
    this.#idle = undefined
    return () => {
      if (--this.#ops === 0) this.#armIdle()
    }
  }

  #armIdle(): void {
    if (this.#opts.idleTimeoutMs <= 0 || !this.#unlocked || this.#closed) return
    this.#idle = setTimeout(() => {
      this.#idle = undefined
      if (this.#ops === 0) this.lock()
    }, this.#opts.idleTimeoutMs)
    ;(this.#idle as { unref?: () => void }).unref?.()
  }

  #track<T>(p: Promise<T>): void {
    const q = p.catch(() => {})
    this.#background.add(q)
    void q.finally(() => this.#background.delete(q))
  }

  /**
   * lock forgets every login key and session on this side and closes the
   * connections to the nodes. Wiping is best effort (docs/js.md).
   */
  lock(): void {
    this.#unlocked = false
    if (this.#idle !== undefined) clearTimeout(this.#idle)
    this.#idle = undefined
    for (const c of this.#nodes) {
      c.forget()
      this.#track(this.#host.hangUp(c.node))
    }
  }

  /** close saves the receipts not saved yet, locks, stops the host and releases the vault. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.lock()
    while (this.#background.size > 0) await Promise.all([...this.#background])
    try {
      if (this.#unsaved > 0) await this.#vh.save()
    } finally {
      await this.#host.stop()
      wipe(this.#v.masterSecret, this.#v.deviceKey)
      await this.#vh.close()
    }
  }

  // --- login

  #share(node: Node, login: LoginDealing) {
    const s = login.shares.find((x) => x.node === node.name && x.peerId === node.peerIdText)
    return s
  }

  /** #loginContext names the epoch of a login: the dealing's a full login evaluates, or the one a kept login key is of (Custodian.epoch). */
  #loginContext(epoch: number) {
    return { host: this.#host, user: this.#v.user, epoch, tokens: this.#tokens }
  }

  /**
   * #loginRound logs in at nodes with a fresh blinded password hash and
   * returns each node's error (undefined for a session), in the order of
   * nodes. It returns once every login ended, or a moment after need of
   * them succeeded: logins still running go on in the background. The
   * dealing is the one logins use, unless a password change names another.
   */
  async #loginRound(pwh: Uint8Array, nodes: Custodian[], need: number, signal: AbortSignal | undefined, dealing?: LoginDealing): Promise<(Error | undefined)[]> {
    const login = dealing ?? passwd.dealingInUse(this.#v)
    if (login === null) return nodes.map(() => new NotEnrolledError('this vault has not enrolled yet; call enroll'))
    const m = this.#v.masterSecret
    const round = new LoginRound(pwh, login.threshold, nodes.length, (rwd) => deriveLoginKeys(rwd, m, this.network.nodes))
    const pending = new Error('no answer yet')
    const errs: (Error | undefined)[] = nodes.map(() => pending)
    let ok = 0
    let graceDone: () => void = () => {}
    const grace = new Promise<void>((res) => (graceDone = res))
    const all = nodes.map(async (c, i) => {
      const share = this.#share(c.node, login)
      const sig = withTimeout(undefined, this.#opts.timeoutMs)
      try {
        if (share === undefined) {
          round.fail()
          throw new NotEnrolledError('the vault holds no public share of this node: it was not enrolled with this vault')
        }
        const got = await loginFull(this.#loginContext(login.epoch), c.node, share, round, sig)
        c.key?.wipe()
        c.key = got.key
        c.epoch = login.epoch
        c.session = got.session
        errs[i] = undefined
        if (++ok === need) setTimeout(graceDone, LOGIN_GRACE_MS)
      } catch (e) {
        errs[i] = e instanceof Error ? e : new Error(String(e))
        if (!(e instanceof CustosError || e instanceof StatusError)) void this.#host.hangUp(c.node).catch(() => {})
      }
    })
    const everything = Promise.all(all)
    this.#track(everything)
    const stop = new Promise<void>((res) => signal?.addEventListener('abort', () => res(), { once: true }))
    await Promise.race([everything, grace, stop])
    // The login keys are derived for every node once; keep them for the others.
    const keys = await round.keys().catch(() => undefined)
    if (keys !== undefined) {
      for (const c of this.#nodes) {
        if (c.key === undefined) {
          c.key = keys.get(c.node.name)
          c.epoch = login.epoch
        } else if (keys.get(c.node.name) !== c.key) keys.get(c.node.name)?.wipe()
      }
    }
    return [...errs]
  }

  #quorum(op: string, need: number, errs: (Error | undefined)[], nodes = this.#nodes): NotEnoughCustodiansError | undefined {
    const failed = errs.flatMap((e, i) => (e === undefined ? [] : [new NodeError(nodes[i]!.node.name, e)]))
    const have = errs.length - failed.length
    return have >= need ? undefined : new NotEnoughCustodiansError(op, need, have, failed)
  }

  /**
   * unlock hashes the password once (Argon2id) and logs in at every node in
   * parallel (login v2). It succeeds when at least the threshold accept;
   * otherwise it throws a NotEnoughCustodiansError naming every node and its
   * reason (WrongPasswordError with the attempts left, LockedError,
   * NotEnrolledError, RateLimitedError, BadEvaluationError for a node whose
   * proof failed, …). A login backoff up to maxLoginWaitMs is waited out once.
   * A password change made on another device of the user is followed: the
   * vault takes the new dealing from the nodes' dealing note, once it
   * verifies, and the login is made again (src/dealingnote.ts).
   */
  async unlock(password: string | Uint8Array, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#unlock(password, this.network.threshold, opts.signal)
  }

  /**
   * #unlock is unlock, waiting for wait of the logins (addDevice waits for
   * every node). A login refused under a dealing another device's password
   * change replaced is made again under the new one (src/dealingnote.ts).
   * It returns each node's error, in network order.
   */
  async #unlock(password: string | Uint8Array, wait: number, signal: AbortSignal | undefined): Promise<(Error | undefined)[]> {
    const done = this.#begin(false)
    const pw = passwordBytes(password)
    try {
      const pwh = await passwordKey(pw, this.#v.passwordKdf)
      let errs
      try {
        const k = this.network.threshold
        errs = await this.#loginRound(pwh.bytes(), this.#nodes, wait, signal)
        errs = await this.#waitBackoff(pwh.bytes(), errs, k, signal)
        errs = await this.#followChange(pwh.bytes(), errs, wait, signal)
        const q = this.#quorum('unlock', k, errs)
        if (q !== undefined) {
          this.lock()
          throw q
        }
      } finally {
        pwh.wipe()
      }
      this.#unlocked = true
      await this.#changer.resume(signal)
      await this.#retryDeletes(signal)
      return errs
    } finally {
      wipe(pw)
      done()
    }
  }

  // --- a second device (src/vaultmove.ts)

  /**
   * exportVault returns the vault for another device of the user,
   * encrypted with age to recipients (age1…, or age1pq1… as from
   * newRecoveryKey): every record, the login dealing and the master
   * secret, but not the device key nor the request journal. It asks no
   * node. The export and a key it is encrypted to open every record with
   * the password: keep them offline. Client.importVault reads it; the Go
   * client's `custos vault import` does not (docs/js.md).
   */
  async exportVault(recipients: string[]): Promise<Uint8Array> {
    const done = this.#begin(false)
    try {
      reshare.refuseDuringReshare(this.#v) // a copy would hold records at nodes its network file does not list
      return await vaultmove.exportVault(this.#v, this.device, recipients)
    } finally {
      done()
    }
  }

  /**
   * importVault makes a vault in storage from an export (exportVault),
   * decrypted with the age identity, under a fresh device key; the nodes do
   * not know that device until addDevice. It refuses to overwrite a vault,
   * and an export that breaks its format (ExportFormatError) or holds a
   * damaged record (DamagedError). It returns the export's user and the
   * device it came from.
   */
  static async importVault(storage: VaultStorage, bytes: Uint8Array, identity: string): Promise<{ user: string; device: string; created: Date }> {
    return vaultmove.importVault(storage, bytes, identity)
  }

  // --- following another device's password change (src/dealingnote.ts)

  /**
   * #followChange logs in again at every node, under the dealing another
   * device's password change made, when the logins (errs) handed out its
   * note and the vault took it; otherwise it returns errs as they are.
   */
  async #followChange(pwh: Uint8Array, errs: (Error | undefined)[], wait: number, signal: AbortSignal | undefined): Promise<(Error | undefined)[]> {
    if (this.#quorum('unlock', this.network.threshold, errs) === undefined) return errs
    const from = passwd.dealingInUse(this.#v)
    if (from === null) return errs
    const login = followNote(this.#v, this.network.nodes, this.network.threshold, from.epoch, errs, this.#opts.logger)
    if (login === null) return errs
    await adoptLogin(this.#v, login, () => this.#vh.save(), this.#opts.logger)
    for (const c of this.#nodes) c.forget() // keys of the old dealing's rwd
    return this.#loginRound(pwh, this.#nodes, wait, signal)
  }

  /** #waitBackoff waits out, once, the login backoff that keeps the logins from need successes, and logs in there again. */
  async #waitBackoff(pwh: Uint8Array, errs: (Error | undefined)[], need: number, signal: AbortSignal | undefined): Promise<(Error | undefined)[]> {
    const ok = errs.filter((e) => e === undefined).length
    const again = this.#nodes.filter((_, i) => {
      const e = errs[i]
      return e instanceof RateLimitedError && e.retryAfterMs > 0 && e.retryAfterMs <= this.#opts.maxLoginWaitMs
    })
    if (ok >= need || again.length === 0 || ok + again.length < need) return errs
    const wait = Math.max(...again.map((c) => (errs[this.#nodes.indexOf(c)] as RateLimitedError).retryAfterMs)) + BACKOFF_SLACK_MS
    this.#opts.logger.warn(`${again.map((c) => c.node.name).join(', ')} asked to wait before the next login (after a failed one, say): waiting ${wait}ms`)
    await new Promise((res) => setTimeout(res, wait))
    signal?.throwIfAborted()
    const out = [...errs]
    const withKeys = again.filter((c) => c.key !== undefined)
    const without = again.filter((c) => c.key === undefined)
    await Promise.all(
      withKeys.map(async (c) => {
        try {
          c.session = await loginAgain(this.#loginContext(c.epoch), c.node, c.key!, withTimeout(signal, this.#opts.timeoutMs))
          out[this.#nodes.indexOf(c)] = undefined
        } catch (e) {
          out[this.#nodes.indexOf(c)] = e as Error
        }
      }),
    )
    if (without.length > 0) {
      const more = await this.#loginRound(pwh, without, need - ok, signal)
      without.forEach((c, j) => (out[this.#nodes.indexOf(c)] = more[j]))
    }
    return out
  }

  /** #session makes sure of a live session at c, logging in again with the kept login key when it is idle or expired. */
  async #session(c: Custodian, signal: AbortSignal): Promise<void> {
    const s = c.session
    const now = Date.now()
    if (s !== undefined && now - s.lastUsed < s.idleMs - 1000 && now < s.expiresAt - 1000 && this.#host.connected(c.node)) {
      s.lastUsed = now
      return
    }
    return this.#relogin(c, signal)
  }

  /** #relogin logs in at c again; requests that find the session gone at once share one login. */
  async #relogin(c: Custodian, signal: AbortSignal): Promise<void> {
    if (c.key === undefined) throw new VaultLockedError()
    c.relogin ??= (async () => {
      try {
        c.session = await loginAgain(this.#loginContext(c.epoch), c.node, c.key!, withTimeout(undefined, this.#opts.timeoutMs))
      } finally {
        c.relogin = undefined
      }
    })()
    const p = c.relogin
    await Promise.race([p, new Promise((_, rej) => signal.addEventListener('abort', () => rej(signal.reason), { once: true }))])
  }

  /** #authed runs a request that needs a session at c, logging in again once if the node says the session is gone. */
  async #authed<T>(c: Custodian, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    await this.#session(c, signal)
    try {
      return await fn()
    } catch (e) {
      if (!isCode(e, Code.UNAUTHENTICATED)) throw e
      c.session = undefined
      await this.#relogin(c, signal)
      return fn()
    }
  }

  // --- enrollment

  /**
   * enroll registers this device at every node with a fresh login v2
   * dealing: the OPRF key r is drawn here, split with threshold k, and node
   * i gets its share r_i, R_i and its login public key; the vault keeps every
   * R_i. tokens maps each node's name to its invite token ("" for open
   * enrollment). Enrollment needs every node: before it asks any, it
   * checks that every node has a token and can be reached, and enrolls
   * nowhere otherwise. A vault enrolled already is checked by a login at
   * every node instead (already enrolled, or why not). The client is left
   * locked.
   */
  async enroll(password: string | Uint8Array, tokens: Record<string, string>, opts: { signal?: AbortSignal } = {}): Promise<EnrollResult[]> {
    this.checkTokens(tokens)
    const done = this.#begin(false)
    const pw = passwordBytes(password)
    try {
      passwd.refuseDuringChange(this.#v)
      if (this.#v.login !== null) return await this.#probeEnrolled(pw, opts.signal)
      const missing = this.#nodes.filter((c) => tokenFor(tokens, c.node.name) === undefined)
      if (missing.length > 0) {
        return this.#nodes.map((c) => (missing.includes(c) ? { node: c.node.name, state: 'not enrolled' as const, error: new NoTokenError() } : { node: c.node.name, state: 'not enrolled' as const }))
      }
      const reach = await Promise.all(
        this.#nodes.map((c) =>
          this.#host.connect(c.node, withTimeout(opts.signal, this.#opts.timeoutMs)).then(
            () => undefined,
            (e: Error) => e,
          ),
        ),
      )
      if (reach.some((e) => e !== undefined)) {
        return this.#nodes.map((c, i) => ({ node: c.node.name, state: 'not enrolled' as const, ...(reach[i] ? { error: reach[i] } : {}) }))
      }
      return await this.#enrollFresh(pw, tokens, opts.signal)
    } finally {
      wipe(pw)
      this.lock()
      done()
    }
  }

  async #enrollFresh(pw: Uint8Array, tokens: Record<string, string>, signal: AbortSignal | undefined): Promise<EnrollResult[]> {
    const pwh = await passwordKey(pw, this.#v.passwordKdf)
    const k = this.network.threshold
    const dealing = dealLogin(pwh.bytes(), k, this.#nodes.length)
    pwh.wipe()
    const epoch = 1
    try {
      const results = await Promise.all(
        this.#nodes.map(async (c, i): Promise<EnrollResult> => {
          const share = dealing.shares[i]!
          const key = loginKeyV2(dealing.rwd.bytes(), this.#v.masterSecret, c.node.peerId)
          const token = tokenFor(tokens, c.node.name) ?? ''
          try {
            return { node: c.node.name, ...(await enrollAt(this.#host, c.node, this.#v.user, token, epoch, share, key.publicKey, withTimeout(signal, this.#opts.timeoutMs))) }
          } catch (e) {
            return { node: c.node.name, state: 'not enrolled', error: e as Error }
          } finally {
            key.wipe()
            wipe(share.keyShare)
          }
        }),
      )
      if (results.some((r) => r.state === 'enrolled now')) {
        this.#v.login = {
          epoch,
          threshold: k,
          shares: this.#nodes.map((c, i) => ({ node: c.node.name, peerId: c.node.peerIdText, index: dealing.shares[i]!.index, publicShare: dealing.shares[i]!.publicShare })),
        }
        await this.#vh.save()
      }
      return results
    } finally {
      dealing.rwd.wipe()
    }
  }

  async #probeEnrolled(pw: Uint8Array, signal: AbortSignal | undefined): Promise<EnrollResult[]> {
    const pwh = await passwordKey(pw, this.#v.passwordKdf)
    try {
      const errs = await this.#loginRound(pwh.bytes(), this.#nodes, this.#nodes.length, signal)
      return this.#nodes.map((c, i) => {
        const e = errs[i]
        if (e === undefined) return { node: c.node.name, state: 'already enrolled' }
        if (e instanceof WrongPasswordError || e instanceof LockedError) return { node: c.node.name, state: 'already enrolled', error: e }
        if (e instanceof NotEnrolledError) {
          return { node: c.node.name, state: 'not enrolled', error: new NotEnrolledError('not enrolled here; this SDK enrolls a vault at every node at once, and cannot add a node to a vault enrolled elsewhere') }
        }
        return { node: c.node.name, state: 'not enrolled', error: e }
      })
    } finally {
      pwh.wipe()
    }
  }

  /** checkTokens checks that every node tokens names is in the network file, and each token's length, asking no node. */
  checkTokens(tokens: Record<string, string>): void {
    for (const [name, tok] of Object.entries(tokens)) {
      if (typeof tok !== 'string') throw new CustosError(`the token for ${JSON.stringify(name).slice(0, 40)} is not a string`)
      if (!this.#nodes.some((c) => c.node.name === name)) throw new CustosError(`a token names node ${JSON.stringify(name).slice(0, 40)}, which is not in the network file`)
      if (utf8(tok).length > MAX_TOKEN_LEN) throw new CustosError(`the token for ${name} is too long`)
    }
  }

  // --- password change (src/passwd.ts)

  #passwdRun: Promise<unknown> = Promise.resolve()

  /**
   * changePassword changes the user's password from oldPassword to
   * newPassword at every node, the Go client's way (docs/client.md,
   * "Changing the password"): it logs in with oldPassword at every node,
   * deals a new login key and records it in the vault (saved) before any
   * node is sent a share, stages it at each node in turn, records that it
   * commits, commits at each node in turn, and makes the new dealing the
   * vault's. Every step a node takes is recorded at once. Until every node
   * staged, oldPassword logs in and a new call starts again; from then on
   * newPassword logs in and a call finishes the change (oldPassword is not
   * used and may be empty). A node that fails is named in a
   * NotEnoughCustodiansError and the change stays pending. It leaves the
   * client locked.
   */
  async changePassword(oldPassword: string | Uint8Array, newPassword: string | Uint8Array, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const [o, n] = [passwordBytes(oldPassword), passwordBytes(newPassword)]
    try {
      await this.#passwd(opts.signal, (ctx) => passwd.changePassword(ctx, o, n))
    } finally {
      wipe(o, n)
    }
  }

  /**
   * abortPasswordChange rolls back a change no node was asked to commit
   * (else ChangeCommittedError; NoPasswordChangeError when none is
   * pending): it logs in with oldPassword, records that it aborts (logins
   * take oldPassword from then on) and asks every node that may hold the
   * new dealing to drop it. A node that fails is named and a later call
   * finishes the abort. It leaves the client locked.
   */
  async abortPasswordChange(oldPassword: string | Uint8Array, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const o = passwordBytes(oldPassword)
    try {
      await this.#passwd(opts.signal, (ctx) => passwd.abortPasswordChange(ctx, o))
    } finally {
      wipe(o)
    }
  }

  /** pendingPasswordChange describes the password change under way, or returns null when there is none. */
  pendingPasswordChange(): passwd.PendingPasswordChange | null {
    return passwd.pendingPasswordChange(this.#v)
  }

  /** checkPasswordChange says, asking no node, whether changePassword can run (NotEnrolledError, DamagedLoginError). */
  checkPasswordChange(): void {
    passwd.checkPasswordChange(this.#v)
  }

  /** #passwd runs one change operation at a time, from a locked client, and leaves the client locked. */
  async #passwd(signal: AbortSignal | undefined, fn: (ctx: passwd.PasswdContext) => Promise<void>): Promise<void> {
    const done = this.#begin(false)
    const run = this.#passwdRun.then(async () => {
      this.lock()
      try {
        reshare.refuseDuringReshare(this.#v)
        await fn({
          v: this.#v,
          save: () => this.#vh.save(),
          nodes: this.#nodes,
          threshold: this.network.threshold,
          host: this.#host,
          timeoutMs: this.#opts.timeoutMs,
          signal,
          login: (pwh, dealing, sig) => this.#loginRound(pwh, this.#nodes, this.#nodes.length, sig, dealing),
          quorum: (op, need, errs) => this.#quorum(op, need, errs),
          authed: (c, sig, f) => this.#authed(c, sig, f),
          progress: this.#opts.passwdProgress,
          logger: this.#opts.logger,
        })
      } finally {
        this.lock()
      }
    })
    this.#passwdRun = run.catch(() => {})
    try {
      await run
    } finally {
      done()
    }
  }

  // --- devices and the network file (client/devices.go, client/networkupdate.go)

  /**
   * addDevice enrolls this device for the vault's user at the nodes named
   * in tokens, each with its new-device invite token (custosd invite
   * --new-device), by logging in there with password: a node adds the
   * device once the login's signature is good, so a token is worth nothing
   * without the password and the vault's master secret. The vault is a copy
   * of one of the user's devices' with a key of its own. It waits for every
   * node, unlocks as unlock does, and returns each node's error in network
   * order (undefined: this device is enrolled there now, or was; a node
   * where it was enrolled already ignores its token). It throws as unlock
   * does when fewer than the threshold accepted.
   */
  async addDevice(password: string | Uint8Array, tokens: Record<string, string>, opts: { signal?: AbortSignal } = {}): Promise<(Error | undefined)[]> {
    this.checkTokens(tokens)
    this.#tokens = tokens
    try {
      return await this.#unlock(password, this.#nodes.length, opts.signal)
    } finally {
      this.#tokens = undefined
    }
  }

  #deviceDeps() {
    return { host: this.#host, nodes: this.#nodes, timeoutMs: this.#opts.timeoutMs, authed: <T>(c: Custodian, signal: AbortSignal, fn: () => Promise<T>) => this.#authed(c, signal, fn) }
  }

  /** devices lists the user's devices at every node (unlocked), in network order; a node that failed has its error. */
  async devices(opts: { signal?: AbortSignal } = {}): Promise<NodeDevices[]> {
    const done = this.#begin(true)
    try {
      return await deviceOp(this.#deviceDeps(), { op: { case: 'list', value: {} } }, opts.signal)
    } finally {
      done()
    }
  }

  /**
   * revokeDevice revokes the user's device id (a peer ID) at every node and
   * returns each node's list after it. From then on every node refuses that
   * device's logins (DeviceRevokedError) and its session ends. It must reach
   * every node: when some did not take it, it throws a
   * NotEnoughCustodiansError naming each, and calling it again finishes the
   * work (a node where the device is revoked already answers as for a
   * revocation). A node never revokes the last active device of the account
   * there (LastDeviceError). This device may revoke itself while another is
   * active.
   */
  async revokeDevice(id: string, opts: { signal?: AbortSignal } = {}): Promise<NodeDevices[]> {
    const done = this.#begin(true)
    try {
      const bin = devicePeerId(id)
      const out = await deviceOp(this.#deviceDeps(), { op: { case: 'revoke', value: bin } }, opts.signal)
      const q = this.#quorum(`revoke device ${id}`, this.#nodes.length, out.map((n) => n.error))
      if (q !== undefined) throw q
      return out
    } finally {
      done()
    }
  }

  /**
   * updateNetwork makes file the vault's network file when it lists the
   * same custodians (peer IDs, in the same order) with the same threshold
   * as the vault's: new addresses and new names, which need no reshare. A
   * renamed node is renamed wherever the vault names it. Any other
   * difference throws a NeedsReshareError saying what differs. It returns
   * what changed of each node (nothing when the files agree). It refuses
   * while a change of records or a password change is under way. This client
   * keeps the network it was opened with: close it and open the vault again
   * to dial the new addresses.
   */
  async updateNetwork(file: Uint8Array): Promise<NodeUpdate[]> {
    const done = this.#begin(false)
    try {
      const next = parseNetwork(file)
      const current = parseNetwork(this.#v.network)
      sameCustodians(current, next)
      reshare.refuseDuringReshare(this.#v)
      if (this.#v.changes.length > 0) throw new CustosError(`${this.#v.changes.length} records have a change under way: unlock to finish them first`)
      if (passwd.pendingPasswordChange(this.#v) !== null) throw new passwd.PasswordChangePendingError()
      const out = changes(current, next)
      if (out.length === 0) return []
      const names = new Map(next.nodes.filter((n, i) => n.name !== current.nodes[i]!.name).map((n) => [n.peerIdText, n.name]))
      const v = this.#v
      const fields = adopted(v, current, file, names)
      // What the save failing puts back: every field adopted replaces.
      const before = Object.fromEntries(Object.keys(fields).map((k) => [k, v[k as keyof VaultData]]))
      Object.assign(v, fields)
      try {
        await this.#vh.save()
      } catch (e) {
        Object.assign(v, before)
        throw e
      }
      return out
    } finally {
      done()
    }
  }

  // --- reshare to a new network file (src/reshare.ts)

  /**
   * planReshare says, asking no node, what reshare of file with tokens
   * (node name → invite token, for the nodes that join) would do: the
   * nodes that stay, join and leave, the records to move or mend, the
   * joining nodes that still need a token, and how far a reshare to file
   * got. It refuses a file that does not parse, tokens for nodes that do
   * not join, and a reshare under way to another file (ReshareUnderWayError).
   */
  planReshare(file: Uint8Array, tokens: Record<string, string> = {}): reshare.ResharePlan {
    return reshare.planReshare(this.#v, this.network, file, tokens)
  }

  /**
   * reshare moves every record and the login to the network file file
   * (docs/client.md, "Moving to another network"): custodians added,
   * removed or replaced, the threshold changed, with the Go client's
   * stages. It logs in at the old network with password, deals a new login
   * key over the new network (recorded in the vault before any node gets a
   * share), stages it at the nodes that stay and enrolls at the nodes that
   * join (tokens: their invite tokens), moves every record not on the new
   * network and mends every degraded one (each a change, operation
   * RESHARE: the new version at every new node, or minAcks of them, the
   * old one then deleted), closes the user's account at the nodes that
   * left, commits the new login key at the nodes that stay and makes the
   * new file and dealing the vault's. Each step is recorded first: a call
   * interrupted anywhere is finished by a call with the same file; another
   * file, and other changes, are refused meanwhile (ReshareUnderWayError).
   * A joining node without a token is named (NoTokenError) and the reshare
   * waits for a call that gives it. To the vault's own file, it mends the
   * degraded records. The client is locked and keeps the old network when
   * it returns: open the vault again to use the new one.
   */
  async reshare(file: Uint8Array, password: string | Uint8Array, tokens: Record<string, string> = {}, opts: reshare.ReshareOptions = {}): Promise<reshare.ReshareResult> {
    const done = this.#begin(false)
    const pw = passwordBytes(password)
    const run = this.#passwdRun.then(() => reshare.reshare(this.#reshareContext(), file, pw, tokens, opts))
    this.#passwdRun = run.catch(() => {})
    try {
      return await run
    } finally {
      wipe(pw)
      done()
    }
  }

  /** pendingReshare says how far a reshare under way got (1 dealing, 2 moving, 3 committing), or 0 when none is. */
  pendingReshare(): reshare.ReshareStage | 0 {
    return reshare.pendingReshare(this.#v)
  }

  #reshareContext(): reshare.ReshareContext {
    return {
      v: this.#v,
      save: () => this.#vh.save(),
      host: this.#host,
      timeoutMs: this.#opts.timeoutMs,
      logger: this.#opts.logger,
      old: this.#side(),
      unlockOld: async (pw, signal) => {
        await this.#unlock(pw, this.network.threshold, signal)
      },
      // Its logins name the new dealing's epoch, and its kept keys are of it (Custodian.epoch).
      view: (nw) => new Client(this.#vh, nw, this.#host, { ...this.#opts, idleTimeoutMs: 0 }).#side(),
    }
  }

  /** #side is this client as one network of a reshare. */
  #side(): reshare.Side {
    return {
      network: this.network,
      nodes: this.#nodes,
      authed: (c, signal, fn) => this.#authed(c, signal, fn),
      login: (pwh, dealing, signal) => this.#loginRound(pwh, this.#nodes, this.#nodes.length, signal, dealing),
      quorum: (op, need, errs) => this.#quorum(op, need, errs),
      changer: this.#changer,
      retryDeletes: (signal) => this.#retryDeletes(signal),
      lock: () => this.lock(),
    }
  }

  // --- records

  /** list describes the vault's records, by label. It needs no unlock and asks no node. */
  list(): UnitInfo[] {
    return this.#v.units.map((u) => ({ label: u.label, id: hexId(u.id), version: u.version, threshold: u.threshold, nodes: u.nodes.length, degraded: u.degraded, created: u.created }))
  }

  /** checkPut checks, on this device alone, what put would refuse before it asks any node. */
  checkPut(label: string, rec: SecretRecord): void {
    this.#checkRecord(label, rec)
    if (this.#v.units.some((u) => u.label === label)) throw new ExistsError(label)
  }

  /** #checkRecord checks a label and a record, on this device alone. */
  #checkRecord(label: string, rec: SecretRecord): void {
    if (!validLabel(label)) throw new CustosError(`${JSON.stringify(label).slice(0, 140)} is not a valid label: 1 to 128 printable characters, no space at either end`)
    if (!validUsername(rec.username ?? '')) throw new CustosError('the username is not valid: up to 256 printable characters (no newline or other control character), no space at either end')
    if (typeof rec.password !== 'string') throw new CustosError('the password is not a string')
  }

  /**
   * put seals rec under a new unit and places one share of its server key
   * at each node. It succeeds when every node acknowledged (or minAcks of
   * them, at least threshold+1: the record is then degraded); otherwise it
   * removes the shares it placed, leaves the vault as it was and throws a
   * NotEnoughCustodiansError naming each node that failed.
   */
  async put(label: string, rec: SecretRecord, opts: { minAcks?: number; signal?: AbortSignal } = {}): Promise<void> {
    const done = this.#begin(true)
    try {
      this.checkPut(label, rec)
      const n = this.#nodes.length
      const k = this.network.threshold
      let need = n
      if (opts.minAcks !== undefined && opts.minAcks !== 0) {
        if (!Number.isInteger(opts.minAcks) || opts.minAcks < k + 1 || opts.minAcks > n) throw new CustosError(`minAcks ${opts.minAcks}: it must be from ${k + 1} (threshold+1) to ${n}`)
        need = opts.minAcks
      }
      const { unit, shares } = await this.#seal(label, rec)
      try {
        const ref = { unitId: unit.id, version: unit.version }
        const errs = await Promise.all(
          this.#nodes.map(async (c, i) => {
            const signal = withTimeout(opts.signal, this.#opts.timeoutMs)
            try {
              await this.#authed(c, signal, async () => {
                const resp = await call(this.#host, c.node, Protocol.put, PutRequestSchema, { unit: ref, share: shares[i]! }, PutResponseSchema, signal)
                const e = fromProto(resp.error)
                if (e !== undefined) throw e
              })
              return undefined
            } catch (e) {
              return e as Error
            }
          }),
        )
        const q = this.#quorum(`put ${label}`, need, errs)
        if (q !== undefined) {
          await this.#undoPut(ref, errs)
          throw q
        }
        errs.forEach((e, i) => (unit.nodes[i]!.stored = e === undefined))
        unit.degraded = errs.some((e) => e !== undefined)
        const sealedUnit = { ...unit, mac: unitMac(this.#v.masterSecret, unit) }
        this.#v.units.push(sealedUnit)
        try {
          await this.#vh.save()
        } catch (e) {
          this.#v.units = this.#v.units.filter((u) => u !== sealedUnit)
          throw e
        }
      } finally {
        wipe(...shares)
      }
    } finally {
      done()
    }
  }

  async #seal(label: string, rec: SecretRecord, id = randomBytes(16), version = 1n): Promise<{ unit: Omit<Unit, 'mac'>; shares: Uint8Array[] }> {
    const s = randomBytes(32)
    try {
      const dealt = await deal(s, id, version, this.network.threshold, this.#nodes.map((c) => c.node.peerId))
      const key = recordKey(this.#v.masterSecret, s, id, version)
      const plain = marshalRecord(rec)
      try {
        const sealed = seal(key, this.#v.user, id, version, plain)
        const now = new Date()
        const unit = {
          label,
          id,
          version,
          threshold: this.network.threshold,
          nodes: this.#nodes.map((c, i) => ({ name: c.node.name, peerId: c.node.peerIdText, commitment: dealt.commitments[i]!, stored: true })),
          keyCommit: dealt.keyCommit,
          sealed,
          degraded: false,
          created: now,
          updated: now,
        }
        return { unit, shares: dealt.shares }
      } finally {
        wipe(key, plain)
      }
    } finally {
      wipe(s)
    }
  }

  async #undoPut(ref: { unitId: Uint8Array; version: bigint }, errs: (Error | undefined)[]): Promise<void> {
    await Promise.all(this.#nodes.filter((_, i) => errs[i] === undefined).map((c) => this.#deleteAt(c, ref, undefined).catch(() => {})))
  }

  /** #deleteAt deletes one version's share at c, as part of op (a change's; a plain delete by default). */
  async #deleteAt(c: Custodian, ref: { unitId: Uint8Array; version: bigint }, signal: AbortSignal | undefined, op = Operation.UNSPECIFIED): Promise<void> {
    const sig = withTimeout(signal, this.#opts.timeoutMs)
    await this.#authed(c, sig, async () => {
      const resp = await call(this.#host, c.node, Protocol.delete, DeleteRequestSchema, { unit: ref, operation: op }, DeleteResponseSchema, sig)
      const e = fromProto(resp.error)
      if (e !== undefined && e.code !== Code.NOT_FOUND) throw e
    })
  }

  #units(labels: string[]): Unit[] {
    return labels.map((l) => {
      const u = this.#v.units.find((x) => x.label === l)
      if (u === undefined) throw new NotFoundError(l)
      checkUnit(this.#v.masterSecret, u)
      return u
    })
  }

  /** get unlocks one record: see getMany. */
  async get(label: string, opts: { signal?: AbortSignal } = {}): Promise<SecretRecord> {
    return (await this.getMany([label], opts))[0]!
  }

  /**
   * getMany unlocks records with one release request per node (per 1024
   * records). It checks each record's MAC first (DamagedError, no node
   * asked), records every request in the vault's journal durably before it
   * sends any, asks every node in parallel, and uses a node's shares only
   * when its receipt proves the release (BadReceiptError, FalseReceiptError,
   * ForkedLogError name it otherwise). Each share is checked against its
   * commitment (a wrong one names its node, BadShareError); the first
   * threshold of good shares make the key, which must match its commitment.
   * A record fewer than its threshold of nodes gave a good share for fails
   * the call with a NotEnoughCustodiansError naming each node and why.
   */
  async getMany(labels: string[], opts: { signal?: AbortSignal } = {}): Promise<SecretRecord[]> {
    const done = this.#begin(true)
    try {
      const units = this.#units(labels)
      const opened = await this.#releaser.release(units, this.#v.masterSecret, opts.signal)
      return opened.records.map(parseRecord)
    } finally {
      done()
    }
  }

  async #markLost(lost: { node: string; id: Uint8Array; version: bigint }[]): Promise<void> {
    let changed = false
    for (const l of lost) {
      const i = this.#v.units.findIndex((u) => ctEqual(u.id, l.id) && u.version === l.version)
      const u = this.#v.units[i]
      const n = u?.nodes.find((x) => x.name === l.node)
      if (u === undefined || n === undefined || !n.stored) continue
      const nodes = u.nodes.map((x) => (x === n ? { ...x, stored: false } : x))
      const next = { ...u, nodes, degraded: true }
      this.#v.units[i] = { ...next, mac: unitMac(this.#v.masterSecret, next) }
      this.#opts.logger.warn(`custodian ${l.node} no longer holds its share of ${u.label}: the record is degraded`)
      changed = true
    }
    if (changed) await this.#vh.save()
  }

  /**
   * delete removes a record: its shares at every node that answers, then
   * its entry in the vault. Nodes that could not be reached are kept in the
   * vault and asked again at the next unlock.
   */
  async delete(label: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const done = this.#begin(true)
    try {
      const u = this.#units([label])[0]!
      const ref = { unitId: u.id, version: u.version }
      const errs = await Promise.all(this.#nodes.map((c) => this.#deleteAt(c, ref, opts.signal).then(() => undefined, (e: Error) => e)))
      const pending = this.#nodes.filter((_, i) => errs[i] !== undefined).map((c) => c.node.name)
      this.#v.units = this.#v.units.filter((x) => x !== u)
      if (pending.length > 0) this.#v.pendingDeletes.push({ id: u.id, version: u.version, nodes: pending })
      await this.#vh.save()
    } finally {
      done()
    }
  }

  // --- changing records (change.ts)

  /**
   * replace makes a new version of the record labelled label holding rec,
   * under a new server key (docs/client.md, "Changing records"): it
   * releases the current version, records the change in the vault (the new
   * record sealed under a key only the current version's server key gives),
   * places the new version's shares at every node (or at minAcks, at least
   * threshold+1: the record is then degraded), makes it the record's, and
   * only then deletes the old version at its nodes. If too few nodes store
   * the new version, it is given up, the record stays as it was and a
   * NotEnoughCustodiansError names each node that failed. An interrupted
   * replace leaves the old version, which opens, and the next unlock makes
   * it again. The nodes log each put and delete as part of a replace.
   */
  async replace(label: string, rec: SecretRecord, opts: { minAcks?: number; signal?: AbortSignal } = {}): Promise<void> {
    const done = this.#begin(true)
    try {
      this.#checkRecord(label, rec)
      reshare.refuseDuringReshare(this.#v)
      const need = this.#changer.needAcks(opts.minAcks)
      const u = this.#units([label])[0]!
      await this.#changer.replace(u, rec, need, opts.signal)
    } finally {
      done()
    }
  }

  /**
   * rotate gives the records labelled labels (every record when labels is
   * empty) new server keys, their contents unchanged: a replace of each
   * with its own record, released 256 at a time. It stops at the first
   * record too few nodes stored the new version of (NotEnoughCustodiansError);
   * the records done before it keep their new versions. progress is told
   * (done, total) before the first batch and after each.
   */
  async rotate(labels: string[] = [], opts: { minAcks?: number; progress?: ChangeProgress; signal?: AbortSignal } = {}): Promise<void> {
    const done = this.#begin(true)
    try {
      reshare.refuseDuringReshare(this.#v)
      const need = this.#changer.needAcks(opts.minAcks)
      const units = this.#units(labels.length > 0 ? labels : this.#v.units.map((u) => u.label))
      await this.#changer.rotate(units, need, opts.progress, opts.signal)
    } finally {
      done()
    }
  }

  /** pendingChanges lists the changes of records under way in the vault: those an interrupted run left, which the next unlock makes again. */
  pendingChanges(): PendingChange[] {
    return this.#changer.pending()
  }

  /**
   * #retryDeletes asks again for the deletes the vault records as pending,
   * one node at a time, and then takes off the list only what the nodes
   * confirmed: the list is read again at the end, because another operation
   * (a change, its roll back) may have replaced it while a delete was on its
   * way, and its entries must not be lost.
   */
  async #retryDeletes(signal: AbortSignal | undefined): Promise<void> {
    const todo = [...this.#v.pendingDeletes]
    if (todo.length === 0) return
    const confirmed: ConfirmedDelete[] = []
    for (const p of todo) {
      for (const name of p.nodes) {
        await retryHooks.beforeDelete?.(name)
        const c = this.#nodes.find((x) => x.node.name === name)
        // A node of the other network of a reshare under way: that network's
        // client asks it. A node no network has any more: nothing to delete.
        if (c === undefined) {
          if (this.#v.reshare == null) confirmed.push({ id: p.id, version: p.version, node: name })
          continue
        }
        const ok = await this.#deleteAt(c, { unitId: p.id, version: p.version }, signal, p.operation).then(
          () => true,
          () => false,
        )
        if (ok) confirmed.push({ id: p.id, version: p.version, node: name })
      }
    }
    dropConfirmed(this.#v, confirmed)
    await this.#vh.save().catch(() => this.#opts.logger.warn('the vault could not be saved after retrying deletions'))
  }

  // --- receipts and audit

  async #keepReceipts(rs: Receipt[]): Promise<void> {
    if (rs.length === 0) return
    this.#v.receipts.push(...rs)
    if (this.#v.receipts.length > 1000) this.#v.receipts.splice(0, this.#v.receipts.length - 1000)
    this.#unsaved++
    // One save at a time: the keeps that arrive while one runs wait for the
    // next (a save writes the whole vault, and would else run once per keep).
    if (this.#saving !== undefined || (this.#unsaved < 64 && Date.now() - this.#savedAt < 60_000)) return
    const counted = this.#unsaved
    this.#saving = this.#vh.save().then(
      () => {
        this.#unsaved -= counted
        this.#savedAt = Date.now()
      },
      () => this.#opts.logger.warn('the release receipts could not be kept in the vault'),
    )
    try {
      await this.#saving
    } finally {
      this.#saving = undefined
    }
  }

  /** receipts returns the release receipts the vault keeps, oldest first. */
  receipts(): Receipt[] {
    // Copies: a kept receipt is saved as it was kept (vault.ts renders each once).
    return this.#v.receipts.map((r) => ({ ...r, units: r.units.map((u) => ({ id: u.id.slice(), version: u.version })), checkpoint: r.checkpoint.slice(), entry: r.entry.slice() }))
  }

  /**
   * restores returns the restores of nodes from a backup that the client
   * accepted (a node's log that no longer extends the checkpoint kept of it,
   * explained by its restore entry; docs/js.md), oldest first.
   */
  restores(): Restore[] {
    return this.#restorer.restores()
  }

  /** checkpoints returns the newest verified checkpoint of each node's log the vault keeps. */
  checkpoints(): { node: string; checkpoint: Uint8Array }[] {
    return this.#v.checkpoints.map((c) => ({ node: c.node, checkpoint: c.checkpoint.slice() }))
  }

  /** requests returns the release requests in the vault's journal, oldest first. */
  async requests(): Promise<{ requests: Request[]; droppedUntil: Date | undefined }> {
    return this.#vh.requests()
  }

  /** status checks every node in parallel: can it be reached, is there a session, how long does a request take. */
  async status(opts: { signal?: AbortSignal } = {}): Promise<NodeStatus[]> {
    const done = this.#begin(false)
    try {
      return await Promise.all(
        this.#nodes.map(async (c) => {
          const st: NodeStatus = { name: c.node.name, peerId: c.node.peerIdText, reachable: false, loggedIn: false, latencyMs: 0 }
          const signal = withTimeout(opts.signal, this.#opts.timeoutMs)
          let start = Date.now()
          try {
            await this.#host.connect(c.node, signal)
            st.reachable = true
            st.latencyMs = Date.now() - start
            if (c.key !== undefined) {
              start = Date.now()
              await this.#authed(c, signal, async () => {
                const resp = await call(this.#host, c.node, Protocol.list, ListRequestSchema, { pageSize: 1 }, ListResponseSchema, signal)
                const e = fromProto(resp.error)
                if (e !== undefined) throw e
              })
              st.loggedIn = true
              st.latencyMs = Date.now() - start
            }
          } catch (e) {
            st.error = e as Error
            if (!(e instanceof StatusError || e instanceof CustosError)) st.reachable = false
          }
          return st
        }),
      )
    } finally {
      done()
    }
  }

  /**
   * history reads, at every node in parallel, the release entries of the
   * user's records and, without label, the additions and revocations of the
   * user's devices from the node's audit log, each checked by its inclusion
   * proof against a checkpoint signed by the node's pinned key and
   * consistent with the one the vault keeps. A node whose answers do not
   * verify is in failed (BadLogError, ForkedLogError), with none of its
   * entries. With label, only that record's. Newest first.
   */
  async history(label?: string, opts: { signal?: AbortSignal } = {}): Promise<{ entries: HistoryEntry[]; failed: NodeError[] }> {
    const done = this.#begin(true)
    try {
      const only = label === undefined ? undefined : this.#v.units.find((u) => u.label === label)
      if (label !== undefined && only === undefined) throw new NotFoundError(label)
      this.#unsaved++ // a newer checkpoint is saved with the receipts
      return await readHistory(this.#historyDeps(), only?.id, opts.signal)
    } finally {
      done()
    }
  }

  #historyDeps(): HistoryDeps<Custodian> {
    return {
      host: this.#host,
      user: this.#v.user,
      nodes: this.#nodes,
      timeoutMs: this.#opts.timeoutMs,
      authed: (c, signal, fn) => this.#authed(c, signal, fn),
      kept: (c) => this.#releaser.kept(c.node),
      advance: (c, sent, got, signal) => this.#releaser.advance(c, sent, got, signal),
      prove: (c, a, b, signal) => this.#releaser.proveExtends(c, a, b, signal),
      explain: (c, kept, newest, entries, signal) => this.#restorer.explainFork(c, kept, newest, entries, signal),
      labels: new Map(this.#v.units.map((u) => [hexId(u.id), u.label])),
    }
  }

  /**
   * log reads, at every node in parallel, every entry of the node's audit
   * log about the user (logins, puts, releases, deletes, device changes, …)
   * and the node's restore entries, as the user's own session may, each
   * checked as history checks them (inclusion proof against a checkpoint
   * signed by the pinned key, consistent with the one the vault keeps, the
   * newest kept). A node whose answers do not verify is in failed
   * (BadLogError, ForkedLogError), with none of its entries; so is one that
   * cannot be asked. Entries are in network-file order of their nodes, then
   * in log order. It is what custos audit report reads (client.Log).
   */
  async log(opts: { signal?: AbortSignal } = {}): Promise<{ entries: LoggedEntry[]; failed: NodeError[] }> {
    const done = this.#begin(true)
    try {
      this.#unsaved++ // a newer checkpoint is saved with the receipts
      const { entries, failed } = await readUserLog(this.#historyDeps(), opts.signal)
      return { entries: entries.flat(), failed }
    } finally {
      done()
    }
  }
}

function hexId(id: Uint8Array): string {
  return [...id].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** marshalRecord writes a record's plaintext, "custos-record/1" JSON; the caller wipes it. */
function marshalRecord(rec: SecretRecord): Uint8Array {
  return utf8(JSON.stringify(rec.username ? { format: RECORD_FORMAT, username: rec.username, password: rec.password } : { format: RECORD_FORMAT, password: rec.password }))
}

/** parseRecord reads a record's plaintext, "custos-record/1" JSON, and wipes it. */
function parseRecord(plain: Uint8Array): SecretRecord {
  try {
    const j = JSON.parse(new TextDecoder().decode(plain)) as { format?: unknown; username?: unknown; password?: unknown }
    if (j.format !== RECORD_FORMAT) throw new CustosError(`the record's format ${JSON.stringify(String(j.format)).slice(0, 40)} is not known to this SDK`)
    if (typeof j.password !== 'string' || (j.username !== undefined && typeof j.username !== 'string')) throw new CustosError('the record is not in a known format')
    return j.username === undefined ? { password: j.password } : { username: j.username, password: j.password }
  } catch (e) {
    if (e instanceof CustosError) throw e
    throw new CustosError('the record is not in a known format')
  } finally {
    wipe(plain)
  }
}
