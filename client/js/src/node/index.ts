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

type Resolvers<T> = { promise: Promise<T>; resolve: (v: T | PromiseLike<T>) => void; reject: (e: unknown) => void }

function installShims(): void {
  const g = globalThis as { WebSocket?: unknown }
  g.WebSocket ??= NodeWebSocket
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
