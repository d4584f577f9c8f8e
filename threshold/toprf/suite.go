package toprf

import (
	"crypto"
	_ "crypto/sha512" // the suite's hash, for dleq.Params.H
	"crypto/subtle"
	"errors"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/zk/dleq"

	"github.com/custos-network/custos/threshold"
)

// Sizes of the encodings, fixed by ristretto255 and SHA-512.
const (
	ElementSize = 32 // a canonical ristretto255 encoding (RFC 9496, section 4.3.2)
	ScalarSize  = 32 // a scalar below the group order, little-endian
	ProofSize   = 2 * ScalarSize
	OutputSize  = 64 // a SHA-512 digest
)

// MaxShares is the largest number of custodians a key can be split among,
// the same bound as the threshold package's: share indexes are 1..MaxShares.
const MaxShares = threshold.MaxShares

// MaxInputSize bounds an OPRF input: RFC 9497 writes its length in two bytes.
const MaxInputSize = 1<<16 - 1

// The ciphersuite: RFC 9497's ristretto255-SHA512 in verifiable mode (0x01).
// Every hash-to-group and hash-to-scalar of the protocol is domain-separated
// by the context string, so none of its outputs can stand in for another
// mode's or suite's.
const (
	SuiteID        = "ristretto255-SHA512"
	ContextString  = "OPRFV1-\x01-" + SuiteID
	hashToGroupDST = "HashToGroup-" + ContextString
	finalizeLabel  = "Finalize"
)

var g = group.Ristretto255

// dleqParams are RFC 9497's proof parameters for the suite; circl's
// *RFC9497 prover and verifier use the fixed generator G as the first base.
var dleqParams = dleq.Params{G: g, H: crypto.SHA512, DST: []byte(ContextString)}

var (
	// ErrNoSecret is the error of an operation on a zero or wiped secret.
	ErrNoSecret = errors.New("toprf: a secret is missing or was wiped")
	// ErrElement is the error of an element that is not the canonical
	// encoding of a group element other than the identity.
	ErrElement = errors.New("toprf: malformed group element")
	// ErrScalar is the error of a scalar that is not the canonical encoding
	// of a non-zero scalar.
	ErrScalar = errors.New("toprf: malformed scalar")
	// ErrProof is the error of a node's answer whose proof is malformed or
	// does not verify: the node that sent it is at fault.
	ErrProof = errors.New("toprf: evaluation proof does not verify")
	// ErrIndex is the error of a share index outside 1..MaxShares, or of
	// one that appears twice.
	ErrIndex = errors.New("toprf: share index out of range or repeated")
	// ErrEvaluationCount is the error of combining other than k evaluations.
	ErrEvaluationCount = errors.New("toprf: not exactly k evaluations")
	// ErrInput is the error of an OPRF input that is empty or longer than
	// MaxInputSize.
	ErrInput = errors.New("toprf: input empty or too long")
)

// CheckElement reports whether b is a group element this package accepts
// (ErrElement if not). A node can check a blinded element with it before it
// counts a guess.
func CheckElement(b []byte) error {
	_, err := decodeElement(b)
	return err
}

// decodeElement is RFC 9497's DeserializeElement: the canonical encoding of
// RFC 9496, and never the identity. Re-encoding and comparing makes the
// canonical check this package's own, whatever the library underneath
// accepts.
func decodeElement(b []byte) (group.Element, error) {
	if len(b) != ElementSize {
		return nil, ErrElement
	}
	e := g.NewElement()
	if err := e.UnmarshalBinary(b); err != nil || e.IsIdentity() {
		return nil, ErrElement
	}
	if enc := encodeElement(e); subtle.ConstantTimeCompare(enc[:], b) != 1 {
		return nil, ErrElement
	}
	return e, nil
}

// encodeElement is SerializeElement. ristretto255 encodes every element,
// so an error would be an impossible state.
func encodeElement(e group.Element) [ElementSize]byte {
	b, err := e.MarshalBinaryCompress()
	if err != nil || len(b) != ElementSize {
		panic("toprf: internal error: encode element")
	}
	return [ElementSize]byte(b)
}

// decodeScalar is DeserializeScalar, refusing zero as well: every scalar
// this package reads (a key share, proof randomness in tests) must be
// non-zero. circl refuses encodings of values at or above the group order.
func decodeScalar(b []byte) (group.Scalar, error) {
	if len(b) != ScalarSize {
		return nil, ErrScalar
	}
	s := g.NewScalar()
	if err := s.UnmarshalBinary(b); err != nil || s.IsZero() {
		return nil, ErrScalar
	}
	return s, nil
}

// encodeScalar is SerializeScalar. The caller wipes the result if the
// scalar is secret.
func encodeScalar(s group.Scalar) []byte {
	b, err := s.MarshalBinary()
	if err != nil || len(b) != ScalarSize {
		panic("toprf: internal error: encode scalar")
	}
	return b
}

// decodeProof reads a proof as RFC 9497 serializes it, c ‖ s, each a
// canonical scalar (either may be zero: the verification decides).
func decodeProof(b []byte) (*dleq.Proof, error) {
	if len(b) != ProofSize {
		return nil, ErrProof
	}
	p := new(dleq.Proof)
	if err := p.UnmarshalBinary(g, b); err != nil {
		return nil, ErrProof
	}
	return p, nil
}

func encodeProof(p *dleq.Proof) [ProofSize]byte {
	b, err := p.MarshalBinary()
	if err != nil || len(b) != ProofSize {
		panic("toprf: internal error: encode proof")
	}
	return [ProofSize]byte(b)
}

// checkIndex refuses an index outside 1..MaxShares. Index 0 is where the
// polynomial holds r itself: no share may claim it.
func checkIndex(i int) error {
	if i < 1 || i > MaxShares {
		return ErrIndex
	}
	return nil
}
