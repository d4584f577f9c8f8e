// The keys of docs/threshold.md and docs/login.md: the password key
// (Argon2id), the client and data keys of a record, the login keys and the
// vault's unit MAC key. Every HKDF output is 32 bytes.
import { argon2id } from 'hash-wasm'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { concat, u64, utf8, wipe } from '../bytes.js'
import { Secret } from '../secret.js'

export const KEY_SIZE = 32
export const UNIT_ID_SIZE = 16
export const SALT_SIZE = 16
export const RWD_SIZE = 64
const MAX_PASSWORD_BYTES = 4096
const MIN_MEMORY_KIB = 64 * 1024
const MAX_MEMORY_KIB = 4 << 20
const MAX_TIME = 64

/** The salt and Argon2id parameters of the password key, kept in the vault. */
export interface PasswordKDF {
  salt: Uint8Array
  time: number
  memoryKiB: number
  threads: number
}

/** newPasswordKDF makes a fresh salt with RFC 9106's second recommended parameters. */
export function newPasswordKDF(salt: Uint8Array): PasswordKDF {
  return { salt, time: 3, memoryKiB: 64 * 1024, threads: 4 }
}

/**
 * checkPasswordKDF refuses parameters a doctored vault could use to weaken
 * the hash (below 64 MiB, t < 1) or to hang the device (over 4 GiB, t > 64).
 */
export function checkPasswordKDF(p: PasswordKDF): void {
  const int = (n: number) => Number.isSafeInteger(n)
  if (p.salt.length !== SALT_SIZE) throw new Error(`the password salt is ${p.salt.length} bytes, not ${SALT_SIZE}`)
  if (!int(p.time) || p.time < 1 || p.time > MAX_TIME) throw new Error(`Argon2id time ${p.time}: it must be from 1 to ${MAX_TIME}`)
  if (!int(p.memoryKiB) || p.memoryKiB < MIN_MEMORY_KIB || p.memoryKiB > MAX_MEMORY_KIB) {
    throw new Error(`Argon2id memory ${p.memoryKiB} KiB: it must be from ${MIN_MEMORY_KIB} to ${MAX_MEMORY_KIB}`)
  }
  if (!int(p.threads) || p.threads < 1 || p.threads > 255) throw new Error(`Argon2id threads ${p.threads}: it must be from 1 to 255`)
}

/**
 * passwordKey is pw = Argon2id(password, salt, t, m, p), 32 bytes, in
 * WebAssembly (hash-wasm), so it runs alike in Node.js and browsers.
 */
export async function passwordKey(password: Uint8Array, p: PasswordKDF): Promise<Secret> {
  checkPasswordKDF(p)
  if (password.length === 0) throw new Error('the password is empty')
  if (password.length > MAX_PASSWORD_BYTES) throw new Error(`the password is over ${MAX_PASSWORD_BYTES} bytes`)
  const out = await argon2id({
    password,
    salt: p.salt,
    iterations: p.time,
    memorySize: p.memoryKiB,
    parallelism: p.threads,
    hashLength: KEY_SIZE,
    outputType: 'binary',
  })
  return new Secret('password key', out)
}

/** derive is HKDF-SHA256(ikm, salt, info) to 32 bytes; an empty salt is "salt = none". */
export function derive(ikm: Uint8Array, salt: Uint8Array, info: string): Uint8Array {
  return hkdf(sha256, ikm, salt, utf8(info), KEY_SIZE)
}

const none = new Uint8Array(0)

/** clientKey is C = HKDF(M, salt = unit_id, info = "custos/v1/client-key"). */
export function clientKey(m: Uint8Array, unitId: Uint8Array): Uint8Array {
  return derive(m, unitId, 'custos/v1/client-key')
}

/** dataKey is K = HKDF(C ‖ S, salt = unit_id ‖ u64(version), info = "custos/v1/data-key"). */
export function dataKey(c: Uint8Array, s: Uint8Array, unitId: Uint8Array, version: bigint): Uint8Array {
  const ikm = concat(c, s)
  try {
    return derive(ikm, concat(unitId, u64(version)), 'custos/v1/data-key')
  } finally {
    wipe(ikm)
  }
}

/** recordKey derives K from the master secret and the server key, wiping C on the way. */
export function recordKey(m: Uint8Array, s: Uint8Array, unitId: Uint8Array, version: bigint): Uint8Array {
  const c = clientKey(m, unitId)
  try {
    return dataKey(c, s, unitId, version)
  } finally {
    wipe(c)
  }
}

/** authSecretV2 is A2 = HKDF(M, salt = none, info = "custos/v2/auth"). */
export function authSecretV2(m: Uint8Array): Uint8Array {
  return derive(m, none, 'custos/v2/auth')
}

/** vaultUnitKey is V = HKDF(M, salt = none, info = "custos/v1/vault-unit"), the key of the vault's unit MACs. */
export function vaultUnitKey(m: Uint8Array): Uint8Array {
  return derive(m, none, 'custos/v1/vault-unit')
}

/** A login key at one node: an Ed25519 key pair whose seed is secret. */
export class LoginKey {
  readonly publicKey: Uint8Array
  readonly #seed: Secret

  constructor(seed: Uint8Array) {
    this.#seed = new Secret('login key', seed)
    this.publicKey = ed25519.getPublicKey(seed)
  }

  sign(msg: Uint8Array): Uint8Array {
    return ed25519.sign(msg, this.#seed.bytes())
  }

  wipe(): void {
    this.#seed.wipe()
  }

  toString(): string {
    return '[login key]'
  }
}

/**
 * loginSeedV2 is seed_i = HKDF(rwd ‖ A2, salt = peer_id_i, info =
 * "custos/v2/node-auth"); the login key at node i is its Ed25519 key pair.
 */
export function loginSeedV2(rwd: Uint8Array, m: Uint8Array, peerId: Uint8Array): Uint8Array {
  if (rwd.length !== RWD_SIZE) throw new Error(`the OPRF output is ${rwd.length} bytes, not ${RWD_SIZE}`)
  const a2 = authSecretV2(m)
  const ikm = concat(rwd, a2)
  try {
    return derive(ikm, peerId, 'custos/v2/node-auth')
  } finally {
    wipe(a2, ikm)
  }
}

/** loginKeyV2 is the v2 login key at the node with this binary peer ID. */
export function loginKeyV2(rwd: Uint8Array, m: Uint8Array, peerId: Uint8Array): LoginKey {
  return new LoginKey(loginSeedV2(rwd, m, peerId))
}
