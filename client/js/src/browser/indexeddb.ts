// The browser adapter's vault storage: IndexedDB, so that a vault survives
// a page reload and a browser restart. One database per vault; in it one
// object store holds the document under one key and the request journal as
// chunks, one per append, so an append writes only its own lines. Every
// write is a transaction with durability 'strict' (the browser flushes it
// to disk before it completes), since the journal's rule is that a release
// request is durable before it is sent. Only one tab holds the vault at a
// time: lock takes a Web Lock named after the database.
import { VaultBusyError, type VaultStorage } from '../vault/storage.js'

const STORE = 'vault'
const DOC = 'doc'
// Journal chunks have keys [JOURNAL, n]: they sort after DOC and in order.
const JOURNAL = 'journal'
const chunkRange = () => IDBKeyRange.bound([JOURNAL, 0], [JOURNAL, Infinity])

/** IndexedDBStorage keeps a vault in the browser's IndexedDB, under the database name given (one per vault). */
export class IndexedDBStorage implements VaultStorage {
  readonly name: string
  #db: Promise<IDBDatabase> | undefined

  /** name is the database's name; two vaults in one origin need two names. */
  constructor(name = 'custos-vault') {
    if (name === '') throw new Error('the vault database needs a name')
    this.name = name
  }

  #open(): Promise<IDBDatabase> {
    this.#db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(this.name, 1)
      req.onupgradeneeded = () => {
        req.result.createObjectStore(STORE)
      }
      req.onsuccess = () => {
        const db = req.result
        // Another tab deleting or upgrading the database: let it, and open again next time.
        db.onversionchange = () => {
          db.close()
          this.#db = undefined
        }
        resolve(db)
      }
      req.onerror = () => reject(storageError('open', req.error))
      req.onblocked = () => reject(new VaultBusyError(`the vault database ${this.name}`))
    })
    this.#db.catch(() => {
      this.#db = undefined
    })
    return this.#db
  }

  /** #tx runs fn in one transaction and resolves with its result once the transaction has committed. */
  async #tx<T>(mode: IDBTransactionMode, op: string, fn: (s: IDBObjectStore, done: (v: T) => void, fail: (e: Error) => void) => void): Promise<T> {
    const db = await this.#open()
    return new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode, { durability: 'strict' })
      let result: T
      let failure: Error | undefined
      tx.oncomplete = () => (failure === undefined ? resolve(result) : reject(failure))
      tx.onabort = () => reject(failure ?? storageError(op, tx.error))
      tx.onerror = () => reject(failure ?? storageError(op, tx.error))
      fn(
        tx.objectStore(STORE),
        (v) => {
          result = v
        },
        (e) => {
          failure = e
          tx.abort()
        },
      )
    })
  }

  async load(): Promise<Uint8Array | undefined> {
    return this.#tx<Uint8Array | undefined>('readonly', 'read the vault', (s, done) => {
      const r = s.get(DOC)
      r.onsuccess = () => done(bytes(r.result))
    })
  }

  async create(doc: Uint8Array): Promise<void> {
    const copy = doc.slice()
    await this.#tx<void>('readwrite', 'create the vault', (s, _done, fail) => {
      // The check and the write are one transaction: two tabs cannot both create.
      const r = s.count()
      r.onsuccess = () => {
        if (r.result > 0) return fail(new Error('a vault exists here already'))
        s.put(copy, DOC)
      }
    })
  }

  async save(doc: Uint8Array): Promise<void> {
    const copy = doc.slice()
    await this.#tx<void>('readwrite', 'save the vault', (s) => {
      s.put(copy, DOC)
    })
  }

  async loadJournal(): Promise<Uint8Array | undefined> {
    return this.#tx<Uint8Array | undefined>('readonly', 'read the journal', (s, done) => {
      const r = s.getAll(chunkRange())
      r.onsuccess = () => {
        const chunks = (r.result as unknown[]).map(bytes).filter((c): c is Uint8Array => c !== undefined)
        done(chunks.length === 0 ? undefined : concat(chunks))
      }
    })
  }

  async appendJournal(lines: Uint8Array): Promise<void> {
    const copy = lines.slice()
    await this.#tx<void>('readwrite', 'append to the journal', (s) => {
      const last = s.openKeyCursor(chunkRange(), 'prev')
      last.onsuccess = () => {
        const key = last.result?.key as [string, number] | undefined
        s.put(copy, [JOURNAL, key === undefined ? 0 : key[1] + 1])
      }
    })
  }

  async replaceJournal(doc: Uint8Array): Promise<void> {
    const copy = doc.slice()
    await this.#tx<void>('readwrite', 'rewrite the journal', (s) => {
      s.delete(chunkRange())
      s.put(copy, [JOURNAL, 0])
    })
  }

  /**
   * lock takes the Web Lock named after the database, which every tab of
   * the origin shares, and holds it until the returned function is called.
   * Where the Web Locks API is missing it falls back to this object alone.
   */
  async lock(): Promise<() => Promise<void>> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks
    if (locks === undefined) return this.#localLock()
    let release!: () => void
    const held = new Promise<void>((r) => {
      release = r
    })
    const got = await new Promise<boolean>((resolve, reject) => {
      locks
        .request(`custos-vault:${this.name}`, { mode: 'exclusive', ifAvailable: true }, async (lock) => {
          resolve(lock !== null)
          if (lock !== null) await held
        })
        .catch(reject)
    })
    if (!got) throw new VaultBusyError(`the vault ${this.name} (another tab has it open)`)
    return async () => release()
  }

  #locked = false
  async #localLock(): Promise<() => Promise<void>> {
    if (this.#locked) throw new VaultBusyError(`the vault ${this.name}`)
    this.#locked = true
    return async () => {
      this.#locked = false
    }
  }

  /** close closes the database connection (the page keeps no handle open). */
  async close(): Promise<void> {
    const db = this.#db
    this.#db = undefined
    if (db !== undefined) (await db).close()
  }

  /** destroy deletes the whole vault database: for "forget this device". */
  async destroy(): Promise<void> {
    await this.close()
    await new Promise<void>((resolve, reject) => {
      const r = indexedDB.deleteDatabase(this.name)
      r.onsuccess = () => resolve()
      r.onerror = () => reject(storageError('delete the vault', r.error))
      r.onblocked = () => reject(new VaultBusyError(`the vault database ${this.name}`))
    })
  }
}

function storageError(op: string, cause: DOMException | null): Error {
  // A full disk (QuotaExceededError) is the one a user can act on.
  const what = cause?.name === 'QuotaExceededError' ? 'the browser has no room left for this site' : (cause?.message ?? 'unknown error')
  return new Error(`${op}: ${what}`, { cause })
}

function bytes(v: unknown): Uint8Array | undefined {
  if (v === undefined) return undefined
  if (v instanceof Uint8Array) return v
  if (v instanceof ArrayBuffer) return new Uint8Array(v)
  throw new Error('the vault database holds something that is not a vault')
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}
