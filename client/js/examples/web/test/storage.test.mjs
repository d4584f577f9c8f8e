// The IndexedDB vault storage in Chromium: what every VaultStorage promises
// (create once, atomic save, an append-only journal that can be rewritten,
// one holder at a time) and what IndexedDB adds: the vault survives a
// reload, and a second tab is refused while the first holds the vault.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { launch, serve } from './harness.mjs'

let app
let context
let page

before(async () => {
  app = await serve('')
  context = await launch()
  page = await open()
})

after(async () => {
  await context?.close()
  await app?.stop()
})

async function open() {
  const p = await context.newPage()
  await p.goto(`${app.url}test-page.html`)
  await p.waitForSelector('body[data-ready="true"]', { state: 'attached' })
  return p
}

/** inPage runs fn in the page with a fresh vault database named name; bytes go in and out as arrays. */
function inPage(p, name, fn) {
  return p.evaluate(
    async ([name, src]) => {
      const enc = (s) => new TextEncoder().encode(s)
      const dec = (b) => (b === undefined ? undefined : new TextDecoder().decode(b))
      const s = new globalThis.IndexedDBStorage(name)
      // eslint-disable-next-line no-new-func
      return new Function('s', 'enc', 'dec', 'Busy', `return (async () => { ${src} })()`)(s, enc, dec, globalThis.VaultBusyError)
    },
    [name, fn],
  )
}

test('a vault is created once; a second create is refused and changes nothing', async () => {
  const got = await inPage(page, 'create-once', `
    const before = dec(await s.load())
    await s.create(enc('first'))
    let refused = ''
    try { await s.create(enc('second')) } catch (e) { refused = e.message }
    return { before, refused, after: dec(await s.load()) }`)
  assert.deepEqual(got, { before: undefined, refused: 'a vault exists here already', after: 'first' })
})

test('a journal alone makes create refuse too', async () => {
  const got = await inPage(page, 'journal-first', `
    await s.appendJournal(enc('line\\n'))
    try { await s.create(enc('doc')); return 'created' } catch (e) { return e.message }`)
  assert.equal(got, 'a vault exists here already')
})

test('save replaces the document', async () => {
  const got = await inPage(page, 'save', `
    await s.create(enc('v1'))
    await s.save(enc('v2'))
    await s.save(enc('v3'))
    return dec(await s.load())`)
  assert.equal(got, 'v3')
})

test('the journal is its appends in order, until rewritten', async () => {
  const got = await inPage(page, 'journal', `
    const none = await s.loadJournal()
    for (let i = 0; i < 12; i++) await s.appendJournal(enc('r' + i + '\\n'))
    const appended = dec(await s.loadJournal())
    await s.replaceJournal(enc('compacted\\n'))
    const replaced = dec(await s.loadJournal())
    await s.appendJournal(enc('r12\\n'))
    return { none, appended, replaced, after: dec(await s.loadJournal()) }`)
  const lines = Array.from({ length: 12 }, (_, i) => `r${i}\n`).join('')
  assert.deepEqual(got, { none: undefined, appended: lines, replaced: 'compacted\n', after: 'compacted\nr12\n' })
})

test("a write is not changed by the caller's changing its buffer while it runs", async () => {
  const got = await inPage(page, 'copy', `
    const b = enc('kept')
    const created = s.create(b)
    b.fill(0)
    await created
    return dec(await s.load())`)
  assert.equal(got, 'kept')
})

test('the vault survives a reload of the page', async () => {
  await inPage(page, 'reload', `await s.create(enc('doc')); await s.appendJournal(enc('a\\n')); await s.appendJournal(enc('b\\n'))`)
  await page.reload()
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached' })
  const got = await inPage(page, 'reload', `return [dec(await s.load()), dec(await s.loadJournal())]`)
  assert.deepEqual(got, ['doc', 'a\nb\n'])
})

test('two vault names are two vaults', async () => {
  const got = await inPage(page, 'name-a', `
    await s.create(enc('a'))
    const b = new globalThis.IndexedDBStorage('name-b')
    return [dec(await s.load()), dec(await b.load())]`)
  assert.deepEqual(got, ['a', undefined])
})

test('one holder at a time: another tab is refused until the first lets go', async () => {
  const first = await open()
  const second = await open()
  try {
    await inPage(first, 'held', `globalThis.release = await s.lock(); return true`)
    const refused = await inPage(second, 'held', `try { await s.lock(); return 'taken' } catch (e) { return e instanceof Busy ? 'busy' : e.message }`)
    assert.equal(refused, 'busy')
    await first.evaluate(() => globalThis.release())
    const taken = await inPage(second, 'held', `const r = await s.lock(); await r(); return 'taken'`)
    assert.equal(taken, 'taken')
    // A tab that goes away lets go of the vault with it.
    await inPage(first, 'closed', `globalThis.release = await s.lock(); return true`)
    await first.close()
    // The browser lets go of a closed tab's locks soon after, not at once.
    const afterClose = await inPage(
      second,
      'closed',
      `for (let i = 0; ; i++) {
        try { const r = await s.lock(); await r(); return 'taken' } catch (e) { if (!(e instanceof Busy) || i === 100) return e.message }
        await new Promise((ok) => setTimeout(ok, 50))
      }`,
    )
    assert.equal(afterClose, 'taken')
  } finally {
    await second.close()
  }
})
