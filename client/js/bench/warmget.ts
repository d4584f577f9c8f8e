// npm run bench runs this first, then examples/web's cold unlock in Chromium.
// This is the warm get of the JS SDK in Node.js against the Go client's, on
// the same five custosd processes (threshold 3), in one run.
//
// Both clients unlock, then get their record WARMUP times to warm up: a
// warm get is one of a client that has been running, and Node.js compiles
// a function to optimized machine code only after it ran many times (a
// get's p50 falls from about 5.3 ms in the first 100 gets to 3.2 ms after
// 500 here), where Go compiles before it runs. The p50 of the first
// FIRST gets of each is printed too. Then the clients take turns, ROUNDS
// times: BENCH_N/ROUNDS gets of the JS client and as many of the Go client
// (bench/gowarm.go, a process of its own), the first of the two
// alternating, so that neither meets the nodes in a state the other left.
// The figure is the ratio of the p50 latencies over all turns (aim: at
// most 2).
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Client } from '../src/index.js'
import { FileStorage, nodeTransports } from '../src/node/index.js'
import { binaries, Devnet, repoRoot } from '../test/devnet.js'

const N = Number(process.env.BENCH_N ?? 100)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 500)
const FIRST = 100
const ROUNDS = 5

/** GoClient drives bench/gowarm.go: a block of gets per call, their latencies back. */
class GoClient {
  readonly #p
  readonly #lines: AsyncIterator<string>

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.#p = spawn('go', ['run', './client/js/bench/gowarm.go', ...args], { cwd: repoRoot, env, stdio: ['pipe', 'pipe', 'inherit'] })
    // A failed start (no go) or a write to a client that ended shows as its output ending early.
    this.#p.on('error', (e) => {
      console.error(`the Go client: ${e.message}`)
      this.#p.stdout.destroy()
    })
    this.#p.stdin.on('error', () => {})
    this.#lines = createInterface({ input: this.#p.stdout })[Symbol.asyncIterator]()
  }

  async #line(): Promise<string> {
    const r = await this.#lines.next()
    if (r.done === true) throw new Error('the Go client ended early (its error is above)')
    return r.value
  }

  async ready(): Promise<void> {
    const l = await this.#line()
    if (l !== 'ready') throw new Error(`the Go client said ${JSON.stringify(l)}`)
  }

  async gets(n: number): Promise<number[]> {
    this.#p.stdin.write(`${n}\n`)
    return JSON.parse(await this.#line()) as number[]
  }

  /** close ends the Go client's input, and kills it if it has not ended 10 s later. */
  async close(): Promise<void> {
    this.#p.stdin.end()
    if (this.#p.exitCode !== null || this.#p.signalCode !== null) return
    const kill = setTimeout(() => this.#p.kill('SIGKILL'), 10_000)
    await new Promise((resolve) => this.#p.once('exit', resolve))
    clearTimeout(kill)
  }
}

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
        const p = spawn(join(bin, 'custos'), args, { env, stdio: ['pipe', 'ignore', 'pipe'] })
        let stderr = ''
        p.stderr.on('data', (d) => (stderr += d))
        p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(stderr))))
        p.stdin.end(input)
      })
    writeFileSync(join(dir, 'network.yaml'), net.networkFile)
    await custos(['init', '--network', join(dir, 'network.yaml'), '--user', 'gobench'])
    await custos(['enroll', ...Object.entries(await net.invite('gobench')).flatMap(([n, t]) => ['--token', `${n}=${t}`])])
    await custos(['put', 'bench', '--username', 'svc'], 'bench-secret')
    const goc = new GoClient(['-vault', env.CUSTOS_VAULT, '-password-file', pwFile, '-label', 'bench'], env)

    const storage = new FileStorage(join(dir, 'js', 'vault.json'))
    await Client.init(storage, net.networkFile, 'jsbench')
    const c = await Client.open(storage, { transports: nodeTransports() })
    const js: number[] = []
    const go: number[] = []
    const jsFirst: number[] = []
    const goFirst: number[] = []
    let cpuMicros = 0
    try {
      await c.enroll('bench password', await net.invite('jsbench'))
      await c.unlock('bench password')
      await c.put('bench', { username: 'svc', password: 'bench-secret' })
      await goc.ready()
      goFirst.push(...(await goc.gets(FIRST)))
      if (WARMUP > FIRST) await goc.gets(WARMUP - FIRST)
      for (let i = 0; i < Math.max(WARMUP, FIRST); i++) {
        const start = performance.now()
        await c.get('bench')
        if (i < FIRST) jsFirst.push(performance.now() - start)
      }
      const block = Math.max(1, Math.ceil(N / ROUNDS))
      // Which client goes first alternates: work one leaves running (the
      // journal's next append, a stopped request) falls on the other's turn.
      for (let r = 0; r < ROUNDS; r++) {
        if (r % 2 === 1) go.push(...(await goc.gets(block)))
        const cpu0 = process.cpuUsage()
        for (let i = 0; i < block; i++) {
          const start = performance.now()
          await c.get('bench')
          js.push(performance.now() - start)
        }
        const cpu = process.cpuUsage(cpu0)
        cpuMicros += cpu.user + cpu.system
        if (r % 2 === 0) go.push(...(await goc.gets(block)))
      }
    } finally {
      await c.close()
      await goc.close()
    }
    const p50 = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length
    const f = (x: number) => x.toFixed(2)
    console.log(`warm get, ${js.length} gets each after ${Math.max(WARMUP, FIRST)} to warm up, in ${ROUNDS} turns each, 5 nodes, threshold 3, same nodes:`)
    console.log(`  Go client   p50 ${f(p50(go))} ms  mean ${f(mean(go))} ms`)
    console.log(`  JS Node.js  p50 ${f(p50(js))} ms  mean ${f(mean(js))} ms  CPU per get ${f(cpuMicros / 1000 / js.length)} ms`)
    console.log(`  ratio JS/Go p50 ${f(p50(js) / p50(go))}  mean ${f(mean(js) / mean(go))}  (aim: at most 2)`)
    console.log(`  the first ${FIRST} gets after the unlock: Go p50 ${f(p50(goFirst))} ms, JS p50 ${f(p50(jsFirst))} ms, ratio ${f(p50(jsFirst) / p50(goFirst))}`)
  } finally {
    await net.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
