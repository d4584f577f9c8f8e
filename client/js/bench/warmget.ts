// npm run bench runs this first, then examples/web's cold unlock in Chromium.
// This is the warm get of the JS SDK in Node.js against the Go client's, on
// the same five custosd processes (threshold 3), in one run.
// Each client unlocks once, gets its record once to warm up, then N times;
// the figure is the ratio of the p50 latencies (aim: at most 2).
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Client } from '../src/index.js'
import { FileStorage, nodeTransports } from '../src/node/index.js'
import { binaries, Devnet, repoRoot } from '../test/devnet.js'

const run = promisify(execFile)
const N = Number(process.env.BENCH_N ?? 100)

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'custos-js-bench-'))
  const net = await Devnet.start({ n: 5, k: 3 })
  try {
    const bin = await binaries()
    const pwFile = join(dir, 'password')
    writeFileSync(pwFile, 'bench password', { mode: 0o600 })
    const env = { ...process.env, CUSTOS_VAULT: join(dir, 'go', 'vault.db'), CUSTOS_PASSWORD_FILE: pwFile, HOME: dir, XDG_CONFIG_HOME: dir }
    const custos = (args: string[], input = '') =>
      new Promise<void>((resolve, reject) => {
        const p = execFile(join(bin, 'custos'), args, { env }, (err, _out, stderr) => (err === null ? resolve() : reject(new Error(stderr))))
        p.stdin?.end(input)
      })
    writeFileSync(join(dir, 'network.yaml'), net.networkFile)
    await custos(['init', '--network', join(dir, 'network.yaml'), '--user', 'gobench'])
    await custos(['enroll', ...Object.entries(await net.invite('gobench')).flatMap(([n, t]) => ['--token', `${n}=${t}`])])
    await custos(['put', 'bench', '--username', 'svc'], 'bench-secret')
    const goOut = await run('go', ['run', './client/js/bench/gowarm.go', '-vault', env.CUSTOS_VAULT, '-password-file', pwFile, '-label', 'bench', '-n', String(N)], { cwd: repoRoot, env })
    const go = JSON.parse(goOut.stdout) as { p50_ms: number; mean_ms: number }

    const storage = new FileStorage(join(dir, 'js', 'vault.json'))
    await Client.init(storage, net.networkFile, 'jsbench')
    const c = await Client.open(storage, { transports: nodeTransports() })
    const times: number[] = []
    let cpu = { user: 0, system: 0 }
    try {
      await c.enroll('bench password', await net.invite('jsbench'))
      await c.unlock('bench password')
      await c.put('bench', { username: 'svc', password: 'bench-secret' })
      await c.get('bench')
      const cpu0 = process.cpuUsage()
      for (let i = 0; i < N; i++) {
        const start = performance.now()
        await c.get('bench')
        times.push(performance.now() - start)
      }
      cpu = process.cpuUsage(cpu0)
    } finally {
      await c.close()
    }
    times.sort((a, b) => a - b)
    const js = { p50_ms: times[Math.floor(N / 2)]!, mean_ms: times.reduce((a, b) => a + b, 0) / N }
    const f = (x: number) => x.toFixed(2)
    console.log(`warm get, ${N} gets each, 5 nodes, threshold 3, same nodes:`)
    console.log(`  Go client   p50 ${f(go.p50_ms)} ms  mean ${f(go.mean_ms)} ms`)
    console.log(`  JS Node.js  p50 ${f(js.p50_ms)} ms  mean ${f(js.mean_ms)} ms  CPU per get ${f((cpu.user + cpu.system) / 1000 / N)} ms (user ${f(cpu.user / 1000 / N)})`)
    console.log(`  ratio JS/Go p50 ${f(js.p50_ms / go.p50_ms)}  mean ${f(js.mean_ms / go.mean_ms)}  (aim: at most 2)`)
  } finally {
    await net.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
