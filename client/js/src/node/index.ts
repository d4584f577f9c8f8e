// The Node.js adapter: the vault in a file, and js-libp2p's WebSocket
// transport. Node.js 20 has neither a global WebSocket nor
// Promise.withResolvers (js-libp2p 3 uses both; Chromium has them), so this
// module supplies them: WebSocket from undici (the WHATWG implementation
// Node.js 22 ships as its global), and the standard shim of
// Promise.withResolvers. Not the ws package: it emits a message in the same
// tick as the open event, before js-libp2p listens, and so loses the
// node's first bytes (the multistream header) now and then.
import { WebSocket as NodeWebSocket } from 'undici'
import { webSockets } from '@libp2p/websockets'
import type { Transports } from '../host.js'

export { FileStorage } from './file-storage.js'

/**
 * CoalescingWebSocket sends the binary messages given it in one turn of the
 * event loop as one WebSocket message. js-libp2p sends every piece of a
 * Noise message (its length, then its ciphertext) as a message of its own,
 * and undici writes each to the socket: about fourteen writes for one
 * request. The node reads the WebSocket as a byte stream, so where messages
 * begin does not matter. The flush is a setImmediate, not a microtask: a
 * request's stream opening, data and close are written in several
 * microtask runs of one turn, and setImmediate runs right after that turn's
 * I/O callbacks, before any timer, so it delays nothing that waits (a
 * warm get of three nodes wrote 15 times with a microtask, 9 with this).
 */
class CoalescingWebSocket extends NodeWebSocket {
  #pending: Uint8Array[] = []
  #pendingBytes = 0

  override send(data: Parameters<NodeWebSocket['send']>[0]): void {
    if (!(data instanceof ArrayBuffer || ArrayBuffer.isView(data))) {
      this.#flush()
      super.send(data)
      return
    }
    const b = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    if (this.#pending.length === 0) setImmediate(() => this.#flush())
    this.#pending.push(b.slice())
    this.#pendingBytes += b.length
  }

  override get bufferedAmount(): number {
    return super.bufferedAmount + this.#pendingBytes
  }

  override close(code?: number, reason?: string): void {
    this.#flush()
    super.close(code, reason)
  }

  #flush(): void {
    if (this.#pending.length === 0) return
    const out = new Uint8Array(this.#pendingBytes)
    let o = 0
    for (const b of this.#pending) {
      out.set(b, o)
      o += b.length
    }
    this.#pending = []
    this.#pendingBytes = 0
    if (this.readyState === NodeWebSocket.OPEN) super.send(out)
  }
}

type Resolvers<T> = { promise: Promise<T>; resolve: (v: T | PromiseLike<T>) => void; reject: (e: unknown) => void }

function installShims(): void {
  const g = globalThis as { WebSocket?: unknown }
  g.WebSocket ??= CoalescingWebSocket
  const P = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> }
  P.withResolvers ??= function <T>(): Resolvers<T> {
    let resolve!: Resolvers<T>['resolve']
    let reject!: Resolvers<T>['reject']
    const promise = new Promise<T>((a, b) => {
      resolve = a
      reject = b
    })
    return { promise, resolve, reject }
  }
}

/** nodeTransports is the transports of the device's host in Node.js: WebSocket (/ws and /wss). */
export function nodeTransports(): Transports {
  installShims()
  return [webSockets()]
}
