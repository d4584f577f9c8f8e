// The wire layer: framing, checkpoints (api/testdata/checkpoint_vectors.json)
// and the Merkle proof checks against RFC 6962's recursive definitions.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { sha256 } from '@noble/hashes/sha2.js'
import { concat, fromBase64, fromHex, toBase64, utf8 } from '../src/bytes.js'
import { FrameReader, FrameTooLargeError, ShortStreamError, frame, varint } from '../src/api/frame.js'
import { CheckpointError, openCheckpoint } from '../src/api/checkpoint.js'
import { platformSigner, verifyEd25519 } from '../src/ed25519.js'
import { hmacSha256, nodeCrypto, sha256 as platformSha256 } from '../src/platform.js'
import { hmac } from '@noble/hashes/hmac.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { leafHash, verifyConsistency, verifyInclusion } from '../src/api/tlog.js'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { Host, skipKnownProtocolMerges } from '../src/host.js'
import { createLibp2p } from 'libp2p'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { nodeTransports } from '../src/node/index.js'

const vectors = JSON.parse(readFileSync(new URL('../../../../api/testdata/checkpoint_vectors.json', import.meta.url), 'utf8'))

async function* chunks(...cs: Uint8Array[]) {
  for (const c of cs) yield c
}

test('frames round-trip, split across chunks however they arrive', async () => {
  const a = utf8('hello')
  const b = new Uint8Array(300).fill(7)
  const wire = concat(frame(a, 1024), frame(b, 1024))
  for (const cut of [1, 2, 6, 8, wire.length - 1]) {
    const r = new FrameReader(chunks(wire.subarray(0, cut), wire.subarray(cut)))
    assert.deepEqual(await r.read(1024), a)
    assert.deepEqual(await r.read(1024), b)
    assert.ok(await r.atEnd())
  }
})

test('a length over the cap is refused before any body is read', async () => {
  const r = new FrameReader(chunks(varint(1 << 20)))
  await assert.rejects(r.read(4096), FrameTooLargeError)
  assert.throws(() => frame(new Uint8Array(10), 9), FrameTooLargeError)
})

test('a stream that ends early is a short stream, and a non-minimal length is refused', async () => {
  await assert.rejects(new FrameReader(chunks(varint(10), new Uint8Array(3))).read(100), ShortStreamError)
  await assert.rejects(new FrameReader(chunks()).read(100), ShortStreamError)
  await assert.rejects(new FrameReader(chunks(Uint8Array.of(0x81, 0x00))).read(100), /minimally/)
})

test('every checkpoint vector opens with its key and origin, and with no other', async () => {
  for (const v of vectors.checkpoints) {
    const signed = utf8(v.signed)
    const cp = await openCheckpoint(signed, v.origin, fromHex(v.public_key))
    assert.equal(cp.size, BigInt(v.size))
    assert.deepEqual(cp.root, fromBase64(v.root))
    const other = fromHex(v.public_key)
    other[0]! ^= 1
    await assert.rejects(openCheckpoint(signed, v.origin, other), CheckpointError)
    await assert.rejects(openCheckpoint(signed, v.origin + 'x', fromHex(v.public_key)), CheckpointError)
    const altered = utf8(v.signed.replace(/^(custos\/[^\n]*\n)(\d+)/, (_: string, o: string, n: string) => o + (BigInt(n) + 1n).toString()))
    await assert.rejects(openCheckpoint(altered, v.origin, fromHex(v.public_key)), CheckpointError)
  }
})

// RFC 6962 §2.1: the tree hash, and the audit and consistency paths, by their recursive definitions.
const k = (n: number) => 2 ** Math.ceil(Math.log2(n) - 1)
const mth = (d: Uint8Array[]): Uint8Array =>
  d.length === 0 ? sha256(new Uint8Array(0)) : d.length === 1 ? leafHash(d[0]!) : sha256(concat(Uint8Array.of(1), mth(d.slice(0, k(d.length))), mth(d.slice(k(d.length)))))
const path = (m: number, d: Uint8Array[]): Uint8Array[] => {
  if (d.length <= 1) return []
  const s = k(d.length)
  return m < s ? [...path(m, d.slice(0, s)), mth(d.slice(s))] : [...path(m - s, d.slice(s)), mth(d.slice(0, s))]
}
const subproof = (m: number, d: Uint8Array[], whole: boolean): Uint8Array[] => {
  if (m === d.length) return whole ? [] : [mth(d)]
  const s = k(d.length)
  return m <= s ? [...subproof(m, d.slice(0, s), whole), mth(d.slice(s))] : [...subproof(m - s, d.slice(s), false), mth(d.slice(0, s))]
}

test("the platform's Ed25519 check agrees with @noble/curves' on good, altered and malformed signatures", async () => {
  const priv = ed25519.utils.randomSecretKey()
  const pub = ed25519.getPublicKey(priv)
  const msg = utf8('custos/acme\n7\nroot\n')
  const sig = ed25519.sign(msg, priv)
  const cases: [Uint8Array, Uint8Array, Uint8Array][] = [[pub, sig, msg]]
  for (const i of [0, 31, 32, 63]) {
    const bad = sig.slice()
    bad[i]! ^= 1
    cases.push([pub, bad, msg])
  }
  const otherPub = pub.slice()
  otherPub[0]! ^= 1
  cases.push([otherPub, sig, msg], [pub, sig, utf8('custos/acme\n8\nroot\n')], [pub, sig.subarray(0, 63), msg], [pub.subarray(1), sig, msg])
  for (const [p, s, m] of cases) {
    let want = false
    try {
      want = ed25519.verify(s, m, p)
    } catch {}
    assert.equal(await verifyEd25519(p, s, m), want)
  }
  assert.equal(await verifyEd25519(pub, sig, msg), true)
})

test("the platform's Ed25519 signer signs what @noble/curves signs", async () => {
  assert.ok(nodeCrypto !== undefined, "Node.js's crypto module is found")
  for (let i = 0; i < 8; i++) {
    const priv = ed25519.utils.randomSecretKey()
    const msg = crypto.getRandomValues(new Uint8Array(i * 37))
    const signer = await platformSigner(priv)
    assert.ok(signer !== undefined)
    assert.deepEqual(await signer(msg), ed25519.sign(msg, priv))
  }
})

test("the platform's SHA-256 and HMAC compute what @noble/hashes computes", () => {
  assert.ok(nodeCrypto !== undefined, "Node.js's crypto module is found")
  for (const n of [0, 1, 31, 32, 55, 56, 64, 65, 200]) {
    const a = crypto.getRandomValues(new Uint8Array(n))
    const b = crypto.getRandomValues(new Uint8Array(n + 3))
    assert.deepEqual(platformSha256(a), sha256(a))
    assert.deepEqual(hmacSha256(a, b), hmac(sha256, a, b))
  }
})

test('inclusion and consistency proofs verify for every index and size up to 17, and fail when altered', () => {
  const entries = Array.from({ length: 17 }, (_, i) => utf8(`entry ${i}`))
  for (let n = 1; n <= entries.length; n++) {
    const d = entries.slice(0, n)
    const root = mth(d)
    for (let i = 0; i < n; i++) {
      const p = path(i, d)
      assert.ok(verifyInclusion(p, BigInt(n), root, BigInt(i), d[i]!), `inclusion ${i} in ${n}`)
      assert.ok(!verifyInclusion(p, BigInt(n), root, BigInt(i), utf8('other')))
      if (p.length > 0) {
        const bad = p.map((h) => h.slice())
        bad[0]![0]! ^= 1
        assert.ok(!verifyInclusion(bad, BigInt(n), root, BigInt(i), d[i]!))
      }
    }
    for (let m = 1; m <= n; m++) {
      const p = m === n ? [] : subproof(m, d, true)
      assert.ok(verifyConsistency(p, BigInt(m), mth(d.slice(0, m)), BigInt(n), root), `consistency ${m} to ${n}`)
      if (m < n) {
        assert.ok(!verifyConsistency(p, BigInt(m), mth(entries.slice(1, m + 1)), BigInt(n), root), 'another old tree')
      }
    }
  }
})

test('base64 is standard with padding both ways, and only its canonical form is read', () => {
  for (let n = 0; n < 70; n++) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255)
    const s = Buffer.from(b).toString('base64')
    assert.equal(toBase64(b), s)
    assert.deepEqual(fromBase64(s), b)
  }
  const big = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7) & 255)
  assert.deepEqual(fromBase64(toBase64(big)), big)
  for (const bad of ['QR==', 'QUF=', 'QUE', 'QU E=', 'QUE=\n', 'QUE-', '=QUE', 'Q===']) assert.throws(() => fromBase64(bad), /base64/, bad)
})

test("the host signs with the device key what libp2p's key and @noble/curves sign (the same deterministic Ed25519 signature)", async () => {
  const key = await generateKeyPair('Ed25519')
  const host = await Host.start(privateKeyToProtobuf(key), nodeTransports())
  try {
    for (const msg of [new Uint8Array(0), utf8('custos release transcript'), new Uint8Array(5000).fill(7)]) {
      const sig = await host.sign(msg)
      assert.deepEqual(sig, new Uint8Array(await key.sign(msg)))
      assert.deepEqual(sig, ed25519.sign(msg, key.raw.subarray(0, 32)))
    }
  } finally {
    await host.stop()
  }
})

test('a merge into the peer store of protocols merged for the peer before is skipped; any other merge is made', async () => {
  const p2p = await createLibp2p({ addresses: { listen: [] } })
  try {
    const store = p2p.peerStore
    const made: string[][] = []
    const merge = store.merge.bind(store)
    store.merge = async (id, data, options) => {
      made.push(Object.keys(data))
      return merge(id, data, options)
    }
    skipKnownProtocolMerges(store)
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    await store.merge(peer, { protocols: ['/custos/release/1'] })
    await store.merge(peer, { protocols: ['/custos/release/1'] })
    assert.equal(made.length, 1, 'the same protocol again is skipped')
    assert.deepEqual((await store.get(peer)).protocols, ['/custos/release/1'])
    await store.merge(peer, { protocols: ['/custos/release/1', '/custos/list/1'] })
    await store.merge(other, { protocols: ['/custos/release/1'] })
    await store.merge(peer, { protocols: ['/custos/list/1'], tags: { kept: { value: 1 } } })
    assert.equal(made.length, 4, 'a new protocol, another peer, and a merge of more than protocols are made')
    await store.merge(peer, { protocols: ['/custos/list/1'] })
    assert.equal(made.length, 4)
    assert.deepEqual((await store.get(peer)).protocols.sort(), ['/custos/list/1', '/custos/release/1'])
  } finally {
    await p2p.stop()
  }
})
