// Secret holds key material: it prints as a label, never as its bytes, and
// can be wiped. Wiping in JavaScript is best effort (docs/js.md says how far
// it goes): it overwrites this buffer, not copies an engine may have made.

const inspect = Symbol.for('nodejs.util.inspect.custom')

export class Secret {
  #bytes: Uint8Array
  readonly #label: string

  /** The Secret takes b over: the caller must not keep using it. */
  constructor(label: string, b: Uint8Array) {
    this.#label = label
    this.#bytes = b
  }

  /** bytes is the secret itself; the caller must not keep a copy. */
  bytes(): Uint8Array {
    if (this.#bytes.length === 0) throw new Error(`${this.#label}: used after it was wiped`)
    return this.#bytes
  }

  get wiped(): boolean {
    return this.#bytes.length === 0
  }

  wipe(): void {
    this.#bytes.fill(0)
    this.#bytes = new Uint8Array(0)
  }

  toString(): string {
    return `[${this.#label}]`
  }

  toJSON(): string {
    return this.toString()
  }

  [inspect](): string {
    return this.toString()
  }
}
