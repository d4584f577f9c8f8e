// Following a password change made on another device of the user
// (docs/login.md, "Devices"), as the Go client does (client/dealingnote.go):
// a node that committed the change refuses a login under the dealing it
// holds no more, and hands out the new dealing's note, which the device
// that made the change sealed with the user's master secret. Once at least
// the threshold of nodes hand out the same note, of a later epoch, and it
// verifies, the vault takes the dealing it describes and the login is made
// again with it. A note that does not verify is a lying node's: it is
// named (ForgedNoteError) and ignored.
import { toBinary } from '@bufbuild/protobuf'
import { DealingNoteSchema, type DealingNote } from './gen/custos_pb.js'
import { ctEqual, toHex } from './bytes.js'
import { BadNodeError, CustosError, NotEnrolledError } from './errors.js'
import type { Logger } from './log.js'
import type { Node } from './network.js'
import { noteMac } from './passwd.js'
import { decodeElement, ELEMENT_SIZE } from './threshold/toprf.js'
import type { LoginDealing, VaultData } from './vault/vault.js'

/** The largest dealing note a node may send (api.MaxDealingNoteSize). */
const MAX_NOTE_SIZE = 64 << 10
const NOTE_MAC_SIZE = 32
const MASTER_SECRET_SIZE = 32

/**
 * StaleDealingError: a node refused a login under a dealing it holds no
 * more, with the note of its current dealing. It is a NotEnrolledError, as
 * the Go client's staleDealing matches ErrNotEnrolled.
 */
export class StaleDealingError extends NotEnrolledError {
  override name = 'StaleDealingError'
  constructor(readonly note: DealingNote) {
    super('this node holds a newer login dealing of the user (a password change on another device)')
  }
}

/** ForgedNoteError: a node sent a dealing note that no device of this user made (its MAC does not verify, or it does not fit the network file). */
export class ForgedNoteError extends BadNodeError {
  override name = 'ForgedNoteError'
  constructor() {
    super('sent a dealing note that no device of this user made: faulty or lying')
  }
}

/**
 * noteLogin is the login dealing a note describes, once checked: its MAC
 * under the vault's master secret, its threshold the network's, its shares
 * the network file's nodes, each at its position, each public share an
 * element. Any failure is a ForgedNoteError; a vault whose master secret
 * was wiped checks none (CustosError).
 */
export function noteLogin(v: VaultData, nodes: Node[], threshold: number, note: DealingNote): LoginDealing {
  // A MAC under a wiped master secret (zeros, after close) is one anyone can make.
  if (v.masterSecret.length !== MASTER_SECRET_SIZE || v.masterSecret.every((b) => b === 0)) throw new CustosError("the vault's master secret is missing (wiped?): no dealing note is checked")
  if (toBinary(DealingNoteSchema, note).length > MAX_NOTE_SIZE || note.epoch < 2 || note.mac.length !== NOTE_MAC_SIZE) throw new ForgedNoteError()
  if (note.threshold !== threshold || note.shares.length !== nodes.length) throw new ForgedNoteError()
  if (!ctEqual(noteMac(v.masterSecret, v.user, note), note.mac)) throw new ForgedNoteError()
  return {
    epoch: note.epoch,
    threshold: note.threshold,
    shares: nodes.map((n, i) => {
      const s = note.shares[i]!
      if (!ctEqual(s.peerId, n.peerId) || s.index !== i + 1 || s.publicShare.length !== ELEMENT_SIZE) throw new ForgedNoteError()
      try {
        decodeElement(s.publicShare)
      } catch {
        throw new ForgedNoteError()
      }
      return { node: n.name, peerId: n.peerIdText, index: i + 1, publicShare: s.publicShare.slice() }
    }),
  }
}

/**
 * followNote finds the dealing another device's password change made, when
 * the logins under the dealing of epoch (errs, in network order) show it:
 * at least threshold nodes refused it with the same note, of a later
 * epoch, that verifies. A node whose note does not verify gets a
 * ForgedNoteError in errs instead, named at warn level. It returns the
 * dealing to adopt, or null; a vault with a password change or a reshare
 * of its own under way follows none (its own comes first: a reshare's new
 * dealing is of the epoch after the vault's, and a vault that took another
 * dealing of that epoch would no longer pass its own checks).
 */
export function followNote(v: VaultData, nodes: Node[], threshold: number, epoch: number, errs: (Error | undefined)[], log: Logger): LoginDealing | null {
  if (v.passwordChange != null || v.reshare != null || v.login === null) return null
  const groups = new Map<string, { login: LoginDealing; count: number }>()
  let best: { login: LoginDealing; count: number } | undefined
  errs.forEach((e, i) => {
    if (!(e instanceof StaleDealingError)) return
    let login: LoginDealing
    try {
      login = noteLogin(v, nodes, threshold, e.note)
    } catch (f) {
      if (!(f instanceof ForgedNoteError)) throw f
      log.warn(`custodian ${nodes[i]!.name} ${f.message}; it is ignored`)
      errs[i] = f
      return
    }
    if (login.epoch <= epoch) return
    const key = toHex(toBinary(DealingNoteSchema, e.note))
    const g = groups.get(key) ?? { login, count: 0 }
    groups.set(key, g)
    if (++g.count > (best?.count ?? 0)) best = g
  })
  return best !== undefined && best.count >= threshold ? best.login : null
}

/**
 * adoptLogin makes login the vault's login dealing and saves the vault; if
 * the save fails the vault keeps its dealing. A warning says so: the vault
 * changed, and a user who changed no password elsewhere should hear of it.
 */
export async function adoptLogin(v: VaultData, login: LoginDealing, save: () => Promise<void>, log: Logger): Promise<void> {
  const old = v.login
  v.login = login
  try {
    await save()
  } catch (e) {
    v.login = old
    throw e
  }
  log.warn(`the password was changed on another device of this user; this device follows the change (its vault holds the login dealing of epoch ${login.epoch} now)`)
}
