// The browser tests' harness: a network of real custosd processes on
// 127.0.0.1 (TCP for the Go client; WebSocket and WebTransport listeners), the example app served
// statically on 127.0.0.1, and Debian's Chromium driven by playwright-core.
// Everything it starts is stopped when the test process ends, also when a
// test fails.
import { execFile, spawn } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { chromium } from 'playwright-core'
import { parse, stringify } from 'yaml'

const run = promisify(execFile)
export const repoRoot = fileURLToPath(new URL('../../../../../', import.meta.url))
const distDir = fileURLToPath(new URL('../dist/', import.meta.url))

const cleanups = []
process.on('exit', () => {
  for (const f of cleanups.reverse()) {
    try {
      f()
    } catch {}
  }
})

/** tempDir makes a directory removed when the process exits. */
export function tempDir(prefix) {
  const d = mkdtempSync(join(tmpdir(), prefix))
  cleanups.push(() => rmSync(d, { recursive: true, force: true }))
  return d
}

let built
/** binaries builds custosd and custos once per run, or takes them from $CUSTOS_BIN. */
export function binaries() {
  built ??= (async () => {
    if (process.env.CUSTOS_BIN) return process.env.CUSTOS_BIN
    const dir = tempDir('custos-web-bin-')
    await run('go', ['build', '-o', dir + '/', './node/cmd/custosd', './client/cmd/custos'], { cwd: repoRoot, maxBuffer: 16 << 20 })
    return dir
  })()
  return built
}

/**
 * Network is n custosd processes with threshold k, each listening on
 * WebSocket and WebTransport at 127.0.0.1, admitting users by invite.
 */
export class Network {
  nodes = []
  networkFile = ''

  static async start({ n = 5, k = 3 } = {}) {
    const bin = await binaries()
    const net = new Network()
    net.bin = bin
    net.dir = tempDir('custos-web-net-')
    try {
      await Promise.all(Array.from({ length: n }, (_, i) => net.#startNode(`n${i + 1}`)))
      net.nodes.sort((a, b) => a.name.localeCompare(b.name))
      net.networkFile = stringify({ version: 1, threshold: k, nodes: net.nodes.map((x) => x.card) })
      writeFileSync(join(net.dir, 'network.yaml'), net.networkFile)
      return net
    } catch (e) {
      await net.stop()
      throw e
    }
  }

  async #startNode(name) {
    const dir = join(this.dir, name)
    const custosd = join(this.bin, 'custosd')
    await run(custosd, ['init', '--dir', dir, '--name', name, '--listen', '/ip4/127.0.0.1/tcp/0', '--listen', '/ip4/127.0.0.1/tcp/0/ws', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1/webtransport'])
    const yaml = join(dir, 'node.yaml')
    // A browser test unlocks often: release limits raised.
    const cfg = readFileSync(yaml, 'utf8')
      .replace(/^http: .*$/m, 'http: ""')
      .replace(/(unit_releases:\n(?:\s*#.*\n)*\s+burst: )\d+/, '$11048576')
      .replace(/(user_releases:\n(?:\s*#.*\n)*\s+burst: )\d+/, '$11048576')
    writeFileSync(yaml, cfg)
    const log = openSync(join(dir, 'custosd.log'), 'a')
    const proc = spawn(custosd, ['run', '--config', yaml], { stdio: ['ignore', log, log] })
    closeSync(log)
    cleanups.push(() => proc.exitCode === null && proc.kill('SIGKILL'))
    const node = { name, dir, yaml, proc, card: undefined }
    this.nodes.push(node)
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null) throw new Error(`custosd ${name} exited with ${proc.exitCode}:\n${this.log(name)}`)
      try {
        const card = parse((await run(custosd, ['card', '--config', yaml])).stdout)
        node.card = { name: card.name, peer_id: card.peer_id, addrs: card.addrs }
        return
      } catch (e) {
        if (i > 300) throw new Error(`custosd ${name} did not answer within 30s: ${e}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }

  /** invite returns a fresh invite token of every node for user. */
  async invite(user) {
    const out = {}
    for (const n of this.nodes) {
      const { stdout } = await run(join(this.bin, 'custosd'), ['invite', '--user', user, '--config', n.yaml])
      out[n.name] = stdout.trim().split('\n').pop().trim()
    }
    return out
  }

  /** addrs lists every node's addresses of one kind: 'ws' or 'webtransport'. */
  addrs(kind) {
    return this.nodes.flatMap((n) => n.card.addrs.filter((a) => (kind === 'ws' ? a.endsWith('/ws') : a.includes('/webtransport/'))))
  }

  log(name) {
    const f = join(this.dir, name, 'custosd.log')
    return existsSync(f) ? readFileSync(f, 'utf8') : ''
  }

  async stop() {
    await Promise.all(
      this.nodes.map(async ({ proc }) => {
        if (proc.exitCode !== null) return
        const gone = new Promise((r) => proc.once('exit', r))
        proc.kill('SIGTERM')
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000)
        await gone
        clearTimeout(t)
      }),
    )
  }
}

const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json', '.yaml': 'text/yaml' }

/**
 * serve serves the built app (dist/) and the network file on 127.0.0.1 at
 * a free port; it returns the app's URL and a function that stops it.
 */
export async function serve(networkFile) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname
    let body
    let type = 'text/yaml'
    if (path === '/network.yaml') {
      body = Buffer.from(networkFile)
    } else {
      const file = normalize(join(distDir, path === '/' ? 'index.html' : path))
      if (file.startsWith(distDir) && existsSync(file)) body = readFileSync(file)
      type = types[extname(file)] ?? 'application/octet-stream'
    }
    if (body === undefined) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' })
    res.end(body)
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  cleanups.push(() => server.close())
  return { url: `http://127.0.0.1:${server.address().port}/`, stop: () => new Promise((r) => server.close(r)) }
}

/** The Chromium the machine has: Debian's. Nothing is downloaded. */
export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium'

/**
 * launch starts headless Chromium with a fresh profile (its own
 * --user-data-dir, so IndexedDB starts empty and survives reloads within
 * the test) and returns the browser context.
 */
export async function launch() {
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}; install Debian's: apt-get install -y chromium`)
  const profile = tempDir('custos-web-chromium-')
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    chromiumSandbox: false,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 900, height: 760 },
  })
  cleanups.push(() => context.close().catch(() => {}))
  return context
}
