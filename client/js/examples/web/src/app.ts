// The example web app: the case custos started from. A user keeps the
// usernames and passwords of vendors on this device (the vault, in
// IndexedDB), sees the list, and unlocks one: the custodians release its
// key shares only to a logged-in device, and log each release.
//
// The network file is served next to the app (network.yaml): it names the
// custodians, pins their peer IDs and lists their WebSocket and WebTransport
// addresses. ?transport=websocket or ?transport=webtransport limits the app
// to one transport (the browser tests use it); both are used otherwise.
import { Client, IndexedDBStorage, NotEnoughCustodiansError, WrongPasswordError, LockedError, RateLimitedError, type Transports } from '@custos-network/custos'
import { webSockets } from '@libp2p/websockets'
import { webTransport } from '@libp2p/webtransport'

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const storage = new IndexedDBStorage('custos-example')
let client: Client | undefined

/** timings records how long each user action took, for the browser benchmark. */
const timings: { op: string; ms: number }[] = []
;(globalThis as { custosTimings?: typeof timings }).custosTimings = timings

function transports(): Transports {
  switch (new URLSearchParams(location.search).get('transport')) {
    case 'websocket':
      return [webSockets()]
    case 'webtransport':
      return [webTransport()]
    default:
      return [webTransport(), webSockets()]
  }
}

function status(text: string, error = false): void {
  const s = $('status')
  s.textContent = text
  s.classList.toggle('error', error)
}

/** explain turns an SDK error into what the user should know. */
function explain(e: unknown): string {
  if (e instanceof NotEnoughCustodiansError) {
    const left = e.attemptsLeft === undefined ? '' : ` ${e.attemptsLeft} attempts left.`
    if (e.reason === WrongPasswordError) return `Wrong password.${left}`
    if (e.reason === LockedError) return 'The account is locked at the custodians; ask their operators to unlock it.'
    if (e.reason === RateLimitedError) return `Too many attempts; try again in ${Math.ceil(e.retryAfterMs / 1000)} s.`
    return e.message
  }
  return e instanceof Error ? e.message : String(e)
}

function show(section: 'setup' | 'vault'): void {
  const unlocked = client?.unlocked ?? false
  $('setup').hidden = section !== 'setup'
  $('unlock').hidden = section === 'setup' || unlocked
  $('vault').hidden = section === 'setup'
  $('add-form').hidden = !unlocked
  $('lock').hidden = !unlocked
  if (client !== undefined) $('user').textContent = client.user
}

/** busy disables a form's buttons while an action runs, and times it. */
async function busy<T>(op: string, form: HTMLElement, fn: () => Promise<T>): Promise<T | undefined> {
  const buttons = [...form.querySelectorAll('button')]
  buttons.forEach((b) => (b.disabled = true))
  const t0 = performance.now()
  try {
    const out = await fn()
    timings.push({ op, ms: performance.now() - t0 })
    return out
  } catch (e) {
    status(explain(e), true)
    return undefined
  } finally {
    buttons.forEach((b) => (b.disabled = false))
  }
}

function renderList(): void {
  const list = $('list')
  list.replaceChildren()
  const units = client?.list() ?? []
  $('empty').hidden = units.length > 0
  for (const u of units) {
    const li = document.createElement('li')
    li.dataset.label = u.label
    const label = document.createElement('span')
    label.className = 'label'
    label.textContent = u.label
    const open = document.createElement('button')
    open.type = 'button'
    open.className = 'secondary'
    open.textContent = 'Unlock'
    open.disabled = !(client?.unlocked ?? false)
    open.addEventListener('click', () => void reveal(li, u.label, open))
    li.append(label, open)
    list.append(li)
  }
}

/** reveal asks the custodians for the record's key and shows what it holds. */
async function reveal(li: HTMLElement, label: string, button: HTMLButtonElement): Promise<void> {
  li.querySelector('.secret')?.remove()
  const rec = await busy('get', li, () => client!.get(label))
  if (rec === undefined) return
  const secret = document.createElement('div')
  secret.className = 'secret'
  secret.textContent = `username: ${rec.username ?? '—'}   password: ${rec.password}`
  li.append(secret)
  button.textContent = 'Unlock again'
  status(`Unlocked ${label}.`)
}

function parseTokens(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [n, line] of text.split('\n').map((l) => l.trim()).entries()) {
    if (line === '') continue
    const i = line.indexOf('=')
    // The line may be a token alone: it is named by its number, never shown.
    if (i <= 0) throw new Error(`line ${n + 1} of the tokens is not node=token`)
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim()
  }
  return out
}

async function setup(form: HTMLFormElement): Promise<void> {
  const f = new FormData(form)
  const user = String(f.get('user'))
  const password = String(f.get('password'))
  const ok = await busy('enroll', form, async () => {
    const tokens = parseTokens(String(f.get('tokens')))
    const res = await fetch('network.yaml')
    if (!res.ok) throw new Error(`cannot load the network file: ${res.status}`)
    status('Making the vault and enrolling at every custodian…')
    await Client.init(storage, new Uint8Array(await res.arrayBuffer()), user)
    client = await Client.open(storage, { transports: transports() })
    const results = await client.enroll(password, tokens)
    const failed = results.filter((r) => r.error !== undefined)
    if (failed.length > 0) throw new Error(`enrollment failed at ${failed.map((r) => `${r.node} (${r.error!.message})`).join(', ')}`)
    await client.unlock(password)
    return true
  })
  form.reset()
  if (ok === true) {
    status(`Enrolled as ${client!.user} and unlocked.`)
    show('vault')
    renderList()
  }
}

async function unlock(form: HTMLFormElement): Promise<void> {
  const password = String(new FormData(form).get('password'))
  status('Unlocking at the custodians…')
  const ok = await busy('unlock', form, async () => {
    await client!.unlock(password)
    return true
  })
  form.reset()
  if (ok === true) {
    status(`Unlocked as ${client!.user}.`)
    show('vault')
    renderList()
  }
}

async function add(form: HTMLFormElement): Promise<void> {
  const f = new FormData(form)
  const label = String(f.get('label')).trim()
  const username = String(f.get('username'))
  const rec = username === '' ? { password: String(f.get('password')) } : { username, password: String(f.get('password')) }
  status(`Saving ${label} at the custodians…`)
  const ok = await busy('put', form, async () => {
    client!.checkPut(label, rec)
    await client!.put(label, rec)
    return true
  })
  if (ok === true) {
    form.reset()
    status(`Saved ${label}.`)
    renderList()
  }
}

function on(id: string, fn: (form: HTMLFormElement) => Promise<void>): void {
  $(id).addEventListener('submit', (e) => {
    e.preventDefault()
    void fn(e.target as HTMLFormElement)
  })
}

async function start(): Promise<void> {
  on('setup-form', setup)
  on('unlock-form', unlock)
  on('add-form', add)
  $('lock').addEventListener('click', () => {
    client?.lock()
    status('Locked.')
    show('vault')
    renderList()
  })
  try {
    if ((await storage.load()) === undefined) {
      status('No vault on this device yet.')
      show('setup')
      return
    }
    client = await Client.open(storage, { transports: transports() })
    status(`Vault of ${client.user}: locked.`)
    show('vault')
    renderList()
  } catch (e) {
    status(explain(e), true)
  }
  document.body.dataset.ready = 'true'
}

// The page's last word: the client ends its sessions and drops its keys.
addEventListener('pagehide', () => void client?.close())
void start().finally(() => {
  document.body.dataset.ready = 'true'
})
