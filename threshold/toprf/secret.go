package toprf

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/cloudflare/circl/group"
)

const redactedText = "[redacted]"

var errEncodeSecret = errors.New("toprf: secrets are not encoded implicitly; store Bytes() on purpose")

// redacted, embedded in every secret type, makes it print as "[redacted]"
// under every fmt verb and refuse encoding/json in both directions. The
// secret itself always sits behind a pointer (circl's scalars are
// pointers), so fmt, walking a value held in an unexported field where it
// calls no method, prints an address and never the bytes.
type redacted struct{}

// String returns "[redacted]", never the secret.
func (redacted) String() string { return redactedText }

// Format prints "[redacted]" for every verb, %x and %#v included.
func (redacted) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redactedText) }

// MarshalJSON fails: a secret written by accident and read back as a zero
// value would be lost silently.
func (redacted) MarshalJSON() ([]byte, error) { return nil, errEncodeSecret }

// UnmarshalJSON fails, for the same reason.
func (*redacted) UnmarshalJSON([]byte) error { return errEncodeSecret }

// usableScalar returns s if it holds a secret, and ErrNoSecret for a nil or
// wiped (zero) one. No secret scalar here is zero: the constructors refuse it.
func usableScalar(s group.Scalar) (group.Scalar, error) {
	if s == nil || s.IsZero() {
		return nil, ErrNoSecret
	}
	return s, nil
}

// wipeScalar overwrites s with zero in place, so every value sharing it
// sees the wipe.
func wipeScalar(s group.Scalar) {
	if s != nil {
		s.SetUint64(0)
	}
}

// Output is an OPRF output: 64 bytes that only the holder of the input and
// k custodians' help can compute. Login v2 derives the login keys from it
// (threshold.RandomizedPassword). Copies of an Output share its bytes, and
// Wipe clears them for all.
type Output struct {
	redacted
	p *outputBox
	_ [0]func() // incomparable: == would compare pointers
}

type outputBox struct {
	b     [OutputSize]byte
	wiped bool
}

func newOutput(b []byte) Output {
	o := Output{p: new(outputBox)}
	copy(o.p.b[:], b)
	return o
}

// Bytes returns the output's bytes themselves, not a copy: they are valid
// until Wipe, and the caller must neither keep nor log them. It returns nil
// for a zero or wiped Output.
func (o Output) Bytes() []byte {
	if o.p == nil || o.p.wiped {
		return nil
	}
	return o.p.b[:]
}

// Equal reports in constant time whether both outputs hold the same bytes;
// a zero or wiped Output equals nothing.
func (o Output) Equal(x Output) bool {
	a, b := o.Bytes(), x.Bytes()
	return a != nil && b != nil && subtle.ConstantTimeCompare(a, b) == 1
}

// Wipe overwrites the output with zeros, in every copy of the value.
func (o Output) Wipe() {
	if o.p != nil {
		clear(o.p.b[:])
		o.p.wiped = true
	}
}
