// The SDK's errors, to branch on with instanceof; they carry the facts the
// Go client's errors carry (client/errors.go). What went wrong at one node
// is a NodeError whose cause is one of the classes below; an operation that
// fewer than its threshold of nodes agreed to is a NotEnoughCustodiansError
// naming every node and why, with the reason that kept it short.
import { StatusError } from './api/status.js'
import { ImpostorError, TimeoutError, UnreachableError } from './host.js'

export { StatusError, ImpostorError, TimeoutError, UnreachableError }

/** CustosError is the base of the SDK's own errors. */
export class CustosError extends Error {
  override name = 'CustosError'
}

/** A refusal only the user can act on (waiting for nodes to come back will not help). */
export class RefusalError extends CustosError {
  override name = 'RefusalError'
}

/** WrongPasswordError: the node refused the login's signature as a wrong user or password. */
export class WrongPasswordError extends RefusalError {
  override name = 'WrongPasswordError'
  /** Counted attempts left at the node before it locks the account (as the node said; undefined if it did not). */
  constructor(
    message = 'wrong password',
    readonly attemptsLeft?: number,
  ) {
    super(attemptsLeft === undefined ? message : `${message} (${attemptsLeft} attempts left)`)
  }
}

/** LockedError: the account is locked at the node until its operator unlocks it. */
export class LockedError extends RefusalError {
  override name = 'LockedError'
  constructor(message = 'the account is locked') {
    super(message)
  }
}

/** RateLimitedError: the node asked to wait retryAfterMs before the next request (a login backoff, say). */
export class RateLimitedError extends RefusalError {
  override name = 'RateLimitedError'
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message)
  }
}

/** NotEnrolledError: this device is not enrolled for the user at the node. */
export class NotEnrolledError extends RefusalError {
  override name = 'NotEnrolledError'
  constructor(message = 'this device is not enrolled at this node') {
    super(message)
  }
}

/** TokenRefusedError: the node refused the invite token (not valid for this user, used, or expired), or needs one. */
export class TokenRefusedError extends RefusalError {
  override name = 'TokenRefusedError'
}

/** NoTokenError: no invite token was given for a node this device is not enrolled at; it was not asked. */
export class NoTokenError extends RefusalError {
  override name = 'NoTokenError'
  constructor() {
    super('no invite token given')
  }
}

/** OtherDeviceError: the user is enrolled at the node with another device. */
export class OtherDeviceError extends RefusalError {
  override name = 'OtherDeviceError'
}

/** DeviceRevokedError: another device of the user revoked this one at the node (Client.revokeDevice); it does not come back. */
export class DeviceRevokedError extends RefusalError {
  override name = 'DeviceRevokedError'
}

/** LastDeviceError: the node refused to revoke the user's last active device there: no one could log in to the account again. */
export class LastDeviceError extends RefusalError {
  override name = 'LastDeviceError'
}

/** A node that lied or failed a check: none of its answer was used. */
export class BadNodeError extends CustosError {
  override name = 'BadNodeError'
}

/** BadShareError: the node sent a share that does not match the commitment kept in the vault. */
export class BadShareError extends BadNodeError {
  override name = 'BadShareError'
  constructor() {
    super('sent a share that does not match its commitment')
  }
}

/** BadEvaluationError: the node's OPRF evaluation did not verify against the public share kept at enrollment. */
export class BadEvaluationError extends BadNodeError {
  override name = 'BadEvaluationError'
  constructor(why = 'its login evaluation does not verify against its public share') {
    super(why)
  }
}

/** BadReceiptError: the node's release answer came without a receipt that proves it logged the release. */
export class BadReceiptError extends BadNodeError {
  override name = 'BadReceiptError'
  constructor(why: string) {
    super(`the node's receipt does not verify: ${why}`)
  }
}

/** FalseReceiptError: the receipt verifies, but its entry is not the release the node answered with. */
export class FalseReceiptError extends BadNodeError {
  override name = 'FalseReceiptError'
  constructor(why: string) {
    super(`the node's receipt proves another log entry than its answer: ${why}`)
  }
}

/** ForkedLogError: the node's checkpoint does not extend the one the vault keeps of it. */
export class ForkedLogError extends BadNodeError {
  override name = 'ForkedLogError'
  constructor(why: string) {
    super(`the node showed a log that does not extend the one it showed before: ${why}`)
  }
}

/** BadLogError: the node's answer about its audit log does not verify. */
export class BadLogError extends BadNodeError {
  override name = 'BadLogError'
  constructor(why: string) {
    super(`the node's log answer does not verify: ${why}`)
  }
}

/** NodeError is what went wrong at one node. */
export class NodeError extends CustosError {
  override name = 'NodeError'
  constructor(
    readonly node: string,
    override readonly cause: Error,
  ) {
    super(`${node}: ${cause.message}`)
  }
}

type RefusalClass = new (...args: never[]) => RefusalError

/** The refusals a user must act on, in the order a headline names them. */
const refusalKinds: [RefusalClass, string][] = [
  [LockedError, 'account locked at'],
  [NotEnrolledError, 'not enrolled at'],
  [TokenRefusedError, 'invite token refused by'],
  [NoTokenError, 'no invite token given for'],
  [OtherDeviceError, 'enrolled with another device at'],
  [DeviceRevokedError, 'device revoked at'],
  [LastDeviceError, 'last active device at'],
  [WrongPasswordError, 'password refused by'],
  [RateLimitedError, 'asked to wait by'],
]

function kindOf(e: Error): RefusalClass | undefined {
  return refusalKinds.find(([k]) => e instanceof k)?.[0]
}

function joinNames(names: string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`
}

/**
 * NotEnoughCustodiansError: fewer than need nodes agreed to op. nodes names
 * every node that failed and why; reason is what kept the operation short:
 * WrongPasswordError when nodes refused the password and none took it; else
 * the first refusal kind (LockedError, NotEnrolledError, …) whose nodes would
 * have made up the shortfall, so that only the user can fix it; else
 * undefined: too few nodes could be reached or answered, and it may work
 * once they are back.
 */
export class NotEnoughCustodiansError extends CustosError {
  override name = 'NotEnoughCustodiansError'
  readonly reason: RefusalClass | undefined

  constructor(
    readonly op: string,
    readonly need: number,
    readonly have: number,
    readonly nodes: NodeError[],
  ) {
    super('')
    this.reason = NotEnoughCustodiansError.#reason(need, have, nodes)
    this.message = this.#headline() + nodes.map((n) => `\n  ${n.message}`).join('')
  }

  static #reason(need: number, have: number, nodes: NodeError[]): RefusalClass | undefined {
    if (have === 0 && nodes.some((n) => n.cause instanceof WrongPasswordError)) return WrongPasswordError
    const refused = nodes.filter((n) => kindOf(n.cause) !== undefined).length
    if (have + refused < need) return undefined
    return refusalKinds.find(([k]) => nodes.some((n) => kindOf(n.cause) === k))?.[0]
  }

  /** refusedBy names the nodes whose refusal is of kind. */
  refusedBy(kind: RefusalClass): string[] {
    return this.nodes.filter((n) => kindOf(n.cause) === kind).map((n) => n.node)
  }

  /** attemptsLeft is the fewest login attempts any node that refused the password said were left. */
  get attemptsLeft(): number | undefined {
    const left = this.nodes.map((n) => (n.cause instanceof WrongPasswordError ? n.cause.attemptsLeft : undefined)).filter((x) => x !== undefined)
    return left.length === 0 ? undefined : Math.min(...left)
  }

  /** retryAfterMs is the longest wait a node asked for, or 0. */
  get retryAfterMs(): number {
    return Math.max(0, ...this.nodes.map((n) => (n.cause instanceof RateLimitedError ? n.cause.retryAfterMs : 0)))
  }

  #headline(): string {
    if (this.reason === undefined) return `${this.op}: ${this.have} of the ${this.need} custodians needed agreed`
    if (this.reason === WrongPasswordError) return `${this.op}: wrong password (refused by ${joinNames(this.refusedBy(WrongPasswordError))})`
    const parts = refusalKinds.filter(([k]) => this.refusedBy(k).length > 0).map(([k, phrase]) => `${phrase} ${joinNames(this.refusedBy(k))}`)
    return `${this.op}: ${parts.join('; ')}`
  }
}

/** NotFoundError: no record with that label in the vault. */
export class NotFoundError extends CustosError {
  override name = 'NotFoundError'
  constructor(readonly label: string) {
    super(`${JSON.stringify(label)}: no such record`)
  }
}

/** ExistsError: a record with that label exists already. */
export class ExistsError extends CustosError {
  override name = 'ExistsError'
  constructor(readonly label: string) {
    super(`${JSON.stringify(label)}: a record with that label exists already`)
  }
}

/** ClosedError: the client was closed. */
export class ClosedError extends CustosError {
  override name = 'ClosedError'
  constructor() {
    super('the client is closed')
  }
}

/** VaultLockedError: the client is not unlocked (or its idle timeout logged it out); call unlock. */
export class VaultLockedError extends CustosError {
  override name = 'VaultLockedError'
  constructor() {
    super('not unlocked; log in first')
  }
}
