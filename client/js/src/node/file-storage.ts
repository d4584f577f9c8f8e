// FileStorage keeps the vault in a file, as the Go client does: mode 0600 in
// a directory it makes 0700, written atomically (a temporary file, synced,
// renamed over the vault, the directory synced), refused when its group or
// others may read or write it, or when it is not a regular file. The
// journal is PATH.requests, appended to and synced before a request is sent.
// The lock is PATH.lock, made with O_EXCL and removed on close.
import { constants, promises as fs } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { VaultBusyError, type VaultStorage } from '../vault/storage.js'

async function syncDir(dir: string): Promise<void> {
  const d = await fs.open(dir, constants.O_RDONLY)
  try {
    await d.sync()
  } finally {
    await d.close()
  }
}

/** readPrivate reads a file that must be a regular file only its owner may read or write; missing is undefined. */
async function readPrivate(path: string, what: string): Promise<Uint8Array | undefined> {
  let st
  try {
    st = await fs.lstat(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
  if (!st.isFile()) throw new Error(`the ${what} ${path} is not a regular file`)
  if ((st.mode & 0o077) !== 0) throw new Error(`others may read or write the ${what} ${path} (mode 0${(st.mode & 0o777).toString(8)}): run chmod 600 on it`)
  const f = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  try {
    return new Uint8Array(await f.readFile())
  } finally {
    await f.close()
  }
}

async function writeAtomic(path: string, doc: Uint8Array): Promise<void> {
  const tmp = path + '.tmp'
  await fs.rm(tmp, { force: true })
  const f = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
  try {
    await f.writeFile(doc)
    await f.sync()
  } finally {
    await f.close()
  }
  await fs.rename(tmp, path)
  await syncDir(dirname(path))
}

export class FileStorage implements VaultStorage {
  /** The journal, open for appends while the vault is held (an append is then one write and one sync). */
  #journal: FileHandle | undefined

  constructor(readonly path: string) {}

  get journalPath(): string {
    return this.path + '.requests'
  }

  async load() {
    return readPrivate(this.path, 'vault file')
  }

  async create(doc: Uint8Array) {
    await fs.mkdir(dirname(this.path), { recursive: true, mode: 0o700 })
    for (const p of [this.path, this.journalPath]) {
      const there = await fs.lstat(p).then(
        () => true,
        () => false,
      )
      if (there) throw new Error(`${p} exists already`)
    }
    await writeAtomic(this.path, doc)
  }

  async save(doc: Uint8Array) {
    await writeAtomic(this.path, doc)
  }

  async loadJournal() {
    return readPrivate(this.journalPath, 'request journal')
  }

  async appendJournal(lines: Uint8Array) {
    if (this.#journal === undefined) {
      // The directory is synced when the append makes the file.
      const made = await fs.lstat(this.journalPath).then(
        () => false,
        () => true,
      )
      const f = await fs.open(this.journalPath, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600)
      const st = await f.stat()
      if (!st.isFile() || (st.mode & 0o077) !== 0) {
        await f.close()
        throw new Error(`the request journal ${this.journalPath} is not a private regular file`)
      }
      if (made) await syncDir(dirname(this.journalPath))
      this.#journal = f
    }
    await this.#journal.write(lines)
    // fdatasync: the data and the file's size, all a reader needs.
    await this.#journal.datasync()
  }

  async #closeJournal(): Promise<void> {
    const f = this.#journal
    this.#journal = undefined
    await f?.close()
  }

  async replaceJournal(doc: Uint8Array) {
    await this.#closeJournal()
    await writeAtomic(this.journalPath, doc)
  }

  async lock() {
    const p = this.path + '.lock'
    let f
    try {
      f = await fs.open(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new VaultBusyError(`the vault ${this.path} (if no program is, remove ${p})`)
      throw e
    }
    await f.writeFile(`${process.pid}\n`)
    await f.close()
    return async () => {
      await this.#closeJournal()
      await fs.rm(p, { force: true })
    }
  }
}
