package store

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/custos-network/custos/threshold"
	"golang.org/x/crypto/chacha20poly1305"
)

// A stored share is 0x01 ‖ nonce(24) ‖ XChaCha20-Poly1305 ciphertext. The
// nonce is random: 24 bytes make a collision negligible for any number of
// shares one node will ever hold, so no counter has to survive restarts.
const (
	shareWrapVersion  byte = 0x01
	shareWrapOverhead      = 1 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
)

const shareADLabel = "custos/v1/node/share"

// shareAD binds a sealed share to the key it is stored under, so that a
// share moved to another user, unit or version does not open:
// lp(label) ‖ lp(user) ‖ unit ‖ version (8 bytes, big-endian), where lp is a
// 4-byte big-endian length followed by the bytes.
func shareAD(user string, unit threshold.UnitID, version uint64) []byte {
	ad := make([]byte, 0, 8+len(shareADLabel)+len(user)+threshold.UnitIDSize+8)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(shareADLabel)))
	ad = append(ad, shareADLabel...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(user)))
	ad = append(ad, user...)
	ad = append(ad, unit[:]...)
	return binary.BigEndian.AppendUint64(ad, version)
}

func newShareAEAD(key []byte) (cipher.AEAD, error) {
	return chacha20poly1305.NewX(key)
}

// wrapShare seals share under aead with the given nonce. The caller checks
// the share's size and supplies a fresh random nonce (see sealShare).
func wrapShare(aead cipher.AEAD, nonce []byte, user string, unit threshold.UnitID, version uint64, share []byte) []byte {
	out := make([]byte, 0, shareWrapOverhead+len(share))
	out = append(out, shareWrapVersion)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, share, shareAD(user, unit, version))
}

func sealShare(aead cipher.AEAD, user string, unit threshold.UnitID, version uint64, share []byte) ([]byte, error) {
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("read random nonce: %w", err)
	}
	return wrapShare(aead, nonce, user, unit, version, share), nil
}

// unwrapShare opens what wrapShare made for the same user, unit and
// version. Every failure wraps ErrCorrupt and says nothing about the bytes.
func unwrapShare(aead cipher.AEAD, user string, unit threshold.UnitID, version uint64, wrapped []byte) ([]byte, error) {
	if len(wrapped) < shareWrapOverhead+1 || len(wrapped) > shareWrapOverhead+MaxShareLen {
		return nil, fmt.Errorf("%w: stored share has the wrong size", ErrCorrupt)
	}
	if wrapped[0] != shareWrapVersion {
		return nil, fmt.Errorf("%w: stored share has unknown format version %d", ErrCorrupt, wrapped[0])
	}
	nonce := wrapped[1 : 1+chacha20poly1305.NonceSizeX]
	share, err := aead.Open(nil, nonce, wrapped[1+len(nonce):], shareAD(user, unit, version))
	if err != nil {
		return nil, fmt.Errorf("%w: stored share does not open under this node's key for this user, unit and version", ErrCorrupt)
	}
	return share, nil
}
