package threshold

import (
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// MaxUserLen is the longest user name a record can be bound to, in bytes.
const MaxUserLen = 256

// MaxRecordSize is the largest record that Seal takes, in bytes. Records are
// credentials and notes; the cap keeps a corrupt vault from making Open
// allocate without bound.
const MaxRecordSize = 1 << 20

// The sealed record format, version 1:
//
//	0x01 ‖ nonce (24 bytes) ‖ XChaCha20-Poly1305 ciphertext and tag
//
// with associated data "custos/v1" ‖ user ‖ unit ‖ version, encoded as
// docs/threshold.md says.
const (
	sealedV1       = 0x01
	sealedOverhead = 1 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
	adLabel        = "custos/v1"
)

// ErrOpen is matched by every error of Open: wrong key, truncated or altered
// record, another user's, unit's or version's record. It says no more, so a
// caller cannot be made into an oracle; only an unknown format version, which
// is visible in the first byte anyway, is named in the message.
var ErrOpen = errors.New("threshold: cannot open the sealed record (wrong key, damaged, or not this record)")

// Seal encrypts a record of one user's unit version under the data key. The
// result starts with its format version and carries its own random nonce.
func Seal(k DataKey, user string, unit UnitID, version uint64, record []byte) ([]byte, error) {
	var nonce [chacha20poly1305.NonceSizeX]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("read random bytes: %w", err)
	}
	return seal(k, nonce[:], user, unit, version, record)
}

func seal(k DataKey, nonce []byte, user string, unit UnitID, version uint64, record []byte) ([]byte, error) {
	if len(record) > MaxRecordSize {
		return nil, fmt.Errorf("the record is %d bytes, more than the %d allowed", len(record), MaxRecordSize)
	}
	key, err := k.usable(KeySize)
	if err != nil {
		return nil, err
	}
	if len(user) > MaxUserLen {
		return nil, fmt.Errorf("the user name is longer than %d bytes", MaxUserLen)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("internal error: %v", err)
	}
	out := make([]byte, 0, sealedOverhead+len(record))
	out = append(append(out, sealedV1), nonce...)
	return aead.Seal(out, nonce, record, associatedData(user, unit, version)), nil
}

// Open decrypts a sealed record and returns it, or fails with ErrOpen. The
// record is authenticated whole, with the user, unit and version, before any
// of it is returned. The caller wipes the record when done.
func Open(k DataKey, user string, unit UnitID, version uint64, sealed []byte) ([]byte, error) {
	if len(sealed) < sealedOverhead || len(sealed) > sealedOverhead+MaxRecordSize || len(user) > MaxUserLen {
		return nil, ErrOpen
	}
	if sealed[0] != sealedV1 {
		return nil, fmt.Errorf("%w: unknown format version %d", ErrOpen, sealed[0])
	}
	key, err := k.usable(KeySize)
	if err != nil {
		return nil, ErrOpen
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, ErrOpen
	}
	nonce := sealed[1 : 1+chacha20poly1305.NonceSizeX]
	record, err := aead.Open(nil, nonce, sealed[1+len(nonce):], associatedData(user, unit, version))
	if err != nil {
		return nil, ErrOpen
	}
	return record, nil
}

// associatedData returns the bytes that a sealed record of this user's unit
// version is bound to.
func associatedData(user string, unit UnitID, version uint64) []byte {
	b := make([]byte, 0, 4+len(adLabel)+4+len(user)+UnitIDSize+8)
	b = appendString(b, adLabel)
	b = appendString(b, user)
	b = append(b, unit[:]...)
	return appendVersion(b, version)
}
