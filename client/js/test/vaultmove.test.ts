// The vault export's refusals, without a network: what it is given by
// mistake is never echoed in its errors (an age identity passed as a
// recipient is the secret that opens the export).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateHybridIdentity, generateX25519Identity } from 'age-encryption'
import { exportVault } from '../src/vaultmove.js'
import type { VaultData } from '../src/vault/vault.js'

const device = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'

test('an export to an age identity given as a recipient is refused without the identity in the error', async () => {
  for (const identity of [await generateX25519Identity(), await generateHybridIdentity()]) {
    for (const given of [identity, identity.toLowerCase(), ` ${identity}`]) {
      const err = await exportVault({} as VaultData, device, [given]).then(
        () => undefined,
        (e: unknown) => e as Error,
      )
      assert.ok(err instanceof Error, 'an identity is not a recipient')
      const secret = identity.slice('AGE-SECRET-KEY-'.length).toLowerCase()
      assert.ok(!err.message.toLowerCase().includes(secret.slice(0, 12)), `the error quotes the identity: ${err.message.slice(0, 40)}…`)
      assert.match(err.message, /recipient 1/)
    }
  }
})

test('a recipient that is not one is named by its place, not quoted', async () => {
  const odd = 'not-a-recipient-but-maybe-a-password-typed-here'
  const err = await exportVault({} as VaultData, device, [odd]).then(
    () => undefined,
    (e: unknown) => e as Error,
  )
  assert.ok(err instanceof Error)
  assert.ok(!err.message.includes(odd.slice(0, 12)), err.message)
  assert.match(err.message, /recipient 1 is not an age recipient/)
})
