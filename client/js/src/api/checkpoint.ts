// A node's signed tree head (api/checkpoint.go): a C2SP tlog-checkpoint,
// "<origin>\n<size>\n<base64 root>\n", in a C2SP signed note signed with the
// node's Ed25519 identity key under the key name equal to the origin,
// "custos/<node name>". A client needs nothing but the node's public key
// (pinned through its peer ID) and its name to open one.
import { verifyEd25519 } from '../ed25519.js'
import { sha256 } from '../platform.js'
import { concat, fromBase64, utf8 } from '../bytes.js'

export const MAX_CHECKPOINT_SIZE = 4 << 10
const MAX_SIGNATURES = 100

/** CheckpointError: no valid signature by the node's key, or a malformed checkpoint. */
export class CheckpointError extends Error {
  override name = 'CheckpointError'
}

/** A verified tree head: the RFC 6962 root of the log's first size entries. */
export interface Checkpoint {
  origin: string
  size: bigint
  root: Uint8Array
}

/** logOrigin is the checkpoint origin of the node's log: "custos/<name>". */
export function logOrigin(nodeName: string): string {
  return 'custos/' + nodeName
}

function validKeyName(name: string): boolean {
  return name !== '' && !/[\s+]/u.test(name)
}

/** keyId is the signed-note key ID of an Ed25519 key: SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[:4]. */
function keyId(name: string, pub: Uint8Array): number {
  const h = sha256(concat(utf8(name), Uint8Array.of(0x0a, 0x01), pub))
  return new DataView(h.buffer, h.byteOffset).getUint32(0)
}

/**
 * openCheckpoint verifies signed, a signed note, with the Ed25519 key pub
 * under the key name origin, and parses its text strictly as a
 * tlog-checkpoint of that origin. Signatures by other keys (witness
 * cosignatures) are ignored; a signature by this key that does not verify
 * fails the whole note, as Go's note.Open does.
 */
export async function openCheckpoint(signed: Uint8Array, origin: string, pub: Uint8Array): Promise<Checkpoint> {
  if (signed.length > MAX_CHECKPOINT_SIZE) throw new CheckpointError('the checkpoint is too large')
  let msg: string
  try {
    msg = new TextDecoder('utf-8', { fatal: true }).decode(signed)
  } catch {
    throw new CheckpointError('the checkpoint is not UTF-8')
  }
  if (/[\x00-\x09\x0b-\x1f]/.test(msg)) throw new CheckpointError('the checkpoint holds a control character')
  const split = msg.lastIndexOf('\n\n')
  if (split < 0) throw new CheckpointError('the checkpoint has no signature block')
  const text = msg.slice(0, split + 1)
  let sigs = msg.slice(split + 2)
  if (sigs === '' || !sigs.endsWith('\n')) throw new CheckpointError('the checkpoint has no signature block')
  const want = keyId(origin, pub)
  let verified = false
  let count = 0
  while (sigs !== '') {
    const nl = sigs.indexOf('\n')
    const line = sigs.slice(0, nl)
    sigs = sigs.slice(nl + 1)
    if (!line.startsWith('\u2014 ')) throw new CheckpointError('a signature line is malformed')
    const rest = line.slice(2)
    const sp = rest.indexOf(' ')
    const name = sp < 0 ? rest : rest.slice(0, sp)
    const b64 = sp < 0 ? '' : rest.slice(sp + 1)
    let sig: Uint8Array
    try {
      sig = fromBase64(b64)
    } catch {
      throw new CheckpointError('a signature line is malformed')
    }
    if (!validKeyName(name) || sig.length < 5) throw new CheckpointError('a signature line is malformed')
    if (++count > MAX_SIGNATURES) throw new CheckpointError('the checkpoint has too many signatures')
    const id = new DataView(sig.buffer, sig.byteOffset).getUint32(0)
    if (name !== origin || id !== want) continue
    if (sig.length !== 4 + 64 || !(await verifyEd25519(pub, sig.subarray(4), utf8(text)))) throw new CheckpointError("the checkpoint's signature by the node does not verify")
    verified = true
  }
  if (!verified) throw new CheckpointError('the checkpoint is not signed by the node')
  return parseCheckpointText(text, origin)
}

function parseCheckpointText(text: string, origin: string): Checkpoint {
  const lines = text.slice(0, -1).split('\n')
  if (lines.length < 3) throw new CheckpointError('the checkpoint has fewer than three lines')
  if (lines.slice(3).some((l) => l === '')) throw new CheckpointError('the checkpoint has an empty extension line')
  if (lines[0] !== origin) throw new CheckpointError('the checkpoint is of another origin')
  const sizeText = lines[1]!
  if (!/^(0|[1-9][0-9]{0,18})$/.test(sizeText) || BigInt(sizeText) >= 1n << 63n) throw new CheckpointError('the tree size is not a canonical decimal')
  let root: Uint8Array
  try {
    root = fromBase64(lines[2]!)
  } catch {
    throw new CheckpointError('the root hash is not canonical base64')
  }
  if (root.length !== 32) throw new CheckpointError('the root hash is not 32 bytes')
  return { origin, size: BigInt(sizeText), root }
}
