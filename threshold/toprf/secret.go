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
// secret itself is hidden, for when fmt walks a value held in an unexported
// field, where it calls no method.
type redacted struct{}

// hidden keeps a secret two pointers away from the struct that holds it:
// fmt prints a nested pointer as its address, except that for a verb
// pointers do not take (%s, %q) it prints the pointer's target once, as
// "%!s(*T=&{...})"; a second pointer makes that target an address too.
// Every copy of a hidden value shares, and wipes, the same state.
type hidden[T any] struct{ p **T }

func hide[T any](v T) hidden[T] {
	pv := &v
	return hidden[T]{&pv}
}

// ptr returns the hidden state, nil for the zero value.
func (h hidden[T]) ptr() *T {
	if h.p == nil {
		return nil
	}
	return *h.p
}

// scalar returns a hidden scalar, nil for the zero value.
func scalar(h hidden[group.Scalar]) group.Scalar {
	if p := h.ptr(); p != nil {
		return *p
	}
	return nil
}

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
	h hidden[outputBox]
	_ [0]func() // incomparable: == would compare pointers
}

type outputBox struct {
	b     [OutputSize]byte
	wiped bool
}

func newOutput(b []byte) Output {
	var box outputBox
	copy(box.b[:], b)
	o := Output{h: hide(box)}
	clear(box.b[:])
	return o
}

// Bytes returns the output's bytes themselves, not a copy: they are valid
// until Wipe, and the caller must neither keep nor log them. It returns nil
// for a zero or wiped Output.
func (o Output) Bytes() []byte {
	box := o.h.ptr()
	if box == nil || box.wiped {
		return nil
	}
	return box.b[:]
}

// Equal reports in constant time whether both outputs hold the same bytes;
// a zero or wiped Output equals nothing.
func (o Output) Equal(x Output) bool {
	a, b := o.Bytes(), x.Bytes()
	return a != nil && b != nil && subtle.ConstantTimeCompare(a, b) == 1
}

// Wipe overwrites the output with zeros, in every copy of the value.
func (o Output) Wipe() {
	if box := o.h.ptr(); box != nil {
		clear(box.b[:])
		box.wiped = true
	}
}
