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
	// accountVersion 2 holds login v2's OPRF dealings; no store of
	// version 1 (login v1) exists in the field, so none is read.
	accountVersion = 2
	inviteVersion  = 1

	maxAccountRecord = 4 << 10
	maxInviteRecord  = 2 << 10
)

// Sizes and bounds of a dealing.
const (
	// OprfKeyShareLen is the size of an OPRF key share r_i (a ristretto255
	// scalar), PublicShareLen that of its public share R_i.
	OprfKeyShareLen = 32
	PublicShareLen  = 32
	// MaxDealingIndex is the largest share index of a dealing: the
	// threshold package's bound on custodians.
	MaxDealingIndex = 255
)

// Account is one enrolled user at this node, with the lockout state that
// package auth keeps for them. The zero times mean "never".
type Account struct {
	User         string
	DevicePeerID []byte // the device key's libp2p peer ID, as bytes
	// Current is the dealing logins use; Staged, when not nil, is the
	// dealing of a password change in progress, of epoch Current.Epoch+1,
	// which logins may use as well until the change is committed or
	// aborted. The key share of each is stored apart, sealed
	// (Tx.PutOprfKeyShare).
	Current     Dealing
	Staged      *Dealing
	Failures    int // counted login attempts since the last success
	Locked      bool
	LockedAt    time.Time
	NextAttempt time.Time // no login is answered before this time
	Created     time.Time
}

// Dealing is what the node keeps in an account of one dealing of the
// user's OPRF key (login v2, docs/login.md), besides its key share: the
// epoch (1 at enrollment, one more per password change), the node's share
// index, its public share R_i and the login public key the client derived
// for this node from the dealing's output.
type Dealing struct {
	Epoch          uint32
	Index          int
	PublicShare    []byte // R_i, PublicShareLen bytes
	LoginPublicKey []byte // Ed25519, 32 bytes
}

// Dealing returns the account's dealing of epoch, the current or the
// staged one, or nil when it holds none of that epoch.
func (a *Account) Dealing(epoch uint32) *Dealing {
	switch {
	case epoch == 0:
		return nil
	case a.Current.Epoch == epoch:
		return &a.Current
	case a.Staged != nil && a.Staged.Epoch == epoch:
		return a.Staged
	}
	return nil
}

type accountRecord struct {
	V            int            `json:"v"`
	User         string         `json:"user"`
	DevicePeerID []byte         `json:"device_peer_id"`
	Current      dealingRecord  `json:"current"`
	Staged       *dealingRecord `json:"staged"`
	Failures     int            `json:"failures"`
	Locked       bool           `json:"locked"`
	LockedAt     time.Time      `json:"locked_at"`
	NextAttempt  time.Time      `json:"next_attempt"`
	Created      time.Time      `json:"created"`
}

type dealingRecord struct {
	Epoch          uint32 `json:"epoch"`
	Index          int    `json:"index"`
	PublicShare    []byte `json:"public_share"`
	LoginPublicKey []byte `json:"login_public_key"`
}

func (d *Dealing) record() *dealingRecord {
	if d == nil {
		return nil
	}
	return &dealingRecord{Epoch: d.Epoch, Index: d.Index, PublicShare: d.PublicShare, LoginPublicKey: d.LoginPublicKey}
}

func (r *dealingRecord) dealing() *Dealing {
	if r == nil {
		return nil
	}
	return &Dealing{Epoch: r.Epoch, Index: r.Index, PublicShare: r.PublicShare, LoginPublicKey: r.LoginPublicKey}
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
	case a.Failures < 0:
		return fmt.Errorf("%w: negative failure count", ErrInvalid)
	}
	if err := checkDealing("current", &a.Current); err != nil {
		return err
	}
	if a.Staged == nil {
		return nil
	}
	if err := checkDealing("staged", a.Staged); err != nil {
		return err
	}
	if a.Staged.Epoch != a.Current.Epoch+1 {
		return fmt.Errorf("%w: staged dealing of epoch %d, want %d", ErrInvalid, a.Staged.Epoch, a.Current.Epoch+1)
	}
	return nil
}

// checkDealing checks a dealing's shape; that R_i is a group element, and
// the key share's, is package auth's to check when it is dealt.
func checkDealing(which string, d *Dealing) error {
	switch {
	case d.Epoch == 0:
		return fmt.Errorf("%w: %s dealing has epoch 0", ErrInvalid, which)
	case d.Index < 1 || d.Index > MaxDealingIndex:
		return fmt.Errorf("%w: %s dealing has index %d, want 1 to %d", ErrInvalid, which, d.Index, MaxDealingIndex)
	case len(d.PublicShare) != PublicShareLen:
		return fmt.Errorf("%w: %s public share is %d bytes, want %d", ErrInvalid, which, len(d.PublicShare), PublicShareLen)
	case len(d.LoginPublicKey) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: %s login public key is %d bytes, want %d", ErrInvalid, which, len(d.LoginPublicKey), ed25519.PublicKeySize)
	}
	return nil
}

func encodeAccount(a *Account) ([]byte, error) {
	if err := checkAccount(a); err != nil {
		return nil, err
	}
	b, err := json.Marshal(accountRecord{
		V:            accountVersion,
		User:         a.User,
		DevicePeerID: a.DevicePeerID,
		Current:      *a.Current.record(),
		Staged:       a.Staged.record(),
		Failures:     a.Failures,
		Locked:       a.Locked,
		LockedAt:     a.LockedAt.UTC(),
		NextAttempt:  a.NextAttempt.UTC(),
		Created:      a.Created.UTC(),
	})
	if err != nil {
		// Only a time outside years 0 to 9999 gets here.
		return nil, fmt.Errorf("%w: encode account: %v", ErrInvalid, err)
	}
	return b, nil
}

func decodeAccount(b []byte) (*Account, error) {
	var r accountRecord
	if err := decodeRecord("account", b, maxAccountRecord, accountVersion, &r); err != nil {
		return nil, err
	}
	a := &Account{
		User:         r.User,
		DevicePeerID: r.DevicePeerID,
		Current:      *r.Current.dealing(),
		Staged:       r.Staged.dealing(),
		Failures:     r.Failures,
		Locked:       r.Locked,
		LockedAt:     r.LockedAt.UTC(),
		NextAttempt:  r.NextAttempt.UTC(),
		Created:      r.Created.UTC(),
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
		V:       inviteVersion,
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
	if err := decodeRecord("invite", b, maxInviteRecord, inviteVersion, &r); err != nil {
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

// decodeRecord checks the size cap and that the version is version, then
// decodes b into v refusing unknown fields. v's struct has a V field for
// "v".
func decodeRecord(what string, b []byte, limit, version int, v any) error {
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
	if *head.V != version {
		return fmt.Errorf("%w: %s record has unknown version %d", ErrCorrupt, what, *head.V)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s record: %v", ErrCorrupt, what, err)
	}
	return nil
}
