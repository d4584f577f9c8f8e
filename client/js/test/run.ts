// npm test: build custosd and custos once for every test file (each runs in
// its own process), run the tests one file at a time (the network tests
// start real nodes, and the machine is small), and remove the binaries.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../../../', import.meta.url))
const tests = fileURLToPath(new URL('.', import.meta.url))
let bin = process.env.CUSTOS_BIN ?? ''
let made = ''
if (bin === '') {
  made = bin = mkdtempSync(join(tmpdir(), 'custos-js-bin-'))
  const b = spawnSync('go', ['build', '-tags', 'custosfault', '-o', bin + '/', './node/cmd/custosd', './client/cmd/custos'], { cwd: root, stdio: 'inherit' })
  if (b.status !== 0) process.exit(b.status ?? 1)
}
const given = process.argv.slice(2)
const files = given.length > 0 ? given : readdirSync(tests).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(tests, f))
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit', env: { ...process.env, CUSTOS_BIN: bin } })
if (made !== '') rmSync(made, { recursive: true, force: true })
process.exit(r.status ?? 1)
