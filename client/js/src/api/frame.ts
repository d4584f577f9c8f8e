// Framing (api/frame.go): each message is an unsigned varint (minimal
// encoding) holding its length, then the protobuf bytes. The length is
// checked against the cap before anything is allocated, and the body buffer
// grows as bytes arrive, so a peer that claims a large message and stalls
// holds about what it sent.
import { concat } from '../bytes.js'

/** FrameTooLargeError: a message's length prefix is over the cap; nothing was allocated for it. */
export class FrameTooLargeError extends Error {
  override name = 'FrameTooLargeError'
  constructor(readonly max: number) {
    super(`message over the size limit of ${max} bytes`)
  }
}

/** ShortStreamError: the stream ended in the middle of a message, or before one. */
export class ShortStreamError extends Error {
  override name = 'ShortStreamError'
}

/** varint encodes n (below 2^53) as an unsigned varint. */
export function varint(n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

/** frame prefixes a message with its length. */
export function frame(body: Uint8Array, max: number): Uint8Array {
  if (body.length > max) throw new FrameTooLargeError(max)
  return concat(varint(body.length), body)
}

/** A chunk of a stream: a Uint8Array, or something that gives one (Uint8ArrayList). */
export type Chunk = Uint8Array | { subarray(): Uint8Array }

/** FrameReader reads length-prefixed messages from one stream's chunks. It buffers: read a stream through one reader. */
export class FrameReader {
  readonly #it: AsyncIterator<Chunk>
  #buf: Uint8Array = new Uint8Array(0)

  constructor(source: AsyncIterable<Chunk>) {
    this.#it = source[Symbol.asyncIterator]()
  }

  async #more(): Promise<boolean> {
    const r = await this.#it.next()
    if (r.done === true) return false
    const c = r.value instanceof Uint8Array ? r.value : r.value.subarray()
    this.#buf = this.#buf.length === 0 ? c : concat(this.#buf, c)
    return true
  }

  /** readLength reads a minimal varint length; a stream that ends first is ShortStreamError. */
  async #readLength(max: number): Promise<number> {
    let n = 0
    let scale = 1
    for (let i = 0; ; i++) {
      while (this.#buf.length <= i) {
        if (!(await this.#more())) throw new ShortStreamError('the stream ended before the message')
      }
      const b = this.#buf[i]!
      n += (b & 0x7f) * scale
      scale *= 0x80
      if (n > max) throw new FrameTooLargeError(max)
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw new Error('the message length is not minimally encoded')
        this.#buf = this.#buf.subarray(i + 1)
        return n
      }
    }
  }

  /** read returns the next message's bytes, of at most max bytes. */
  async read(max: number): Promise<Uint8Array> {
    const n = await this.#readLength(max)
    // Hold only what arrived: the body is gathered as it comes, then joined.
    const parts: Uint8Array[] = []
    let have = 0
    while (have < n) {
      if (this.#buf.length === 0 && !(await this.#more())) throw new ShortStreamError('the stream ended in the middle of a message')
      const take = Math.min(n - have, this.#buf.length)
      parts.push(this.#buf.slice(0, take))
      have += take
      this.#buf = this.#buf.subarray(take)
    }
    return concat(...parts)
  }

  /** atEnd reports whether the stream ended with nothing after the last message. */
  async atEnd(): Promise<boolean> {
    return this.#buf.length === 0 && !(await this.#more())
  }
}
