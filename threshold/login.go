package threshold

import (
	"crypto/ed25519"
	"fmt"
)

// Login v2 (docs/login.md): the password hash is hardened by a threshold
// OPRF (package threshold/toprf) before any login key is derived from it.

// RandomizedPasswordSize is the size in bytes of rwd, the OPRF output.
const RandomizedPasswordSize = 64

const (
	authV2Label     = "custos/v2/auth"
	nodeAuthV2Label = "custos/v2/node-auth"
)

// RandomizedPassword is rwd = VOPRF(r, pw), the output of the threshold
// OPRF on the password key: computing it takes the OPRF key r, or k
// custodians' counted evaluations, so a stolen device and k−1 custodians
// cannot test a password guess offline. Login v2 derives every login key
// from it.
type RandomizedPassword struct{ secret }

// RandomizedPasswordFromBytes copies an OPRF output (toprf.Output's bytes);
// the caller still owns, and should wipe, b.
func RandomizedPasswordFromBytes(b []byte) (RandomizedPassword, error) {
	if len(b) != RandomizedPasswordSize {
		return RandomizedPassword{}, fmt.Errorf("randomized password is %d bytes, want %d", len(b), RandomizedPasswordSize)
	}
	return RandomizedPassword{secretFrom(b)}, nil
}

// DeriveLoginKey returns the user's v2 login key at the node with this peer
// ID (binary form): its Ed25519 seed is HKDF-SHA256(rwd ‖ A2, salt = peerID,
// info = "custos/v2/node-auth"), where A2 = HKDF-SHA256(M, no salt, info =
// "custos/v2/auth") puts the device into every login key, as in v1. The
// salt makes a signature made for one node useless at another; a node
// stores only the public key, and that public key is no offline password
// oracle: testing a guess against it needs rwd, which needs k custodians.
func DeriveLoginKey(rwd RandomizedPassword, m MasterSecret, peerID []byte) (NodeAuthKey, error) {
	if err := checkPeerID(peerID); err != nil {
		return NodeAuthKey{}, err
	}
	r, err := rwd.usable(RandomizedPasswordSize)
	if err != nil {
		return NodeAuthKey{}, err
	}
	mb, err := m.usable(KeySize)
	if err != nil {
		return NodeAuthKey{}, err
	}
	a := derive(mb, nil, authV2Label)
	defer a.Wipe()
	// rwd and A2 have fixed lengths, so the concatenation is unambiguous.
	ikm := append(append(make([]byte, 0, RandomizedPasswordSize+KeySize), r...), a.Bytes()...)
	defer clear(ikm)
	seed := derive(ikm, peerID, nodeAuthV2Label)
	defer seed.Wipe()
	return NodeAuthKey{adopt(ed25519.NewKeyFromSeed(seed.Bytes()))}, nil
}
