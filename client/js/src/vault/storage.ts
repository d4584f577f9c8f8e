// The vault's storage: where its one document and its request journal live.
// The vault's logic (vault.ts) is the same on every platform; an adapter
// says where the bytes go: a file in Node.js (node/file-storage.ts), memory
// in tests, IndexedDB in browsers, a mobile app's secure storage.

/** VaultStorage is what an adapter implements. Every write is durable when its promise resolves. */
export interface VaultStorage {
  /** load returns the vault document, or undefined when there is none. */
  load(): Promise<Uint8Array | undefined>
  /** create writes the first document; it refuses when a vault or a journal is there already. */
  create(doc: Uint8Array): Promise<void>
  /** save replaces the document atomically: a crash leaves the old one or the new one, whole. */
  save(doc: Uint8Array): Promise<void>
  /** loadJournal returns the request journal, or undefined when there is none yet. */
  loadJournal(): Promise<Uint8Array | undefined>
  /** appendJournal adds lines at the end of the journal (making it if need be), durably, before it resolves. */
  appendJournal(lines: Uint8Array): Promise<void>
  /** replaceJournal rewrites the journal atomically (to compact it, or cut off a torn last line). */
  replaceJournal(doc: Uint8Array): Promise<void>
  /** lock takes the vault for this client until the returned function is called; another client is refused. */
  lock(): Promise<() => Promise<void>>
}

/** VaultBusyError: another client holds the vault. */
export class VaultBusyError extends Error {
  override name = 'VaultBusyError'
  constructor(where = 'the vault') {
    super(`another process is using ${where}`)
  }
}

/** MemoryStorage keeps the vault in memory: for tests, and for programs that keep it elsewhere themselves. */
export class MemoryStorage implements VaultStorage {
  doc: Uint8Array | undefined
  journal: Uint8Array | undefined
  #locked = false

  async load() {
    return this.doc?.slice()
  }
  async create(doc: Uint8Array) {
    if (this.doc !== undefined || this.journal !== undefined) throw new Error('a vault exists here already')
    this.doc = doc.slice()
  }
  async save(doc: Uint8Array) {
    this.doc = doc.slice()
  }
  async loadJournal() {
    return this.journal?.slice()
  }
  async appendJournal(lines: Uint8Array) {
    const old = this.journal ?? new Uint8Array(0)
    const j = new Uint8Array(old.length + lines.length)
    j.set(old)
    j.set(lines, old.length)
    this.journal = j
  }
  async replaceJournal(doc: Uint8Array) {
    this.journal = doc.slice()
  }
  async lock() {
    if (this.#locked) throw new VaultBusyError()
    this.#locked = true
    return async () => {
      this.#locked = false
    }
  }
}
