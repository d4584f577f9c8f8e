package store

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/custos-network/custos/api"
)

// Records are JSON objects whose "v" field names their format version. The
// decoders are strict: an unknown version, an unknown field, a value that
// breaks a record's rules or a record over its size cap is ErrCorrupt.
const (
	// accountVersion 3 holds a set of devices; version 2 (one device) is
	// still read, as an account of that one device. Version 1 (login v1)
	// exists in no store in the field, so none is read.
	accountVersion   = 3
	accountVersionV2 = 2
	inviteVersion    = 1

	// maxAccountRecord leaves room for two dealing notes (the current and
	// the staged dealing's) at their largest, in base64 as JSON writes
	// them, beside the rest of an account. An account of a small network
	// stays well under 8 KiB.
	maxAccountRecord = 8<<10 + 2*((MaxDealingNoteLen+2)/3*4)
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
	User string
	// Devices are the user's devices, oldest first: at least one active,
	// at most MaxActiveDevices active and MaxRevokedDevices revoked.
	Devices []Device
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

// Device is one device key enrolled for a user. A revoked device stays
// in the account, so that its requests are refused as those of a revoked
// device (and logged as such) rather than as a stranger's.
type Device struct {
	PeerID  []byte // the device key's libp2p peer ID, as bytes
	Added   time.Time
	Revoked time.Time // zero while the device is active
}

// Bounds of an account's devices: a device set is part of the account
// (every device logs in with the same dealing), kept small.
const (
	MaxActiveDevices  = api.MaxActiveDevices
	MaxRevokedDevices = api.MaxRevokedDevices
)

// Active reports whether the device is not revoked.
func (d *Device) Active() bool { return d.Revoked.IsZero() }

// Device returns the account's device with this peer ID, active or
// revoked, or nil.
func (a *Account) Device(peerID []byte) *Device {
	for i := range a.Devices {
		if bytes.Equal(a.Devices[i].PeerID, peerID) {
			return &a.Devices[i]
		}
	}
	return nil
}

// ActiveDevices counts the devices that are not revoked.
func (a *Account) ActiveDevices() int {
	n := 0
	for i := range a.Devices {
		if a.Devices[i].Active() {
			n++
		}
	}
	return n
}

// AddDevice adds an active device; the caller checked that there is room
// (ActiveDevices below MaxActiveDevices) and that it is not there yet.
func (a *Account) AddDevice(peerID []byte, at time.Time) {
	a.Devices = append(a.Devices, Device{PeerID: bytes.Clone(peerID), Added: at})
}

// Revoke revokes the device with this peer ID at time at, and forgets the
// devices revoked longest ago past MaxRevokedDevices, never this one (it
// may be the oldest added). It reports whether the device was active.
func (a *Account) Revoke(peerID []byte, at time.Time) bool {
	d := a.Device(peerID)
	if d == nil || !d.Active() {
		return false
	}
	d.Revoked = at
	for len(a.Devices)-a.ActiveDevices() > MaxRevokedDevices {
		oldest := -1
		for i, e := range a.Devices {
			if !e.Active() && !bytes.Equal(e.PeerID, peerID) && (oldest < 0 || e.Revoked.Before(a.Devices[oldest].Revoked)) {
				oldest = i
			}
		}
		a.Devices = slices.Delete(a.Devices, oldest, oldest+1)
	}
	return true
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
	// Note is the dealing note a password change left with the dealing
	// (an encoded api.DealingNote, at most MaxDealingNoteLen bytes; none
	// for a dealing of enrollment): what the user's other devices need to
	// follow the change. Only its length is checked here.
	Note []byte
}

// MaxDealingNoteLen bounds a dealing's note (api.MaxDealingNoteSize).
const MaxDealingNoteLen = 48 << 10

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
	V           int            `json:"v"`
	User        string         `json:"user"`
	Devices     []deviceRecord `json:"devices"`
	Current     dealingRecord  `json:"current"`
	Staged      *dealingRecord `json:"staged"`
	Failures    int            `json:"failures"`
	Locked      bool           `json:"locked"`
	LockedAt    time.Time      `json:"locked_at"`
	NextAttempt time.Time      `json:"next_attempt"`
	Created     time.Time      `json:"created"`
}

// accountRecordV2 is an account of version 2: one device.
type accountRecordV2 struct {
	accountRecord
	DevicePeerID []byte `json:"device_peer_id"`
}

type deviceRecord struct {
	PeerID  []byte    `json:"peer_id"`
	Added   time.Time `json:"added"`
	Revoked time.Time `json:"revoked"`
}

type dealingRecord struct {
	Epoch          uint32 `json:"epoch"`
	Index          int    `json:"index"`
	PublicShare    []byte `json:"public_share"`
	LoginPublicKey []byte `json:"login_public_key"`
	Note           []byte `json:"note,omitempty"`
}

func (d *Dealing) record() *dealingRecord {
	if d == nil {
		return nil
	}
	return &dealingRecord{Epoch: d.Epoch, Index: d.Index, PublicShare: d.PublicShare, LoginPublicKey: d.LoginPublicKey, Note: d.Note}
}

func (r *dealingRecord) dealing() *Dealing {
	if r == nil {
		return nil
	}
	return &Dealing{Epoch: r.Epoch, Index: r.Index, PublicShare: r.PublicShare, LoginPublicKey: r.LoginPublicKey, Note: r.Note}
}

func checkAccount(a *Account) error {
	if a == nil {
		return fmt.Errorf("%w: nil account", ErrInvalid)
	}
	if err := checkUser(a.User); err != nil {
		return err
	}
	if err := checkDevices(a); err != nil {
		return err
	}
	if a.Failures < 0 {
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

// checkDevices checks an account's device set: one to MaxActiveDevices
// active, at most MaxRevokedDevices revoked, each peer ID once.
func checkDevices(a *Account) error {
	active := a.ActiveDevices()
	switch {
	case active == 0:
		return fmt.Errorf("%w: no active device", ErrInvalid)
	case active > MaxActiveDevices:
		return fmt.Errorf("%w: %d active devices, more than %d", ErrInvalid, active, MaxActiveDevices)
	case len(a.Devices)-active > MaxRevokedDevices:
		return fmt.Errorf("%w: %d revoked devices, more than %d", ErrInvalid, len(a.Devices)-active, MaxRevokedDevices)
	}
	for i, d := range a.Devices {
		if len(d.PeerID) == 0 || len(d.PeerID) > MaxPeerIDLen {
			return fmt.Errorf("%w: device peer ID is %d bytes, want 1 to %d", ErrInvalid, len(d.PeerID), MaxPeerIDLen)
		}
		for _, e := range a.Devices[:i] {
			if bytes.Equal(e.PeerID, d.PeerID) {
				return fmt.Errorf("%w: a device is listed twice", ErrInvalid)
			}
		}
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
	case len(d.Note) > MaxDealingNoteLen:
		return fmt.Errorf("%w: %s dealing note is %d bytes, more than %d", ErrInvalid, which, len(d.Note), MaxDealingNoteLen)
	}
	return nil
}

func encodeAccount(a *Account) ([]byte, error) {
	if err := checkAccount(a); err != nil {
		return nil, err
	}
	b, err := json.Marshal(accountRecord{
		V:           accountVersion,
		User:        a.User,
		Devices:     deviceRecords(a.Devices),
		Current:     *a.Current.record(),
		Staged:      a.Staged.record(),
		Failures:    a.Failures,
		Locked:      a.Locked,
		LockedAt:    a.LockedAt.UTC(),
		NextAttempt: a.NextAttempt.UTC(),
		Created:     a.Created.UTC(),
	})
	if err != nil {
		// Only a time outside years 0 to 9999 gets here.
		return nil, fmt.Errorf("%w: encode account: %v", ErrInvalid, err)
	}
	return b, nil
}

func deviceRecords(ds []Device) []deviceRecord {
	out := make([]deviceRecord, len(ds))
	for i, d := range ds {
		out[i] = deviceRecord{PeerID: d.PeerID, Added: d.Added.UTC(), Revoked: d.Revoked.UTC()}
	}
	return out
}

func decodeAccount(b []byte) (*Account, error) {
	r, err := decodeAccountRecord(b)
	if err != nil {
		return nil, err
	}
	a := &Account{
		User:        r.User,
		Current:     *r.Current.dealing(),
		Staged:      r.Staged.dealing(),
		Failures:    r.Failures,
		Locked:      r.Locked,
		LockedAt:    r.LockedAt.UTC(),
		NextAttempt: r.NextAttempt.UTC(),
		Created:     r.Created.UTC(),
	}
	for _, d := range r.Devices {
		a.Devices = append(a.Devices, Device{PeerID: d.PeerID, Added: d.Added.UTC(), Revoked: d.Revoked.UTC()})
	}
	if err := checkAccount(a); err != nil {
		return nil, fmt.Errorf("%w: account record: %v", ErrCorrupt, err)
	}
	return a, nil
}

// decodeAccountRecord decodes an account record of version 3, or of
// version 2, whose one device becomes the account's device set, added
// when the account was made.
func decodeAccountRecord(b []byte) (*accountRecord, error) {
	var r accountRecord
	err := decodeRecord("account", b, maxAccountRecord, accountVersion, &r)
	if err == nil || !isVersion(b, accountVersionV2) {
		return &r, err
	}
	var r2 accountRecordV2
	if err := decodeRecord("account", b, maxAccountRecord, accountVersionV2, &r2); err != nil {
		return nil, err
	}
	if r2.Devices != nil {
		return nil, fmt.Errorf("%w: account record of version 2 with a device set", ErrCorrupt)
	}
	r = r2.accountRecord
	r.Devices = []deviceRecord{{PeerID: r2.DevicePeerID, Added: r2.Created}}
	return &r, nil
}

// isVersion reports whether b is a JSON object whose "v" is version.
func isVersion(b []byte, version int) bool {
	var head struct {
		V *int `json:"v"`
	}
	return len(b) <= maxAccountRecord && json.Unmarshal(b, &head) == nil && head.V != nil && *head.V == version
}

// Invite is a one-time enrollment invite. Only the SHA-256 of its token is
// stored, so a copy of the database enrolls no one.
type Invite struct {
	Hash    [32]byte
	User    string
	Expires time.Time
	Created time.Time
	// NewDevice marks a token that adds a device to an enrolled user's
	// account, not one that enrolls a user.
	NewDevice bool
}

type inviteRecord struct {
	V         int       `json:"v"`
	Hash      string    `json:"hash"` // 64 lower-case hex digits
	User      string    `json:"user"`
	Expires   time.Time `json:"expires"`
	Created   time.Time `json:"created"`
	NewDevice bool      `json:"new_device,omitempty"`
}

func encodeInvite(inv *Invite) ([]byte, error) {
	if inv == nil {
		return nil, fmt.Errorf("%w: nil invite", ErrInvalid)
	}
	if err := checkUser(inv.User); err != nil {
		return nil, err
	}
	b, err := json.Marshal(inviteRecord{
		V:         inviteVersion,
		Hash:      hex.EncodeToString(inv.Hash[:]),
		User:      inv.User,
		Expires:   inv.Expires.UTC(),
		Created:   inv.Created.UTC(),
		NewDevice: inv.NewDevice,
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
	inv := &Invite{User: r.User, Expires: r.Expires.UTC(), Created: r.Created.UTC(), NewDevice: r.NewDevice}
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
