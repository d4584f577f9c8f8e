// bench.mjs: the cold unlock in Chromium against the Go client's, on the
// same five custosd processes (threshold 3), in one run; Argon2id's share
// of the browser's; and the example app's bundle size, gzipped.
//
// A cold unlock in the browser is a fresh page over a vault already in
// IndexedDB: the user types the password (Argon2id in WebAssembly, connect,
// login v2 at every node) and opens one record (the first release), timed
// by the app from the click to what it shows. The Go client's is
// `custos get` with a password file: a new process that reads its vault,
// hashes the password, connects, logs in and releases. The Go side pays a
// process start the browser does not, so the ratio leans, if anything,
// the browser's way.
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { bundle } from '../build.mjs'
import { Network, launch, serve, tempDir } from './harness.mjs'

const run = promisify(execFile)
const rounds = Number(process.env.ROUNDS ?? 5)
const password = 'correct horse battery staple'
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ms = (x) => `${x.toFixed(0)} ms`

const size = await bundle({ quiet: true })
const net = await Network.start({ n: 5, k: 3 })
const app = await serve(net.networkFile)
const context = await launch()
try {
  const browser = {}
  for (const transport of ['websocket', 'webtransport']) browser[transport] = await browserColdUnlocks(transport, `web-${transport}`)
  const argon = await browserArgon2id()
  const go = await goColdUnlocks()

  console.log(`cold unlock, median of ${rounds}, 5 nodes, k=3, Argon2id t=3 m=64MiB p=4:`)
  console.log(`  Go client (custos get, WebSocket/TCP)   ${ms(go)}`)
  for (const [t, v] of Object.entries(browser)) {
    console.log(`  Chromium over ${t.padEnd(13)}           ${ms(v.total)} = unlock ${ms(v.unlock)} + first get ${ms(v.get)};  ${(v.total / go).toFixed(2)}x the Go client`)
  }
  console.log(`  Argon2id alone in Chromium (WebAssembly) ${ms(argon)}: ${((100 * argon) / browser.websocket.total).toFixed(0)}% of the cold unlock over WebSocket, ${((100 * argon) / browser.webtransport.total).toFixed(0)}% over WebTransport`)
  console.log(`example app bundle: app.js ${(size.raw / 1024).toFixed(1)} KiB, gzipped ${(size.gzip / 1024).toFixed(1)} KiB`)
} finally {
  await context.close()
  await app.stop()
  await net.stop()
}

/** browserColdUnlocks enrolls a user in a page and stores a record, then times rounds of fresh pages. */
async function browserColdUnlocks(transport, user) {
  const url = `${app.url}?transport=${transport}`
  const page = await context.newPage()
  await page.goto(url)
  await page.waitForSelector('#setup:not([hidden])')
  const tokens = await net.invite(user)
  await page.fill('#setup-form [name=user]', user)
  await page.fill('#setup-form [name=password]', password)
  await page.fill('#setup-form [name=tokens]', Object.entries(tokens).map(([n, t]) => `${n}=${t}`).join('\n'))
  await page.click('#setup-form button')
  await page.locator('#status', { hasText: 'and unlocked.' }).waitFor({ timeout: 120_000 })
  await page.fill('#add-form [name=label]', 'acme-portal')
  await page.fill('#add-form [name=username]', 'svc-acme')
  await page.fill('#add-form [name=password]', 'hunter2')
  await page.click('#add-form button')
  await page.locator('#status', { hasText: 'Saved acme-portal.' }).waitFor({ timeout: 60_000 })
  await page.close()

  // Each vault has its own IndexedDB database per origin; a fresh page
  // per round has no connection and no key, as after a browser restart.
  const unlock = []
  const get = []
  for (let i = 0; i < rounds; i++) {
    const p = await context.newPage()
    await p.goto(url)
    await p.waitForSelector('#unlock:not([hidden])')
    await p.fill('#unlock-form [name=password]', password)
    await p.click('#unlock-form button')
    await p.locator('#status', { hasText: 'Unlocked as' }).waitFor({ timeout: 60_000 })
    await p.locator('#list li[data-label="acme-portal"] button').click()
    await p.locator('#status', { hasText: 'Unlocked acme-portal.' }).waitFor({ timeout: 60_000 })
    const t = await p.evaluate(() => globalThis.custosTimings)
    unlock.push(t.find((x) => x.op === 'unlock').ms)
    get.push(t.find((x) => x.op === 'get').ms)
    await p.close()
  }
  // The next transport's user starts from an empty vault.
  const wipe = await context.newPage()
  await wipe.goto(`${app.url}test-page.html`)
  await wipe.waitForSelector('body[data-ready="true"]', { state: 'attached' })
  await wipe.evaluate(() => new globalThis.IndexedDBStorage('custos-example').destroy())
  await wipe.close()
  const totals = unlock.map((u, i) => u + get[i])
  return { unlock: median(unlock), get: median(get), total: median(totals) }
}

/** browserArgon2id times Argon2id alone in Chromium, at the vault's parameters. */
async function browserArgon2id() {
  const p = await context.newPage()
  await p.goto(`${app.url}test-page.html`)
  await p.waitForSelector('body[data-ready="true"]', { state: 'attached' })
  const times = await p.evaluate(async (rounds) => {
    const out = []
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now()
      await globalThis.argon2id({ password: 'correct horse battery staple', salt: new Uint8Array(16).fill(i), iterations: 3, memorySize: 64 * 1024, parallelism: 4, hashLength: 32, outputType: 'binary' })
      out.push(performance.now() - t0)
    }
    return out
  }, rounds)
  await p.close()
  return median(times)
}

/** goColdUnlocks makes a Go client's vault on the same nodes and times `custos get`. */
async function goColdUnlocks() {
  const dir = tempDir('custos-web-bench-go-')
  const custos = join(net.bin, 'custos')
  const env = { ...process.env, CUSTOS_VAULT: join(dir, 'vault.db'), CUSTOS_PASSWORD_FILE: join(dir, 'pw') }
  writeFileSync(join(dir, 'pw'), password, { mode: 0o600 })
  writeFileSync(join(dir, 'network.yaml'), net.networkFile)
  await run(custos, ['init', '--network', join(dir, 'network.yaml'), '--user', 'go-bench'], { env })
  const tokens = await net.invite('go-bench')
  await run(custos, ['enroll', ...Object.entries(tokens).flatMap(([n, t]) => ['--token', `${n}=${t}`])], { env })
  await new Promise((resolve, reject) => {
    const p = execFile(custos, ['put', 'acme-portal', '--username', 'svc-acme'], { env }, (e) => (e ? reject(e) : resolve()))
    p.stdin.end('hunter2')
  })
  const times = []
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now()
    const { stdout } = await run(custos, ['get', 'acme-portal', '--field', 'password'], { env })
    times.push(performance.now() - t0)
    if (stdout.trim() !== 'hunter2') throw new Error(`custos get printed ${JSON.stringify(stdout)}`)
  }
  return median(times)
}
