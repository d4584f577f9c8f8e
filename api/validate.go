package api

import (
	"crypto/ed25519"
)

// Validation of every request a node reads. Each returns a StatusError with
// code INVALID_ARGUMENT that says what is wrong, never what was sent: a
// request may hold a token or a share.

// ValidUser reports whether user is an acceptable user name: 1 to 128 bytes
// of ASCII letters, digits and . _ @ + -, so that a name is safe in a log
// line, a file name and a terminal.
func ValidUser(user string) bool {
	if len(user) == 0 || len(user) > MaxUserLen {
		return false
	}
	for i := 0; i < len(user); i++ {
		c := user[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == '@', c == '+', c == '-':
		default:
			return false
		}
	}
	return true
}

func checkUser(user string) error {
	if !ValidUser(user) {
		return Errorf(Code_INVALID_ARGUMENT, "a user name is 1 to %d letters, digits and . _ @ + -", MaxUserLen)
	}
	return nil
}

// Validate checks a unit reference: a 16-byte unit ID and a version from 1.
func (u *UnitRef) Validate() error {
	switch {
	case u == nil:
		return Errorf(Code_INVALID_ARGUMENT, "no unit named")
	case len(u.UnitId) != UnitIDSize:
		return Errorf(Code_INVALID_ARGUMENT, "a unit ID is %d bytes", UnitIDSize)
	case u.Version == 0:
		return Errorf(Code_INVALID_ARGUMENT, "unit versions start at 1")
	}
	return nil
}

// Validate checks an enrollment request.
func (r *EnrollRequest) Validate() error {
	if err := checkUser(r.User); err != nil {
		return err
	}
	if len(r.Token) > MaxTokenLen {
		return Errorf(Code_INVALID_ARGUMENT, "the invite token is too long")
	}
	if len(r.AuthPublicKey) != ed25519.PublicKeySize {
		return Errorf(Code_INVALID_ARGUMENT, "the login key is not an Ed25519 public key")
	}
	return nil
}

// Validate checks the first message of a login.
func (r *LoginHello) Validate() error { return checkUser(r.User) }

// Validate checks the proof of a login.
func (r *LoginProof) Validate() error {
	if len(r.Signature) != ed25519.SignatureSize {
		return Errorf(Code_INVALID_ARGUMENT, "the login signature is not an Ed25519 signature")
	}
	return nil
}

// Validate checks a put request: a valid unit and a well-formed share.
func (r *PutRequest) Validate() error {
	if err := r.Unit.Validate(); err != nil {
		return err
	}
	if len(r.Share) != ShareSize || r.Share[ShareSize-1] == 0 {
		return Errorf(Code_INVALID_ARGUMENT, "the share is malformed")
	}
	return nil
}

// Validate checks a release request: 1 to maxBatch distinct valid units, a
// nonce, a time and a signature of the right sizes. The signature itself is
// the node's to verify, with the device key of the connection.
func (r *ReleaseRequest) Validate(maxBatch int) error {
	if len(r.Units) == 0 {
		return Errorf(Code_INVALID_ARGUMENT, "the request names no unit")
	}
	if len(r.Units) > maxBatch {
		return Errorf(Code_INVALID_ARGUMENT, "the request names %d units, more than the %d allowed", len(r.Units), maxBatch)
	}
	seen := make(map[[UnitIDSize + 8]byte]bool, len(r.Units))
	for _, u := range r.Units {
		if err := u.Validate(); err != nil {
			return err
		}
		var k [UnitIDSize + 8]byte
		copy(k[:], u.UnitId)
		for i := range 8 {
			k[UnitIDSize+i] = byte(u.Version >> (8 * i))
		}
		if seen[k] {
			return Errorf(Code_INVALID_ARGUMENT, "the request names a unit version twice")
		}
		seen[k] = true
	}
	switch {
	case r.TimeUnixMs == 0:
		return Errorf(Code_INVALID_ARGUMENT, "the request has no time")
	case len(r.Nonce) != RequestNonceSize:
		return Errorf(Code_INVALID_ARGUMENT, "the request nonce is not %d bytes", RequestNonceSize)
	case len(r.DeviceSignature) != ed25519.SignatureSize:
		return Errorf(Code_INVALID_ARGUMENT, "the device signature is not an Ed25519 signature")
	}
	return nil
}

// Validate checks a delete request.
func (r *DeleteRequest) Validate() error { return r.Unit.Validate() }
