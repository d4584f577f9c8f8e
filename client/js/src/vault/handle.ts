// VaultHandle is an open vault: its contents, held against other clients
// through the storage's lock, saved whole, and its request journal.
import { encodeVault, decodeVault, type VaultData } from './vault.js'
import { compacted, parseJournal, renderJournal, renderLines, type JournalState, type Request } from './journal.js'
import type { VaultStorage } from './storage.js'

/** NoVaultError: the storage holds no vault. */
export class NoVaultError extends Error {
  override name = 'NoVaultError'
  constructor() {
    super('there is no vault here; make one with Client.init')
  }
}

export class VaultHandle {
  readonly data: VaultData
  readonly #storage: VaultStorage
  readonly #unlock: () => Promise<void>
  #journal: JournalState | undefined

  private constructor(storage: VaultStorage, data: VaultData, unlock: () => Promise<void>) {
    this.#storage = storage
    this.data = data
    this.#unlock = unlock
  }

  /** create writes a new vault; it refuses to overwrite one. */
  static async create(storage: VaultStorage, data: VaultData): Promise<void> {
    const doc = encodeVault(data)
    decodeVault(doc) // a save writes only what a read accepts
    await storage.create(doc)
  }

  /** open takes the storage's lock and reads the vault, checking every rule. */
  static async open(storage: VaultStorage): Promise<VaultHandle> {
    const unlock = await storage.lock()
    try {
      const doc = await storage.load()
      if (doc === undefined) throw new NoVaultError()
      return new VaultHandle(storage, decodeVault(doc), unlock)
    } catch (e) {
      await unlock()
      throw e
    }
  }

  /** The last save asked for: saves are written one at a time, in the order asked (a storage writes through one temporary file). */
  #saving: Promise<void> = Promise.resolve()

  /**
   * save writes the whole vault anew, atomically; only a vault that passes
   * the read's checks. Saves that overlap (two operations of one client)
   * are written in the order they were asked, each with the contents of its
   * time, so that the file ends with the newest.
   */
  async save(): Promise<void> {
    const doc = encodeVault(this.data)
    decodeVault(doc)
    const write = this.#saving.then(() => this.#storage.save(doc))
    this.#saving = write.catch(() => {})
    await write
  }

  async #readJournal(): Promise<JournalState> {
    this.#journal ??= parseJournal(await this.#storage.loadJournal())
    return this.#journal
  }

  /**
   * appendRequests records release requests in the journal and resolves
   * only once they are durable: the caller sends none of them before. A
   * torn last line (a crash in an append) is cut off; at 10000 requests the
   * journal keeps the newest 5000.
   */
  async appendRequests(rs: Request[]): Promise<void> {
    const s = await this.#readJournal()
    const next = compacted(s, rs)
    if (next.compact || s.torn) {
      await this.#storage.replaceJournal(renderJournal(next.state))
    } else {
      const fresh = s.requests.length === 0 && s.droppedUntil === undefined && (await this.#storage.loadJournal()) === undefined
      await this.#storage.appendJournal(renderLines(rs, fresh))
    }
    this.#journal = { ...next.state, torn: false }
  }

  /** requests returns the journal's requests, oldest first, and the newest time of any it dropped. */
  async requests(): Promise<{ requests: Request[]; droppedUntil: Date | undefined }> {
    const s = await this.#readJournal()
    return { requests: [...s.requests], droppedUntil: s.droppedUntil }
  }

  /** close gives the vault back to other clients. */
  async close(): Promise<void> {
    await this.#unlock()
  }
}
