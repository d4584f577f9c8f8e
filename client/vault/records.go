package vault

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/threshold"
)

// The encodings of the database's values, one pair of functions per kind
// of value; docs/vault.md gives each as a table. A decoder checks the
// value's shape and every rule that the value alone decides, and returns
// an error that names no secret and quotes nothing of the value.

// tableNode is an entry of the node table: a node's name and peer ID (in
// its base58 text form), which a unit names by the entry's number.
type tableNode struct {
	Name   string
	PeerID string
}

func encodeTableNode(n tableNode) ([]byte, error) {
	id, err := peer.Decode(n.PeerID)
	if err != nil {
		return nil, fmt.Errorf("node %s: %q is not a peer ID in base58", n.Name, clip(n.PeerID))
	}
	b := putBytes(nil, []byte(n.Name))
	return putBytes(b, []byte(id)), nil
}

// maxPeerIDSize bounds a peer ID's binary form: the multihash of a key
// (Ed25519 keys are inlined in 38 bytes; hashed keys take 34).
const maxPeerIDSize = 128

func decodeTableNode(b []byte) (tableNode, error) {
	r := reader{b: b}
	name := r.str(maxNodeName)
	raw := r.bytes(maxPeerIDSize)
	if err := r.end(); err != nil {
		return tableNode{}, err
	}
	if err := api.CheckNodeName(name); err != nil {
		return tableNode{}, err
	}
	id, err := peer.IDFromBytes(raw)
	if err != nil || string(id) != string(raw) {
		return tableNode{}, fmt.Errorf("node %s: the peer ID is not valid", name)
	}
	return tableNode{Name: name, PeerID: id.String()}, nil
}

// maxNodeName is the longest node name (api.ValidNodeName).
const maxNodeName = 32

// encodeUnit writes u's descriptor: every field but its label (the key)
// and its sealed record (in the sealed bucket), with each node as its
// entry in the node table (refs, in u.Nodes' order).
func encodeUnit(u *Unit, refs []uint32) []byte {
	b := make([]byte, 0, 16+8+2+len(u.Nodes)*37+32+1+24+4+MACSize)
	b = append(b, u.ID[:]...)
	b = putU64(b, u.Version)
	b = append(b, byte(u.Threshold), byte(len(u.Nodes)))
	for i, n := range u.Nodes {
		b = putU32(b, refs[i])
		b = append(b, n.Commitment[:]...)
		b = appendBool(b, n.Stored)
	}
	b = append(b, u.KeyCommit[:]...)
	b = appendBool(b, u.Degraded)
	b = putTime(b, u.Created)
	b = putTime(b, u.Updated)
	b = putU32(b, uint32(len(u.Sealed)))
	return append(b, u.MAC...)
}

// decodeUnit reads the descriptor of the unit labelled label, resolving its
// nodes in nodes, and checks it (checkUnitFields). Its Sealed is left nil;
// sealedLen is the length of the sealed record the descriptor names.
func decodeUnit(label string, b []byte, lookup func(uint32) (tableNode, error)) (u Unit, sealedLen int, err error) {
	r := reader{b: b}
	u.Label = label
	r.fixed(u.ID[:])
	u.Version = r.u64()
	u.Threshold = int(r.u8())
	count := int(r.u8())
	if r.err == nil {
		u.Nodes = make([]UnitNode, count)
	}
	for i := 0; i < count && r.err == nil; i++ {
		ref := r.u32()
		var n tableNode
		if r.err == nil {
			if n, err = lookup(ref); err != nil {
				r.fail(fmt.Errorf("nodes[%d]: %w", i, err))
			}
		}
		u.Nodes[i] = UnitNode{Name: n.Name, PeerID: n.PeerID}
		r.fixed(u.Nodes[i].Commitment[:])
		u.Nodes[i].Stored = r.boolean()
	}
	r.fixed(u.KeyCommit[:])
	u.Degraded = r.boolean()
	u.Created = r.time()
	u.Updated = r.time()
	sealedLen = int(r.u32())
	u.MAC = append([]byte(nil), r.take(MACSize)...)
	if err := r.end(); err != nil {
		return Unit{}, 0, err
	}
	if sealedLen == 0 || sealedLen > maxSealed {
		return Unit{}, 0, fmt.Errorf("the sealed record is %d bytes; it must be 1 to %d", sealedLen, maxSealed)
	}
	if err := checkUnitFields(&u); err != nil {
		return Unit{}, 0, err
	}
	return u, sealedLen, nil
}

// unitSummary reads what custos ls shows of a unit from its descriptor,
// without resolving its nodes or checking them: listing must not cost a
// decoding of every node of every unit. A unit that ls lists but whose
// descriptor is damaged elsewhere is refused when it is read whole.
func unitSummary(label string, b []byte) (UnitInfo, error) {
	r := reader{b: b}
	info := UnitInfo{Label: label}
	r.fixed(info.ID[:])
	info.Version = r.u64()
	info.Threshold = int(r.u8())
	info.Nodes = int(r.u8())
	r.take(info.Nodes * (4 + len(threshold.Commitment{}) + 1))
	r.take(len(threshold.Commitment{}))
	info.Degraded = r.boolean()
	info.Created = r.time()
	info.Updated = r.time()
	r.u32()
	r.take(MACSize)
	if err := r.end(); err != nil {
		return UnitInfo{}, err
	}
	if !ValidLabel(label) {
		return UnitInfo{}, fmt.Errorf("label %q is not 1 to %d bytes of printable text without a space at either end", clip(label), MaxLabelLen)
	}
	return info, nil
}

// unitKey is a pending delete's key: the unit ID, then the version.
func pendingKey(id threshold.UnitID, version uint64) []byte {
	return putU64(append([]byte(nil), id[:]...), version)
}

func encodePending(p *PendingDelete) []byte {
	b := []byte{byte(len(p.Nodes))}
	for _, n := range p.Nodes {
		b = putBytes(b, []byte(n))
	}
	if p.Operation != api.Operation_OPERATION_UNSPECIFIED {
		b = append(b, byte(p.Operation))
	}
	return b
}

func decodePending(key, b []byte) (PendingDelete, error) {
	var p PendingDelete
	if len(key) != len(p.ID)+8 {
		return p, fmt.Errorf("a key of %d bytes is not a unit ID and a version", len(key))
	}
	copy(p.ID[:], key)
	p.Version = (&reader{b: key[len(p.ID):]}).u64()
	r := reader{b: b}
	count := int(r.u8())
	for i := 0; i < count && r.err == nil; i++ {
		p.Nodes = append(p.Nodes, r.str(maxNodeName))
	}
	if r.err == nil && len(r.b) > 0 { // the operation, when there is one
		if p.Operation = api.Operation(r.u8()); p.Operation == api.Operation_OPERATION_UNSPECIFIED {
			r.fail(errors.New("an unspecified operation is written as none"))
		}
	}
	if err := r.end(); err != nil {
		return PendingDelete{}, err
	}
	if err := checkPending(&p); err != nil {
		return PendingDelete{}, err
	}
	return p, nil
}

// Evidence codes: a receipt's Evidence as one byte.
var evidenceCodes = []string{"", EvidenceRefusal, EvidenceOtherEntry, EvidenceFork}

func encodeReceipt(rc *Receipt) []byte {
	b := putBytes(nil, []byte(rc.Node))
	b = putU16(b, uint16(len(rc.Units)))
	for _, u := range rc.Units {
		b = append(b, u.ID[:]...)
		b = putU64(b, u.Version)
	}
	b = putU64(b, rc.Index)
	b = putBytes(b, rc.Checkpoint)
	b = putBytes(b, rc.Entry)
	for code, e := range evidenceCodes {
		if e == rc.Evidence {
			return append(b, byte(code))
		}
	}
	panic("vault: internal error: a checked receipt has an unknown evidence")
}

func decodeReceipt(b []byte) (Receipt, error) {
	r := reader{b: b}
	var rc Receipt
	rc.Node = r.str(maxNodeName)
	count := int(r.u16())
	if count > api.MaxBatch {
		r.fail(fmt.Errorf("%d units; a release names 1 to %d", count, api.MaxBatch))
	}
	if r.err == nil {
		rc.Units = make([]UnitRef, count)
	}
	for i := 0; i < count && r.err == nil; i++ {
		r.fixed(rc.Units[i].ID[:])
		rc.Units[i].Version = r.u64()
	}
	rc.Index = r.u64()
	rc.Checkpoint = r.bytes(api.MaxCheckpointSize)
	rc.Entry = r.bytes(api.MaxEntrySize)
	code := int(r.u8())
	if err := r.end(); err != nil {
		return Receipt{}, err
	}
	if code >= len(evidenceCodes) {
		return Receipt{}, fmt.Errorf("evidence code %d is not 0 to %d", code, len(evidenceCodes)-1)
	}
	rc.Evidence = evidenceCodes[code]
	if err := checkReceipt(&rc); err != nil {
		return Receipt{}, err
	}
	return rc, nil
}

func encodeRestore(rs *Restore) []byte {
	b := putBytes(nil, []byte(rs.Node))
	b = putTime(b, rs.Accepted)
	b = putBytes(b, rs.Replaced)
	b = putU64(b, rs.Index)
	b = putBytes(b, rs.Entry)
	return putBytes(b, rs.Checkpoint)
}

func decodeRestore(b []byte) (Restore, error) {
	r := reader{b: b}
	var rs Restore
	rs.Node = r.str(maxNodeName)
	rs.Accepted = r.time()
	rs.Replaced = r.bytes(api.MaxCheckpointSize)
	rs.Index = r.u64()
	rs.Entry = r.bytes(api.MaxEntrySize)
	rs.Checkpoint = r.bytes(api.MaxCheckpointSize)
	if err := r.end(); err != nil {
		return Restore{}, err
	}
	if err := checkRestore(&rs); err != nil {
		return Restore{}, err
	}
	return rs, nil
}

func encodeKDF(k threshold.PasswordKDF) []byte {
	b := putBytes(nil, k.Salt)
	b = putU32(b, k.Time)
	b = putU32(b, k.Memory)
	return append(b, k.Threads)
}

func decodeKDF(b []byte) (threshold.PasswordKDF, error) {
	r := reader{b: b}
	k := threshold.PasswordKDF{Salt: r.bytes(threshold.SaltSize), Time: r.u32(), Memory: r.u32(), Threads: r.u8()}
	if err := r.end(); err != nil {
		return threshold.PasswordKDF{}, err
	}
	if err := k.Validate(); err != nil {
		return threshold.PasswordKDF{}, errors.New(trimThreshold(err))
	}
	return k, nil
}

// encodeLogin writes the login dealing. The caller clears the result,
// which holds the key shares the dealing still holds.
func encodeLogin(l *Login) []byte {
	b := putU32(nil, l.Epoch)
	b = append(b, byte(l.Threshold), byte(len(l.Nodes)))
	for _, n := range l.Nodes {
		b = putBytes(b, []byte(n.Name))
		b = putBytes(b, []byte(n.PeerID))
		b = append(b, byte(n.Index))
		b = putBytes(b, n.PublicShare)
		b = appendBool(b, n.KeyShare != nil)
		if n.KeyShare != nil {
			b = putBytes(b, n.KeyShare)
		}
	}
	return putBytes(b, l.MAC)
}

// maxPeerIDText bounds a peer ID's base58 text.
const maxPeerIDText = 2 * maxPeerIDSize

// maxShareSize bounds a public or key share (32 bytes when valid).
const maxShareSize = 64

func decodeLogin(b []byte) (*Login, error) {
	r := reader{b: b}
	l := &Login{Epoch: r.u32(), Threshold: int(r.u8())}
	count := int(r.u8())
	for i := 0; i < count && r.err == nil; i++ {
		n := LoginNode{Name: r.str(maxNodeName), PeerID: r.str(maxPeerIDText), Index: int(r.u8()), PublicShare: r.bytes(maxShareSize)}
		if r.boolean() {
			n.KeyShare = r.bytes(maxShareSize)
		}
		l.Nodes = append(l.Nodes, n)
	}
	l.MAC = r.bytes(MACSize)
	if err := r.end(); err != nil {
		l.wipe()
		return nil, err
	}
	if err := checkLogin(l); err != nil {
		l.wipe()
		return nil, err
	}
	return l, nil
}

func encodeChange(p *PasswordChange) []byte {
	b := putBytes(nil, []byte(p.State))
	b = putU32(b, p.Epoch)
	b = append(b, byte(p.Threshold), byte(len(p.Nodes)))
	for _, n := range p.Nodes {
		b = putBytes(b, []byte(n.Name))
		b = putBytes(b, []byte(n.PeerID))
		b = append(b, byte(n.Index))
		b = putBytes(b, n.PublicShare)
		b = appendBool(b, n.Staged)
		b = appendBool(b, n.Committed)
	}
	return putBytes(b, p.MAC)
}

// decodeChange reads a password change; checkChange, which needs the login
// dealing, is the caller's.
func decodeChange(b []byte) (*PasswordChange, error) {
	r := reader{b: b}
	p := &PasswordChange{State: ChangeState(r.str(16)), Epoch: r.u32(), Threshold: int(r.u8())}
	count := int(r.u8())
	for i := 0; i < count && r.err == nil; i++ {
		p.Nodes = append(p.Nodes, ChangeNode{
			Name: r.str(maxNodeName), PeerID: r.str(maxPeerIDText), Index: int(r.u8()),
			PublicShare: r.bytes(maxShareSize), Staged: r.boolean(), Committed: r.boolean(),
		})
	}
	p.MAC = r.bytes(MACSize)
	if err := r.end(); err != nil {
		return nil, err
	}
	return p, nil
}
