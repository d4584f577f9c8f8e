package threshold

import (
	"crypto/rand"
	"fmt"
	"io"
)

// KeySize is the size in bytes of every symmetric key and secret here.
const KeySize = 32

const redacted = "[redacted]"

// secret holds key material. The bytes sit behind a pointer so that no fmt
// verb reaches them, not even through an unexported struct field (fmt prints
// only the address of a nested pointer), and so that every copy of a value
// refers to, and wipes, the same memory. The zero value holds nothing.
type secret struct{ p *[]byte }

func newSecret(n int) secret {
	b := make([]byte, n)
	return secret{p: &b}
}

// secretFrom copies b into a new secret; the caller still owns b.
func secretFrom(b []byte) secret {
	s := newSecret(len(b))
	copy(*s.p, b)
	return s
}

func randomSecret(n int) (secret, error) {
	s := newSecret(n)
	if _, err := io.ReadFull(rand.Reader, *s.p); err != nil {
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
	return *s.p
}

// IsZero reports whether the value holds no secret at all (a zero value).
func (s secret) IsZero() bool { return s.p == nil }

// Wipe overwrites the secret with zeros, in every copy of the value.
func (s secret) Wipe() { clear(s.Bytes()) }

// String returns "[redacted]", never the secret.
func (s secret) String() string { return redacted }

// Format prints "[redacted]" for every verb, %x and %#v included.
func (s secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

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
		return MasterSecret{}, fmt.Errorf("threshold: master secret is %d bytes, want %d", len(b), KeySize)
	}
	return MasterSecret{secretFrom(b)}, nil
}

// ClientKey is the per-record client key C, derived from the master secret.
type ClientKey struct{ secret }

// DataKey is the per-record key K that seals the record.
type DataKey struct{ secret }

// AuthSecret is the device's authentication secret, derived from the master
// secret and mixed into every per-node authentication key.
type AuthSecret struct{ secret }

// PasswordKey is the Argon2id hash of the user's password ("pw" in the design).
type PasswordKey struct{ secret }
