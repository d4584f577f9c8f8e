package store

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Records are JSON objects whose "v" field names their format version. The
// decoders are strict: an unknown version, an unknown field, a value that
// breaks a record's rules or a record over its size cap is ErrCorrupt.
const (
	recordVersion = 1

	maxAccountRecord = 4 << 10
	maxInviteRecord  = 2 << 10
)

// Account is one enrolled user at this node, with the lockout state that
// package auth keeps for them. The zero times mean "never".
type Account struct {
	User          string
	DevicePeerID  []byte // the device key's libp2p peer ID, as bytes
	AuthPublicKey []byte // Ed25519 public key A_i, 32 bytes
	Failures      int    // failed logins since the last success
	Locked        bool
	LockedAt      time.Time
	NextAttempt   time.Time // no login is answered before this time
	Created       time.Time
}

type accountRecord struct {
	V             int       `json:"v"`
	User          string    `json:"user"`
	DevicePeerID  []byte    `json:"device_peer_id"`
	AuthPublicKey []byte    `json:"auth_public_key"`
	Failures      int       `json:"failures"`
	Locked        bool      `json:"locked"`
	LockedAt      time.Time `json:"locked_at"`
	NextAttempt   time.Time `json:"next_attempt"`
	Created       time.Time `json:"created"`
}

func checkAccount(a *Account) error {
	if a == nil {
		return fmt.Errorf("%w: nil account", ErrInvalid)
	}
	if err := checkUser(a.User); err != nil {
		return err
	}
	switch {
	case len(a.DevicePeerID) == 0 || len(a.DevicePeerID) > MaxPeerIDLen:
		return fmt.Errorf("%w: device peer ID is %d bytes, want 1 to %d", ErrInvalid, len(a.DevicePeerID), MaxPeerIDLen)
	case len(a.AuthPublicKey) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: auth public key is %d bytes, want %d", ErrInvalid, len(a.AuthPublicKey), ed25519.PublicKeySize)
	case a.Failures < 0:
		return fmt.Errorf("%w: negative failure count", ErrInvalid)
	}
	return nil
}

func encodeAccount(a *Account) ([]byte, error) {
	if err := checkAccount(a); err != nil {
		return nil, err
	}
	b, err := json.Marshal(accountRecord{
		V:             recordVersion,
		User:          a.User,
		DevicePeerID:  a.DevicePeerID,
		AuthPublicKey: a.AuthPublicKey,
		Failures:      a.Failures,
		Locked:        a.Locked,
		LockedAt:      a.LockedAt.UTC(),
		NextAttempt:   a.NextAttempt.UTC(),
		Created:       a.Created.UTC(),
	})
	if err != nil {
		// Only a time outside years 0 to 9999 gets here.
		return nil, fmt.Errorf("%w: encode account: %v", ErrInvalid, err)
	}
	return b, nil
}

func decodeAccount(b []byte) (*Account, error) {
	var r accountRecord
	if err := decodeRecord("account", b, maxAccountRecord, &r); err != nil {
		return nil, err
	}
	a := &Account{
		User:          r.User,
		DevicePeerID:  r.DevicePeerID,
		AuthPublicKey: r.AuthPublicKey,
		Failures:      r.Failures,
		Locked:        r.Locked,
		LockedAt:      r.LockedAt.UTC(),
		NextAttempt:   r.NextAttempt.UTC(),
		Created:       r.Created.UTC(),
	}
	if err := checkAccount(a); err != nil {
		return nil, fmt.Errorf("%w: account record: %v", ErrCorrupt, err)
	}
	return a, nil
}

// Invite is a one-time enrollment invite. Only the SHA-256 of its token is
// stored, so a copy of the database enrolls no one.
type Invite struct {
	Hash    [32]byte
	User    string
	Expires time.Time
	Created time.Time
}

type inviteRecord struct {
	V       int       `json:"v"`
	Hash    string    `json:"hash"` // 64 lower-case hex digits
	User    string    `json:"user"`
	Expires time.Time `json:"expires"`
	Created time.Time `json:"created"`
}

func encodeInvite(inv *Invite) ([]byte, error) {
	if inv == nil {
		return nil, fmt.Errorf("%w: nil invite", ErrInvalid)
	}
	if err := checkUser(inv.User); err != nil {
		return nil, err
	}
	b, err := json.Marshal(inviteRecord{
		V:       recordVersion,
		Hash:    hex.EncodeToString(inv.Hash[:]),
		User:    inv.User,
		Expires: inv.Expires.UTC(),
		Created: inv.Created.UTC(),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: encode invite: %v", ErrInvalid, err)
	}
	return b, nil
}

func decodeInvite(b []byte) (*Invite, error) {
	var r inviteRecord
	if err := decodeRecord("invite", b, maxInviteRecord, &r); err != nil {
		return nil, err
	}
	inv := &Invite{User: r.User, Expires: r.Expires.UTC(), Created: r.Created.UTC()}
	if len(r.Hash) != 2*len(inv.Hash) {
		return nil, fmt.Errorf("%w: invite record: hash is not 64 hex digits", ErrCorrupt)
	}
	if _, err := hex.Decode(inv.Hash[:], []byte(r.Hash)); err != nil || hex.EncodeToString(inv.Hash[:]) != r.Hash {
		return nil, fmt.Errorf("%w: invite record: hash is not 64 lower-case hex digits", ErrCorrupt)
	}
	if err := checkUser(inv.User); err != nil {
		return nil, fmt.Errorf("%w: invite record: %v", ErrCorrupt, err)
	}
	return inv, nil
}

// decodeRecord checks the size cap and the version, then decodes b into v
// refusing unknown fields. v's struct has a V field for "v".
func decodeRecord(what string, b []byte, limit int, v any) error {
	if len(b) > limit {
		return fmt.Errorf("%w: %s record is %d bytes, more than %d", ErrCorrupt, what, len(b), limit)
	}
	var head struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("%w: %s record is not a JSON object", ErrCorrupt, what)
	}
	if head.V == nil {
		return fmt.Errorf("%w: %s record has no version", ErrCorrupt, what)
	}
	if *head.V != recordVersion {
		return fmt.Errorf("%w: %s record has unknown version %d", ErrCorrupt, what, *head.V)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s record: %v", ErrCorrupt, what, err)
	}
	return nil
}
