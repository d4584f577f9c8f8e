// What a reshare plans and checks before it asks any node, without a
// network: tokens are looked up by the joining nodes' names as own keys
// only (a node may be named constructor, a name every object answers to).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseNetwork } from '../src/network.js'
import { planReshare } from '../src/reshare.js'
import type { VaultData } from '../src/vault/vault.js'
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
