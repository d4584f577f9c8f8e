// One request and its answer on a new stream, with the message schemas of
// the generated wire code.
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf'
import type { Host } from './host.js'
import type { Node } from './network.js'

/** withTimeout is signal, ending also after ms. */
export function withTimeout(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const t = AbortSignal.timeout(ms)
  return signal === undefined ? t : AbortSignal.any([signal, t])
}

/** call writes req on a new stream to node and reads the answer; the stream is aborted when anything fails. */
export async function call<Req extends DescMessage, Resp extends DescMessage>(
  host: Host,
  node: Node,
  protocol: string,
  reqSchema: Req,
  req: MessageInitShape<Req>,
  respSchema: Resp,
  signal: AbortSignal,
): Promise<MessageShape<Resp>> {
  return host.converse(node, protocol, signal, async (c) => {
    c.writeLast(toBinary(reqSchema, create(reqSchema, req)))
    return decode(respSchema, await c.read())
  })
}

/** decode reads a message, with one error for bytes that do not decode. */
export function decode<Desc extends DescMessage>(schema: Desc, b: Uint8Array): MessageShape<Desc> {
  try {
    return fromBinary(schema, b)
  } catch {
    throw new Error('the node sent a malformed answer')
  }
}

/** encode writes a message. */
export function encode<Desc extends DescMessage>(schema: Desc, m: MessageInitShape<Desc>): Uint8Array {
  return toBinary(schema, create(schema, m))
}
