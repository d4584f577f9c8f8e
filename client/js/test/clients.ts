// Helpers of the tests that run clients. Clients are the file vaults a
// test opens, by user, under one directory, and the clients open on them,
// so that the test's end closes what is left open, also when it fails.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Client, NotEnoughCustodiansError } from '../src/index.js'
import { FileStorage, nodeTransports } from '../src/node/index.js'

export class Clients {
  readonly #open: Client[] = []

  constructor(
    readonly dir: string,
    readonly password: string,
  ) {}

  /** storageOf is user's vault file under dir. */
  storageOf(user: string): FileStorage {
    return new FileStorage(join(this.dir, user, 'vault.json'))
  }

  /** reopen opens user's vault in a new client (the vault round trip) and unlocks it, unless told not to. */
  async reopen(user: string, unlock = true): Promise<Client> {
    const c = await Client.open(this.storageOf(user), { transports: nodeTransports() })
    this.#open.push(c)
    if (unlock) await c.unlock(this.password)
    return c
  }

  /** close closes c, one reopen made. */
  async close(c: Client): Promise<void> {
    await c.close()
    this.#open.splice(this.#open.indexOf(c), 1)
  }

  /** closeAll closes every client still open, whatever fails. */
  async closeAll(): Promise<void> {
    for (const c of this.#open.splice(0)) await c.close().catch(() => {})
  }
}

/** failure runs fn, which must fail with a NotEnoughCustodiansError, and returns it. */
export async function failure(fn: () => Promise<unknown>): Promise<NotEnoughCustodiansError> {
  const err = await fn().then(
    () => assert.fail('it worked'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof NotEnoughCustodiansError, String(err))
  return err
}
