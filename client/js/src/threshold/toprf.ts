// The threshold OPRF of login v2 (docs/login.md): RFC 9497's VOPRF,
// ciphersuite ristretto255-SHA512, with the key r Shamir-split over the
// group's scalars among the custodians. Group, hash-to-group, the DLEQ
// proofs and Finalize are @noble/curves' RFC 9497 code; what is custos's is
// the dealing, the Lagrange combination of k verified answers, and the strict
// decoding of everything a peer sends.
import { ristretto255, ristretto255_oprf } from '@noble/curves/ed25519.js'
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js'
import { wipe } from '../bytes.js'
import { Secret } from '../secret.js'

export const ELEMENT_SIZE = 32
export const SCALAR_SIZE = 32
export const PROOF_SIZE = 64
export const MAX_INPUT = 65535

const Point = ristretto255.Point
/** Element is a ristretto255 group element. */
export interface Element {
  add(o: Element): Element
  multiply(s: bigint): Element
  toBytes(): Uint8Array
  is0(): boolean
}
const Fn = Point.Fn
const suite = ristretto255_oprf

/** Rng draws random bytes; only known-answer tests pass one. */
export type Rng = (n?: number) => Uint8Array<ArrayBuffer>

/** decodeElement reads a canonical, non-identity ristretto255 element; it throws otherwise. */
export function decodeElement(b: Uint8Array): Element {
  if (b.length !== ELEMENT_SIZE) throw new Error(`an element is ${ELEMENT_SIZE} bytes`)
  const p = Point.fromBytes(b)
  if (p.is0()) throw new Error('the element is the identity')
  return p
}

/** decodeScalar reads 32 little-endian bytes below the group order; nonZero refuses 0. */
export function decodeScalar(b: Uint8Array, nonZero = false): bigint {
  if (b.length !== SCALAR_SIZE) throw new Error(`a scalar is ${SCALAR_SIZE} bytes`)
  const s = bytesToNumberLE(b)
  if (s >= Fn.ORDER) throw new Error('the scalar is not below the group order')
  if (nonZero && s === 0n) throw new Error('the scalar is zero')
  return s
}

/** encodeScalar writes a scalar as 32 bytes little-endian. */
export function encodeScalar(s: bigint): Uint8Array {
  return numberToBytesLE(Fn.create(s), SCALAR_SIZE)
}

/** publicShare is R_i = r_i·G. */
export function publicShare(keyShare: Uint8Array): Uint8Array {
  return Point.BASE.multiply(decodeScalar(keyShare, true)).toBytes()
}

/** One custodian's part of a dealing of r: index i (1-based), r_i (secret) and R_i. */
export interface OprfShare {
  index: number
  keyShare: Uint8Array
  publicShare: Uint8Array
}

/**
 * shareKey evaluates f(x) = r + a_1·x + … + a_{k−1}·x^{k−1} at x = 1..n: the
 * shares of r. A zero share is an error (the caller deals again).
 */
export function shareKey(r: Uint8Array, coefficients: Uint8Array[], n: number): OprfShare[] {
  if (!Number.isInteger(n) || n < coefficients.length + 1 || n > 255) throw new Error(`cannot deal ${n} shares with threshold ${coefficients.length + 1}`)
  const poly = [decodeScalar(r, true), ...coefficients.map((a) => decodeScalar(a))]
  const out: OprfShare[] = []
  for (let x = 1; x <= n; x++) {
    let y = 0n
    for (let j = poly.length - 1; j >= 0; j--) y = Fn.add(Fn.mul(y, BigInt(x)), poly[j]!)
    if (y === 0n) throw new Error('a key share is zero')
    const keyShare = encodeScalar(y)
    out.push({ index: x, keyShare, publicShare: Point.BASE.multiply(y).toBytes() })
  }
  return out
}

/** fullEvaluate is rwd = VOPRF(r, input) computed with the whole key (enrollment step 4). */
export function fullEvaluate(r: Uint8Array, input: Uint8Array): Uint8Array {
  checkInput(input)
  // One round with ourselves: Finalize(input, b, r·(b·H(input))) is the
  // hash of r·H(input), RFC 9497's Evaluate, by the library's own code.
  const b = suite.voprf.blind(input)
  const z = suite.oprf.blindEvaluate(r, b.blinded)
  try {
    return suite.oprf.finalize(input, b.blind, z)
  } finally {
    wipe(b.blind)
  }
}

/** A fresh dealing: every custodian's share of a new random r, and rwd for pwh. r is wiped. */
export interface LoginDealing {
  shares: OprfShare[]
  rwd: Secret
}

/**
 * dealLogin draws a random non-zero r and k−1 random coefficients, shares r
 * among n custodians, computes rwd = VOPRF(r, pwh), and wipes r and the
 * coefficients. The caller wipes the key shares once sent, and rwd.
 */
export function dealLogin(pwh: Uint8Array, k: number, n: number): LoginDealing {
  if (!Number.isInteger(k) || k < 2 || k > n) throw new Error(`threshold ${k} of ${n}`)
  for (;;) {
    const r = suite.voprf.generateKeyPair().secretKey
    const coefficients = Array.from({ length: k - 1 }, () => suite.voprf.generateKeyPair().secretKey)
    try {
      const shares = shareKey(r, coefficients, n)
      return { shares, rwd: new Secret('randomized password', fullEvaluate(r, pwh)) }
    } catch (e) {
      if (!(e instanceof Error) || e.message !== 'a key share is zero') throw e
    } finally {
      wipe(r, ...coefficients)
    }
  }
}

function checkInput(input: Uint8Array): void {
  if (input.length < 1 || input.length > MAX_INPUT) throw new Error(`an OPRF input is 1 to ${MAX_INPUT} bytes`)
}

/** The client's side of one login: the input, the secret blind and B, sent to every node. */
export class LoginRequest {
  readonly blinded: Uint8Array
  readonly #input: Uint8Array
  readonly #blind: Secret

  /** The request copies input; rng (for known-answer tests only) draws the blind. */
  constructor(input: Uint8Array, rng?: Rng) {
    checkInput(input)
    this.#input = input.slice()
    const b = rng === undefined ? suite.voprf.blind(this.#input) : suite.voprf.blind(this.#input, rng)
    this.#blind = new Secret('OPRF blind', b.blind)
    this.blinded = b.blinded
  }

  /**
   * verify checks node i's answer Z_i against R_i, the public share the
   * client kept (never one the node sends), with the DLEQ proof. Anything
   * malformed is false.
   */
  verify(publicShare: Uint8Array, evaluated: Uint8Array, proof: Uint8Array): boolean {
    try {
      decodeElement(publicShare)
      decodeElement(evaluated)
      if (proof.length !== PROOF_SIZE) return false
      decodeScalar(proof.subarray(0, SCALAR_SIZE))
      decodeScalar(proof.subarray(SCALAR_SIZE))
      const out = suite.voprf.finalize(this.#input, this.#blind.bytes(), evaluated, this.blinded, publicShare, proof)
      wipe(out)
      return true
    } catch {
      return false
    }
  }

  /**
   * finalize combines exactly k verified answers, Z = Σ λ_i·Z_i with the
   * Lagrange coefficients at 0 of their indexes, and returns rwd =
   * Finalize(input, blind⁻¹·Z). Fewer than k answers give a wrong value, not
   * an error: the caller passes k.
   */
  finalize(answers: { index: number; evaluated: Uint8Array }[]): Secret {
    const lambdas = lagrange(answers.map((a) => a.index))
    let z: Element = Point.ZERO
    answers.forEach((a, j) => {
      z = z.add(decodeElement(a.evaluated).multiply(lambdas[j]!))
    })
    return new Secret('randomized password', suite.oprf.finalize(this.#input, this.#blind.bytes(), z.toBytes()))
  }

  wipe(): void {
    this.#blind.wipe()
    wipe(this.#input)
  }
}

/** lagrange returns λ_i = Π_{j≠i} j·(j−i)⁻¹ mod l for distinct indexes in 1..255, in their order. */
export function lagrange(indexes: number[]): bigint[] {
  const seen = new Set<number>()
  for (const i of indexes) {
    if (!Number.isInteger(i) || i < 1 || i > 255 || seen.has(i)) throw new Error('share indexes are distinct, from 1 to 255')
    seen.add(i)
  }
  return indexes.map((i) => {
    let num = 1n
    let den = 1n
    for (const j of indexes) {
      if (j === i) continue
      num = Fn.mul(num, BigInt(j))
      den = Fn.mul(den, Fn.sub(BigInt(j), BigInt(i)))
    }
    return Fn.mul(num, Fn.inv(den))
  })
}

/** evaluate is a node's answer, Z_i = r_i·B with its proof (the tests' stand-in node; rng for known answers). */
export function evaluate(keyShare: Uint8Array, publicShare: Uint8Array, blinded: Uint8Array, rng?: Rng): { evaluated: Uint8Array; proof: Uint8Array } {
  return rng === undefined ? suite.voprf.blindEvaluate(keyShare, publicShare, blinded) : suite.voprf.blindEvaluate(keyShare, publicShare, blinded, rng)
}

/** fixedScalarRng makes noble's scalar sampler return s: it maps 48 bytes b to (b mod (l−1)) + 1. */
export function fixedScalarRng(s: Uint8Array): Rng {
  return (n?: number) => numberToBytesLE(decodeScalar(s, true) - 1n, n ?? 48) as Uint8Array<ArrayBuffer>
}
