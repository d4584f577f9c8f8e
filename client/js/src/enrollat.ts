// One enrollment at one node (/custos/enroll/2.0.0): the user's first
// dealing at every node (Client.enroll), or a new dealing at a node that
// joins in a reshare (src/reshare.ts). The answer is told as the Go
// client's enrollment tells it.
import { Code, EnrollRequestSchema, EnrollResponseSchema } from './gen/custos_pb.js'
import { Protocol } from './api/protocol.js'
import { fromProto } from './api/status.js'
import { CustosError, OtherDeviceError, TokenRefusedError } from './errors.js'
import type { Host } from './host.js'
import type { Node } from './network.js'
import { call } from './rpc.js'
import type { OprfShare } from './threshold/toprf.js'

/**
 * tokenFor is the token tokens gives the node named name: its own entries
 * only (a node may be named constructor or toString, which every object
 * has), and only a string.
 */
export function tokenFor(tokens: Record<string, string> | undefined, name: string): string | undefined {
  if (tokens === undefined || !Object.hasOwn(tokens, name)) return undefined
  const t: unknown = tokens[name]
  return typeof t === 'string' ? t : undefined
}

/** How an enrollment at a node ended. */
export type EnrollState = 'not enrolled' | 'already enrolled' | 'enrolled now'

/**
 * enrollAt enrolls user at node with token and the node's share of the
 * dealing of epoch (its key share, public share and login public key
 * authPublicKey). A node that refuses is told by state and error; only
 * a failure to ask it at all is thrown.
 */
export async function enrollAt(
  host: Host,
  node: Node,
  user: string,
  token: string,
  epoch: number,
  share: OprfShare,
  authPublicKey: Uint8Array,
  signal: AbortSignal,
): Promise<{ state: EnrollState; error?: Error }> {
  const resp = await call(host, node, Protocol.enroll, EnrollRequestSchema, { user, token, authPublicKey, oprf: { epoch, index: share.index, keyShare: share.keyShare, publicShare: share.publicShare } }, EnrollResponseSchema, signal)
  const err = fromProto(resp.error)
  if (err === undefined) return { state: 'enrolled now' }
  if (err.code === Code.ALREADY_EXISTS) return { state: 'already enrolled', error: new CustosError('enrolled here with another login dealing') }
  if (err.code === Code.UNAUTHENTICATED) return { state: 'not enrolled', error: new TokenRefusedError(token === '' ? 'needs an invite token (it does not enroll openly)' : `invite token refused: ${err.message}`) }
  if (err.code === Code.INVALID_ARGUMENT) return { state: 'not enrolled', error: new OtherDeviceError(err.message) }
  return { state: 'not enrolled', error: err }
}
