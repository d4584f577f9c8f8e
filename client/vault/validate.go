package vault

import (
	"crypto/ed25519"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/crypto"
	pb "github.com/libp2p/go-libp2p/core/crypto/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/threshold"
)

// Limits of the format.
const (
	// MaxLabelLen is the longest label, in bytes.
	MaxLabelLen = 128
	// MaxNetworkSize is the largest network file a vault keeps.
	MaxNetworkSize = 1 << 20
	// MaxReceipts is how many release receipts a vault keeps, the newest:
	// enough for the user's recent history, about a megabyte for releases
	// of a few units each.
	MaxReceipts = 1000
	// MaxRequests is how many release requests the request journal keeps
	// when it is compacted, the newest; it compacts when it would reach
	// 2*MaxRequests.
	MaxRequests = 5000
	// MaxCheckpoints is how many nodes' checkpoints a vault keeps: more
	// than a network file names (threshold.MaxShares), so that those of
	// nodes a reshare left stay for audits.
	MaxCheckpoints = 1024
	// MaxRestores is how many accepted restores of nodes a vault keeps,
	// the newest: a restore is a rare operator action.
	MaxRestores = 100
	// maxReceiptBytes bounds the receipts' encoded values together, so
	// that receipts of large batches cannot make Receipts load hundreds of
	// megabytes.
	maxReceiptBytes = 16 << 20
	// maxDeviceKeySize bounds the device key's encoding (68 bytes when
	// valid).
	maxDeviceKeySize = 128
	// maxReceiptIndex is the audit log's largest index (audit.MaxSize).
	maxReceiptIndex = 1<<48 - 1
	// maxSealed leaves room above the largest record for any sealed
	// format's header and tag (version 1 adds 41 bytes).
	maxSealed = threshold.MaxRecordSize + 1024
)

// ValidLabel reports whether label can name a unit: 1 to 128 bytes of
// UTF-8, every character printable (letters, marks, digits, punctuation,
// symbols and the ASCII space), and no space at either end. Labels are
// compared byte for byte, without Unicode normalisation.
func ValidLabel(label string) bool {
	if len(label) == 0 || len(label) > MaxLabelLen || !utf8.ValidString(label) {
		return false
	}
	if label[0] == ' ' || label[len(label)-1] == ' ' {
		return false
	}
	for _, r := range label {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// check says what of the header breaks a rule of the format, or returns
// nil. Its messages name fields and nodes, never a secret.
func (v *Vault) check() error {
	if !api.ValidUser(v.User) {
		return fmt.Errorf("user name %q is not 1 to %d letters, digits and . _ @ + -", clip(v.User), api.MaxUserLen)
	}
	if len(v.Network) == 0 || len(v.Network) > MaxNetworkSize {
		return fmt.Errorf("the network file is %d bytes; it must be 1 to %d", len(v.Network), MaxNetworkSize)
	}
	if err := checkDeviceKey(v.DeviceKey); err != nil {
		return err
	}
	if len(v.MasterSecret) != threshold.KeySize {
		return fmt.Errorf("the master secret is %d bytes, want %d", len(v.MasterSecret), threshold.KeySize)
	}
	if isZero(v.MasterSecret) {
		return errors.New("the master secret is all zeros (wiped?)")
	}
	if err := v.PasswordKDF.Validate(); err != nil {
		return fmt.Errorf("password_kdf: %s", trimThreshold(err))
	}
	if v.Login != nil {
		if err := checkLogin(v.Login); err != nil {
			return err
		}
	}
	if v.PasswordChange != nil {
		if err := checkChange(v.PasswordChange, v.Login); err != nil {
			return err
		}
	}
	if err := checkCheckpoints(v.Checkpoints); err != nil {
		return err
	}
	if len(v.Restores) > MaxRestores {
		return fmt.Errorf("%d restores; a vault keeps at most %d", len(v.Restores), MaxRestores)
	}
	for i := range v.Restores {
		if err := checkRestore(&v.Restores[i]); err != nil {
			return fmt.Errorf("restores[%d]: %w", i, err)
		}
	}
	return nil
}

// checkPending checks one pending delete on its own.
func checkPending(d *PendingDelete) error {
	at := fmt.Sprintf("pending delete of unit %s version %d", d.ID, d.Version)
	switch {
	case d.ID == threshold.UnitID{}:
		return errors.New("a pending delete's unit ID is all zeros")
	case d.Version == 0:
		return fmt.Errorf("%s: versions start at 1", at)
	case len(d.Nodes) == 0:
		return fmt.Errorf("%s: no nodes left to confirm; the entry should have been dropped", at)
	case len(d.Nodes) > threshold.MaxShares:
		return fmt.Errorf("%s: %d nodes; a unit has at most %d", at, len(d.Nodes), threshold.MaxShares)
	case api.CheckOperation(d.Operation) != nil:
		return fmt.Errorf("%s: %w", at, api.CheckOperation(d.Operation))
	}
	names := make(map[string]bool, len(d.Nodes))
	for _, n := range d.Nodes {
		if err := api.CheckNodeName(n); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		if names[n] {
			return fmt.Errorf("%s: node %s is listed twice", at, n)
		}
		names[n] = true
	}
	return nil
}

// trimThreshold words an error of package threshold for the vault's
// messages.
func trimThreshold(err error) string { return strings.TrimPrefix(err.Error(), "threshold: ") }

// checkRestore checks one accepted restore's shape. Its checkpoints and
// entry were verified when the client accepted it.
func checkRestore(r *Restore) error {
	switch {
	case !api.ValidNodeName(r.Node):
		return fmt.Errorf("node name %q is not 1 to 32 lower-case letters, digits and hyphens", clip(r.Node))
	case len(r.Replaced) == 0 || len(r.Replaced) > api.MaxCheckpointSize:
		return fmt.Errorf("node %s: the replaced checkpoint is %d bytes; it must be 1 to %d", r.Node, len(r.Replaced), api.MaxCheckpointSize)
	case len(r.Checkpoint) == 0 || len(r.Checkpoint) > api.MaxCheckpointSize:
		return fmt.Errorf("node %s: the checkpoint is %d bytes; it must be 1 to %d", r.Node, len(r.Checkpoint), api.MaxCheckpointSize)
	case r.Index > maxReceiptIndex:
		return fmt.Errorf("node %s: log index %d is beyond any log", r.Node, r.Index)
	case len(r.Entry) == 0 || len(r.Entry) > api.MaxEntrySize:
		return fmt.Errorf("node %s: the entry is %d bytes; it must be 1 to %d", r.Node, len(r.Entry), api.MaxEntrySize)
	}
	if err := checkTime(r.Accepted); err != nil {
		return fmt.Errorf("node %s: accepted: %w", r.Node, err)
	}
	return nil
}

// checkCheckpoints checks the kept checkpoints: at most MaxCheckpoints, in
// node-name order, one per node.
func checkCheckpoints(cs []NodeCheckpoint) error {
	if len(cs) > MaxCheckpoints {
		return fmt.Errorf("%d checkpoints; a vault keeps at most %d", len(cs), MaxCheckpoints)
	}
	for i := range cs {
		if err := checkNodeCheckpoint(&cs[i]); err != nil {
			return fmt.Errorf("checkpoints[%d]: %w", i, err)
		}
		if i > 0 && cs[i-1].Node >= cs[i].Node {
			return fmt.Errorf("checkpoints[%d]: node %s is out of order or listed twice", i, cs[i].Node)
		}
	}
	return nil
}

// checkNodeCheckpoint checks one kept checkpoint's shape. Its signature
// was checked when it was kept, against the node's key of that time.
func checkNodeCheckpoint(c *NodeCheckpoint) error {
	switch {
	case api.CheckNodeName(c.Node) != nil:
		return api.CheckNodeName(c.Node)
	case len(c.Checkpoint) == 0 || len(c.Checkpoint) > api.MaxCheckpointSize:
		return fmt.Errorf("node %s: the checkpoint is %d bytes; it must be 1 to %d", c.Node, len(c.Checkpoint), api.MaxCheckpointSize)
	}
	return nil
}

// checkRequest checks one request's shape.
func checkRequest(r *Request) error {
	switch {
	case api.CheckNodeName(r.Node) != nil:
		return api.CheckNodeName(r.Node)
	case len(r.Nonce) != api.RequestNonceSize:
		return fmt.Errorf("the nonce is %d bytes; it must be %d", len(r.Nonce), api.RequestNonceSize)
	}
	if err := checkTime(r.Time); err != nil {
		return fmt.Errorf("time: %w", err)
	}
	return nil
}

// checkReceipt checks one receipt's shape. Its signature and proof were
// checked when it was received, against the node's key of that time.
func checkReceipt(r *Receipt) error {
	switch {
	case api.CheckNodeName(r.Node) != nil:
		return api.CheckNodeName(r.Node)
	case len(r.Units) == 0 || len(r.Units) > api.MaxBatch:
		return fmt.Errorf("%d units; a release names 1 to %d", len(r.Units), api.MaxBatch)
	case r.Index > maxReceiptIndex:
		return fmt.Errorf("log index %d is beyond any log", r.Index)
	case len(r.Checkpoint) == 0 || len(r.Checkpoint) > api.MaxCheckpointSize:
		return fmt.Errorf("the checkpoint is %d bytes; it must be 1 to %d", len(r.Checkpoint), api.MaxCheckpointSize)
	case len(r.Entry) == 0 || len(r.Entry) > api.MaxEntrySize:
		return fmt.Errorf("the entry is %d bytes; it must be 1 to %d", len(r.Entry), api.MaxEntrySize)
	}
	switch r.Evidence {
	case "", EvidenceRefusal, EvidenceOtherEntry, EvidenceFork:
	default:
		return fmt.Errorf("evidence %q is not %q, %q, %q or empty", clip(r.Evidence), EvidenceRefusal, EvidenceOtherEntry, EvidenceFork)
	}
	for i, u := range r.Units {
		switch {
		case u.ID == threshold.UnitID{}:
			return fmt.Errorf("units[%d]: the unit ID is all zeros", i)
		case u.Version == 0:
			return fmt.Errorf("units[%d]: versions start at 1", i)
		}
	}
	return nil
}

// checkUnit checks one unit on its own, its nodes' peer IDs included.
func checkUnit(u *Unit) error {
	if err := checkUnitFields(u); err != nil {
		return err
	}
	if len(u.Sealed) == 0 || len(u.Sealed) > maxSealed {
		return fmt.Errorf("unit %q: the sealed record is %d bytes; it must be 1 to %d", u.Label, len(u.Sealed), maxSealed)
	}
	for _, n := range u.Nodes {
		id, err := peer.Decode(n.PeerID)
		if err != nil || id.String() != n.PeerID {
			return fmt.Errorf("unit %q: node %s: %q is not a peer ID in base58", u.Label, n.Name, clip(n.PeerID))
		}
	}
	return nil
}

// checkUnitFields checks one unit on its own but for its sealed record
// (kept apart) and the form of its nodes' peer IDs, which a unit read from
// the vault takes from the node table (checked when it is read).
func checkUnitFields(u *Unit) error {
	if !ValidLabel(u.Label) {
		return fmt.Errorf("label %q is not 1 to %d bytes of printable text without a space at either end", clip(u.Label), MaxLabelLen)
	}
	at := fmt.Sprintf("unit %q", u.Label)
	switch {
	case u.ID == threshold.UnitID{}:
		return fmt.Errorf("%s: the unit ID is all zeros", at)
	case u.Version == 0:
		return fmt.Errorf("%s: versions start at 1", at)
	case len(u.Nodes) == 0:
		return fmt.Errorf("%s: no nodes", at)
	case len(u.Nodes) > threshold.MaxShares:
		return fmt.Errorf("%s: %d nodes; a unit has at most %d", at, len(u.Nodes), threshold.MaxShares)
	case u.Threshold < 2 || u.Threshold > len(u.Nodes):
		return fmt.Errorf("%s: threshold %d; it must be from 2 to the unit's %d nodes", at, u.Threshold, len(u.Nodes))
	case u.KeyCommit == threshold.Commitment{}:
		return fmt.Errorf("%s: the key commitment is all zeros", at)
	case len(u.MAC) != MACSize:
		return fmt.Errorf("%s: the MAC is %d bytes; it must be %d", at, len(u.MAC), MACSize)
	}
	if err := checkTime(u.Created); err != nil {
		return fmt.Errorf("%s: created: %w", at, err)
	}
	if err := checkTime(u.Updated); err != nil {
		return fmt.Errorf("%s: updated: %w", at, err)
	}
	names := make(map[string]bool, len(u.Nodes))
	ids := make(map[string]bool, len(u.Nodes))
	allStored := true
	for i, n := range u.Nodes {
		if err := api.CheckNodeName(n.Name); err != nil {
			return fmt.Errorf("%s: nodes[%d]: %w", at, i, err)
		}
		if n.Commitment == (threshold.Commitment{}) {
			return fmt.Errorf("%s: node %s: the share commitment is all zeros", at, n.Name)
		}
		if names[n.Name] || ids[n.PeerID] {
			return fmt.Errorf("%s: node %s is listed twice (by name or peer ID)", at, n.Name)
		}
		names[n.Name], ids[n.PeerID] = true, true
		allStored = allStored && n.Stored
	}
	if u.Degraded == allStored {
		if u.Degraded {
			return fmt.Errorf("%s: marked degraded, but every node stores its share", at)
		}
		return fmt.Errorf("%s: some node does not store its share, but the unit is not marked degraded", at)
	}
	return nil
}

// checkTime accepts a time that is set and whose year in UTC has four
// digits, so that it is written and read back as it is.
func checkTime(t time.Time) error {
	if t.IsZero() {
		return errors.New("not set")
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return fmt.Errorf("year %d is out of range", y)
	}
	return nil
}

// checkDeviceKey accepts an Ed25519 private key in libp2p's encoding, in the
// form that crypto.MarshalPrivateKey writes (so that it is written back byte
// for byte), whose public half is the one its seed gives.
func checkDeviceKey(b []byte) error {
	bad := errors.New("the device key is not a libp2p Ed25519 private key")
	if len(b) == 0 {
		return errors.New("the device key is missing (wiped?)")
	}
	key, err := crypto.UnmarshalPrivateKey(b)
	if err != nil || key.Type() != pb.KeyType_Ed25519 {
		return bad
	}
	again, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return bad
	}
	defer clear(again)
	if subtle.ConstantTimeCompare(again, b) != 1 {
		return errors.New("the device key is not in the form crypto.MarshalPrivateKey writes")
	}
	raw, err := key.Raw()
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		return bad
	}
	defer clear(raw)
	if isZero(raw[:ed25519.SeedSize]) {
		return errors.New("the device key is all zeros (wiped?)")
	}
	want := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
	defer clear(want)
	if subtle.ConstantTimeCompare(want[ed25519.SeedSize:], raw[ed25519.SeedSize:]) != 1 {
		return errors.New("the device key's public half does not match its private half")
	}
	return nil
}

func isZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}

// clip shortens text from the file that goes into an error message.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
