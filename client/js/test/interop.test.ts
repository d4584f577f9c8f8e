// A JS user and a Go user (the custos CLI) on the same nodes; then an
// auditor's `custos audit verify --full` and `custos audit report` pass over
// the releases the JS SDK made: its device signatures verify, every unlock
// is released by at least the threshold, nothing is flagged.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Client } from '../src/index.js'
import { FileStorage, nodeTransports } from '../src/node/index.js'
import { binaries, Devnet } from './devnet.js'

const run = promisify(execFile)
let net: Devnet
let dir: string
let custos: (args: string[], input?: string) => Promise<{ stdout: string; stderr: string; code: number }>

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'custos-js-interop-'))
  const bin = await binaries()
  writeFileSync(join(dir, 'password'), 'go users password', { mode: 0o600 })
  const env = { ...process.env, CUSTOS_VAULT: join(dir, 'go', 'vault.db'), CUSTOS_PASSWORD_FILE: join(dir, 'password'), HOME: dir, XDG_CONFIG_HOME: dir }
  custos = (args, input) =>
    new Promise((resolve) => {
      const p = execFile(join(bin, 'custos'), args, { env, cwd: dir }, (err, stdout, stderr) => resolve({ stdout, stderr, code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1 }))
      p.stdin?.end(input ?? '')
    })
  const init = await custos(['audit', 'init', '--key', join(dir, 'auditor.key')])
  assert.equal(init.code, 0, init.stderr)
  const auditor = init.stdout.split('\n').find((l) => l.startsWith('12D3KooW'))!
  net = await Devnet.start({ n: 5, k: 3, auditors: [auditor] })
  writeFileSync(join(dir, 'network.yaml'), net.networkFile)
})

after(async () => {
  await net?.stop()
  rmSync(dir, { recursive: true, force: true })
})

test('a JS user and a Go user on the same nodes; audit verify --full and audit report pass over the JS releases', async () => {
  const must = async (args: string[], input?: string) => {
    const r = await custos(args, input)
    assert.equal(r.code, 0, `custos ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  await must(['init', '--network', join(dir, 'network.yaml'), '--user', 'gopher'])
  const goTokens = await net.invite('gopher')
  await must(['enroll', ...Object.entries(goTokens).flatMap(([n, t]) => ['--token', `${n}=${t}`])])
  await must(['put', 'go-portal', '--username', 'svc-go'], 'go-s3cret')

  const storage = new FileStorage(join(dir, 'js', 'vault.json'))
  await Client.init(storage, net.networkFile, 'jsuser')
  const c = await Client.open(storage, { transports: nodeTransports() })
  let unitId: string
  try {
    await c.enroll('js users password', await net.invite('jsuser'))
    await c.unlock('js users password')
    await c.put('js-portal', { username: 'svc-js', password: 'js-s3cret' })
    assert.deepEqual(await c.get('js-portal'), { username: 'svc-js', password: 'js-s3cret' })
    assert.deepEqual(await c.get('js-portal'), { username: 'svc-js', password: 'js-s3cret' })
    unitId = c.list()[0]!.id
    assert.equal(await must(['get', 'go-portal', '--field', 'password']), 'go-s3cret\n')
  } finally {
    await c.close()
  }

  const audit = ['--network', join(dir, 'network.yaml'), '--key', join(dir, 'auditor.key')]
  const verify = await must(['audit', 'verify', ...audit, '--state', join(dir, 'audit'), '--full'])
  for (const n of net.nodes) assert.match(verify, new RegExp(`^${n.name}: OK`, 'm'))
  const report = await must(['--vault', join(dir, 'none.db'), 'audit', 'report', '--unit', unitId, ...audit])
  assert.match(report, /^2 unlocks, 0 flagged$/m)
  assert.equal(report.match(/user=jsuser {2}device=12D3KooW\w+ {2}released=n\d(,n\d){2,4}/g)?.length, 2, report)
})
