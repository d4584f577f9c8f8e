package threshold

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// KeySize is the size in bytes of every symmetric key and secret here.
const KeySize = 32

const redacted = "[redacted]"

// ErrNoSecret is the error of an operation given a zero or wiped secret: it
// would otherwise compute a key from public inputs alone.
var ErrNoSecret = errors.New("threshold: a secret is missing or was wiped")

var errEncodeSecret = errors.New("threshold: secrets are not encoded implicitly; store Bytes() on purpose")

// secret holds key material. The bytes sit two pointers away so that no fmt
// verb reaches them, not even through an unexported struct field, where fmt
// calls no method: it prints a nested pointer as its address, except that
// for a verb pointers do not take (%s, %q) it prints the pointer's target
// once, as "%!s(*T=&{...})"; a second pointer makes that target an address
// too. Every copy of a value refers to, and wipes, the same memory. The zero
// value holds nothing. The empty array makes the types incomparable: ==
// would compare pointers.
type secret struct {
	p **box
	_ [0]func()
}

type box struct {
	b     []byte
	wiped bool
}

func newSecret(n int) secret { return adopt(make([]byte, n)) }

// adopt makes b, which the caller gives up, into a secret.
func adopt(b []byte) secret {
	bx := &box{b: b}
	return secret{p: &bx}
}

// box returns the secret's state, nil for the zero value.
func (s secret) box() *box {
	if s.p == nil {
		return nil
	}
	return *s.p
}

// secretFrom copies b into a new secret; the caller still owns b.
func secretFrom(b []byte) secret {
	s := newSecret(len(b))
	copy(s.box().b, b)
	return s
}

func randomSecret(n int) (secret, error) {
	s := newSecret(n)
	if _, err := io.ReadFull(rand.Reader, s.box().b); err != nil {
		return secret{}, fmt.Errorf("read random bytes: %w", err)
	}
	return s, nil
}

// Bytes returns the secret's bytes themselves, not a copy: they are valid
// until Wipe, and the caller must neither keep nor log them.
func (s secret) Bytes() []byte {
	if s.p == nil {
		return nil
	}
	return s.box().b
}

// IsZero reports whether the value holds no secret at all (a zero value).
func (s secret) IsZero() bool { return s.p == nil }

// usable returns the secret's bytes if it holds exactly n of them and was
// not wiped, and ErrNoSecret otherwise.
func (s secret) usable(n int) ([]byte, error) {
	bx := s.box()
	if bx == nil || bx.wiped || len(bx.b) != n {
		return nil, ErrNoSecret
	}
	return bx.b, nil
}

// Wipe overwrites the secret with zeros, in every copy of the value, and
// marks it so that no later derivation uses it.
func (s secret) Wipe() {
	if bx := s.box(); bx != nil {
		clear(bx.b)
		bx.wiped = true
	}
}

// String returns "[redacted]", never the secret.
func (s secret) String() string { return redacted }

// Format prints "[redacted]" for every verb, %x and %#v included.
func (s secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON fails: a secret written by accident as "{}" and read back as a
// zero value would lose it silently.
func (s secret) MarshalJSON() ([]byte, error) { return nil, errEncodeSecret }

// UnmarshalJSON fails, for the same reason.
func (s *secret) UnmarshalJSON([]byte) error { return errEncodeSecret }

// ServerKey is the per-record key S that custodians hold in shares. It exists
// whole only on the client, between Split or Combine and Wipe.
type ServerKey struct{ secret }

// NewServerKey returns a fresh random server key.
func NewServerKey() (ServerKey, error) {
	s, err := randomSecret(KeySize)
	return ServerKey{s}, err
}

// MasterSecret is the client master secret M: 32 random bytes made once per
// user and kept in the local vault.
type MasterSecret struct{ secret }

// NewMasterSecret returns a fresh random master secret.
func NewMasterSecret() (MasterSecret, error) {
	s, err := randomSecret(KeySize)
	return MasterSecret{s}, err
}

// MasterSecretFromBytes copies a stored master secret; the caller still owns,
// and should wipe, b.
func MasterSecretFromBytes(b []byte) (MasterSecret, error) {
	if len(b) != KeySize {
		return MasterSecret{}, fmt.Errorf("master secret is %d bytes, want %d", len(b), KeySize)
	}
	return MasterSecret{secretFrom(b)}, nil
}

// ClientKey is the per-record client key C, derived from the master secret.
type ClientKey struct{ secret }

// DataKey is the per-record key K that seals the record.
type DataKey struct{ secret }

// PasswordKey is the Argon2id hash of the user's password ("pw" in the design).
type PasswordKey struct{ secret }
