package threshold

import (
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// SaltSize is the size in bytes of the password salt.
const SaltSize = 16

// Bounds on a stored PasswordKDF: the memory floor keeps a doctored vault
// from weakening the hash below the design's 64 MiB (fewer passes over more
// memory, as in RFC 9106's first recommendation, stay allowed), the ceiling
// keeps one from asking for more memory or time than a device can give.
const (
	minArgon2Memory  = 64 * 1024 // KiB: 64 MiB, RFC 9106's second recommendation
	maxArgon2Memory  = 4 << 20   // KiB: 4 GiB
	maxArgon2Time    = 64
	maxPasswordBytes = 4096
)

// PasswordKDF is how a user's password becomes the password key: Argon2id
// with these parameters and this salt. It is stored beside the user's other
// vault data (it is not secret), so the parameters can be raised later
// without losing the old ones.
type PasswordKDF struct {
	Salt    []byte `json:"salt"` // SaltSize random bytes, made at custos init
	Time    uint32 `json:"time"` // passes over the memory
	Memory  uint32 `json:"memory_kib"`
	Threads uint8  `json:"threads"` // lanes
}

// NewPasswordKDF returns a fresh salt with RFC 9106's second recommended
// parameters: t = 3, m = 64 MiB, p = 4.
func NewPasswordKDF() (PasswordKDF, error) {
	salt := make([]byte, SaltSize)
	if _, err := rand.Read(salt); err != nil {
		return PasswordKDF{}, fmt.Errorf("read random bytes: %w", err)
	}
	return PasswordKDF{Salt: salt, Time: 3, Memory: 64 * 1024, Threads: 4}, nil
}

// Validate says why the parameters are unusable, or returns nil.
func (p PasswordKDF) Validate() error {
	switch {
	case len(p.Salt) != SaltSize:
		return fmt.Errorf("password salt is %d bytes, want %d", len(p.Salt), SaltSize)
	case p.Time < 1 || p.Time > maxArgon2Time:
		return fmt.Errorf("Argon2id time %d is outside 1 to %d", p.Time, maxArgon2Time)
	case p.Memory < minArgon2Memory || p.Memory > maxArgon2Memory:
		return fmt.Errorf("Argon2id memory %d KiB is outside %d to %d KiB", p.Memory, minArgon2Memory, maxArgon2Memory)
	case p.Threads < 1:
		return errors.New("Argon2id needs at least one thread")
	}
	return nil
}

// Derive hashes the password into the password key, pw = Argon2id(password,
// salt). It takes the time and memory the parameters say (about a fifth of a
// second and 64 MiB at the defaults), so a client runs it once per login. The
// caller wipes the password and the key.
func (p PasswordKDF) Derive(password []byte) (PasswordKey, error) {
	if err := p.Validate(); err != nil {
		return PasswordKey{}, err
	}
	if len(password) == 0 {
		return PasswordKey{}, errors.New("the password is empty")
	}
	if len(password) > maxPasswordBytes {
		return PasswordKey{}, fmt.Errorf("the password is longer than %d bytes", maxPasswordBytes)
	}
	b := argon2.IDKey(password, p.Salt, p.Time, p.Memory, p.Threads, KeySize)
	return PasswordKey{adopt(b)}, nil
}
