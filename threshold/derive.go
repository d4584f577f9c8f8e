package threshold

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// The HKDF labels of the design. Each derivation has its own, so no key can
// stand in for another.
const (
	clientKeyLabel = "custos/v1/client-key"
	dataKeyLabel   = "custos/v1/data-key"
)

// MaxPeerIDLen bounds a peer ID in binary form; an Ed25519 one has 38 bytes.
const MaxPeerIDLen = 128

// derive is HKDF-SHA256 with a 32-byte output. It cannot fail for these
// sizes, so an error is an impossible state.
func derive(ikm, salt []byte, info string) secret {
	b, err := hkdf.Key(sha256.New, ikm, salt, info, KeySize)
	if err != nil {
		panic("threshold: internal error: hkdf: " + err.Error())
	}
	return adopt(b)
}

// concatKeys returns a ‖ b of two whole, unwiped 32-byte secrets. Both have
// a fixed length, so the concatenation is unambiguous.
func concatKeys(a, b secret) ([]byte, error) {
	x, err := a.usable(KeySize)
	if err != nil {
		return nil, err
	}
	y, err := b.usable(KeySize)
	if err != nil {
		return nil, err
	}
	return append(append(make([]byte, 0, 2*KeySize), x...), y...), nil
}

// DeriveClientKey returns C = HKDF-SHA256(M, salt = unit, info =
// "custos/v1/client-key"). The master secret alone never touches a record's
// key: C is one of the two halves of the data key.
func DeriveClientKey(m MasterSecret, unit UnitID) (ClientKey, error) {
	ikm, err := m.usable(KeySize)
	if err != nil {
		return ClientKey{}, err
	}
	return ClientKey{derive(ikm, unit[:], clientKeyLabel)}, nil
}

// DeriveDataKey returns K = HKDF-SHA256(C ‖ S, salt = unit ‖ version, info =
// "custos/v1/data-key"). Neither the device (C) nor the custodians (S) can
// make it alone, and each version of a unit has its own. Derive K before
// wiping S after a put.
func DeriveDataKey(c ClientKey, s ServerKey, unit UnitID, version uint64) (DataKey, error) {
	ikm, err := concatKeys(c.secret, s.secret)
	if err != nil {
		return DataKey{}, err
	}
	defer clear(ikm)
	salt := appendVersion(append([]byte(nil), unit[:]...), version)
	return DataKey{derive(ikm, salt, dataKeyLabel)}, nil
}

// NodeAuthKey is the Ed25519 key with which a user logs in at one node.
type NodeAuthKey struct{ secret } // the 64-byte ed25519.PrivateKey

func checkPeerID(peerID []byte) error {
	if len(peerID) == 0 || len(peerID) > MaxPeerIDLen {
		return fmt.Errorf("a peer ID is 1 to %d bytes, not %d", MaxPeerIDLen, len(peerID))
	}
	return nil
}

// Public returns the public key that the node stores at enrollment, or nil
// for a zero or wiped key.
func (k NodeAuthKey) Public() ed25519.PublicKey {
	priv, err := k.usable(ed25519.PrivateKeySize)
	if err != nil {
		return nil
	}
	return ed25519.PrivateKey(priv).Public().(ed25519.PublicKey)
}

// Sign signs msg with the key. The caller builds msg so that it names the
// node, as the login transcript of the protocol does.
func (k NodeAuthKey) Sign(msg []byte) ([]byte, error) {
	priv, err := k.usable(ed25519.PrivateKeySize)
	if err != nil {
		return nil, err
	}
	return ed25519.Sign(ed25519.PrivateKey(priv), msg), nil
}
