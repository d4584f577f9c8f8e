// Devnet runs a local custos network for the tests: real custosd processes
// built once per run (with -tags custosfault, which lies only when
// CUSTOS_FAULT says so), each listening on WebSocket at 127.0.0.1, in a
// temporary directory removed when the network stops, also on failure.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { networkFile, type NodeCard } from './netfile.js'

const run = promisify(execFile)
export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url))

let built: Promise<string> | undefined

/**
 * binaries builds custosd and custos once per test process, or takes them
 * from $CUSTOS_BIN (a directory holding both) when it is set.
 */
export function binaries(): Promise<string> {
  built ??= (async () => {
    const given = process.env.CUSTOS_BIN
    if (given !== undefined && given !== '') return given
    const dir = mkdtempSync(join(tmpdir(), 'custos-js-bin-'))
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
    await run('go', ['build', '-tags', 'custosfault', '-o', dir + '/', './node/cmd/custosd', './client/cmd/custos'], { cwd: repoRoot, maxBuffer: 16 << 20 })
    return dir
  })()
  return built
}

const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL')
})
// A test run stopped from outside takes its nodes with it.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const p of running) p.kill('SIGKILL')
    process.exit(130)
  })
}

/** exited reports whether p has ended, by an exit or a signal. */
function exited(p: ChildProcess): boolean {
  return p.exitCode !== null || p.signalCode !== null
}

export interface NodeProc {
  name: string
  dir: string
  proc: ChildProcess | undefined
  card: NodeCard
}

export interface DevnetOptions {
  n?: number
  k?: number
  /** CUSTOS_FAULT per node name: a lying node. */
  faults?: Record<string, string>
  /** Peer IDs of auditor keys every node lists. */
  auditors?: string[]
}

async function waitReady(bin: string, yaml: string, p: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (exited(p)) throw new Error(`custosd exited with ${p.exitCode ?? p.signalCode}`)
    try {
      await run(join(bin, 'custosd'), ['status', '--config', yaml])
      return
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error('custosd did not answer within 15s')
}

export class Devnet {
  readonly nodes: NodeProc[] = []
  networkFile: Uint8Array = new Uint8Array(0)

  private constructor(
    readonly dir: string,
    readonly bin: string,
    readonly k: number,
  ) {}

  static async start(o: DevnetOptions = {}): Promise<Devnet> {
    const bin = await binaries()
    const net = new Devnet(mkdtempSync(join(tmpdir(), 'custos-js-net-')), bin, o.k ?? 3)
    try {
      for (let i = 1; i <= (o.n ?? 5); i++) await net.#startNode(`n${i}`, o)
      net.networkFile = networkFile(net.nodes.map((n) => n.card), net.k)
      writeFileSync(join(net.dir, 'network.yaml'), net.networkFile)
      return net
    } catch (e) {
      await net.stop()
      throw e
    }
  }

  async #startNode(name: string, o: DevnetOptions): Promise<void> {
    const dir = join(this.dir, name)
    const custosd = join(this.bin, 'custosd')
    await run(custosd, ['init', '--dir', dir, '--name', name, '--listen', '/ip4/127.0.0.1/tcp/0/ws'])
    const yaml = join(dir, 'node.yaml')
    let cfg = readFileSync(yaml, 'utf8')
    // Scripts run quickly: release limits raised, login backoff short.
    cfg = cfg
      .replace(/^http: .*$/m, 'http: ""')
      .replace(/^(\s+)backoff_base: .*$/m, '$1backoff_base: 10ms')
      .replace(/^(\s+)backoff_max: .*$/m, '$1backoff_max: 100ms')
      .replace(/(unit_releases:\n(?:\s*#.*\n)*\s+burst: )\d+/, '$11048576')
      .replace(/(user_releases:\n(?:\s*#.*\n)*\s+burst: )\d+/, '$11048576')
    if (o.auditors !== undefined && o.auditors.length > 0) cfg = cfg.replace(/^auditors: \[\]$/m, `auditors: [${o.auditors.join(', ')}]`)
    writeFileSync(yaml, cfg)
    const node: NodeProc = { name, dir, proc: undefined, card: { name, peer_id: '', addrs: [] } }
    this.nodes.push(node)
    await this.#spawn(node, o.faults?.[name])
    await this.#pinCard(node)
  }

  /** #pinCard reads the card of node, started on a fresh port, and writes that port into its node.yaml: a restart keeps the port the card names. */
  async #pinCard(node: NodeProc): Promise<void> {
    const yaml = join(node.dir, 'node.yaml')
    const card = parse((await run(join(this.bin, 'custosd'), ['card', '--config', yaml])).stdout) as NodeCard
    node.card = { name: card.name, peer_id: card.peer_id, addrs: card.addrs }
    writeFileSync(yaml, readFileSync(yaml, 'utf8').replace('/ip4/127.0.0.1/tcp/0/ws', card.addrs.find((a) => a.endsWith('/ws'))!))
  }

  async #spawn(node: NodeProc, fault: string | undefined): Promise<void> {
    const yaml = join(node.dir, 'node.yaml')
    const log = openSync(join(node.dir, 'custosd.log'), 'a')
    const env = { ...process.env }
    delete env.CUSTOS_FAULT
    if (fault !== undefined) env.CUSTOS_FAULT = fault
    const p = spawn(join(this.bin, 'custosd'), ['run', '--config', yaml], { stdio: ['ignore', log, log], env })
    closeSync(log)
    running.add(p)
    p.on('exit', () => running.delete(p))
    node.proc = p
    await waitReady(this.bin, yaml, p)
  }

  node(name: string): NodeProc {
    const n = this.nodes.find((x) => x.name === name)
    if (n === undefined) throw new Error(`no node ${name}`)
    return n
  }

  /** invite returns a fresh invite token for user of every node, or of the nodes named; a new-device token with newDevice. */
  async invite(user: string, o: { names?: string[]; newDevice?: boolean } = {}): Promise<Record<string, string>> {
    const out: Record<string, string> = {}
    for (const name of o.names ?? this.nodes.map((n) => n.name)) {
      const stdout = await this.custosd(name, 'invite', '--user', user, ...(o.newDevice === true ? ['--new-device'] : []))
      out[name] = stdout.trim().split('\n').pop()!.trim()
    }
    return out
  }

  /** kill ends a node with SIGKILL, as a crash would. */
  async kill(name: string): Promise<void> {
    const p = this.node(name).proc
    if (p === undefined || exited(p)) return
    const gone = new Promise((r) => p.once('exit', r))
    p.kill('SIGKILL')
    await gone
  }

  /** restart starts a stopped node again (fault: its CUSTOS_FAULT). */
  async restart(name: string, fault?: string): Promise<void> {
    await this.kill(name)
    await this.#spawn(this.node(name), fault)
  }

  /**
   * move restarts a node on a new port, as an operator moving it would: its
   * card (node(name).card) lists the new address; networkFile is left as it
   * was, naming the old one.
   */
  async move(name: string): Promise<void> {
    const node = this.node(name)
    const yaml = join(node.dir, 'node.yaml')
    const old = node.card.addrs.find((a) => a.endsWith('/ws'))!
    await this.kill(name)
    writeFileSync(yaml, readFileSync(yaml, 'utf8').replace(old, '/ip4/127.0.0.1/tcp/0/ws'))
    await this.#spawn(node, undefined)
    await this.#pinCard(node)
  }

  /** custosd runs an admin command of a node. */
  async custosd(name: string, ...args: string[]): Promise<string> {
    return (await run(join(this.bin, 'custosd'), [...args, '--config', join(this.node(name).dir, 'node.yaml')])).stdout
  }

  /** log is a node's log, for a failing test's message. */
  log(name: string): string {
    const f = join(this.node(name).dir, 'custosd.log')
    return existsSync(f) ? readFileSync(f, 'utf8') : ''
  }

  /** stop ends every node (SIGTERM) and removes the directory. */
  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (n) => {
        const p = n.proc
        if (p === undefined || exited(p)) return
        const gone = new Promise((r) => p.once('exit', r))
        p.kill('SIGTERM')
        const t = setTimeout(() => p.kill('SIGKILL'), 10_000)
        await gone
        clearTimeout(t)
      }),
    )
    rmSync(this.dir, { recursive: true, force: true })
  }
}
