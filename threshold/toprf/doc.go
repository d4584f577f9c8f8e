// Package toprf is the threshold oblivious PRF that hardens a custos
// password (login v2): the verifiable OPRF of RFC 9497, ciphersuite
// ristretto255-SHA512, with its key r Shamir-split among the custodians.
// A client blinds its password hash once, each custodian i answers with
// r_i·B and a DLEQ proof against its public share R_i, and the client
// combines k checked answers into the output of the single-key VOPRF under r.
// It does no I/O, keeps no state and never logs. The group, hash-to-group,
// the DLEQ proofs and the Shamir split are github.com/cloudflare/circl's;
// this package adds the threshold: the Lagrange combination (Finalize) and
// the checks around it.
//
// docs/login.md specifies login v2 byte for byte, and
// ../testdata/login-vectors.json holds its known-answer vectors.
//
// # What it guarantees
//
//   - Finalize returns the VOPRF output under the whole key r, the value
//     Key.Output computes, or an error: it combines exactly k evaluations,
//     each checked by its DLEQ proof against the public share of its index
//     (an Evaluation can only be made by Request.Verify), for the request's
//     own blinded element, with distinct indexes in 1..MaxShares.
//   - A node's answer that is not r_i·B for the blinded element and the
//     public share the client kept fails Verify, whatever its bytes.
//   - Every decoder (elements, scalars, proofs) takes exactly the canonical
//     encoding of RFC 9496 and RFC 9497 and refuses the identity element and
//     the zero scalar, so one value has one encoding.
//   - Secret values (Key, KeyShare, Request, Output) print as "[redacted]"
//     under every fmt verb, refuse to be JSON-encoded, and have a Wipe
//     method; an operation on a zero or wiped one fails with ErrNoSecret.
//
// # What it leaves to the caller
//
//   - Keeping the public shares, the threshold and each node's index where
//     custodians cannot change them (the client's local vault): a proof is
//     only as good as the public share it is checked against.
//   - Counting guesses: a node must count an attempt durably before it calls
//     Evaluate, since each evaluation answers one password guess.
//   - Wiping: call Wipe on every secret value when done. Wiping is best
//     effort in Go: the runtime may have copied the bytes, and circl keeps
//     working copies nothing here can reach (the random polynomial inside
//     secretsharing, the DLEQ prover's nonce, scalar inverses).
package toprf
