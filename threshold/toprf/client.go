package toprf

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/zk/dleq"
)

var errForeignEvaluation = errors.New("toprf: an evaluation was verified for another request")

// Request is one blinded evaluation in flight on the client: the input, the
// blind and the blinded element B that the client sends to every custodian.
// The blind is secret (with it, B gives the input's group element away, and
// an answer gives the output), so Request is a secret type; Wipe it when the
// login is done.
type Request struct {
	redacted
	h hidden[requestState]
}

type requestState struct {
	input   []byte // a copy of the caller's input
	blind   group.Scalar
	blinded [ElementSize]byte
	b       group.Element
}

// Blind starts an evaluation of input (1 to MaxInputSize bytes; login v2
// passes the 32-byte Argon2id password hash): RFC 9497's Blind, B =
// blind·HashToGroup(input) with a fresh random non-zero blind. B is
// uniformly distributed whatever the input, so custodians learn nothing
// from it.
func Blind(input []byte) (*Request, error) {
	return blind(input, g.RandomNonZeroScalar(rand.Reader))
}

// blind is Blind with the blind given, for known-answer tests. The request
// takes the scalar over.
func blind(input []byte, bl group.Scalar) (*Request, error) {
	if err := checkInput(input); err != nil {
		wipeScalar(bl)
		return nil, err
	}
	p := g.HashToElement(input, []byte(hashToGroupDST))
	if p.IsIdentity() {
		// RFC 9497's InvalidInputError: an input that hashes to the
		// identity, which no one can find.
		wipeScalar(bl)
		return nil, ErrInput
	}
	b := g.NewElement().Mul(p, bl)
	return &Request{h: hide(requestState{input: bytes.Clone(input), blind: bl, blinded: encodeElement(b), b: b})}, nil
}

// Blinded returns B, the 32 bytes to send to every custodian. It is not
// secret.
func (r *Request) Blinded() [ElementSize]byte { return r.state().blinded }

// state returns the request's state; a zero Request has an empty one,
// whose blind is unusable.
func (r *Request) state() *requestState {
	if st := r.h.ptr(); st != nil {
		return st
	}
	return new(requestState)
}

// Wipe overwrites the blind and the request's copy of the input.
func (r *Request) Wipe() {
	st := r.state()
	clear(st.input)
	wipeScalar(st.blind)
}

// Verify reports whether evaluated is the blinded element times the key
// share whose public part is pub, as the DLEQ proof of RFC 9497's VOPRF
// claims. It is false for any malformed input, an identity element
// included.
func Verify(pub PublicShare, blinded, evaluated, proof []byte) bool {
	r, err := pub.decode()
	if err != nil {
		return false
	}
	b, err := decodeElement(blinded)
	if err != nil {
		return false
	}
	_, ok := verify(r, b, evaluated, proof)
	return ok
}

// verify checks one node's answer and returns its evaluated element.
func verify(pub, blinded group.Element, evaluated, proof []byte) (group.Element, bool) {
	z, err := decodeElement(evaluated)
	if err != nil {
		return nil, false
	}
	p, err := decodeProof(proof)
	if err != nil {
		return nil, false
	}
	if !(dleq.Verifier{Params: dleqParams}).VerifyBatchRFC9497(pub, []group.Element{blinded}, []group.Element{z}, p) {
		return nil, false
	}
	return z, true
}

// Evaluation is a custodian's answer to a Request whose proof verified.
// Only Request.Verify makes one, so Finalize never combines an unchecked
// answer.
type Evaluation struct {
	req   *Request
	index int
	z     group.Element
}

// Index returns the index of the custodian whose answer this is.
func (e Evaluation) Index() int { return e.index }

// Verify checks custodian pub.Index's answer to this request against the
// public share the client kept for it, and returns it for Finalize. The
// error is ErrProof if what the custodian sent (evaluated or proof) is
// malformed or does not verify: the caller names that custodian and drops
// the answer. Any other error is the caller's: a public share that is
// malformed or out of range. Verify may run in several goroutines at once,
// one per answer as it arrives; Finalize and Wipe may not run alongside it.
func (r *Request) Verify(pub PublicShare, evaluated, proof []byte) (Evaluation, error) {
	R, err := pub.decode()
	if err != nil {
		return Evaluation{}, fmt.Errorf("public share %d: %w", pub.Index, err)
	}
	b := r.state().b
	if b == nil {
		return Evaluation{}, ErrNoSecret
	}
	z, ok := verify(R, b, evaluated, proof)
	if !ok {
		return Evaluation{}, ErrProof
	}
	return Evaluation{req: r, index: pub.Index, z: z}, nil
}

// Finalize combines exactly k verified evaluations of this request, k being
// the threshold the key was split with, into the VOPRF output under the
// whole key: the output Key.Output gives for the same input. It refuses
// other than k evaluations (ErrEvaluationCount), a repeated index
// (ErrIndex) and an evaluation verified for another request. The caller
// wipes the output.
func (r *Request) Finalize(k int, evals []Evaluation) (Output, error) {
	blind, err := usableScalar(r.state().blind)
	if err != nil {
		return Output{}, err
	}
	if k < 1 || k > MaxShares || len(evals) != k {
		return Output{}, fmt.Errorf("finalize %d evaluations with threshold %d: %w", len(evals), k, ErrEvaluationCount)
	}
	seen := make(map[int]bool, k)
	for _, e := range evals {
		if e.req != r {
			return Output{}, errForeignEvaluation
		}
		if seen[e.index] {
			return Output{}, ErrIndex
		}
		seen[e.index] = true
	}
	z := combine(evals)
	defer z.Set(g.Identity())
	return r.finalize(blind, z), nil
}

// combine returns Σ λ_i·Z_i over the k evaluations, λ_i being the Lagrange
// coefficients at 0 of their indexes x_i.
//
// Why the sum is r·B: Split dealt r_i = f(x_i) for a polynomial f of degree
// k−1 with f(0) = r, and any k distinct points determine such a polynomial,
// so r = f(0) = Σ λ_i·r_i with λ_i = Π_{j≠i} x_j/(x_j − x_i). Each Z_i was
// checked by its DLEQ proof against R_i = r_i·G before it became an
// Evaluation, so Z_i = r_i·B (B being the request's own blinded element:
// the proof binds it). Scalar multiplication is linear, hence
// Σ λ_i·Z_i = (Σ λ_i·r_i)·B = r·B: the evaluation the whole key would have
// given, the custodians' shares staying "in the exponent". Fewer than k
// points would interpolate another polynomial (a wrong value, not an
// error), which is why Finalize insists on exactly k; the x_i are distinct
// and below the group order, so no denominator is zero.
func combine(evals []Evaluation) group.Element {
	xs := make([]group.Scalar, len(evals))
	for i, e := range evals {
		xs[i] = g.NewScalar().SetUint64(uint64(e.index))
	}
	sum, term := g.Identity(), g.NewElement()
	for i, e := range evals {
		sum.Add(sum, term.Mul(e.z, lagrangeAtZero(xs, i)))
	}
	return sum
}

// lagrangeAtZero returns λ_i = Π_{j≠i} x_j / (x_j − x_i), the coefficient
// of f(x_i) in f(0) for a polynomial of degree len(xs)−1.
func lagrangeAtZero(xs []group.Scalar, i int) group.Scalar {
	num, den, d := g.NewScalar().SetUint64(1), g.NewScalar().SetUint64(1), g.NewScalar()
	for j, x := range xs {
		if j == i {
			continue
		}
		num.Mul(num, x)
		den.Mul(den, d.Sub(x, xs[i]))
	}
	return num.Mul(num, den.Inv(den))
}

// finalize is RFC 9497's Finalize once the proofs are checked (section
// 3.3.2 verifies, then does what 3.3.1 does): N = blind⁻¹·Z, and the output
// is SHA-512(len(input) ‖ input ‖ len(N) ‖ N ‖ "Finalize"), lengths as two
// bytes big-endian. circl's clients do this only after checking one
// server's proof of the whole Z, which a threshold evaluation does not
// have, so it is written out here with circl's group; TestRFC9497Vectors
// holds it to the RFC's vectors.
func (r *Request) finalize(blind group.Scalar, z group.Element) Output {
	inv := g.NewScalar().Inv(blind)
	defer wipeScalar(inv)
	n := g.NewElement().Mul(z, inv)
	defer n.Set(g.Identity())
	enc := encodeElement(n)
	defer clear(enc[:])

	input := r.state().input
	h := sha512.New()
	h.Write(binary.BigEndian.AppendUint16(nil, uint16(len(input))))
	h.Write(input)
	h.Write(binary.BigEndian.AppendUint16(nil, ElementSize))
	h.Write(enc[:])
	h.Write([]byte(finalizeLabel))
	out := h.Sum(nil)
	defer clear(out)
	return newOutput(out)
}
