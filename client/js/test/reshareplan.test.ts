// What a reshare plans and checks before it asks any node, without a
// network: tokens are looked up by the joining nodes' names as own keys
// only (a node may be named constructor, a name every object answers to).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseNetwork } from '../src/network.js'
import { planReshare } from '../src/reshare.js'
import type { VaultData } from '../src/vault/vault.js'
import { Client, MemoryStorage } from '../src/index.js'
import { tokenFor } from '../src/enrollat.js'
import { nodeTransports } from '../src/node/index.js'
import { cards, networkFile } from './netfile.js'

test('a joining node named as an Object property still needs its token, and a token that is not a string is refused', async () => {
  // constructor is the one property of every object that is a valid node name.
  const all = await cards(['n1', 'n2', 'constructor', 'n4'])
  const old = parseNetwork(networkFile(all.slice(0, 2), 2))
  const file = networkFile(all, 3)
  const v = { reshare: null, units: [] } as unknown as VaultData
  const plan = planReshare(v, old, file, {})
  assert.deepEqual(plan.join, ['constructor', 'n4'])
  assert.deepEqual(plan.missingTokens, ['constructor', 'n4'])
  assert.deepEqual(planReshare(v, old, file, { constructor: 'tok' }).missingTokens, ['n4'])
  assert.throws(() => planReshare(v, old, file, { constructor: 7 as unknown as string }), /the token for constructor is not a string/)
})

test('an enrollment finds a token only among the tokens given: a node named constructor without one has no token', async () => {
  const file = networkFile(await cards(['n1', 'constructor', 'n3']), 2)
  const storage = new MemoryStorage()
  await Client.init(storage, file, 'tokens')
  const c = await Client.open(storage, { transports: nodeTransports() })
  try {
    const got = await c.enroll('tokens test password', { n1: '', n3: '' })
    assert.deepEqual(
      got.map((r) => [r.node, r.state, r.error?.name]),
      [
        ['n1', 'not enrolled', undefined],
        ['constructor', 'not enrolled', 'NoTokenError'],
        ['n3', 'not enrolled', undefined],
      ],
    )
    assert.throws(() => c.checkTokens({ n1: 7 as unknown as string }), /the token for "n1" is not a string/)
  } finally {
    await c.close()
  }
  assert.equal(tokenFor({ n1: 'a' }, 'n1'), 'a')
  assert.equal(tokenFor({}, 'constructor'), undefined)
  assert.equal(tokenFor({}, 'toString'), undefined)
  assert.equal(tokenFor(undefined, 'n1'), undefined)
})
