package threshold

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
)

// The HKDF labels of the design. Each derivation has its own, so no key can
// stand in for another.
const (
	clientKeyLabel = "custos/v1/client-key"
	dataKeyLabel   = "custos/v1/data-key"
	authLabel      = "custos/v1/auth"
	nodeAuthLabel  = "custos/v1/node-auth"
)

// derive is HKDF-SHA256 with a 32-byte output. It cannot fail for these
// sizes, so an error is an impossible state.
func derive(ikm, salt []byte, info string) secret {
	b, err := hkdf.Key(sha256.New, ikm, salt, info, KeySize)
	if err != nil {
		panic("threshold: internal error: hkdf: " + err.Error())
	}
	return secret{p: &b}
}

// DeriveClientKey returns C = HKDF-SHA256(M, salt = unit, info =
// "custos/v1/client-key"). The master secret alone never touches a record's
// key: C is one of the two halves of the data key.
func DeriveClientKey(m MasterSecret, unit UnitID) ClientKey {
	return ClientKey{derive(m.Bytes(), unit[:], clientKeyLabel)}
}

// DeriveDataKey returns K = HKDF-SHA256(C ‖ S, salt = unit ‖ version, info =
// "custos/v1/data-key"). Neither the device (C) nor the custodians (S) can
// make it alone, and each version of a unit has its own.
func DeriveDataKey(c ClientKey, s ServerKey, unit UnitID, version uint64) DataKey {
	ikm := make([]byte, 0, 2*KeySize)
	ikm = append(append(ikm, c.Bytes()...), s.Bytes()...)
	salt := appendVersion(append([]byte(nil), unit[:]...), version)
	k := derive(ikm, salt, dataKeyLabel)
	clear(ikm)
	return DataKey{k}
}

// DeriveAuthSecret returns the device's authentication secret,
// HKDF-SHA256(M, no salt, info = "custos/v1/auth"). It puts the device into
// every login, so a node's stored public keys and the password together are
// still not enough to log in.
func DeriveAuthSecret(m MasterSecret) AuthSecret {
	return AuthSecret{derive(m.Bytes(), nil, authLabel)}
}

// NodeAuthKey is the Ed25519 key with which a user logs in at one node.
type NodeAuthKey struct{ secret } // the 64-byte ed25519.PrivateKey

// DeriveNodeAuthKey returns the user's login key at the node with this peer
// ID (binary form): its seed is HKDF-SHA256(pw ‖ auth secret, salt = peerID,
// info = "custos/v1/node-auth"). The salt makes a signature made for one node
// useless at another, and a node stores only the public key.
func DeriveNodeAuthKey(pw PasswordKey, a AuthSecret, peerID []byte) (NodeAuthKey, error) {
	if len(peerID) == 0 {
		return NodeAuthKey{}, errors.New("threshold: node auth key: empty peer ID")
	}
	ikm := make([]byte, 0, 2*KeySize)
	ikm = append(append(ikm, pw.Bytes()...), a.Bytes()...)
	seed := derive(ikm, peerID, nodeAuthLabel)
	clear(ikm)
	priv := ed25519.NewKeyFromSeed(seed.Bytes())
	seed.Wipe()
	return NodeAuthKey{secret{p: (*[]byte)(&priv)}}, nil
}

// Public returns the public key that the node stores at enrollment.
func (k NodeAuthKey) Public() ed25519.PublicKey {
	return ed25519.PrivateKey(k.Bytes()).Public().(ed25519.PublicKey)
}

// Sign signs msg with the key. The caller builds msg so that it names the
// node, as the login transcript of the protocol does.
func (k NodeAuthKey) Sign(msg []byte) []byte {
	return ed25519.Sign(ed25519.PrivateKey(k.Bytes()), msg)
}
