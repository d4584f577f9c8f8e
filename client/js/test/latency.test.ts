// The hedge's measurements (src/latency.ts): the delay before asking one
// more node follows a node's measured round trips, and the order nodes are
// asked in puts the failed last and the never-timed first.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Latency, rankNodes } from '../src/latency.js'

test('the hedge delay is 100 ms untimed, then the smoothed round trip plus four deviations, within 1 ms to 1 s', () => {
  const l = new Latency()
  assert.equal(l.hedgeAfterMs(), 100)
  l.observe(10)
  assert.equal(l.hedgeAfterMs(), 10 + 4 * 5)
  for (let i = 0; i < 50; i++) l.observe(10)
  assert.ok(l.hedgeAfterMs() > 10 && l.hedgeAfterMs() < 11, String(l.hedgeAfterMs()))
  l.observe(5000)
  assert.equal(l.hedgeAfterMs(), 1000)
  const fast = new Latency()
  for (let i = 0; i < 50; i++) fast.observe(0)
  assert.equal(fast.hedgeAfterMs(), 1)
})

test('nodes are asked untimed first, then fastest first, and a node that failed lately last', () => {
  const now = 1_000_000
  const lat = { slow: new Latency(), fast: new Latency(), untimed: new Latency(), failed: new Latency() }
  lat.slow.observe(50)
  lat.fast.observe(5)
  lat.failed.observe(1)
  lat.failed.fail(now - 1000)
  const names = Object.keys(lat) as (keyof typeof lat)[]
  assert.deepEqual(rankNodes(names, (n) => lat[n], now), ['untimed', 'fast', 'slow', 'failed'])
  // 30 s after its failure it is ranked by its round trip again; an answer clears it at once.
  assert.deepEqual(rankNodes(names, (n) => lat[n], now + 30_000), ['untimed', 'failed', 'fast', 'slow'])
  lat.failed.observe(1)
  assert.deepEqual(rankNodes(names, (n) => lat[n], now), ['untimed', 'failed', 'fast', 'slow'])
})
