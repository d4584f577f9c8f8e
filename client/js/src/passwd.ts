// Changing the user's password at every node (docs/client.md, "Changing the
// password"; docs/protocol.md, "Password change"), with the Go client's
// steps and guarantees (client/passwd.go): log in with the old password,
// deal a new OPRF key of the next epoch, record the change in the vault
// before any node is sent a share, stage it at every node, record that it
// commits, commit it at every node, then make it the vault's login dealing.
// Each step a node takes is recorded in the vault at once, so that an
// interruption anywhere leaves a state in which one of the two passwords
// logs in and from which the next call finishes the change (or, until the
// first commit, aborts it).
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { Code, DealingNoteSchema, PasswdRequestSchema, PasswdResponseSchema, type PasswdResponse } from './gen/custos_pb.js'
import type { MessageInitShape } from '@bufbuild/protobuf'
import { concat, lp, u32, utf8, wipe } from './bytes.js'
import { Protocol } from './api/protocol.js'
import { fromProto, isCode } from './api/status.js'
import { CustosError, NodeError, NotEnoughCustodiansError, NotEnrolledError } from './errors.js'
import type { Host } from './host.js'
import { call, withTimeout } from './rpc.js'
import { loginKeyV2, passwordKey } from './threshold/keys.js'
import { dealLogin, type OprfShare } from './threshold/toprf.js'
import { passwdDealing, checkPasswdMac, sealPasswdChange, usesNewPassword, type PasswdState, type PasswordChange } from './vault/passwd.js'
import type { LoginDealing, VaultData } from './vault/vault.js'
import type { Custodian } from './client.js'
import type { Logger } from './log.js'

/** PasswordChangePendingError: the operation waits for the password change under way to be finished or aborted (enroll). */
export class PasswordChangePendingError extends CustosError {
  override name = 'PasswordChangePendingError'
  constructor() {
    super('a password change is pending: finish it (changePassword) or abort it (abortPasswordChange) first')
  }
}

/** NoPasswordChangeError: abortPasswordChange found no change to abort. */
export class NoPasswordChangeError extends CustosError {
  override name = 'NoPasswordChangeError'
  constructor() {
    super('no password change is pending')
  }
}

/**
 * ChangeCommittedError: abortPasswordChange found the change committed, or
 * being committed, at some node, which then holds only the new dealing: the
 * change can only be finished (changePassword).
 */
export class ChangeCommittedError extends CustosError {
  override name = 'ChangeCommittedError'
  constructor(detail = '') {
    super(`the new password is being committed at the nodes: the change can only be finished, not aborted${detail}`)
  }
}

/** A step of a password change (PasswdProgress). */
export type PasswdStep = 'staged' | 'committed' | 'aborted'

/**
 * PasswdProgress is one step of a password change, told to
 * ClientOptions.passwdProgress: a node took it (node is its name), told as
 * soon as the node answered, before the vault records it; or the change as
 * a whole took it (node ''), told once the vault recorded it.
 */
export interface PasswdProgress {
  node: string
  step: PasswdStep
  /** The new dealing's epoch. */
  epoch: number
}

/** PendingPasswordChange is a password change under way, as the vault records it. */
export interface PendingPasswordChange {
  state: PasswdState
  epoch: number
  /** The nodes known to hold the new dealing; while aborting, those that have not confirmed the abort yet. */
  staged: string[]
  /** The nodes known to have made it current. */
  committed: string[]
  /** Logins take the new password: from the moment every node holds the new dealing until an abort begins. */
  newPassword: boolean
  /** The change can still be rolled back: no commit was sent to any node. */
  canAbort: boolean
}

/** What a password change needs of the client (src/client.ts). */
export interface PasswdContext {
  v: VaultData
  save(): Promise<void>
  nodes: Custodian[]
  threshold: number
  host: Host
  timeoutMs: number
  signal: AbortSignal | undefined
  /** login logs in at every node with pwh under dealing and returns each node's error (undefined: a session). */
  login(pwh: Uint8Array, dealing: LoginDealing, signal: AbortSignal | undefined): Promise<(Error | undefined)[]>
  quorum(op: string, need: number, errs: (Error | undefined)[]): NotEnoughCustodiansError | undefined
  authed<T>(c: Custodian, signal: AbortSignal, fn: () => Promise<T>): Promise<T>
  progress: ((p: PasswdProgress) => void | Promise<void>) | undefined
  /** Told of a progress callback that threw. */
  logger: Logger
}

/**
 * tellDone tells the progress callback of p, the last step of a change or an
 * abort, told once the vault has saved its end: the change is done then,
 * and as in the Go client (whose callback cannot fail) a callback that
 * throws cannot fail it. It is logged instead. (A callback that throws at an
 * earlier step stops the change there, as an interruption would: the next
 * call finishes it.)
 */
async function tellDone(ctx: PasswdContext, p: PasswdProgress): Promise<void> {
  if (ctx.progress === undefined) return
  try {
    await ctx.progress(p)
  } catch {
    // Its error is the application's, and is not logged: it may say anything.
    ctx.logger.warn(`the password change's progress callback threw at its last step (${p.step}); the change is done`)
  }
}

/**
 * dealingInUse is the dealing logins use: the vault's login dealing or,
 * once every node holds a change's new dealing and no abort began, that
 * one. A change is checked against its MAC first (DamagedLoginError), so
 * that no node is asked to evaluate against a public share the vault did
 * not keep.
 */
export function dealingInUse(v: VaultData): LoginDealing | null {
  const p = v.passwordChange
  if (p == null) return v.login
  checkPasswdMac(v.masterSecret, p)
  return usesNewPassword(p) ? passwdDealing(p) : v.login
}

/** refuseDuringChange throws PasswordChangePendingError while a change is under way. */
export function refuseDuringChange(v: VaultData): void {
  if (v.passwordChange != null) throw new PasswordChangePendingError()
}

/** pendingPasswordChange describes the change under way, or returns null when there is none. */
export function pendingPasswordChange(v: VaultData): PendingPasswordChange | null {
  const p = v.passwordChange
  if (p == null) return null
  return {
    state: p.state,
    epoch: p.epoch,
    staged: p.nodes.filter((n) => n.staged).map((n) => n.name),
    committed: p.nodes.filter((n) => n.committed).map((n) => n.name),
    newPassword: usesNewPassword(p),
    canAbort: p.state !== 'committing',
  }
}

/**
 * checkPasswordChange says, asking no node, whether changePassword can
 * run: the vault is enrolled (NotEnrolledError) and its record of a change
 * under way is intact (DamagedLoginError). It reports whether a change
 * under way is to be finished with the new password.
 */
export function checkPasswordChange(v: VaultData): boolean {
  if (v.login === null) throw new NotEnrolledError('this vault has not enrolled yet; call enroll')
  if (v.passwordChange != null) checkPasswdMac(v.masterSecret, v.passwordChange)
  return usesNewPassword(v.passwordChange)
}

/** See Client.changePassword. */
export async function changePassword(ctx: PasswdContext, oldPassword: Uint8Array, newPassword: Uint8Array): Promise<void> {
  if (newPassword.length === 0) throw new CustosError('the new password is empty')
  if (checkPasswordChange(ctx.v)) return finishChange(ctx, newPassword)
  if (oldPassword.length === 0) throw new CustosError('the current password is empty')
  await loginEverywhere(ctx, oldPassword, ctx.v.login!, 'change the password')
  const nd = await dealChange(ctx, newPassword)
  try {
    await stageAll(ctx, nd)
  } finally {
    nd.wipe()
  }
  ctx.signal?.throwIfAborted()
  await commitAll(ctx, undefined)
}

/** See Client.abortPasswordChange. */
export async function abortPasswordChange(ctx: PasswdContext, oldPassword: Uint8Array): Promise<void> {
  const p = ctx.v.passwordChange
  if (p == null) throw new NoPasswordChangeError()
  checkPasswdMac(ctx.v.masterSecret, p)
  if (p.state === 'committing') {
    const names = p.nodes.filter((n) => n.committed).map((n) => n.name)
    throw new ChangeCommittedError(names.length > 0 ? ` (committed at ${names.join(', ')})` : '')
  }
  if (oldPassword.length === 0) throw new CustosError('the current password is empty')
  const logins = await loginWith(ctx, oldPassword, ctx.v.login!)
  if (!logins.some((e) => e === undefined)) throw ctx.quorum('abort the password change', ctx.nodes.length, logins)!
  if (p.state !== 'aborting') {
    // Any node may hold the staged dealing, recorded or not.
    await recordChange(ctx, (q) => {
      q.state = 'aborting'
      for (const n of q.nodes) n.staged = true
    })
  }
  const epoch = ctx.v.passwordChange!.epoch
  const staged = ctx.v.passwordChange!.nodes.map((n) => n.staged)
  await eachNode(
    ctx,
    'abort the password change',
    'aborted',
    epoch,
    (i) => staged[i]!,
    (i, c, signal) => {
      const e = logins[i]
      return e !== undefined ? Promise.reject(e) : abortAt(ctx, c, epoch, signal)
    },
    (q, i) => (q.nodes[i]!.staged = false),
  )
  const before = ctx.v.passwordChange
  ctx.v.passwordChange = null
  await saveOrUndo(ctx, 'drop the password change from the vault', () => (ctx.v.passwordChange = before))
  await tellDone(ctx, { node: '', step: 'aborted', epoch })
}

/** loginWith hashes password (Argon2id) and logs in with it at every node under dealing; it returns each node's error. */
async function loginWith(ctx: PasswdContext, password: Uint8Array, dealing: LoginDealing): Promise<(Error | undefined)[]> {
  const pwh = await passwordKey(password, ctx.v.passwordKdf)
  try {
    return await ctx.login(pwh.bytes(), dealing, ctx.signal)
  } finally {
    pwh.wipe()
  }
}

/** loginEverywhere logs in with password at every node and throws a NotEnoughCustodiansError unless every node accepted. */
async function loginEverywhere(ctx: PasswdContext, password: Uint8Array, dealing: LoginDealing, op: string): Promise<void> {
  const q = ctx.quorum(op, ctx.nodes.length, await loginWith(ctx, password, dealing))
  if (q !== undefined) throw q
}

/** NewDealing is a change's new dealing while it is staged: the key shares (secret), and per node the login public key of the new password. */
interface NewDealing {
  epoch: number
  shares: OprfShare[]
  auth: Uint8Array[]
  note: MessageInitShape<typeof DealingNoteSchema>
  wipe(): void
}

/**
 * dealChange deals a new OPRF key r' of the epoch after the login
 * dealing's, makes the login public keys of password from it (rwd' =
 * VOPRF(r', pwh'), as at enrollment), wipes r' and rwd', and records the
 * new dealing in the vault as a change being staged, saved before any node
 * is sent a share. It replaces a change recorded before (one not staged at
 * every node, or being aborted).
 */
async function dealChange(ctx: PasswdContext, password: Uint8Array): Promise<NewDealing> {
  const login = ctx.v.login!
  const epoch = login.epoch + 1
  if (epoch > 2 ** 32 - 1) throw new CustosError('the login dealing is of the last epoch there is')
  const pwh = await passwordKey(password, ctx.v.passwordKdf)
  let dealt
  try {
    dealt = dealLogin(pwh.bytes(), ctx.threshold, ctx.nodes.length)
  } finally {
    pwh.wipe()
  }
  const nd: NewDealing = { epoch, shares: dealt.shares, auth: [], note: { epoch, threshold: ctx.threshold, shares: [], mac: new Uint8Array(0) }, wipe: () => wipe(...dealt.shares.map((s) => s.keyShare)) }
  try {
    try {
      for (const c of ctx.nodes) {
        const k = loginKeyV2(dealt.rwd.bytes(), ctx.v.masterSecret, c.node.peerId)
        nd.auth.push(k.publicKey)
        k.wipe()
      }
    } finally {
      dealt.rwd.wipe()
    }
    nd.note = makeNote(ctx, nd)
    const p: PasswordChange = {
      state: 'staging',
      epoch,
      threshold: ctx.threshold,
      nodes: ctx.nodes.map((c, i) => ({ name: c.node.name, peerId: c.node.peerIdText, index: nd.shares[i]!.index, publicShare: nd.shares[i]!.publicShare, staged: false, committed: false })),
      mac: new Uint8Array(0),
    }
    sealPasswdChange(ctx.v.masterSecret, p)
    const before = ctx.v.passwordChange
    ctx.v.passwordChange = p
    await saveOrUndo(ctx, 'save the vault with the new login dealing', () => (ctx.v.passwordChange = before))
    return nd
  } catch (e) {
    nd.wipe()
    throw e
  }
}

const DEALING_NOTE_KEY_LABEL = 'custos/v2/dealing-note-key'
const DEALING_NOTE_LABEL = 'custos/v2/dealing-note'

/** makeNote is the new dealing's note for the user's other devices (docs/login.md, "the dealing note"). */
function makeNote(ctx: PasswdContext, nd: NewDealing): NewDealing['note'] {
  const shares = ctx.nodes.map((c, i) => ({ peerId: c.node.peerId, index: nd.shares[i]!.index, publicShare: nd.shares[i]!.publicShare }))
  const note = { epoch: nd.epoch, threshold: ctx.threshold, shares }
  return { ...note, mac: noteMac(ctx.v.masterSecret, ctx.v.user, note) }
}

/**
 * noteMac seals a dealing note as the Go client does: HMAC-SHA256 under
 * HKDF-SHA256(M, no salt, "custos/v2/dealing-note-key") over
 * lp("custos/v2/dealing-note") ‖ lp(user) ‖ u32(epoch) ‖ u32(threshold) ‖
 * u32(share count) ‖ (lp(peer ID) ‖ u32(index) ‖ lp(public share)) per share.
 */
export function noteMac(masterSecret: Uint8Array, user: string, note: { epoch: number; threshold: number; shares: { peerId: Uint8Array; index: number; publicShare: Uint8Array }[] }): Uint8Array {
  const parts = [lp(DEALING_NOTE_LABEL), lp(user), u32(note.epoch), u32(note.threshold), u32(note.shares.length)]
  for (const s of note.shares) parts.push(lp(s.peerId), u32(s.index), lp(s.publicShare))
  const key = hkdf(sha256, masterSecret, new Uint8Array(0), utf8(DEALING_NOTE_KEY_LABEL), 32)
  try {
    return hmac(sha256, key, concat(...parts))
  } finally {
    key.fill(0)
  }
}

/**
 * recordChange applies f to a copy of the vault's change, seals it and
 * saves the vault; the vault keeps the change as it was if the save fails.
 * It checks the change's MAC first, so that it never seals damage.
 */
async function recordChange(ctx: PasswdContext, f: (p: PasswordChange) => void): Promise<void> {
  const before = ctx.v.passwordChange
  if (before == null) throw new CustosError("the vault's password change is gone")
  checkPasswdMac(ctx.v.masterSecret, before)
  const next: PasswordChange = { ...before, nodes: before.nodes.map((n) => ({ ...n })) }
  f(next)
  sealPasswdChange(ctx.v.masterSecret, next)
  ctx.v.passwordChange = next
  await saveOrUndo(ctx, "record the password change's progress in the vault", () => (ctx.v.passwordChange = before))
}

/** saveOrUndo saves the vault; if it cannot, it undoes the change in memory too, and throws (what failed). */
async function saveOrUndo(ctx: PasswdContext, what: string, undo: () => void): Promise<void> {
  try {
    await ctx.save()
  } catch (e) {
    undo()
    throw new CustosError(`${what}: ${(e as Error).message}`)
  }
}

/**
 * eachNode takes one step of a change at every node need names, in turn:
 * a node whose step (at) succeeds is reported and marked in the vault's
 * change at once, so that an interruption loses none; one that fails does
 * not stop the others and is named in the NotEnoughCustodiansError (op)
 * thrown after them. A stopped signal stops it between nodes.
 */
async function eachNode(
  ctx: PasswdContext,
  op: string,
  step: PasswdStep,
  epoch: number,
  need: (i: number) => boolean,
  at: (i: number, c: Custodian, signal: AbortSignal) => Promise<void>,
  mark: (p: PasswordChange, i: number) => void,
): Promise<void> {
  const failed: NodeError[] = []
  for (const [i, c] of ctx.nodes.entries()) {
    if (!need(i)) continue
    ctx.signal?.throwIfAborted()
    try {
      await at(i, c, withTimeout(ctx.signal, ctx.timeoutMs))
    } catch (e) {
      failed.push(new NodeError(c.node.name, e instanceof Error ? e : new Error(String(e))))
      continue
    }
    await ctx.progress?.({ node: c.node.name, step, epoch })
    await recordChange(ctx, (p) => mark(p, i))
  }
  if (failed.length > 0) throw new NotEnoughCustodiansError(op, ctx.nodes.length, ctx.nodes.length - failed.length, failed)
}

/** stageAll stages nd at each node in turn, recording each, and then that every node staged it. */
async function stageAll(ctx: PasswdContext, nd: NewDealing): Promise<void> {
  await eachNode(
    ctx,
    'stage the new password',
    'staged',
    nd.epoch,
    () => true,
    (i, c, signal) => stageAt(ctx, c, nd, i, signal),
    (p, i) => (p.nodes[i]!.staged = true),
  )
  await recordChange(ctx, (p) => (p.state = 'staged'))
  await ctx.progress?.({ node: '', step: 'staged', epoch: nd.epoch })
}

/** What one step at a node needs of the client: a password change's context, or a reshare's (src/reshare.ts). */
export type StepContext = Pick<PasswdContext, 'host' | 'authed'>

/** stageAt sends node i its share of the new dealing, its login public key and the dealing note (none in a reshare's). */
export async function stageAt(ctx: StepContext, c: Custodian, nd: Pick<NewDealing, 'epoch' | 'shares' | 'auth'> & { note?: NewDealing['note'] }, i: number, signal: AbortSignal): Promise<void> {
  const s = nd.shares[i]!
  const note = nd.note !== undefined ? { note: nd.note } : {}
  const { resp, err } = await passwdStep(ctx, c, { step: { case: 'stage', value: { oprf: { epoch: nd.epoch, index: s.index, keyShare: s.keyShare, publicShare: s.publicShare }, authPublicKey: nd.auth[i]!, ...note } } }, signal)
  if (err === undefined) return
  if (isCode(err, Code.INVALID_ARGUMENT) && resp !== undefined && resp.epoch >= nd.epoch) {
    // Only a change this vault does not know of (made from a copy of it) moves a node to this epoch.
    throw new CustosError(`${err.message} (its login dealing is of epoch ${resp.epoch} already: another copy of this vault changed the password)`)
  }
  throw err
}

/**
 * passwdStep runs one step of a change at c, with a session. It returns
 * the node's answer also with a refusal (the answer then says the node's
 * epochs), and the refusal as err.
 */
async function passwdStep(ctx: StepContext, c: Custodian, req: MessageInitShape<typeof PasswdRequestSchema>, signal: AbortSignal): Promise<{ resp?: PasswdResponse; err?: Error }> {
  let resp: PasswdResponse | undefined
  try {
    await ctx.authed(c, signal, async () => {
      resp = undefined
      resp = await call(ctx.host, c.node, Protocol.passwd, PasswdRequestSchema, req, PasswdResponseSchema, signal)
      const e = fromProto(resp.error)
      if (e !== undefined) throw e
    })
    return { resp }
  } catch (e) {
    return { resp, err: e as Error }
  }
}

/**
 * finishChange finishes a change that every node staged: it logs in with
 * newPassword (the staged dealing, or the committed one where a commit
 * went through) and commits at the nodes not known to have committed.
 * Before the first commit, a node the login fails at stops the change
 * before any commit is sent.
 */
async function finishChange(ctx: PasswdContext, newPassword: Uint8Array): Promise<void> {
  const p = ctx.v.passwordChange!
  const left = p.nodes.filter((n) => !n.committed).length
  let logins: (Error | undefined)[] | undefined
  if (left > 0) {
    logins = await loginWith(ctx, newPassword, passwdDealing(p))
    const ok = logins.filter((e, i) => e === undefined && !p.nodes[i]!.committed).length
    // No commit is sent before every node can take one: until the first, the change can still be rolled back.
    if (ok === 0 || (p.state === 'staged' && ok < left)) throw ctx.quorum('finish the password change', ctx.nodes.length, logins)!
  }
  await commitAll(ctx, logins)
}

/**
 * commitAll records that the change is being committed (before the first
 * commit is sent: from then on no abort), commits at each node not known
 * to have committed, in turn, recording each, and, once every node has,
 * makes the new dealing the vault's login dealing. logins are the errors
 * of the logins before, per node (undefined: every node is logged in).
 */
async function commitAll(ctx: PasswdContext, logins: (Error | undefined)[] | undefined): Promise<void> {
  if (ctx.v.passwordChange!.state !== 'committing') await recordChange(ctx, (p) => (p.state = 'committing'))
  const p = ctx.v.passwordChange!
  const committed = p.nodes.map((n) => n.committed)
  await eachNode(
    ctx,
    'commit the new password',
    'committed',
    p.epoch,
    (i) => !committed[i],
    (i, c, signal) => {
      const e = logins?.[i]
      return e !== undefined ? Promise.reject(e) : commitAt(ctx, c, p.epoch, signal)
    },
    (q, i) => (q.nodes[i]!.committed = true),
  )
  const done = ctx.v.passwordChange!
  checkPasswdMac(ctx.v.masterSecret, done)
  const old = ctx.v.login
  ctx.v.login = passwdDealing(done)
  ctx.v.passwordChange = null
  await saveOrUndo(ctx, "make the new login dealing the vault's", () => {
    ctx.v.login = old
    ctx.v.passwordChange = done
  })
  await tellDone(ctx, { node: '', step: 'committed', epoch: done.epoch })
}

/**
 * commitAt commits epoch at c. A node that answers that nothing is staged
 * while epoch is its current one committed before (the answer was lost,
 * or the client stopped before it recorded it).
 */
export async function commitAt(ctx: StepContext, c: Custodian, epoch: number, signal: AbortSignal): Promise<void> {
  const { resp, err } = await passwdStep(ctx, c, { step: { case: 'commit', value: epoch } }, signal)
  if (err === undefined || (isCode(err, Code.NOT_FOUND) && resp?.epoch === epoch)) return
  throw err
}

/**
 * abortAt drops the staged dealing of epoch at c. A node that answers that
 * nothing is staged has dropped it, or never took it, unless the epoch is
 * its current one: then it committed, which no abort can undo.
 */
async function abortAt(ctx: PasswdContext, c: Custodian, epoch: number, signal: AbortSignal): Promise<void> {
  const { resp, err } = await passwdStep(ctx, c, { step: { case: 'abort', value: epoch } }, signal)
  if (err === undefined) return
  if (isCode(err, Code.NOT_FOUND) && resp !== undefined) {
    if (resp.epoch === epoch) throw new ChangeCommittedError(': this node committed it already (from another copy of this vault?)')
    return
  }
  throw err
}
