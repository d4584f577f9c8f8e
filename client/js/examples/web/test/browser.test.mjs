// The example app in headless Chromium against five real custosd processes
// (threshold 3): a user sets up the device (init, enroll with invite
// tokens), stores vendor credentials, sees them listed, unlocks one; the
// page is reloaded and the vault, read back from IndexedDB, unlocks again.
// Once over WebSocket and once over WebTransport, each the app's only
// transport. Screenshots are kept under a temporary directory (printed).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Network, launch, serve } from './harness.mjs'

const password = 'correct horse battery staple'
// The screenshots go to CUSTOS_ARTIFACTS, kept; else to a temporary
// directory removed at the end.
const kept = process.env.CUSTOS_ARTIFACTS
const artifacts = kept ?? mkdtempSync(join(tmpdir(), 'custos-web-screenshots-'))
let net
let app

before(async () => {
  net = await Network.start({ n: 5, k: 3 })
  app = await serve(net.networkFile)
  console.log(kept ? `screenshots in ${artifacts}` : 'screenshots are removed at the end: set CUSTOS_ARTIFACTS=DIR to keep them')
})

after(async () => {
  await app?.stop()
  await net?.stop()
  if (kept === undefined) rmSync(artifacts, { recursive: true, force: true })
})

/** journey runs the whole user journey in a fresh browser profile, with one transport. */
async function journey(transport, user) {
  const context = await launch()
  try {
    const page = await context.newPage()
    const problems = []
    page.on('pageerror', (e) => problems.push(e.message))
    const status = page.locator('#status')
    const ready = () => page.waitForSelector('body[data-ready="true"]')

    await page.goto(`${app.url}?transport=${transport}`)
    await ready()
    await assert.doesNotReject(status.filter({ hasText: 'No vault on this device yet.' }).waitFor())

    // Set up: init and enroll at all five custodians with invite tokens.
    const tokens = await net.invite(user)
    await page.fill('#setup-form [name=user]', user)
    await page.fill('#setup-form [name=password]', password)
    await page.fill('#setup-form [name=tokens]', Object.entries(tokens).map(([n, t]) => `${n}=${t}`).join('\n'))
    await page.click('#setup-form button')
    await waitStatus(page, `Enrolled as ${user} and unlocked.`)

    // Store two vendor credentials.
    await addCredential(page, 'acme-portal', 'svc-acme', 'hunter2')
    await addCredential(page, 'globex-api', '', 'globex-s3cret')
    assert.deepEqual(await page.locator('#list .label').allTextContents(), ['acme-portal', 'globex-api'])

    // Unlock one: the custodians release its key shares.
    await reveal(page, 'acme-portal', 'username: svc-acme   password: hunter2')
    await page.screenshot({ path: join(artifacts, `${transport}-unlocked.png`), fullPage: true })

    // Reload: the vault comes back from IndexedDB, locked; a wrong password is refused.
    await page.reload()
    await ready()
    await waitStatus(page, `Vault of ${user}: locked.`)
    assert.deepEqual(await page.locator('#list .label').allTextContents(), ['acme-portal', 'globex-api'], 'the list survives the reload')
    assert.equal(await page.locator('#list .secret').count(), 0, 'nothing is shown unlocked after a reload')
    await page.fill('#unlock-form [name=password]', 'not the password')
    await page.click('#unlock-form button')
    await waitStatus(page, 'Wrong password. 9 attempts left.', true)

    await page.fill('#unlock-form [name=password]', password)
    await page.click('#unlock-form button')
    await waitStatus(page, `Unlocked as ${user}.`)
    await reveal(page, 'globex-api', 'username: —   password: globex-s3cret')
    await reveal(page, 'acme-portal', 'username: svc-acme   password: hunter2')
    await page.screenshot({ path: join(artifacts, `${transport}-after-reload.png`), fullPage: true })
    assert.deepEqual(problems, [], 'the page threw no error')
  } finally {
    await context.close()
  }
}

async function waitStatus(page, text, error = false) {
  const status = page.locator('#status')
  try {
    await status.filter({ hasText: text }).waitFor({ timeout: 60_000 })
  } catch (e) {
    throw new Error(`the page says "${await status.textContent()}", not "${text}"`, { cause: e })
  }
  assert.equal(await status.evaluate((s) => s.classList.contains('error')), error)
}

async function addCredential(page, label, username, secret) {
  await page.fill('#add-form [name=label]', label)
  await page.fill('#add-form [name=username]', username)
  await page.fill('#add-form [name=password]', secret)
  await page.click('#add-form button')
  await waitStatus(page, `Saved ${label}.`)
}

async function reveal(page, label, shown) {
  const row = page.locator(`#list li[data-label="${label}"]`)
  await row.locator('button').click()
  await waitStatus(page, `Unlocked ${label}.`)
  assert.equal(await row.locator('.secret').textContent(), shown)
}

test('the example app over WebSocket: enroll, store, list, unlock; reload and unlock from IndexedDB', { timeout: 300_000 }, async () => {
  await journey('websocket', 'alice')
})

test('the example app over WebTransport: enroll, store, list, unlock; reload and unlock from IndexedDB', { timeout: 300_000 }, async () => {
  await journey('webtransport', 'bob')
})
