// The device's libp2p host: it dials custodians at their pinned peer IDs and
// runs one request per stream. js-libp2p with Noise and Yamux; which
// transports (WebSocket in Node.js; WebSocket and WebTransport in browsers)
// is the platform adapter's to say, so nothing here needs Node.js.
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import type { Connection, Libp2p, Peer, PeerStore, PrivateKey, Stream } from '@libp2p/interface'
import { FrameReader, frame } from './api/frame.js'
import { concat, utf8 } from './bytes.js'
import { MAX_MESSAGE_SIZE } from './api/protocol.js'
import { platformSigner, type Signer } from './ed25519.js'
import type { Node } from './network.js'

/** The transports a platform adapter gives the host. */
export type Transports = NonNullable<Libp2pOptions['transports']>

type MuxerFactory = NonNullable<Libp2pOptions['streamMuxers']>[number]

/** multistream-select 1.0.0 (libp2p's protocol negotiation): its header line, and the longest line read. */
const MSS_HEADER = '/multistream/1.0.0'
const MAX_MSS_LINE = 1024

/** ImpostorError: a node presented another key than the network file pins; it was sent nothing. */
export class ImpostorError extends Error {
  override name = 'ImpostorError'
  constructor(readonly actual: string) {
    super(`the node presented another key than the network file pins${actual ? ` (it is ${actual})` : ''}`)
  }
}

/** UnreachableError: the node could not be dialled, or a stream to it failed; cause says why. */
export class UnreachableError extends Error {
  override name = 'UnreachableError'
}

/** TimeoutError: the request did not finish within its time. */
export class TimeoutError extends Error {
  override name = 'TimeoutError'
  constructor() {
    super('timed out')
  }
}

/** A Conversation is one stream's messages: write one, read one, end. */
export interface Conversation {
  write(msg: Uint8Array): void
  /** writeLast writes the stream's last message and half-closes it in the same write (one frame less to send after the answer). */
  writeLast(msg: Uint8Array): void
  read(): Promise<Uint8Array>
}

export class Host {
  readonly #p2p: Libp2p
  readonly peerId: Uint8Array
  readonly peerIdText: string
  readonly #key: PrivateKey
  /** The device key as the platform's (ed25519.ts), when it has Ed25519: signing with it skips libp2p's key conversion per signature. */
  readonly #signer: Signer | undefined
  /** The open connection to each node, by name: requests open streams on it. */
  readonly #conns = new Map<string, Connection>()

  private constructor(p2p: Libp2p, key: PrivateKey, signer: Signer | undefined) {
    this.#p2p = p2p
    this.#key = key
    this.#signer = signer
    this.peerId = p2p.peerId.toMultihash().bytes
    this.peerIdText = p2p.peerId.toString()
  }

  /** start makes a host with the device key (libp2p's protobuf form of an Ed25519 key) as its identity; it listens on nothing. */
  static async start(deviceKey: Uint8Array, transports: Transports): Promise<Host> {
    const key = privateKeyFromProtobuf(deviceKey)
    if (key.type !== 'Ed25519') throw new Error('the device key is not an Ed25519 key')
    const p2p = await createLibp2p({
      privateKey: key,
      addresses: { listen: [] },
      transports,
      connectionEncrypters: [noise()],
      streamMuxers: [preNegotiating(yamux())],
      connectionGater: { denyDialMultiaddr: async () => false },
      connectionManager: { maxConnections: 300 },
    })
    skipKnownProtocolMerges(p2p.peerStore)
    // libp2p's raw form of an Ed25519 private key: the seed, then the public key.
    return new Host(p2p, key, await platformSigner(key.raw.subarray(0, 32)))
  }

  /** sign signs msg with the device key (release requests). */
  async sign(msg: Uint8Array): Promise<Uint8Array> {
    if (this.#signer === undefined) return this.#key.sign(msg)
    return this.#signer(msg)
  }

  async stop(): Promise<void> {
    await this.#p2p.stop()
  }

  /** hangUp closes the connections to node, so that the next request dials again. */
  async hangUp(node: Node): Promise<void> {
    this.#conns.delete(node.name)
    await Promise.all(this.#p2p.getConnections().filter((c) => c.remotePeer.toString() === node.peerIdText).map((c) => c.abort(new Error('hung up'))))
  }

  /** connected reports whether a connection to node is open. */
  connected(node: Node): boolean {
    return this.#conns.get(node.name)?.status === 'open'
  }

  /** connect dials node at its pinned peer ID (a connection open already is kept). */
  async connect(node: Node, signal: AbortSignal): Promise<Connection> {
    const open = this.#conns.get(node.name)
    if (open?.status === 'open') return open
    try {
      const c = await this.#p2p.dial(node.addrs.map((a) => a.encapsulate(`/p2p/${node.peerIdText}`)), { signal })
      this.#conns.set(node.name, c)
      return c
    } catch (e) {
      throw dialError(e, signal)
    }
  }

  /**
   * converse opens a stream to node on protocol and runs fn on it: the
   * request's messages, then the end of the stream. The stream is
   * half-closed after the last write and aborted when anything fails or
   * signal ends; a node that sends more than the answer is a failure.
   *
   * The protocol is negotiated here, as go-libp2p's streams do it: the
   * multistream-select header and the protocol go with the request's first
   * bytes, and the node's two answering lines are read before its answer
   * (js-libp2p would wait for them before sending the request: a round
   * trip more per request; see preNegotiating).
   */
  async converse<T>(node: Node, protocol: string, signal: AbortSignal, fn: (c: Conversation) => Promise<T>): Promise<T> {
    const conn = await this.connect(node, signal)
    let stream: Stream
    try {
      stream = await openStream(conn, protocol, signal)
    } catch (e) {
      this.#conns.delete(node.name)
      throw dialError(e, signal)
    }
    const onAbort = () => stream.abort(new TimeoutError())
    signal.addEventListener('abort', onAbort, { once: true })
    // The signal may have ended while the stream was being opened: its event is gone.
    if (signal.aborted) onAbort()
    const reader = new FrameReader(stream)
    // A stream of another muxer (WebTransport's) was negotiated by js-libp2p.
    let negotiated = !unnegotiated.has(stream)
    let proposed = negotiated
    const negotiate = async () => {
      if (negotiated) return
      try {
        await expectLine(reader, MSS_HEADER, 'the node does not speak multistream-select')
        await expectLine(reader, protocol, `the node does not speak ${protocol}`)
      } catch (e) {
        // A node that refuses the protocol may reset the stream (it read
        // the request as its next proposal) before its "na" is read.
        if (e instanceof UnreachableError) throw e
        throw new UnreachableError(`the node did not accept ${protocol}: ${e instanceof Error ? e.message : String(e)}`)
      }
      negotiated = true
    }
    let closing: Promise<void> | undefined
    const write = (msg: Uint8Array) => {
      if (closing !== undefined) throw new Error('a write after the last one')
      const body = frame(msg, MAX_MESSAGE_SIZE)
      stream.send(proposed ? body : concat(mssLine(MSS_HEADER), mssLine(protocol), body))
      proposed = true
    }
    try {
      const out = await fn({
        write,
        writeLast: (msg) => {
          write(msg)
          closing = stream.close({ signal })
          // Awaited below; until then a failure of it must not go unhandled.
          closing.catch(() => {})
        },
        read: async () => {
          await negotiate()
          return reader.read(MAX_MESSAGE_SIZE)
        },
      })
      await (closing ?? stream.close({ signal }))
      if (proposed) await negotiate()
      if (!(await reader.atEnd())) throw new UnreachableError('the node sent more than its answer')
      return out
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)))
      if (signal.aborted) throw signal.reason instanceof Error && !(signal.reason.name === 'AbortError') ? signal.reason : new TimeoutError()
      throw e
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }
}

/** What openStream needs of a js-libp2p 3 connection beyond its interface: its stream muxer. */
interface Muxed {
  muxer?: { createStream(options: { protocol: string; signal: AbortSignal }): Promise<Stream> }
}

/**
 * openStream opens a stream for protocol on conn with its stream muxer
 * (wrapped by preNegotiating). js-libp2p's Connection.newStream would add,
 * for every stream, a look-up of the host's own handler for protocol (this
 * host has none, so an error with a stack trace is made and caught), a
 * count of the connection's streams, a peer-store merge, and a middleware
 * chain: none of which this host uses, a tenth of a warm get's CPU time.
 * A connection of another muxer (WebTransport's) opens its streams itself,
 * and so does a limited (relayed) one, which newStream refuses; so does
 * one no longer open, which newStream names.
 */
async function openStream(conn: Connection, protocol: string, signal: AbortSignal): Promise<Stream> {
  const m = (conn as unknown as Muxed).muxer
  if (m === undefined || conn.status !== 'open' || conn.limits != null || !muxedByPreNegotiating.has(m)) return conn.newStream(protocol, { signal })
  return m.createStream({ protocol, signal })
}

/** mssLine is a multistream-select message: a varint length, then the line and its newline. */
function mssLine(s: string): Uint8Array {
  return frame(utf8(s + '\n'), MAX_MSS_LINE)
}

/** expectLine reads a multistream-select line; another one than want (the node's "na") is an UnreachableError saying why. */
async function expectLine(reader: FrameReader, want: string, why: string): Promise<void> {
  const got = await reader.read(MAX_MSS_LINE)
  if (new TextDecoder().decode(got) !== want + '\n') throw new UnreachableError(why)
}

/** The streams preNegotiating marked: their protocol is still to be negotiated, by converse. */
const unnegotiated = new WeakSet<Stream>()

/** The stream muxers preNegotiating wrapped: openStream uses them directly. */
const muxedByPreNegotiating = new WeakSet<object>()

/**
 * preNegotiating wraps a stream muxer so that a stream opened for one
 * protocol is marked as of that protocol when it is made. js-libp2p 3 then
 * takes it as negotiated (as with a muxer that negotiates protocols
 * itself) and does not run multistream-select, which it runs to the end
 * before the stream is handed over; Host.converse, the only opener of
 * this host's streams, negotiates instead, without the wait. Streams
 * opened by the node are untouched, and so are WebTransport's (its
 * sessions bring their own muxer): js-libp2p negotiates those.
 */
function preNegotiating(muxer: MuxerFactory): MuxerFactory {
  return (components) => {
    const f = muxer(components)
    return {
      protocol: f.protocol,
      createStreamMuxer: (maConn) => {
        const m = f.createStreamMuxer(maConn)
        muxedByPreNegotiating.add(m)
        const create = m.createStream.bind(m)
        m.createStream = async (options) => {
          const s = await create(options)
          lazyWindowUpdates(s)
          if (options?.protocol !== undefined) {
            s.protocol = options.protocol
            unnegotiated.add(s)
          }
          return s
        }
        return m
      },
    }
  }
}

/** What lazyWindowUpdates needs of a yamux stream (@chainsafe/libp2p-yamux 8's fields). */
interface YamuxWindow {
  state: number
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate(): void
}

/** @chainsafe/libp2p-yamux's stream states that send window updates without flags: SYNSent, Established, Finished. */
const PLAIN_UPDATE_STATES = new Set([1, 3, 4])

/**
 * lazyWindowUpdates makes a yamux stream announce its receive window again
 * only once half of it is used, as go-yamux and the yamux spec's
 * implementations do, or when the update carries a flag (the SYN). The
 * js-libp2p muxer sends one after every data frame it receives: three
 * frames per answer that the node must decrypt and nothing needs, and two
 * of the eight socket writes a warm get made.
 */
function lazyWindowUpdates(s: Stream): void {
  const w = s as unknown as Partial<YamuxWindow>
  if (typeof w.sendWindowUpdate !== 'function' || typeof w.state !== 'number' || typeof w.recvWindow !== 'number' || typeof w.recvWindowCapacity !== 'number') return
  const y = w as YamuxWindow
  const update = y.sendWindowUpdate.bind(y)
  y.sendWindowUpdate = () => {
    if (PLAIN_UPDATE_STATES.has(y.state) && y.recvWindow - y.recvWindowCapacity < y.recvWindow / 2) return
    update()
  }
}

/** dialError shortens libp2p's dial errors to their cause, and names an impostor. */
function dialError(e: unknown, signal: AbortSignal): Error {
  const msg = e instanceof Error ? e.message : String(e)
  const m = /Payload identity key (\S+) does not match expected remote identity key/.exec(msg)
  if (m !== null || (e instanceof Error && /UnexpectedPeer/.test(e.name))) return new ImpostorError(m?.[1] ?? '')
  if (signal.aborted) return new TimeoutError()
  if (/ECONNREFUSED/.test(msg) || /ECONNREFUSED/.test(String((e as { cause?: unknown })?.cause))) return new UnreachableError('cannot reach it: connection refused')
  return new UnreachableError(`cannot reach it: ${msg.split('\n')[0]!.slice(0, 200)}`)
}

/**
 * skipKnownProtocolMerges makes store skip a merge that records for a peer
 * only protocols a merge recorded for it before. js-libp2p merges the
 * protocol of every stream a connection opens into the peer store, under a
 * lock, decoding and re-encoding the peer's record to find it unchanged,
 * for a record the host never reads (it dials the network file's addresses
 * at pinned peer IDs). Streams openStream opens skip newStream and so the
 * merge; those of WebTransport and of limited connections do not (it was
 * about a tenth of a warm get's CPU time). Every other merge is the
 * store's own.
 */
export function skipKnownProtocolMerges(store: PeerStore): void {
  const merge = store.merge.bind(store)
  const merged = new Map<string, { protocols: Set<string>; peer: Peer }>()
  store.merge = async (id, data, options) => {
    const only = Object.keys(data).length === 1 && data.protocols !== undefined
    const known = merged.get(id.toString())
    if (only && known !== undefined && data.protocols!.every((p) => known.protocols.has(p))) return known.peer
    const peer = await merge(id, data, options)
    const protocols = known?.protocols ?? new Set<string>()
    if (only) for (const p of data.protocols!) protocols.add(p)
    merged.set(id.toString(), { protocols, peer })
    return peer
  }
}

/** deviceKeyFromProtobuf checks a stored device key: an Ed25519 key in libp2p's protobuf form. */
export function deviceKeyFromProtobuf(b: Uint8Array): PrivateKey {
  const k = privateKeyFromProtobuf(b)
  if (k.type !== 'Ed25519') throw new Error('the device key is not an Ed25519 key')
  return k
}
