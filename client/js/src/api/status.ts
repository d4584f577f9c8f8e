// A node's refusal (api/errors.go): a code the client acts on and a message
// fit to show a user, capped and stripped of control characters here, since
// it comes from the peer.
import { Code, type Error as ProtoError } from '../gen/custos_pb.js'

const MAX_MESSAGE = 512
const DAY_MS = 24 * 3600 * 1000

const codeText: Record<number, string> = {
  [Code.UNAUTHENTICATED]: 'not logged in',
  [Code.LOCKED]: 'the account is locked',
  [Code.RATE_LIMITED]: 'too many requests',
  [Code.NOT_FOUND]: 'not found',
  [Code.INVALID_ARGUMENT]: 'invalid request',
  [Code.UNAVAILABLE]: 'the node is unavailable',
  [Code.ALREADY_EXISTS]: 'already exists',
}

/** StatusError is a node's answer that it refused or failed a request. */
export class StatusError extends Error {
  override name = 'StatusError'
  constructor(
    readonly code: Code,
    readonly nodeMessage: string,
    /** For RATE_LIMITED: how long to wait, in milliseconds (at most a day). */
    readonly retryAfterMs = 0,
  ) {
    const msg = nodeMessage || (codeText[code] ?? 'internal error')
    super(code === Code.RATE_LIMITED && retryAfterMs > 0 ? `${msg} (retry after ${retryAfterMs}ms)` : msg)
  }
}

/** fromProto turns a received Error into a StatusError, or undefined for none. */
export function fromProto(e: ProtoError | undefined): StatusError | undefined {
  if (e === undefined || e.code === Code.OK) return undefined
  const code = Code[e.code] === undefined ? Code.INTERNAL : e.code
  const retry = e.retryAfterMs > BigInt(DAY_MS) ? DAY_MS : Number(e.retryAfterMs)
  return new StatusError(code, printable(e.message, MAX_MESSAGE), retry)
}

/** printable keeps at most n bytes of s's printable characters. */
export function printable(s: string, n: number): string {
  let out = ''
  let size = 0
  for (const ch of s) {
    const c = ch.codePointAt(0)!
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0) || c === 0xfffd) continue
    size += new TextEncoder().encode(ch).length
    if (size > n) break
    out += ch
  }
  return out
}

/** isCode reports whether err is a node's refusal with this code. */
export function isCode(err: unknown, code: Code): err is StatusError {
  return err instanceof StatusError && err.code === code
}
