// Login v2 at the custodians (docs/login.md): one stream per node. The
// client sends the user and the blinded password hash B; the node counts
// the attempt durably and answers its evaluation Z_i with a DLEQ proof and a
// fresh challenge. Once k proofs verify, the client combines their
// evaluations into rwd, derives every node's login key and signs each
// challenge. A LoginRound is the shared state of one unlock's logins.
import { Code, type DealingNote, LoginChallengeSchema, LoginHelloSchema, LoginProofSchema, LoginResultSchema } from './gen/custos_pb.js'
import { NONCE_SIZE, Protocol } from './api/protocol.js'
import { fromProto, type StatusError } from './api/status.js'
import { loginTranscript } from './api/transcript.js'
import { BadEvaluationError, DeviceRevokedError, LockedError, NotEnrolledError, RateLimitedError, TokenRefusedError, WrongPasswordError } from './errors.js'
import { StaleDealingError } from './dealingnote.js'
import type { Host } from './host.js'
import type { Node } from './network.js'
import { decode, encode } from './rpc.js'
import { loginKeyV2, type LoginKey } from './threshold/keys.js'
import { LoginRequest } from './threshold/toprf.js'
import type { LoginShare } from './vault/vault.js'
import { tokenFor } from './enrollat.js'

/** A session at one node, as the client sees it. */
export interface Session {
  idleMs: number
  expiresAt: number
  lastUsed: number
}

/** refusal files a node's refusal of a login under the SDK's errors. */
export function loginRefusal(e: StatusError, attemptsLeft?: number): Error {
  switch (e.code) {
    case Code.NOT_FOUND:
      return new NotEnrolledError()
    case Code.LOCKED:
      return new LockedError(e.message)
    case Code.RATE_LIMITED:
      return new RateLimitedError(e.message, e.retryAfterMs)
    case Code.UNAUTHENTICATED:
      return new WrongPasswordError(e.nodeMessage || 'wrong password', attemptsLeft)
  }
  return e
}

/**
 * helloRefusal files a node's refusal of a login hello: there,
 * UNAUTHENTICATED is not a wrong password (nothing was checked yet) but a
 * revoked device or, when the hello carried a new-device token, a refused
 * token (client/devices.go, helloRefusal); NOT_FOUND with a dealing note
 * is a dealing another device's password change replaced
 * (src/dealingnote.ts).
 */
function helloRefusal(e: StatusError, token: string, attemptsLeft?: number, note?: DealingNote): Error {
  if (e.code === Code.NOT_FOUND && note !== undefined) return new StaleDealingError(note)
  if (e.code !== Code.UNAUTHENTICATED) return loginRefusal(e, attemptsLeft)
  if (token !== '') return new TokenRefusedError(`new-device invite token refused: ${e.nodeMessage || e.message}`)
  return new DeviceRevokedError('this device was revoked for the user at this node')
}

/**
 * LoginRound gathers the verified evaluations of one unlock until k of
 * them make rwd, then derives the login key of every node and wipes rwd.
 * It fails once too few nodes are left to give k.
 */
export class LoginRound {
  readonly req: LoginRequest
  readonly #need: number
  readonly #evaluations: { index: number; evaluated: Uint8Array }[] = []
  #open: number
  readonly #keys: Promise<Map<string, LoginKey>>
  #resolve!: (m: Map<string, LoginKey>) => void
  #reject!: (e: Error) => void
  #settled = false

  constructor(
    pwh: Uint8Array,
    need: number,
    nodes: number,
    readonly derive: (rwd: Uint8Array) => Map<string, LoginKey>,
  ) {
    this.req = new LoginRequest(pwh)
    this.#need = need
    this.#open = nodes
    this.#keys = new Promise((res, rej) => {
      this.#resolve = res
      this.#reject = rej
    })
    this.#keys.catch(() => {})
  }

  /** add takes a verified evaluation; at k of them the login keys are made. */
  add(index: number, evaluated: Uint8Array): void {
    if (this.#settled) return
    this.#evaluations.push({ index, evaluated })
    if (this.#evaluations.length < this.#need) return
    this.#settled = true
    const rwd = this.req.finalize(this.#evaluations.slice(0, this.#need))
    try {
      this.#resolve(this.derive(rwd.bytes()))
    } catch (e) {
      this.#reject(e as Error)
    } finally {
      rwd.wipe()
      this.#wipeWhenDone()
    }
  }

  /**
   * The blind is kept until every node answered: a late answer is still
   * verified (a node whose proof fails is named) before its node is sent a
   * signature.
   */
  #wipeWhenDone(): void {
    if (this.#settled && this.#open <= 0) this.req.wipe()
  }

  /** fail says a node will give no evaluation. */
  fail(): void {
    this.#open--
    if (!this.#settled && this.#evaluations.length + this.#open < this.#need) {
      this.#settled = true
      this.#reject(new Error('fewer than the threshold of nodes gave a verified evaluation'))
    }
    this.#wipeWhenDone()
  }

  /** answered says a node gave a verified evaluation, so it no longer counts as open. */
  answered(): void {
    this.#open--
  }

  /** done says a node that answered is through with the request. */
  done(): void {
    this.#wipeWhenDone()
  }

  keys(): Promise<Map<string, LoginKey>> {
    return this.#keys
  }

  wipe(): void {
    this.req.wipe()
  }
}

export interface LoginContext {
  host: Host
  user: string
  epoch: number
  /** New-device invite tokens by node name, while Client.addDevice runs. */
  tokens?: Record<string, string> | undefined
}

/**
 * loginFull logs in at node with the round's blinded element; share is the
 * node's public share kept at enrollment (never one the node sends). It
 * returns the node's session and the login key it signed with.
 */
export async function loginFull(ctx: LoginContext, node: Node, share: LoginShare, round: LoginRound, signal: AbortSignal): Promise<{ session: Session; key: LoginKey }> {
  let gave = false
  try {
    return await ctx.host.converse(node, Protocol.login, signal, async (c) => {
      const token = tokenFor(ctx.tokens, node.name) ?? ''
      c.write(encode(LoginHelloSchema, { user: ctx.user, epoch: ctx.epoch, blinded: round.req.blinded, deviceToken: token }))
      const ch = decode(LoginChallengeSchema, await c.read())
      const refused = fromProto(ch.error)
      if (refused !== undefined) throw helloRefusal(refused, token, ch.attemptsLeft, ch.dealingNote)
      if (ch.nonce.length !== NONCE_SIZE) throw new Error('the node sent a malformed challenge')
      if (!round.req.verify(share.publicShare, ch.evaluated, ch.proof)) throw new BadEvaluationError()
      gave = true
      round.answered()
      round.add(share.index, ch.evaluated)
      round.done()
      const key = (await round.keys()).get(node.name)!
      return { session: await prove(ctx, node, c, ch.nonce, key), key }
    })
  } finally {
    if (!gave) round.fail()
  }
}

/** loginAgain logs in at node with a login key kept from an unlock: a challenge alone, no evaluation. */
export async function loginAgain(ctx: LoginContext, node: Node, key: LoginKey, signal: AbortSignal): Promise<Session> {
  return ctx.host.converse(node, Protocol.login, signal, async (c) => {
    c.write(encode(LoginHelloSchema, { user: ctx.user, epoch: ctx.epoch }))
    const ch = decode(LoginChallengeSchema, await c.read())
    const refused = fromProto(ch.error)
    if (refused !== undefined) throw helloRefusal(refused, '', ch.attemptsLeft, ch.dealingNote)
    if (ch.nonce.length !== NONCE_SIZE) throw new Error('the node sent a malformed challenge')
    return prove(ctx, node, c, ch.nonce, key)
  })
}

async function prove(ctx: LoginContext, node: Node, c: { write(b: Uint8Array): void; read(): Promise<Uint8Array> }, nonce: Uint8Array, key: LoginKey): Promise<Session> {
  c.write(encode(LoginProofSchema, { signature: key.sign(loginTranscript(node.peerId, ctx.host.peerId, ctx.user, nonce)) }))
  const res = decode(LoginResultSchema, await c.read())
  const refused = fromProto(res.error)
  if (refused !== undefined) throw loginRefusal(refused, res.attemptsLeft)
  return { idleMs: Number(res.idleTimeoutMs), expiresAt: Number(res.expiresUnixMs), lastUsed: Date.now() }
}

/** deriveLoginKeys makes every node's login key from rwd and the master secret. */
export function deriveLoginKeys(rwd: Uint8Array, m: Uint8Array, nodes: Node[]): Map<string, LoginKey> {
  return new Map(nodes.map((n) => [n.name, loginKeyV2(rwd, m, n.peerId)]))
}
