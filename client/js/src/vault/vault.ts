// The local vault of the JS SDK: the same logical content as the Go vault
// (docs/vault.md) in its own JSON format, "custos-js-vault/1", behind a
// VaultStorage. It is not encrypted under the password (a password-wrapped
// vault on a stolen device would be an offline password oracle); its
// protection at rest is the storage's (file mode 0600 in Node.js).
import { hmacSha256 } from '../platform.js'
import { concat, ctEqual, fromBase64, fromHex, lp, toBase64, toHex, u32, u64, utf8 } from '../bytes.js'
import { validUser } from '../api/protocol.js'
import { validNodeName } from '../network.js'
import { checkPasswordKDF, vaultUnitKey, type PasswordKDF } from '../threshold/keys.js'
import { PASSWD_KEYS, decodePasswordChange, encodePasswordChange, type PasswordChange } from './passwd.js'
import { RESHARE_KEYS, decodeReshare, encodeReshare, type Reshare } from './reshare.js'
import { decodeElement } from '../threshold/toprf.js'

export const VAULT_FORMAT = 'custos-js-vault/1'
const MAX_VAULT = 64 << 20
export const MAX_RECEIPTS = 1000
export const MAX_LABEL_LEN = 128
const MAX_SEALED = (1 << 20) + 1024

/** A custodian a unit version was dealt to. */
export interface UnitNode {
  name: string
  peerId: string
  commitment: Uint8Array
  stored: boolean
}

/** A record in the vault: everything but its secret, which is sealed. */
export interface Unit {
  label: string
  id: Uint8Array
  version: bigint
  threshold: number
  nodes: UnitNode[]
  keyCommit: Uint8Array
  sealed: Uint8Array
  degraded: boolean
  created: Date
  updated: Date
  mac: Uint8Array
}

export interface PendingDelete {
  id: Uint8Array
  version: bigint
  nodes: string[]
  /** What the delete is part of (the wire's Operation: 1 replace, 2 rotate, 3 reshare, 4 undo), sent again with every retry; absent for a plain delete. */
  operation?: number
}

/** What a change under way makes of a unit (docs/vault.md#a-change-under-way). */
export type ChangeOp = 'replace' | 'rotate' | 'reshare'

/** A change of a unit under way: recorded before any share of its new version is sent, dropped when the new version is the unit's or given up. */
export interface Change {
  op: ChangeOp
  label: string
  id: Uint8Array
  from: bigint
  to: bigint
  /** The nodes the new version's shares are sent to. */
  nodes: string[]
  /** For a replace, the new record sealed under the data key of version from, with version to in its associated data; empty otherwise. */
  content: Uint8Array
  started: Date
}

export type Evidence = '' | 'refusal' | 'other-entry' | 'fork'

/** A node's receipt for a release, kept for auditors (docs/vault.md#a-receipt). */
export interface Receipt {
  node: string
  units: { id: Uint8Array; version: bigint }[]
  index: bigint
  checkpoint: Uint8Array
  entry: Uint8Array
  evidence: Evidence
}

/** A node's restore from a backup that the client accepted (docs/vault.md#a-restore): the evidence of what the node showed before. */
export interface Restore {
  node: string
  /** When the client accepted the restore. */
  accepted: Date
  /** The checkpoint the vault kept of the node until then, of the rolled-back log. */
  replaced: Uint8Array
  /** The restore entry's index in the node's log: the size of the restored log. */
  index: bigint
  /** The restore entry as the node stored it. */
  entry: Uint8Array
  /** The node's checkpoint of a tree that holds the entry, kept from then on. */
  checkpoint: Uint8Array
}

/** The vault keeps the newest MAX_RESTORES restores (Go's vault.MaxRestores). */
export const MAX_RESTORES = 100

/** addRestore records r in v, keeping the newest MAX_RESTORES. */
export function addRestore(v: VaultData, r: Restore): void {
  v.restores.push(r)
  v.restores.splice(0, Math.max(v.restores.length - MAX_RESTORES, 0))
}

/** One custodian's public share of the login dealing: R_i at index i. */
export interface LoginShare {
  node: string
  peerId: string
  index: number
  publicShare: Uint8Array
}

/** The login dealing the nodes hold shares of: its epoch, threshold and every R_i. */
export interface LoginDealing {
  epoch: number
  threshold: number
  shares: LoginShare[]
}

export interface VaultData {
  user: string
  network: Uint8Array
  deviceKey: Uint8Array
  masterSecret: Uint8Array
  passwordKdf: PasswordKDF
  login: LoginDealing | null
  units: Unit[]
  pendingDeletes: PendingDelete[]
  changes: Change[]
  receipts: Receipt[]
  checkpoints: { node: string; checkpoint: Uint8Array }[]
  /** The nodes' restores the client accepted, oldest first. */
  restores: Restore[]
  /** A password change under way (src/passwd.ts); absent or null: none. */
  passwordChange?: PasswordChange | null
  /** A reshare under way (src/reshare.ts); absent or null: none. */
  reshare?: Reshare | null
  /** The nodes that left in the reshare under way where the user's account was closed. */
  closedAccounts?: string[]
}

/** DamagedError: a record's fields in the vault do not match their MAC; no node was asked for it. */
export class DamagedError extends Error {
  override name = 'DamagedError'
  constructor(label: string) {
    super(`the record ${JSON.stringify(label)} in the vault is damaged`)
  }
}

/** VaultFormatError: the vault document breaks a rule; the message says which, never a secret. */
export class VaultFormatError extends Error {
  override name = 'VaultFormatError'
}

/** validLabel: 1 to 128 bytes of UTF-8, every character printable, no space at either end. */
export function validLabel(label: string): boolean {
  const n = utf8(label).length
  return n >= 1 && n <= MAX_LABEL_LEN && !/^\s|\s$/u.test(label) && /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]+$/u.test(label)
}

/** timeBytes is a time as 8 bytes of Unix seconds and 4 of nanoseconds, as Go's vault MAC writes it. */
function timeBytes(d: Date): Uint8Array {
  const ms = d.getTime()
  const sec = Math.floor(ms / 1000)
  const b = new Uint8Array(12)
  const v = new DataView(b.buffer)
  v.setBigInt64(0, BigInt(sec))
  v.setUint32(8, (ms - sec * 1000) * 1e6)
  return b
}

/** unitMac is the MAC of docs/vault.md over every field of a unit but the MAC. */
export function unitMac(masterSecret: Uint8Array, u: Omit<Unit, 'mac'>): Uint8Array {
  const parts = [lp(u.label), u.id, u64(u.version), u64(BigInt(u.threshold)), u32(u.nodes.length)]
  for (const n of u.nodes) parts.push(lp(n.name), lp(n.peerId), n.commitment, Uint8Array.of(n.stored ? 1 : 0))
  parts.push(u.keyCommit, lp(u.sealed), Uint8Array.of(u.degraded ? 1 : 0), timeBytes(u.created), timeBytes(u.updated))
  const key = vaultUnitKey(masterSecret)
  try {
    return hmacSha256(key, concat(...parts))
  } finally {
    key.fill(0)
  }
}

/** checkUnit checks a unit against its MAC, in constant time. */
export function checkUnit(masterSecret: Uint8Array, u: Unit): void {
  if (!ctEqual(unitMac(masterSecret, u), u.mac)) throw new DamagedError(u.label)
}

// The JSON form. Byte strings are base64, unit IDs and commitments hex,
// times RFC 3339 in UTC, numbers JSON integers.

type J = Record<string, unknown>

function encodeUnit(u: Unit): J {
  return {
    label: u.label,
    id: toHex(u.id),
    version: Number(u.version),
    threshold: u.threshold,
    nodes: u.nodes.map((n) => ({ name: n.name, peer_id: n.peerId, commitment: toHex(n.commitment), stored: n.stored })),
    key_commit: toHex(u.keyCommit),
    sealed: toBase64(u.sealed),
    degraded: u.degraded,
    created: u.created.toISOString(),
    updated: u.updated.toISOString(),
    mac: toBase64(u.mac),
  }
}

/**
 * The JSON text of each receipt kept, made and checked by the reader's
 * rules once: a receipt is not changed once kept, and a vault holds up to
 * a thousand of them, so a save renders and checks only the new ones.
 */
const receiptTexts = new WeakMap<Receipt, string>()

function receiptText(r: Receipt): string {
  let s = receiptTexts.get(r)
  if (s === undefined) {
    s = JSON.stringify({
      node: r.node,
      units: r.units.map((u) => ({ id: toHex(u.id), version: Number(u.version) })),
      index: Number(r.index),
      checkpoint: toBase64(r.checkpoint),
      entry: toBase64(r.entry),
      evidence: r.evidence,
    })
    decodeReceipt(JSON.parse(s), 'vault.receipts[new]')
    receiptTexts.set(r, s)
  }
  return s
}

/** encodeVault writes the vault document; a receipt is written on a line of its own. */
export function encodeVault(v: VaultData): Uint8Array {
  return utf8(renderVault(v, false))
}

/**
 * encodeCheckedVault writes the vault document, only one that decodeVault
 * accepts: every field but the receipts is read back whole, each receipt
 * once (receiptText).
 */
export function encodeCheckedVault(v: VaultData): Uint8Array {
  return utf8(renderVault(v, true))
}

function renderVault(v: VaultData, check: boolean): string {
  if (check && v.receipts.length > MAX_RECEIPTS) throw new VaultFormatError(`the vault holds more than ${MAX_RECEIPTS} receipts`)
  const doc = {
    format: VAULT_FORMAT,
    user: v.user,
    network: toBase64(v.network),
    device_key: toBase64(v.deviceKey),
    master_secret: toBase64(v.masterSecret),
    password_kdf: { salt: toBase64(v.passwordKdf.salt), time: v.passwordKdf.time, memory_kib: v.passwordKdf.memoryKiB, threads: v.passwordKdf.threads },
    login:
      v.login === null
        ? null
        : {
            epoch: v.login.epoch,
            threshold: v.login.threshold,
            shares: v.login.shares.map((s) => ({ node: s.node, peer_id: s.peerId, index: s.index, public_share: toHex(s.publicShare) })),
          },
    units: [...v.units].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0)).map(encodeUnit),
    pending_deletes: v.pendingDeletes.map((p) => ({ id: toHex(p.id), version: Number(p.version), nodes: p.nodes, ...(p.operation ? { operation: p.operation } : {}) })),
    changes: v.changes.map((c) => ({
      op: c.op,
      label: c.label,
      id: toHex(c.id),
      from: Number(c.from),
      to: Number(c.to),
      nodes: c.nodes,
      content: toBase64(c.content),
      started: c.started.toISOString(),
    })),
    receipts: [],
    checkpoints: [...v.checkpoints].sort((a, b) => (a.node < b.node ? -1 : 1)).map((c) => ({ node: c.node, checkpoint: toBase64(c.checkpoint) })),
    // Restores: written once there is one (older vaults have none).
    ...(v.restores.length > 0 ? { restores: v.restores.map(encodeRestore) } : {}),
    // A password change: written only while one is under way.
    ...(v.passwordChange ? { password_change: encodePasswordChange(v.passwordChange) } : {}),
    // A reshare: written only while one is under way.
    ...(v.reshare ? { reshare: encodeReshare(v.reshare), closed_accounts: v.closedAccounts ?? [] } : {}),
  }
  const rest = JSON.stringify(doc, null, 2) + '\n'
  if (check) decodeVault(utf8(rest))
  if (v.receipts.length === 0) return rest
  // The empty list at the top level (a string holding these characters
  // would have its line break escaped) takes the receipts' texts.
  const at = rest.indexOf('\n  "receipts": []')
  const list = '\n  "receipts": [\n    ' + v.receipts.map(receiptText).join(',\n    ') + '\n  ]'
  return rest.slice(0, at) + list + rest.slice(at + '\n  "receipts": []'.length)
}

/** Reader checks one JSON object's fields strictly: each key listed, none missing or unknown. */
class Fields {
  constructor(
    readonly o: J,
    readonly at: string,
  ) {}
  /** of checks x's fields: every one of keys, and those of optional it has. */
  static of(x: unknown, at: string, keys: string[], optional: string[] = []): Fields {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new VaultFormatError(`the vault file is damaged: ${at} is not an object`)
    for (const k of Object.keys(x)) if (!keys.includes(k) && !optional.includes(k)) throw new VaultFormatError(`the vault file is damaged: ${at} has an unknown field ${JSON.stringify(k).slice(0, 40)}`)
    for (const k of keys) if (!(k in x)) throw new VaultFormatError(`the vault file is damaged: ${at} has no field ${JSON.stringify(k)}`)
    return new Fields(x as J, at)
  }
  bad(k: string, why: string): never {
    throw new VaultFormatError(`the vault file is damaged: ${this.at}.${k} ${why}`)
  }
  str(k: string): string {
    const v = this.o[k]
    return typeof v === 'string' ? v : this.bad(k, 'is not a string')
  }
  int(k: string, min: number, max: number): number {
    const v = this.o[k]
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max ? v : this.bad(k, `is not a whole number from ${min} to ${max}`)
  }
  bool(k: string): boolean {
    const v = this.o[k]
    return typeof v === 'boolean' ? v : this.bad(k, 'is not true or false')
  }
  b64(k: string, min: number, max: number): Uint8Array {
    let b: Uint8Array
    try {
      b = fromBase64(this.str(k))
    } catch {
      return this.bad(k, 'is not base64')
    }
    return b.length >= min && b.length <= max ? b : this.bad(k, `is not ${min} to ${max} bytes`)
  }
  hex(k: string, n: number): Uint8Array {
    const s = this.str(k)
    if (!/^[0-9a-f]*$/.test(s) || s.length !== 2 * n) this.bad(k, `is not ${2 * n} lower-case hexadecimal digits`)
    const b = fromHex(s)
    return b.every((x) => x === 0) ? this.bad(k, 'is all zero') : b
  }
  time(k: string): Date {
    const s = this.str(k)
    const d = new Date(s)
    return /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(d.getTime()) ? d : this.bad(k, 'is not an RFC 3339 time')
  }
  list(k: string, min: number, max: number): unknown[] {
    const v = this.o[k]
    return Array.isArray(v) && v.length >= min && v.length <= max ? v : this.bad(k, `is not a list of ${min} to ${max} entries`)
  }
  nodeName(k: string): string {
    const s = this.str(k)
    return validNodeName(s) ? s : this.bad(k, 'is not a node name')
  }
}

function decodeUnit(x: unknown, at: string): Unit {
  const f = Fields.of(x, at, ['label', 'id', 'version', 'threshold', 'nodes', 'key_commit', 'sealed', 'degraded', 'created', 'updated', 'mac'])
  const label = f.str('label')
  if (!validLabel(label)) f.bad('label', 'is not a valid label')
  const nodes = f.list('nodes', 2, 255).map((n, i) => {
    const g = Fields.of(n, `${at}.nodes[${i}]`, ['name', 'peer_id', 'commitment', 'stored'])
    return { name: g.nodeName('name'), peerId: g.str('peer_id'), commitment: g.hex('commitment', 32), stored: g.bool('stored') }
  })
  if (new Set(nodes.map((n) => n.name)).size !== nodes.length || new Set(nodes.map((n) => n.peerId)).size !== nodes.length) f.bad('nodes', 'names a node twice')
  const u: Unit = {
    label,
    id: f.hex('id', 16),
    version: BigInt(f.int('version', 1, Number.MAX_SAFE_INTEGER)),
    threshold: f.int('threshold', 2, nodes.length),
    nodes,
    keyCommit: f.hex('key_commit', 32),
    sealed: f.b64('sealed', 1, MAX_SEALED),
    degraded: f.bool('degraded'),
    created: f.time('created'),
    updated: f.time('updated'),
    mac: f.b64('mac', 32, 32),
  }
  if (u.degraded !== nodes.some((n) => !n.stored)) f.bad('degraded', 'does not match the nodes that store their share')
  return u
}

function decodeReceipt(x: unknown, at: string): Receipt {
  const g = Fields.of(x, at, ['node', 'units', 'index', 'checkpoint', 'entry', 'evidence'])
  const evidence = g.str('evidence')
  if (!['', 'refusal', 'other-entry', 'fork'].includes(evidence)) g.bad('evidence', 'is not a known kind of evidence')
  return {
    node: g.nodeName('node'),
    units: g.list('units', 1, 1024).map((u, j) => {
      const h = Fields.of(u, `${at}.units[${j}]`, ['id', 'version'])
      return { id: h.hex('id', 16), version: BigInt(h.int('version', 1, Number.MAX_SAFE_INTEGER)) }
    }),
    index: BigInt(g.int('index', 0, 2 ** 48 - 1)),
    checkpoint: g.b64('checkpoint', 1, 4096),
    entry: g.b64('entry', 1, 64 << 10),
    evidence: evidence as Evidence,
  }
}

/** decodeVault reads and checks a vault document; a broken rule is a VaultFormatError naming it. */
export function decodeVault(doc: Uint8Array): VaultData {
  if (doc.length > MAX_VAULT) throw new VaultFormatError('the vault file is too large')
  let j: unknown
  try {
    j = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(doc))
  } catch {
    throw new VaultFormatError('the vault file is damaged: it is not JSON')
  }
  const format = (j as J | null)?.format
  if (format !== VAULT_FORMAT) throw new VaultFormatError(`unknown vault format ${JSON.stringify(String(format)).slice(0, 60)}`)
  // changes and password_change came after the first vaults of this format: a vault without them has none under way.
  const f = Fields.of(j, 'vault', ['format', 'user', 'network', 'device_key', 'master_secret', 'password_kdf', 'login', 'units', 'pending_deletes', 'receipts', 'checkpoints'], ['changes', 'password_change', 'restores', 'reshare', 'closed_accounts'])
  const user = f.str('user')
  if (!validUser(user)) f.bad('user', 'is not a valid user name')
  const kdf = Fields.of(f.o.password_kdf, 'vault.password_kdf', ['salt', 'time', 'memory_kib', 'threads'])
  const passwordKdf = { salt: kdf.b64('salt', 16, 16), time: kdf.int('time', 1, 64), memoryKiB: kdf.int('memory_kib', 65536, 4 << 20), threads: kdf.int('threads', 1, 255) }
  checkPasswordKDF(passwordKdf)
  const masterSecret = f.b64('master_secret', 32, 32)
  if (masterSecret.every((b) => b === 0)) f.bad('master_secret', 'is all zero')
  let login: LoginDealing | null = null
  if (f.o.login !== null) {
    const l = Fields.of(f.o.login, 'vault.login', ['epoch', 'threshold', 'shares'])
    // As the Go vault's login: each node once, indexes ascending, every R_i an element (a password change is checked against it).
    let last = 0
    const shares = l.list('shares', 2, 255).map((s, i) => {
      const g = Fields.of(s, `vault.login.shares[${i}]`, ['node', 'peer_id', 'index', 'public_share'])
      const share = { node: g.nodeName('node'), peerId: g.str('peer_id'), index: g.int('index', 1, 255), publicShare: g.hex('public_share', 32) }
      if (share.index <= last) g.bad('index', 'is not above the one before')
      last = share.index
      try {
        decodeElement(share.publicShare)
      } catch {
        g.bad('public_share', 'is not a ristretto255 element')
      }
      return share
    })
    if (new Set(shares.map((s) => s.node)).size !== shares.length || new Set(shares.map((s) => s.peerId)).size !== shares.length) l.bad('shares', 'names a node twice')
    login = { epoch: l.int('epoch', 1, 2 ** 32 - 1), threshold: l.int('threshold', 2, shares.length), shares }
  }
  const units = f.list('units', 0, 1 << 20).map((u, i) => decodeUnit(u, `vault.units[${i}]`))
  if (new Set(units.map((u) => u.label)).size !== units.length || new Set(units.map((u) => toHex(u.id))).size !== units.length) f.bad('units', 'holds a label or unit ID twice')
  const pendingDeletes = f.list('pending_deletes', 0, 1 << 20).map((p, i) => {
    const g = Fields.of(p, `vault.pending_deletes[${i}]`, ['id', 'version', 'nodes'], ['operation'])
    const nodes = g.list('nodes', 1, 255).map((n) => (typeof n === 'string' && validNodeName(n) ? n : g.bad('nodes', 'holds something other than a node name')))
    const pd: PendingDelete = { id: g.hex('id', 16), version: BigInt(g.int('version', 1, Number.MAX_SAFE_INTEGER)), nodes }
    if ('operation' in g.o) pd.operation = g.int('operation', 1, 4)
    return pd
  })
  const changes = f.o.changes === undefined ? [] : f.list('changes', 0, 1 << 20).map((c, i) => decodeChange(c, `vault.changes[${i}]`))
  if (new Set(changes.map((c) => toHex(c.id))).size !== changes.length) f.bad('changes', 'holds a unit ID twice')
  const receipts = f.list('receipts', 0, MAX_RECEIPTS).map((r, i) => {
    const receipt = decodeReceipt(r, `vault.receipts[${i}]`)
    // Checked, and of the known fields only: its text is that of the next save.
    receiptTexts.set(receipt, JSON.stringify(r))
    return receipt
  })
  const checkpoints = f.list('checkpoints', 0, 1024).map((c, i) => {
    const g = Fields.of(c, `vault.checkpoints[${i}]`, ['node', 'checkpoint'])
    return { node: g.nodeName('node'), checkpoint: g.b64('checkpoint', 1, 4096) }
  })
  if (new Set(checkpoints.map((c) => c.node)).size !== checkpoints.length) f.bad('checkpoints', 'holds a node twice')
  const restores = f.o.restores === undefined ? [] : f.list('restores', 0, MAX_RESTORES).map((r, i) => decodeRestore(r, `vault.restores[${i}]`))
  // A password change (optional): checked against the login dealing it changes.
  const passwordChange = 'password_change' in f.o ? decodePasswordChange(Fields.of(f.o.password_change, 'vault.password_change', PASSWD_KEYS), Fields.of, login) : null
  // A reshare (optional): checked against its own network file and the login dealing.
  const reshare = 'reshare' in f.o ? decodeReshare(Fields.of(f.o.reshare, 'vault.reshare', RESHARE_KEYS), Fields.of, login) : null
  if ('closed_accounts' in f.o !== (reshare !== null)) f.bad('closed_accounts', 'is there without a reshare under way, or missing with one')
  const closedAccounts = reshare === null ? [] : f.list('closed_accounts', 0, 255).map((n) => (typeof n === 'string' && validNodeName(n) ? n : f.bad('closed_accounts', 'holds something other than a node name')))
  if (reshare !== null && passwordChange !== null) f.bad('reshare', 'is under way with a password change')
  return {
    user,
    network: f.b64('network', 1, 1 << 20),
    deviceKey: f.b64('device_key', 68, 68),
    masterSecret,
    passwordKdf,
    login,
    units,
    pendingDeletes,
    changes,
    receipts,
    checkpoints,
    restores,
    passwordChange,
    reshare,
    closedAccounts,
  }
}

function encodeRestore(r: Restore): J {
  return { node: r.node, accepted: r.accepted.toISOString(), replaced: toBase64(r.replaced), index: Number(r.index), entry: toBase64(r.entry), checkpoint: toBase64(r.checkpoint) }
}

function decodeRestore(x: unknown, at: string): Restore {
  const g = Fields.of(x, at, ['node', 'accepted', 'replaced', 'index', 'entry', 'checkpoint'])
  return {
    node: g.nodeName('node'),
    accepted: g.time('accepted'),
    replaced: g.b64('replaced', 1, 4096),
    index: BigInt(g.int('index', 0, 2 ** 48 - 1)),
    entry: g.b64('entry', 1, 64 << 10),
    checkpoint: g.b64('checkpoint', 1, 4096),
  }
}

function decodeChange(x: unknown, at: string): Change {
  const g = Fields.of(x, at, ['op', 'label', 'id', 'from', 'to', 'nodes', 'content', 'started'])
  const op = g.str('op')
  if (op !== 'replace' && op !== 'rotate' && op !== 'reshare') return g.bad('op', 'is not replace, rotate or reshare')
  const label = g.str('label')
  if (!validLabel(label)) g.bad('label', 'is not a valid label')
  const nodes = g.list('nodes', 1, 255).map((n) => (typeof n === 'string' && validNodeName(n) ? n : g.bad('nodes', 'holds something other than a node name')))
  if (new Set(nodes).size !== nodes.length) g.bad('nodes', 'names a node twice')
  const from = g.int('from', 1, Number.MAX_SAFE_INTEGER - 1)
  const to = g.int('to', from + 1, Number.MAX_SAFE_INTEGER)
  const content = op === 'replace' ? g.b64('content', 1, MAX_SEALED) : g.b64('content', 0, 0)
  return { op, label, id: g.hex('id', 16), from: BigInt(from), to: BigInt(to), nodes, content, started: g.time('started') }
}
