// The vault's side of a change of records (docs/vault.md, "A change under
// way"): each step is checked as the Go vault checks it and applied to the
// vault's contents; the caller saves the vault after each step (a save is
// atomic, so a step is on disk whole or not at all).
import { ctEqual } from '../bytes.js'
import { unitMac, type Change, type PendingDelete, type Unit, type VaultData } from './vault.js'
import type { VaultHandle } from './handle.js'

/** A change made: the unit at its new version, and its old version's pending delete (old.nodes: the nodes that held its shares). */
export interface Commit {
  unit: Omit<Unit, 'mac'>
  old: PendingDelete
}

/** sameId reports whether two unit IDs are the same. */
export function sameId(a: Uint8Array, b: Uint8Array): boolean {
  return ctEqual(a, b)
}

function unitOf(v: VaultData, id: Uint8Array): Unit | undefined {
  return v.units.find((u) => sameId(u.id, id))
}

/** hasPendingDelete reports whether version of unit id waits to be deleted. */
export function hasPendingDelete(v: VaultData, id: Uint8Array, version: bigint): boolean {
  return v.pendingDeletes.some((p) => p.version === version && sameId(p.id, id))
}

/** putPending records p, replacing one of the same version; never of a unit's current version, which retrying would destroy. */
function putPending(v: VaultData, p: PendingDelete): void {
  if (unitOf(v, p.id)?.version === p.version) throw new Error(`internal error: version ${p.version} of a unit is its current version, not a pending delete`)
  const i = v.pendingDeletes.findIndex((x) => x.version === p.version && sameId(x.id, p.id))
  const entry = { ...p, nodes: [...p.nodes] }
  if (i >= 0) v.pendingDeletes[i] = entry
  else v.pendingDeletes.push(entry)
}

/** abandon drops the change of each p's unit to p.version, and makes the version a pending delete of p.nodes. */
function abandon(v: VaultData, abandoned: PendingDelete[]): void {
  for (const p of abandoned) {
    v.changes = v.changes.filter((c) => !(sameId(c.id, p.id) && c.to === p.version))
    if (p.nodes.length > 0) putPending(v, p)
  }
}

/**
 * stageChanges records cs, each of a unit the vault has at version from,
 * replacing a change recorded before for the same unit, and gives up the
 * versions of abandoned (each a pending delete of its nodes).
 */
export function stageChanges(v: VaultData, cs: Change[], abandoned: PendingDelete[]): void {
  abandon(v, abandoned)
  for (const c of cs) {
    const u = v.units.find((x) => x.label === c.label)
    if (u === undefined || !sameId(u.id, c.id) || u.version !== c.from) throw new Error(`internal error: the record ${JSON.stringify(c.label)} is not at version ${c.from}`)
    if (hasPendingDelete(v, c.id, c.to)) throw new Error(`internal error: version ${c.to} of ${JSON.stringify(c.label)} is waiting to be deleted`)
    v.changes = v.changes.filter((x) => !sameId(x.id, c.id))
    v.changes.push(c)
  }
}

/** abandonChanges gives up changes (see stageChanges). */
export function abandonChanges(v: VaultData, abandoned: PendingDelete[]): void {
  abandon(v, abandoned)
}

/**
 * commitChanges makes each commit's unit the vault's unit of its label,
 * with its MAC, drops its change, and records its old version as a pending
 * delete of old.nodes. Each unit must have a change under way to its
 * version from the version the vault has.
 */
export function commitChanges(v: VaultData, cs: Commit[]): void {
  for (const { unit, old } of cs) {
    const ch = v.changes.find((c) => sameId(c.id, unit.id))
    const i = v.units.findIndex((u) => u.label === unit.label)
    const cur = v.units[i]
    if (ch === undefined || cur === undefined || !sameId(cur.id, unit.id) || ch.to !== unit.version || cur.version !== ch.from || old.version !== ch.from || !sameId(old.id, unit.id)) {
      throw new Error(`internal error: the record ${JSON.stringify(unit.label)} is not being changed from version ${old.version} to ${unit.version}`)
    }
    v.units[i] = { ...unit, mac: unitMac(v.masterSecret, unit) }
    v.changes = v.changes.filter((c) => c !== ch)
    if (old.nodes.length > 0) putPending(v, old)
  }
}

/** setPendingDeletes records each p, or drops it once no node is left to confirm. */
export function setPendingDeletes(v: VaultData, ps: PendingDelete[]): void {
  for (const p of ps) {
    if (p.nodes.length > 0) putPending(v, p)
    else v.pendingDeletes = v.pendingDeletes.filter((x) => !(x.version === p.version && sameId(x.id, p.id)))
  }
}

/** A share version's delete a node confirmed. */
export interface ConfirmedDelete {
  id: Uint8Array
  version: bigint
  node: string
}

/**
 * dropConfirmed takes each confirmed node off the pending delete of its
 * version, and drops a pending delete no node is left on. It works on the
 * list as it is now, not as it was when the deletes were sent: another
 * operation may have replaced the list meanwhile, and what it recorded
 * must stay.
 */
export function dropConfirmed(v: VaultData, confirmed: ConfirmedDelete[]): void {
  if (confirmed.length === 0) return
  v.pendingDeletes = v.pendingDeletes.flatMap((p) => {
    const nodes = p.nodes.filter((n) => !confirmed.some((c) => c.node === n && c.version === p.version && sameId(c.id, p.id)))
    if (nodes.length === p.nodes.length) return [p]
    return nodes.length === 0 ? [] : [{ ...p, nodes }]
  })
}

/**
 * saveStep applies step to the vault's contents and saves the vault; if
 * the step or the save fails, the contents are put back as they were, so
 * that what is in memory is what is on disk.
 */
export async function saveStep(vh: VaultHandle, step: (v: VaultData) => void): Promise<void> {
  const v = vh.data
  const before = { units: [...v.units], pendingDeletes: [...v.pendingDeletes], changes: [...v.changes] }
  try {
    step(v)
    await vh.save()
  } catch (e) {
    Object.assign(v, before)
    throw e
  }
}
