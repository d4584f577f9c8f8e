// The user's devices at each node (client/devices.go): list them, or revoke
// one at every node, over /custos/device/1.0.0 with the user's session. A
// revoked device's logins are refused from then on (DeviceRevokedError),
// and a node never revokes the account's last active device there
// (LastDeviceError).
import { decode as decodeDigest } from 'multiformats/hashes/digest'
import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id'
import { Code, DeviceRequestSchema, DeviceResponseSchema, type DeviceInfo, type DeviceRequest } from './gen/custos_pb.js'
import { Protocol } from './api/protocol.js'
import { fromProto, isCode } from './api/status.js'
import { CustosError, LastDeviceError } from './errors.js'
import type { Host } from './host.js'
import type { Node } from './network.js'
import { call, withTimeout } from './rpc.js'
import type { MessageInitShape } from '@bufbuild/protobuf'

/** The most devices of one account a node lists: 8 active and the 8 newest revoked (api.MaxDevices). */
export const MAX_DEVICES = 16

/** Device is one device of the user as one node knows it. */
export interface Device {
  /** Its peer ID (base58), as nodes log it. */
  id: string
  added: Date
  /** When it was revoked; undefined while it is active. */
  revoked?: Date
  /** Set for the device of this vault. */
  this: boolean
}

/** NodeDevices is one node's list of the user's devices, oldest first, or why there is none. */
export interface NodeDevices {
  node: string
  devices: Device[]
  error?: Error
}

interface Custodian {
  node: Node
}

export interface DeviceDeps<C extends Custodian> {
  host: Host
  nodes: C[]
  timeoutMs: number
  authed<T>(c: C, signal: AbortSignal, fn: () => Promise<T>): Promise<T>
}

/** devicePeerId checks a device's peer ID in text and returns its binary form, as the revoke request carries it. */
export function devicePeerId(id: string): Uint8Array {
  try {
    return peerIdFromString(id).toMultihash().bytes
  } catch {
    throw new CustosError(`revoke device: ${JSON.stringify(id).slice(0, 80)} is not a peer ID`)
  }
}

/** peerIdText is a binary peer ID in text (base58), or undefined for bytes that are not a peer ID. */
export function peerIdText(b: Uint8Array): string | undefined {
  try {
    return peerIdFromMultihash(decodeDigest(b)).toString()
  } catch {
    return undefined
  }
}

/** parseDevices checks a node's device list: at most MAX_DEVICES, each a peer ID. */
export function parseDevices(infos: DeviceInfo[], self: string): Device[] {
  if (infos.length > MAX_DEVICES) throw new CustosError(`the node listed ${infos.length} devices, more than ${MAX_DEVICES}`)
  return infos.map((d) => {
    const id = peerIdText(d.peerId)
    if (id === undefined) throw new CustosError('the node listed a device that is not a peer ID')
    const dev: Device = { id, added: new Date(Number(d.addedUnixMs)), this: id === self }
    if (d.revokedUnixMs !== 0n) dev.revoked = new Date(Number(d.revokedUnixMs))
    return dev
  })
}

/**
 * deviceOp sends req to every node in parallel with the user's session and
 * returns each node's list after it, or its error, in network order. A
 * node's INVALID_ARGUMENT to a revocation is its refusal to revoke the
 * last active device (LastDeviceError).
 */
export async function deviceOp<C extends Custodian>(d: DeviceDeps<C>, req: MessageInitShape<typeof DeviceRequestSchema>, signal: AbortSignal | undefined): Promise<NodeDevices[]> {
  const revoking = (req as Partial<DeviceRequest>).op?.case === 'revoke'
  return Promise.all(
    d.nodes.map(async (c): Promise<NodeDevices> => {
      const sig = withTimeout(signal, d.timeoutMs)
      try {
        const resp = await d.authed(c, sig, async () => {
          const r = await call(d.host, c.node, Protocol.device, DeviceRequestSchema, req, DeviceResponseSchema, sig)
          const e = fromProto(r.error)
          if (e !== undefined) throw e
          return r
        })
        return { node: c.node.name, devices: parseDevices(resp.devices, d.host.peerIdText) }
      } catch (e) {
        if (revoking && isCode(e, Code.INVALID_ARGUMENT)) return { node: c.node.name, devices: [], error: new LastDeviceError(e.nodeMessage || 'the last active device of the user cannot be revoked') }
        return { node: c.node.name, devices: [], error: e as Error }
      }
    }),
  )
}
