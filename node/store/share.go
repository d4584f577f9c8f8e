package store

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/custos-network/custos/threshold"
	"golang.org/x/crypto/chacha20poly1305"
)

// A sealed value (a share, or an OPRF key share) is 0x01 ‖ nonce(24) ‖
// XChaCha20-Poly1305 ciphertext. The nonce is random: 24 bytes make a
// collision negligible for any number of values one node will ever hold,
// so no counter has to survive restarts.
const (
	shareWrapVersion  byte = 0x01
	shareWrapOverhead      = 1 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
)

// The labels that open each kind of sealed value's AD. They differ, so a
// value of one kind copied under a key of the other does not open.
const (
	shareADLabel    = "custos/v1/node/share"
	oprfKeyADLabel  = "custos/v2/node/oprf"
	adLengthPrefix  = 4
	oprfEpochADSize = 4
)

func appendLP(b []byte, field string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(field)))
	return append(b, field...)
}

// shareAD binds a sealed share to the key it is stored under, so that a
// share moved to another user, unit or version does not open:
// lp(label) ‖ lp(user) ‖ unit ‖ version (8 bytes, big-endian), where lp is a
// 4-byte big-endian length followed by the bytes.
func shareAD(user string, unit threshold.UnitID, version uint64) []byte {
	ad := make([]byte, 0, 2*adLengthPrefix+len(shareADLabel)+len(user)+threshold.UnitIDSize+8)
	ad = appendLP(ad, shareADLabel)
	ad = appendLP(ad, user)
	ad = append(ad, unit[:]...)
	return binary.BigEndian.AppendUint64(ad, version)
}

// oprfKeyAD binds a sealed OPRF key share to its user and epoch:
// lp("custos/v2/node/oprf") ‖ lp(user) ‖ epoch (4 bytes, big-endian). A
// key share moved to another user or epoch does not open.
func oprfKeyAD(user string, epoch uint32) []byte {
	ad := make([]byte, 0, 2*adLengthPrefix+len(oprfKeyADLabel)+len(user)+oprfEpochADSize)
	ad = appendLP(ad, oprfKeyADLabel)
	ad = appendLP(ad, user)
	return binary.BigEndian.AppendUint32(ad, epoch)
}

func newShareAEAD(key []byte) (cipher.AEAD, error) {
	return chacha20poly1305.NewX(key)
}

// wrap seals plain under aead with the given nonce and AD. The caller
// checks the value's size and supplies a fresh random nonce (see seal).
func wrap(aead cipher.AEAD, nonce, ad, plain []byte) []byte {
	out := make([]byte, 0, shareWrapOverhead+len(plain))
	out = append(out, shareWrapVersion)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plain, ad)
}

func seal(aead cipher.AEAD, ad, plain []byte) ([]byte, error) {
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("read random nonce: %w", err)
	}
	return wrap(aead, nonce, ad, plain), nil
}

// unwrap opens what wrap made with the same AD, a value of 1 to maxLen
// bytes. Every failure wraps ErrCorrupt, names what (the kind of value)
// and says nothing about the bytes.
func unwrap(aead cipher.AEAD, what string, maxLen int, ad, wrapped []byte) ([]byte, error) {
	if len(wrapped) < shareWrapOverhead+1 || len(wrapped) > shareWrapOverhead+maxLen {
		return nil, fmt.Errorf("%w: stored %s has the wrong size", ErrCorrupt, what)
	}
	if wrapped[0] != shareWrapVersion {
		return nil, fmt.Errorf("%w: stored %s has unknown format version %d", ErrCorrupt, what, wrapped[0])
	}
	nonce := wrapped[1 : 1+chacha20poly1305.NonceSizeX]
	plain, err := aead.Open(nil, nonce, wrapped[1+len(nonce):], ad)
	if err != nil {
		return nil, fmt.Errorf("%w: stored %s does not open under this node's key where it is stored", ErrCorrupt, what)
	}
	return plain, nil
}

// wrapShare seals share for user, unit and version with the given nonce.
func wrapShare(aead cipher.AEAD, nonce []byte, user string, unit threshold.UnitID, version uint64, share []byte) []byte {
	return wrap(aead, nonce, shareAD(user, unit, version), share)
}

func sealShare(aead cipher.AEAD, user string, unit threshold.UnitID, version uint64, share []byte) ([]byte, error) {
	return seal(aead, shareAD(user, unit, version), share)
}

// unwrapShare opens what wrapShare made for the same user, unit and
// version. Every failure wraps ErrCorrupt and says nothing about the bytes.
func unwrapShare(aead cipher.AEAD, user string, unit threshold.UnitID, version uint64, wrapped []byte) ([]byte, error) {
	return unwrap(aead, "share", MaxShareLen, shareAD(user, unit, version), wrapped)
}
