package api

import (
	"crypto/ed25519"
	"crypto/subtle"

	"github.com/custos-network/custos/threshold/toprf"
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

// Validate checks an enrollment request: a user, a token that fits, a
// login public key and the first dealing (epoch 1) of the user's OPRF key.
func (r *EnrollRequest) Validate() error {
	if err := checkUser(r.User); err != nil {
		return err
	}
	if len(r.Token) > MaxTokenLen {
		return Errorf(Code_INVALID_ARGUMENT, "the invite token is too long")
	}
	if err := checkLoginKey(r.AuthPublicKey); err != nil {
		return err
	}
	if err := r.Oprf.Validate(); err != nil {
		return err
	}
	if r.Oprf.Epoch == 0 {
		// 1 at a first enrollment; a reshare enrolls a node that joins
		// with the epoch of the dealing it moves the user to.
		return Errorf(Code_INVALID_ARGUMENT, "OPRF epochs start at 1")
	}
	return nil
}

func checkLoginKey(pub []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return Errorf(Code_INVALID_ARGUMENT, "the login key is not an Ed25519 public key")
	}
	return nil
}

// Validate checks one node's share of an OPRF key (docs/login.md): an epoch
// from 1, an index in 1..255, a key share that is the canonical encoding
// of a non-zero scalar, and a public share that is that scalar times the
// generator. The errors never hold the key share, which is secret.
func (s *OprfShare) Validate() error {
	switch {
	case s == nil:
		return Errorf(Code_INVALID_ARGUMENT, "the request holds no OPRF key share")
	case s.Epoch == 0:
		return Errorf(Code_INVALID_ARGUMENT, "OPRF epochs start at 1")
	case s.Index < 1 || s.Index > toprf.MaxShares:
		return Errorf(Code_INVALID_ARGUMENT, "an OPRF share index is 1 to %d", toprf.MaxShares)
	case len(s.PublicShare) != toprf.ElementSize:
		return Errorf(Code_INVALID_ARGUMENT, "the OPRF public share is not %d bytes", toprf.ElementSize)
	}
	ks, err := toprf.KeyShareFromBytes(int(s.Index), s.KeyShare)
	if err != nil {
		return Errorf(Code_INVALID_ARGUMENT, "the OPRF key share is not a canonical non-zero scalar")
	}
	defer ks.Wipe()
	pub := ks.Public()
	if subtle.ConstantTimeCompare(pub.Element[:], s.PublicShare) != 1 {
		return Errorf(Code_INVALID_ARGUMENT, "the OPRF public share does not match the key share")
	}
	return nil
}

// Validate checks the first message of a login: a user, and a blinded
// element that is a canonical group element other than the identity, or
// none (a challenge alone). The epoch is the node's to look up.
func (r *LoginHello) Validate() error {
	if err := checkUser(r.User); err != nil {
		return err
	}
	if len(r.Blinded) > 0 && toprf.CheckElement(r.Blinded) != nil {
		return Errorf(Code_INVALID_ARGUMENT, "the blinded element is not a valid ristretto255 element")
	}
	if len(r.DeviceToken) > MaxTokenLen {
		return Errorf(Code_INVALID_ARGUMENT, "the invite token is too long")
	}
	return nil
}

// Validate checks a step of a password change: a stage of a new dealing
// (an OPRF share of an epoch from 2, the next after enrollment's at least,
// and its login key), or the commit or abort of an epoch from 2. Whether
// the epoch is the right one is the node's to decide.
func (r *PasswdRequest) Validate() error {
	switch step := r.Step.(type) {
	case *PasswdRequest_Stage:
		if step.Stage == nil {
			return Errorf(Code_INVALID_ARGUMENT, "the password change stages nothing")
		}
		if err := step.Stage.Oprf.Validate(); err != nil {
			return err
		}
		if step.Stage.Oprf.Epoch < 2 {
			return Errorf(Code_INVALID_ARGUMENT, "a password change deals an OPRF epoch from 2")
		}
		if err := step.Stage.checkNote(); err != nil {
			return err
		}
		return checkLoginKey(step.Stage.AuthPublicKey)
	case *PasswdRequest_Commit:
		return checkStagedEpoch(step.Commit)
	case *PasswdRequest_Abort:
		return checkStagedEpoch(step.Abort)
	}
	return Errorf(Code_INVALID_ARGUMENT, "the password change names no step")
}

// checkNote checks a stage's dealing note, if it has one: well formed, of
// the stage's epoch, and holding the stage's own public share at its index.
// That the share is this node's (its peer ID) is the node's to check.
func (s *PasswdStage) checkNote() error {
	if s.Note == nil {
		return nil
	}
	if err := s.Note.Validate(); err != nil {
		return err
	}
	own := s.Note.Share(s.Oprf.Index)
	switch {
	case s.Note.Epoch != s.Oprf.Epoch:
		return Errorf(Code_INVALID_ARGUMENT, "the dealing note is of epoch %d, the stage of %d", s.Note.Epoch, s.Oprf.Epoch)
	case own == nil || subtle.ConstantTimeCompare(own.PublicShare, s.Oprf.PublicShare) != 1:
		return Errorf(Code_INVALID_ARGUMENT, "the dealing note does not hold the stage's public share at its index")
	}
	return nil
}

func checkStagedEpoch(epoch uint32) error {
	if epoch < 2 {
		return Errorf(Code_INVALID_ARGUMENT, "a staged OPRF epoch is 2 or more")
	}
	return nil
}

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
	return CheckOperation(r.Operation)
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
func (r *DeleteRequest) Validate() error {
	if err := r.Unit.Validate(); err != nil {
		return err
	}
	return CheckOperation(r.Operation)
}

// CheckOperation refuses an Operation this build does not know: a node
// would log a number no reader can name.
func CheckOperation(op Operation) error {
	if _, ok := Operation_name[int32(op)]; !ok {
		return Errorf(Code_INVALID_ARGUMENT, "unknown operation %d", int32(op))
	}
	return nil
}
