// A new network file of the same custodians (client/networkupdate.go): new
// addresses or new names need no reshare, so the vault takes the file at
// once; a renamed node is renamed wherever the vault names it. Any other
// difference (custodians added, removed, replaced or reordered, another
// threshold) is refused with what differs (NeedsReshareError).
import { CustosError } from './errors.js'
import type { Network } from './network.js'
import { checkUnit, unitMac, type VaultData } from './vault/vault.js'

/** NeedsReshareError: the new network file changes the custodians, their order or the threshold, which only a reshare can adopt. */
export class NeedsReshareError extends CustosError {
  override name = 'NeedsReshareError'
}

/** NodeUpdate is what a network update changes of one node. */
export interface NodeUpdate {
  /** Its name in the new network file. */
  node: string
  /** Its name before, if it was renamed. */
  oldName?: string
  /** Its addresses changed. */
  readdress: boolean
}

/** short is the tail of a peer ID, enough to tell nodes apart in a message. */
function short(id: string): string {
  return id.length > 8 ? '…' + id.slice(-8) : id
}

/** sameCustodians checks that b lists a's custodians, in a's order, with a's threshold; otherwise it says what differs. */
export function sameCustodians(a: Network, b: Network): void {
  const why: string[] = []
  if (a.threshold !== b.threshold) why.push(`the threshold goes from ${a.threshold} to ${b.threshold}`)
  const inA = new Set(a.nodes.map((n) => n.peerIdText))
  const inB = new Set(b.nodes.map((n) => n.peerIdText))
  for (const n of a.nodes) if (!inB.has(n.peerIdText)) why.push(`${n.name} (${short(n.peerIdText)}) is not in it`)
  for (const n of b.nodes) if (!inA.has(n.peerIdText)) why.push(`${n.name} (${short(n.peerIdText)}) is new`)
  if (why.length === 0 && a.nodes.some((n, i) => n.peerIdText !== b.nodes[i]!.peerIdText)) {
    why.push("it lists the nodes in another order (each node's place is its share index)")
  }
  if (why.length > 0) throw new NeedsReshareError(`the new network file changes the custodians or the threshold: ${why.join('; ')}; move the records to it with a reshare`)
}

/** changes lists, node by node, what b changes of a (same custodians): names and addresses. */
export function changes(a: Network, b: Network): NodeUpdate[] {
  return b.nodes.flatMap((n, i) => {
    const old = a.nodes[i]!
    const readdress = old.addrs.length !== n.addrs.length || old.addrs.some((x, j) => x.toString() !== n.addrs[j]!.toString())
    const u: NodeUpdate = { node: n.name, readdress }
    if (old.name !== n.name) u.oldName = old.name
    return u.oldName !== undefined || readdress ? [u] : []
  })
}

/**
 * adopted is the vault v, of the network old, with file as its network
 * file and the nodes in names (peer ID → new name) renamed wherever it names them: every unit
 * (checked against its MAC first, DamagedError, and sealed with its MAC
 * again), the pending deletes and the login dealing. The checkpoint kept
 * of a renamed node is dropped: the node signs its log under its new name.
 * Accepted restores are renamed.
 * Receipts keep the names they were verified under. v is not changed.
 */
export function adopted(v: VaultData, old: Network, file: Uint8Array, names: Map<string, string>): Pick<VaultData, 'network' | 'units' | 'pendingDeletes' | 'login' | 'checkpoints' | 'restores'> {
  // old name → new name, for what names nodes by name alone
  const byName = new Map(old.nodes.flatMap((n) => (names.has(n.peerIdText) ? [[n.name, names.get(n.peerIdText)!] as const] : [])))
  const units = v.units.map((u) => {
    checkUnit(v.masterSecret, u)
    if (!u.nodes.some((n) => names.has(n.peerId))) return u
    const nodes = u.nodes.map((n) => {
      const to = names.get(n.peerId)
      if (to === undefined) return n
      byName.set(n.name, to)
      return { ...n, name: to }
    })
    const next = { ...u, nodes }
    return { ...next, mac: unitMac(v.masterSecret, next) }
  })
  let login = v.login
  if (login !== null) {
    const shares = login.shares.map((s) => {
      const to = names.get(s.peerId)
      if (to === undefined) return s
      byName.set(s.node, to)
      return { ...s, node: to }
    })
    login = { ...login, shares }
  }
  const pendingDeletes = v.pendingDeletes.map((p) => ({ ...p, nodes: p.nodes.map((n) => byName.get(n) ?? n) }))
  const checkpoints = v.checkpoints.filter((c) => !byName.has(c.node) || byName.get(c.node) === c.node)
  // An accepted restore names its node by name, as Go's vault does.
  const restores = v.restores.map((r) => ({ ...r, node: byName.get(r.node) ?? r.node }))
  return { network: file.slice(), units, pendingDeletes, login, checkpoints, restores }
}
