package toprf

import (
	"crypto/rand"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"
	"github.com/cloudflare/circl/secretsharing"
	"github.com/cloudflare/circl/zk/dleq"

	"github.com/custos-network/custos/threshold"
)

// Key is the whole OPRF key r. It exists only on the client during
// enrollment or a password change: the client computes the output it will
// log in with, splits r among the custodians and wipes it.
type Key struct {
	redacted
	s hidden[group.Scalar]
}

// NewKey returns a fresh random, non-zero key.
func NewKey() (Key, error) {
	// circl draws ristretto255 scalars from crypto/rand itself.
	return Key{s: hide(g.RandomNonZeroScalar(rand.Reader))}, nil
}

// Wipe overwrites the key with zero, in every copy of the value.
func (k Key) Wipe() { wipeScalar(scalar(k.s)) }

// Output returns the VOPRF output for input under the whole key: what a
// client computes at enrollment to derive the login keys, and what Finalize
// gives back at login from k custodians. It is circl's
// VerifiableServer.FullEvaluate. The caller wipes the output.
func (k Key) Output(input []byte) (Output, error) {
	s, err := usableScalar(scalar(k.s))
	if err != nil {
		return Output{}, err
	}
	if err := checkInput(input); err != nil {
		return Output{}, err
	}
	b := encodeScalar(s)
	defer clear(b)
	priv := new(oprf.PrivateKey)
	if err := priv.UnmarshalBinary(oprf.SuiteRistretto255, b); err != nil {
		panic("toprf: internal error: a usable key does not decode: " + err.Error())
	}
	out, err := oprf.NewVerifiableServer(oprf.SuiteRistretto255, priv).FullEvaluate(input)
	if err != nil || len(out) != OutputSize {
		panic("toprf: internal error: full evaluation failed")
	}
	defer clear(out)
	return newOutput(out), nil
}

func checkInput(input []byte) error {
	if len(input) == 0 || len(input) > MaxInputSize {
		return ErrInput
	}
	return nil
}

// Split deals the key among n custodians, any t of whom can evaluate with
// it, with 2 ≤ t ≤ n ≤ MaxShares: Shamir's scheme over
// the scalars of ristretto255 (circl's secretsharing), a random polynomial f
// of degree t−1 with f(0) = r, and share i = f(i) for i = 1..n. The
// key share and public share at position j of the slices have index j+1 and
// belong to the custodian at that 1-based position in the network file. The
// caller keeps every public share, sends each custodian its key share and
// public share, and wipes the key shares and the key.
func (k Key) Split(t, n int) ([]KeyShare, []PublicShare, error) {
	if err := threshold.CheckThreshold(t, n); err != nil {
		return nil, nil, err
	}
	r, err := usableScalar(scalar(k.s))
	if err != nil {
		return nil, nil, err
	}
	for {
		ss := secretsharing.New(rand.Reader, uint(t-1), r)
		shares := ss.Share(uint(n))
		if keys, pubs, ok := keySharesOf(shares); ok {
			return keys, pubs, nil
		}
		// A share of zero has probability about n/2^252: deal again
		// rather than hand a custodian a share whose public part is the
		// identity, which Verify refuses.
	}
}

// keySharesOf turns circl's shares, whose IDs are 1..n in order, into key
// and public shares; ok is false if a share is zero.
func keySharesOf(shares []secretsharing.Share) ([]KeyShare, []PublicShare, bool) {
	keys := make([]KeyShare, len(shares))
	pubs := make([]PublicShare, len(shares))
	zero := false
	for i, sh := range shares {
		if sh.Value.IsZero() {
			zero = true
		}
		keys[i] = newKeyShare(i+1, sh.Value)
		pubs[i] = keys[i].Public()
	}
	if zero {
		for _, ks := range keys {
			ks.Wipe()
		}
		return nil, nil, false
	}
	return keys, pubs, true
}

// KeyShare is one custodian's share r_i = f(i) of the OPRF key. Fewer than
// the threshold of shares say nothing about r, but a share still evaluates
// guesses, so it is a secret: a node seals it at rest like a record share.
type KeyShare struct {
	redacted
	Index int // i, the custodian's 1-based position in the network file
	s     hidden[group.Scalar]
	pub   group.Element // r_i·G, kept so Evaluate does not recompute it
}

func newKeyShare(index int, s group.Scalar) KeyShare {
	return KeyShare{Index: index, s: hide(s), pub: g.NewElement().MulGen(s)}
}

// KeyShareFromBytes reads a stored key share: its index and the 32-byte
// canonical encoding of r_i, which must not be zero. The caller still owns,
// and should wipe, b.
func KeyShareFromBytes(index int, b []byte) (KeyShare, error) {
	if err := checkIndex(index); err != nil {
		return KeyShare{}, err
	}
	s, err := decodeScalar(b)
	if err != nil {
		return KeyShare{}, err
	}
	return newKeyShare(index, s), nil
}

// Bytes returns a new copy of the encoding of r_i (the index is not in it),
// for storage under the node's sealing key; the caller wipes it. It returns
// nil for a zero or wiped share.
func (s KeyShare) Bytes() []byte {
	r, err := usableScalar(scalar(s.s))
	if err != nil {
		return nil
	}
	return encodeScalar(r)
}

// Public returns the share's public part R_i = r_i·G, which a client keeps
// to check the custodian's proofs and a node can compare with the one it
// was sent. It is the zero PublicShare for a zero or wiped share.
func (s KeyShare) Public() PublicShare {
	if _, err := usableScalar(scalar(s.s)); err != nil {
		return PublicShare{}
	}
	return PublicShare{Index: s.Index, Element: encodeElement(s.pub)}
}

// Wipe overwrites r_i with zero, in every copy of the value.
func (s KeyShare) Wipe() { wipeScalar(scalar(s.s)) }

// Evaluate answers a blinded element B from a client: Z = r_i·B, with a
// DLEQ proof (RFC 9497, fresh randomness) that log_B Z = log_G R_i, so the
// client can check the answer against the public share it kept. Every call
// answers one password guess: the node counts the attempt durably first.
// It fails with ErrElement for a blinded element that is malformed or the
// identity.
func (s KeyShare) Evaluate(blinded []byte) (evaluated [ElementSize]byte, proof [ProofSize]byte, err error) {
	return s.evaluate(blinded, g.RandomNonZeroScalar(rand.Reader))
}

// evaluate is Evaluate with the proof's randomness given, for known-answer
// tests; it wipes rnd.
func (s KeyShare) evaluate(blinded []byte, rnd group.Scalar) (evaluated [ElementSize]byte, proof [ProofSize]byte, err error) {
	defer wipeScalar(rnd)
	r, err := usableScalar(scalar(s.s))
	if err != nil {
		return evaluated, proof, err
	}
	b, err := decodeElement(blinded)
	if err != nil {
		return evaluated, proof, err
	}
	z := g.NewElement().Mul(b, r)
	p, err := dleq.Prover{Params: dleqParams}.ProveBatchWithRandomnessRFC9497(r, s.pub, []group.Element{b}, []group.Element{z}, rnd)
	if err != nil {
		panic("toprf: internal error: prove: " + err.Error())
	}
	return encodeElement(z), encodeProof(p), nil
}

// PublicShare is R_i = r_i·G, the public part of custodian i's key share.
// It is not secret: the client keeps every one in its vault, and checks
// custodian i's answers against its own copy.
type PublicShare struct {
	Index   int
	Element [ElementSize]byte
}

// ParsePublicShare checks and copies a public share read from a vault or a
// peer.
func ParsePublicShare(index int, b []byte) (PublicShare, error) {
	if err := checkIndex(index); err != nil {
		return PublicShare{}, err
	}
	if _, err := decodeElement(b); err != nil {
		return PublicShare{}, err
	}
	return PublicShare{Index: index, Element: [ElementSize]byte(b)}, nil
}

func (p PublicShare) decode() (group.Element, error) {
	if err := checkIndex(p.Index); err != nil {
		return nil, err
	}
	return decodeElement(p.Element[:])
}
