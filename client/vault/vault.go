package vault

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/threshold"
)

// Vault is the vault's header: what the client reads when it opens the
// vault and keeps in memory. The records (units), the receipts and the
// pending deletes stay in the database, read and written one at a time
// through the Handle. docs/vault.md says what each field holds and the
// rules each must follow.
type Vault struct {
	// User is the user's name at the custodians.
	User string
	// Network is the network file as the user gave it, byte for byte.
	Network []byte
	// DeviceKey is the device's libp2p identity: an Ed25519 private key as
	// crypto.MarshalPrivateKey writes it. Secret.
	DeviceKey []byte
	// MasterSecret is the client master secret M, 32 bytes. Secret.
	MasterSecret []byte
	// PasswordKDF is the salt and Argon2id parameters of the password.
	PasswordKDF threshold.PasswordKDF
	// Login is the dealing of the user's OPRF key (login v2), nil until
	// the first enrollment deals it. See Login.
	Login *Login
	// PasswordChange is a password change under way (custos passwd), nil
	// when there is none. See PasswordChange.
	PasswordChange *PasswordChange
	// Checkpoints hold, per node, the newest checkpoint of its log that the
	// client verified, in node-name order (byte-wise). Every receipt and
	// log answer of the node must be consistent with it. Auditors read
	// them (custos audit verify --vault) to find a node that showed this
	// user another log than it shows them. See Checkpoint and
	// SetCheckpoint.
	Checkpoints []NodeCheckpoint
	// Restores are the restores of nodes from a backup that the client
	// accepted, oldest first, each with the checkpoint it replaced: what
	// the node had shown this user before. The vault keeps the newest
	// MaxRestores. See AddRestore.
	Restores []Restore
}

// Unit is what the vault keeps of one record: everything needed to collect
// its shares, check them and open the sealed record.
type Unit struct {
	// Label is the user's name for the unit; it never leaves the device.
	// See ValidLabel.
	Label string `json:"label"`
	// ID is the unit's random ID at the custodians.
	ID threshold.UnitID `json:"id"`
	// Version is the version of the unit these shares and this record are
	// of, from 1.
	Version uint64 `json:"version"`
	// Threshold is how many of the Nodes must give their share back.
	Threshold int `json:"threshold"`
	// Nodes are the custodians the version was dealt to, in dealing order:
	// share i went to Nodes[i].
	Nodes []UnitNode `json:"nodes"`
	// KeyCommit is the commitment to the server key of this version.
	KeyCommit threshold.Commitment `json:"key_commit"`
	// Sealed is the sealed record (docs/threshold.md).
	Sealed []byte `json:"sealed"`
	// Degraded is set when some node does not store its share; it must be
	// true exactly when some UnitNode has Stored false.
	Degraded bool `json:"degraded"`
	// Created and Updated are when the unit was first put and when its
	// current version was made. They are written in UTC.
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// MAC is the unit's integrity tag: HMAC-SHA256 under a key derived
	// from the master secret, over every other field (see SealUnit and
	// CheckUnit). The client checks it before it asks any node for the
	// unit, so that a damaged unit is told as such, not blamed on the
	// custodians.
	MAC []byte `json:"mac"`
}

// UnitNode is one custodian of a unit version.
type UnitNode struct {
	// Name is the node's name in the network file.
	Name string `json:"name"`
	// PeerID is the node's libp2p peer ID in its base58 text form.
	PeerID string `json:"peer_id"`
	// Commitment checks the share the node holds.
	Commitment threshold.Commitment `json:"commitment"`
	// Stored is set once the node acknowledged storing its share.
	Stored bool `json:"stored"`
}

// PendingDelete is a unit version whose deletion some nodes have not yet
// confirmed.
type PendingDelete struct {
	ID      threshold.UnitID `json:"id"`
	Version uint64           `json:"version"`
	// Nodes are the names of the nodes still to confirm.
	Nodes []string `json:"nodes"`
	// Operation is what the delete is part of (a replace, a rotation, a
	// reshare or an undo; unspecified for custos rm), sent again with every
	// retry so that the node logs it as what it was.
	Operation api.Operation `json:"operation,omitempty"`
}

// Receipt is a node's verified proof that it logged a release of the
// user's units: the entry as the node stored it and the node's signed
// checkpoint of a tree that includes it. An auditor can later ask the node
// for a consistency proof from that checkpoint to check the entry was kept.
type Receipt struct {
	// Node is the node's name in the network file.
	Node string `json:"node"`
	// Units are the unit versions the release asked for, in request order.
	Units []UnitRef `json:"units"`
	// Index is the entry's index in the node's log.
	Index uint64 `json:"index"`
	// Checkpoint is the node's signed checkpoint (docs/auditing.md).
	Checkpoint []byte `json:"checkpoint"`
	// Entry is the log entry, as the node stored it.
	Entry []byte `json:"entry"`
	// Evidence is empty for the receipt of a release the client took. A
	// receipt that verified (signed checkpoint, entry included) but
	// proves that the node lied is kept all the same, with Evidence saying
	// what it proves: EvidenceRefusal, EvidenceOtherEntry or EvidenceFork.
	// None of the node's shares of that answer was used.
	Evidence string `json:"evidence"`
}

// What a receipt kept as evidence proves (Receipt.Evidence).
const (
	// EvidenceRefusal: the entry refuses a unit (or the whole request)
	// that the node's answer released: the node released and logged a
	// refusal. The entry carries the device's signature of the request.
	EvidenceRefusal = "refusal"
	// EvidenceOtherEntry: the entry is not of the request the node
	// answered (another request of the device, such as an earlier release,
	// another device, user or units), or refuses what the answer did not.
	EvidenceOtherEntry = "other-entry"
	// EvidenceFork: the checkpoint is not consistent with the one the
	// vault kept of the node (Checkpoints): older, of the same size with
	// another root, or not proven to extend it. The node showed this user
	// two logs.
	EvidenceFork = "fork"
)

// NodeCheckpoint is the newest checkpoint of a node's log that the client
// verified: signed by the key the network file pins for the node, and
// consistent with every earlier one the client kept of it.
type NodeCheckpoint struct {
	// Node is the node's name in the network file.
	Node string `json:"node"`
	// Checkpoint is the node's signed checkpoint (docs/auditing.md).
	Checkpoint []byte `json:"checkpoint"`
}

// Checkpoint returns the checkpoint kept of node, or nil. The slice is the
// vault's: the caller must not change it.
func (v *Vault) Checkpoint(node string) []byte {
	i, ok := slices.BinarySearchFunc(v.Checkpoints, node, compareNode)
	if !ok {
		return nil
	}
	return v.Checkpoints[i].Checkpoint
}

// SetCheckpoint keeps a copy of cp as node's checkpoint, in place of the
// one kept before. It checks only the shape (ErrInvalid): whether cp is
// signed and extends the old one is the caller's to verify first.
func (v *Vault) SetCheckpoint(node string, cp []byte) error {
	c := NodeCheckpoint{Node: node, Checkpoint: slices.Clone(cp)}
	if err := checkNodeCheckpoint(&c); err != nil {
		return fmt.Errorf("set checkpoint: %w: %w", ErrInvalid, err)
	}
	i, ok := slices.BinarySearchFunc(v.Checkpoints, node, compareNode)
	switch {
	case ok:
		v.Checkpoints[i] = c
	case len(v.Checkpoints) >= MaxCheckpoints:
		return fmt.Errorf("set checkpoint: %w: a vault keeps the checkpoints of at most %d nodes", ErrInvalid, MaxCheckpoints)
	default:
		v.Checkpoints = slices.Insert(v.Checkpoints, i, c)
	}
	return nil
}

func compareNode(c NodeCheckpoint, node string) int { return strings.Compare(c.Node, node) }

// Restore is a node's restore from a backup that the client accepted: the
// node's log no longer extended the checkpoint the vault kept of it, and a
// restore entry in its log explained why (docs/client.md). The checkpoint
// it replaced is kept as evidence of what the node had shown this user,
// for auditors (custos audit verify --vault).
type Restore struct {
	// Node is the node's name in the network file.
	Node string `json:"node"`
	// Accepted is when the client accepted the restore. It is written in
	// UTC.
	Accepted time.Time `json:"accepted"`
	// Replaced is the checkpoint the vault kept of the node until then: the
	// newest of the rolled-back log that the client verified.
	Replaced []byte `json:"replaced"`
	// Index is the restore entry's index in the node's log: the size of
	// the restored log.
	Index uint64 `json:"index"`
	// Entry is the restore entry, as the node stored it (its admin text
	// is an api.Restore's).
	Entry []byte `json:"entry"`
	// Checkpoint is the node's signed checkpoint of a tree that holds the
	// entry, which the vault kept of the node from then on.
	Checkpoint []byte `json:"checkpoint"`
}

// AddRestore appends a restore the client accepted, which must follow the
// rules of the format (ErrInvalid), and drops the oldest beyond
// MaxRestores. The vault keeps copies of its slices.
func (v *Vault) AddRestore(r Restore) error {
	r.Accepted = r.Accepted.UTC()
	if err := checkRestore(&r); err != nil {
		return fmt.Errorf("add restore: %w: %w", ErrInvalid, err)
	}
	r.Replaced, r.Entry, r.Checkpoint = slices.Clone(r.Replaced), slices.Clone(r.Entry), slices.Clone(r.Checkpoint)
	v.Restores = append(v.Restores, r)
	v.Restores = slices.Delete(v.Restores, 0, max(len(v.Restores)-MaxRestores, 0))
	return nil
}

// UnitRef names one version of a unit.
type UnitRef struct {
	ID      threshold.UnitID `json:"id"`
	Version uint64           `json:"version"`
}

// Request is a release request this vault's client sent to a node, answered
// or not, as the request journal records it (Handle.AppendRequests). The
// node's log entry of the release holds the same nonce, which is how an
// audit tells this vault's releases from others'.
type Request struct {
	// Node is the node's name in the network file.
	Node string `json:"node"`
	// Time is the request's signed time (millisecond precision; UTC).
	Time time.Time `json:"time"`
	// Nonce is the request's random nonce, api.RequestNonceSize bytes.
	Nonce []byte `json:"nonce"`
}

// Wipe overwrites the device key, the master secret and the key shares of
// the login dealing with zeros, and drops the first two, so that the vault
// can no longer be saved. It is best effort (see the
// package documentation).
func (v *Vault) Wipe() {
	clear(v.DeviceKey)
	clear(v.MasterSecret)
	v.Login.wipe()
	v.DeviceKey, v.MasterSecret = nil, nil
}

// String describes the vault without its secrets.
func (v Vault) String() string {
	epoch := uint32(0)
	if v.Login != nil {
		epoch = v.Login.Epoch
	}
	change := ""
	if p := v.PasswordChange; p != nil {
		change = fmt.Sprintf(", password change to epoch %d: %s", p.Epoch, p.State)
	}
	return fmt.Sprintf("vault{user: %q, login epoch: %d%s, checkpoints: %d, restores: %d, secrets: [redacted]}",
		v.User, epoch, change, len(v.Checkpoints), len(v.Restores))
}

// Format prints what String returns under every verb, %x and %#v included,
// so that no verb reaches the secrets.
func (v Vault) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, v.String()) }

var errEncodeVault = errors.New("a vault is written by Create and Save, not encoded implicitly")

// MarshalJSON fails: a vault header written somewhere by accident would
// give away its secrets.
func (v Vault) MarshalJSON() ([]byte, error) { return nil, errEncodeVault }

// UnmarshalJSON fails: a vault is read by Open, which checks it.
func (v *Vault) UnmarshalJSON([]byte) error { return errEncodeVault }
