// Every field of threshold/testdata/vectors.json and login-vectors.json,
// reproduced by the SDK's own code (docs/threshold.md and docs/login.md).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js'
import { combine } from 'shamir-secret-sharing'
import { fromHex, toHex, utf8, concat } from '../src/bytes.js'
import * as keys from '../src/threshold/keys.js'
import * as shares from '../src/threshold/shares.js'
import * as sealing from '../src/threshold/seal.js'
import * as toprf from '../src/threshold/toprf.js'

const testdata = new URL('../../../../threshold/testdata/', import.meta.url)
const v1 = JSON.parse(readFileSync(new URL('vectors.json', testdata), 'utf8'))
const v2 = JSON.parse(readFileSync(new URL('login-vectors.json', testdata), 'utf8'))
const h = fromHex
const hex = toHex

function subsets<T>(xs: T[], k: number): T[][] {
  if (k === 0) return [[]]
  if (xs.length < k) return []
  const [first, ...rest] = xs
  return [...subsets(rest, k - 1).map((s) => [first!, ...s]), ...subsets(rest, k)]
}

test('argon2id vectors give the password key', async () => {
  for (const v of v1.argon2id) {
    const pw = await keys.passwordKey(utf8(v.password), { salt: h(v.salt), time: v.time, memoryKiB: v.memory_kib, threads: v.threads })
    assert.equal(hex(pw.bytes()), v.password_key)
  }
})

test('client and data keys match the vectors', () => {
  assert.deepEqual(Object.keys(v1).sort(), ['about', 'argon2id', 'client_key', 'commitment', 'data_key', 'key_commitment', 'open_failure', 'sealed_record', 'shamir'], 'every kind of vector is checked')
  for (const v of v1.client_key) assert.equal(hex(keys.clientKey(h(v.master_secret), h(v.unit_id))), v.client_key)
  for (const v of v1.data_key) assert.equal(hex(keys.dataKey(h(v.client_key), h(v.server_key), h(v.unit_id), BigInt(v.version))), v.data_key)
})

test('share and key commitments match the vectors', () => {
  for (const v of v1.commitment) {
    const args = [h(v.unit_id), BigInt(v.version), h(v.peer_id), h(v.share)] as const
    assert.equal(hex(shares.shareCommitmentInput(...args)), v.input)
    assert.equal(hex(shares.shareCommitment(...args)), v.commitment)
  }
  for (const v of v1.key_commitment) assert.equal(hex(shares.keyCommitment(h(v.unit_id), BigInt(v.version), h(v.server_key))), v.commitment)
})

test('every threshold-subset of the shamir vector combines to its secret', async () => {
  for (const v of v1.shamir) {
    for (const s of subsets(v.shares as string[], v.threshold)) assert.equal(hex(await combine(s.map(h))), v.secret)
  }
})

test('sealed records match the vectors both ways, and every open_failure fails', () => {
  for (const v of v1.sealed_record) {
    const args = [h(v.data_key), v.user, h(v.unit_id), BigInt(v.version)] as const
    assert.equal(hex(sealing.associatedData(v.user, h(v.unit_id), BigInt(v.version))), v.associated_data)
    assert.equal(hex(sealing.seal(...args, utf8(v.record), h(v.nonce))), v.sealed)
    assert.equal(new TextDecoder().decode(sealing.open(...args, h(v.sealed))), v.record)
  }
  for (const v of v1.open_failure) {
    assert.throws(() => sealing.open(h(v.data_key), v.user, h(v.unit_id), BigInt(v.version), h(v.sealed)), sealing.OpenError, v.description)
  }
})

test('login v2: the ciphersuite strings and the password hash', async () => {
  assert.equal(v2.suite, 'ristretto255-SHA512')
  assert.equal(v2.mode, 1)
  const ctx = concat(utf8('OPRFV1-'), Uint8Array.of(1), utf8('-ristretto255-SHA512'))
  assert.equal(hex(ctx), v2.context_string)
  assert.equal(hex(concat(utf8('HashToGroup-'), ctx)), v2.hash_to_group_dst)
  assert.equal(hex(concat(utf8('HashToScalar-'), ctx)), v2.hash_to_scalar_dst)
  const pw = await keys.passwordKey(utf8(v2.password), { salt: h(v2.salt), time: v2.time, memoryKiB: v2.memory_kib, threads: v2.threads })
  assert.equal(hex(pw.bytes()), v2.pwh)
})

test('login v2: the dealing, each evaluation and proof, every combination and the output', () => {
  assert.deepEqual(Object.keys(v2).sort(), ['about', 'auth_secret_v2', 'blind', 'blinded_element', 'coefficients', 'combinations', 'context_string', 'hash_to_group_dst', 'hash_to_scalar_dst', 'master_secret', 'memory_kib', 'mode', 'nodes', 'oprf_key', 'output', 'password', 'pwh', 'salt', 'suite', 'threads', 'threshold', 'time', 'unblinded_element'], 'every field is checked')
  assert.equal(v2.coefficients.length, v2.threshold - 1)
  assert.ok(v2.combinations.every((c: { indexes: number[] }) => c.indexes.length === v2.threshold))
  const dealt = toprf.shareKey(h(v2.oprf_key), v2.coefficients.map(h), v2.nodes.length)
  const req = new toprf.LoginRequest(h(v2.pwh), toprf.fixedScalarRng(h(v2.blind)))
  assert.equal(hex(req.blinded), v2.blinded_element)
  const dst = h(v2.hash_to_group_dst)
  const expectB = ristretto255_hasher.hashToCurve(h(v2.pwh), { DST: dst }).multiply(toprf.decodeScalar(h(v2.blind)))
  assert.equal(hex(expectB.toBytes()), v2.blinded_element)
  const m = h(v2.master_secret)
  assert.equal(hex(keys.authSecretV2(m)), v2.auth_secret_v2)
  for (const [j, n] of v2.nodes.entries()) {
    const d = dealt[j]!
    assert.equal(d.index, n.index)
    assert.equal(hex(d.keyShare), n.key_share)
    assert.equal(hex(d.publicShare), n.public_share)
    assert.equal(hex(toprf.publicShare(h(n.key_share))), n.public_share)
    const ev = toprf.evaluate(h(n.key_share), h(n.public_share), req.blinded, toprf.fixedScalarRng(h(n.proof_randomness)))
    assert.equal(hex(ev.evaluated), n.evaluated_element)
    assert.equal(hex(ev.proof), n.proof)
    assert.ok(req.verify(h(n.public_share), h(n.evaluated_element), h(n.proof)))
    const fresh = toprf.evaluate(h(n.key_share), h(n.public_share), req.blinded)
    assert.notEqual(hex(fresh.proof), n.proof)
    assert.ok(req.verify(h(n.public_share), fresh.evaluated, fresh.proof), 'a proof made with fresh randomness verifies')
    const seed = keys.loginSeedV2(h(v2.output), m, h(n.peer_id))
    assert.equal(hex(seed), n.login_seed)
    assert.equal(hex(keys.loginKeyV2(h(v2.output), m, h(n.peer_id)).publicKey), n.login_public_key)
  }
  const blindInv = ristretto255.Point.Fn.inv(toprf.decodeScalar(h(v2.blind)))
  for (const c of v2.combinations) {
    const lambdas = toprf.lagrange(c.indexes)
    assert.deepEqual(lambdas.map((l) => hex(toprf.encodeScalar(l))), c.lagrange_coefficients)
    let z: toprf.Element = ristretto255.Point.ZERO
    c.indexes.forEach((i: number, j: number) => {
      z = z.add(toprf.decodeElement(h(v2.nodes[i - 1].evaluated_element)).multiply(lambdas[j]!))
    })
    assert.equal(hex(z.toBytes()), c.combined_element)
    assert.equal(hex(z.multiply(blindInv).toBytes()), v2.unblinded_element)
    const answers = c.indexes.map((i: number) => ({ index: i, evaluated: h(v2.nodes[i - 1].evaluated_element) }))
    assert.equal(hex(req.finalize(answers).bytes()), v2.output)
  }
  assert.equal(hex(toprf.fullEvaluate(h(v2.oprf_key), h(v2.pwh))), v2.output)
})

test('login v2: a proof against another public share, or altered, is refused', () => {
  const req = new toprf.LoginRequest(h(v2.pwh), toprf.fixedScalarRng(h(v2.blind)))
  const [a, b] = v2.nodes
  assert.equal(req.verify(h(b.public_share), h(a.evaluated_element), h(a.proof)), false)
  const proof = h(a.proof)
  proof[0]! ^= 1
  assert.equal(req.verify(h(a.public_share), h(a.evaluated_element), proof), false)
  assert.equal(req.verify(h(a.public_share), new Uint8Array(32), h(a.proof)), false, 'the identity is refused')
  assert.equal(req.verify(h(a.public_share), h(a.evaluated_element), h(a.proof).subarray(0, 63)), false)
})

test('a fresh login dealing logs in through any k verified answers', () => {
  const pwh = h(v2.pwh)
  const d = toprf.dealLogin(pwh, 3, 5)
  const req = new toprf.LoginRequest(pwh)
  const answers = d.shares.map((s) => ({ index: s.index, ...toprf.evaluate(s.keyShare, s.publicShare, req.blinded) }))
  for (const [j, a] of answers.entries()) assert.ok(req.verify(d.shares[j]!.publicShare, a.evaluated, a.proof))
  for (const s of subsets(answers, 3)) assert.equal(hex(req.finalize(s).bytes()), hex(d.rwd.bytes()))
  assert.notEqual(hex(req.finalize(answers.slice(0, 2)).bytes()), hex(d.rwd.bytes()), 'fewer than k answers give another value')
})

test('combine names bad and missing custodians and refuses fewer than k good shares', async () => {
  const s = h(v1.key_commitment[0].server_key)
  const unit = h(v1.key_commitment[0].unit_id)
  const peers = [1, 2, 3, 4, 5].map((i) => Uint8Array.of(0, 36, i))
  const d = await shares.deal(s, unit, 1n, 3, peers)
  const slots = (pick: (i: number) => Uint8Array | undefined) =>
    peers.map((p, i) => ({ node: `n${i + 1}`, peerId: p, commitment: d.commitments[i]!, share: pick(i) }))
  const bad = d.shares[0]!.slice()
  bad[0]! ^= 1
  const got = await shares.combineShares(3, unit, 1n, d.keyCommit, slots((i) => (i === 0 ? bad : i === 4 ? undefined : d.shares[i])))
  assert.equal(hex(got.key), hex(s))
  assert.deepEqual(got.blame, { bad: ['n1'], missing: ['n5'] })
  await assert.rejects(
    shares.combineShares(3, unit, 1n, d.keyCommit, slots((i) => (i < 2 ? d.shares[i] : i === 2 ? bad : undefined))),
    (e: unknown) => e instanceof shares.NotEnoughSharesError && e.have === 2 && e.blame.bad[0] === 'n3',
  )
  await assert.rejects(shares.combineShares(2, unit, 1n, d.keyCommit, slots((i) => d.shares[i])), shares.KeyMismatchError)
})
