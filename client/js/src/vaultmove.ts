// A second device of the user (docs/js.md, "A second device"): the vault
// exported for another device, encrypted with age, and imported there
// under a fresh device key, as the Go client's `custos vault export` and
// `custos vault import` do (client/vaultmove.go). The export is the SDK's
// own format, "custos-js-vault-export/1": a Go export cannot be imported
// here, nor this one by the Go client (their vaults are not one file
// format). The new device then enrolls at the nodes with new-device tokens
// (Client.addDevice).
import { Decrypter, Encrypter, generateHybridIdentity, identityToRecipient } from 'age-encryption'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { toBase64, utf8, wipe } from './bytes.js'
import { CustosError } from './errors.js'
import { VaultHandle } from './vault/handle.js'
import { checkPasswdMac } from './vault/passwd.js'
import type { VaultStorage } from './vault/storage.js'
import { checkUnit, decodeVault, encodeVault, VaultFormatError, type VaultData } from './vault/vault.js'

export const EXPORT_FORMAT = 'custos-js-vault-export/1'
/** The first line of a Go client's export (docs/vault.md, "Export"), named when one is given here. */
const GO_EXPORT_FORMAT = utf8('custos-vault-export/1\n')
/** An export holds one vault (at most 64 MiB as JSON), encrypted; more is refused before it is decrypted. */
const MAX_EXPORT = (64 << 20) + (1 << 20)

/** ExportFormatError: an export that decrypted breaks a rule of its format; the message says which, never a secret. */
export class ExportFormatError extends CustosError {
  override name = 'ExportFormatError'
}

/**
 * newRecoveryKey makes an age identity (post-quantum hybrid, as the Go
 * client's recovery key) to export a vault to when the user has no age
 * recipient of their own: identity is the secret to keep offline,
 * recipient what exportVault takes.
 */
export async function newRecoveryKey(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateHybridIdentity()
  return { identity, recipient: await identityToRecipient(identity) }
}

/**
 * exportVault writes v, without its device key, as an export encrypted
 * with age to recipients (age1… or age1pq1…): every record, the login
 * dealing, the master secret, the receipts. device is the peer ID of the
 * device it comes from. The request journal stays on the device.
 */
export async function exportVault(v: VaultData, device: string, recipients: string[]): Promise<Uint8Array> {
  if (recipients.length === 0) throw new CustosError('export vault: no recipient to encrypt to')
  const enc = new Encrypter()
  for (const [i, r] of recipients.entries()) {
    // The message never quotes what was given: an identity passed by
    // mistake is the secret that opens the export.
    if (/^AGE-SECRET-KEY-/i.test(r.trim())) throw new CustosError(`export vault: recipient ${i + 1} is an age identity (a secret key), not a recipient: give its recipient (age1…)`)
    try {
      enc.addRecipient(r)
    } catch (e) {
      throw new CustosError(`export vault: recipient ${i + 1} is not an age recipient: ${(e as Error).message}`)
    }
  }
  // The device key never enters the document: a placeholder, then no field at all.
  const encoded = encodeVault({ ...v, deviceKey: new Uint8Array(0) })
  let plain: Uint8Array | undefined
  try {
    const doc = JSON.parse(new TextDecoder().decode(encoded)) as Record<string, unknown>
    delete doc.device_key
    plain = utf8(JSON.stringify({ format: EXPORT_FORMAT, user: v.user, device, created: new Date().toISOString(), vault: doc }))
    return await enc.encrypt(plain)
  } finally {
    // Both hold the master secret (strings cannot be wiped: docs/js.md).
    wipe(encoded, plain)
  }
}

/**
 * importVault makes a vault in storage from an export, decrypted with the
 * age identity (AGE-SECRET-KEY-…), under a fresh device key. It checks the
 * export as a vault read checks a vault, and every record and a password
 * change under way against its MAC. It refuses to overwrite a vault. It
 * returns the export's header: its user and the device it came from.
 */
export async function importVault(storage: VaultStorage, bytes: Uint8Array, identity: string): Promise<{ user: string; device: string; created: Date }> {
  if (bytes.length > MAX_EXPORT) throw new ExportFormatError('import vault: the export is too large')
  const dec = new Decrypter()
  try {
    dec.addIdentity(identity)
  } catch {
    throw new CustosError('import vault: the identity is not an age identity')
  }
  let plain: Uint8Array
  try {
    plain = await dec.decrypt(bytes)
  } catch (e) {
    throw new CustosError(`import vault: decrypt the export: ${(e as Error).message}`)
  }
  const key = privateKeyToProtobuf(await generateKeyPair('Ed25519'))
  let data: VaultData | undefined
  let doc: Uint8Array | undefined
  try {
    const { header, vault } = parseExport(plain)
    vault.device_key = toBase64(key)
    doc = utf8(JSON.stringify(vault))
    try {
      data = decodeVault(doc)
    } catch (e) {
      if (e instanceof VaultFormatError) throw new ExportFormatError(`import vault: ${e.message}`)
      throw e
    }
    if (data.user !== header.user) throw new ExportFormatError('import vault: the export names another user than its vault')
    for (const u of data.units) checkUnit(data.masterSecret, u)
    if (data.passwordChange != null) checkPasswdMac(data.masterSecret, data.passwordChange)
    await VaultHandle.create(storage, data)
    return header
  } finally {
    wipe(plain, doc, key, data?.masterSecret)
  }
}

/** parseExport reads the export's JSON: exactly its header's fields and the vault (checked by the caller). */
function parseExport(plain: Uint8Array): { header: { user: string; device: string; created: Date }; vault: Record<string, unknown> } {
  if (startsWith(plain, GO_EXPORT_FORMAT)) throw new ExportFormatError("import vault: this is a Go client's export (custos vault export): import it with custos vault import; the SDK reads only its own exports")
  let j: unknown
  try {
    j = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plain))
  } catch {
    throw new ExportFormatError('import vault: the export is not JSON')
  }
  const o = j as Record<string, unknown> | null
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ExportFormatError('import vault: the export is not a JSON object')
  if (o.format !== EXPORT_FORMAT) throw new ExportFormatError(`import vault: unknown export format ${JSON.stringify(String(o.format)).slice(0, 60)} (a Go client's export is imported by custos vault import)`)
  const keys = ['format', 'user', 'device', 'created', 'vault']
  if (Object.keys(o).length !== keys.length || !keys.every((k) => k in o)) throw new ExportFormatError(`import vault: the export's fields are not ${keys.join(', ')}`)
  const created = new Date(String(o.created))
  if (typeof o.user !== 'string' || typeof o.device !== 'string' || typeof o.created !== 'string' || Number.isNaN(created.getTime())) throw new ExportFormatError('import vault: the export header breaks its format')
  try {
    peerIdFromString(o.device)
  } catch {
    throw new ExportFormatError("import vault: the export's device is not a peer ID")
  }
  const vault = o.vault as Record<string, unknown> | null
  if (typeof vault !== 'object' || vault === null || Array.isArray(vault) || 'device_key' in vault) throw new ExportFormatError('import vault: the export holds no vault, or one with a device key')
  return { header: { user: o.user, device: o.device, created }, vault }
}

function startsWith(b: Uint8Array, prefix: Uint8Array): boolean {
  return b.length >= prefix.length && prefix.every((x, i) => b[i] === x)
}
