package auditor_test

import (
	"crypto/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/auditor"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/node/api"
	"github.com/custos-network/custos/threshold"
)

// logBook builds the verified logs of five nodes a to e for ReportUnit.
type logBook struct {
	t        *testing.T
	unit     threshold.UnitID
	logs     map[string][]client.LoggedEntry
	receipts []vault.Receipt
}

var reportNodes = []string{"a", "b", "c", "d", "e"}

func newLogBook(t *testing.T) *logBook {
	b := &logBook{t: t, logs: map[string][]client.LoggedEntry{}}
	rand.Read(b.unit[:])
	for _, n := range reportNodes {
		b.logs[n] = nil
	}
	return b
}

func newDevice(t *testing.T) peer.ID {
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// add logs at node a request by dev for the book's unit (and another unit)
// at second s of the device's clock; outcome OK is a release. With
// receipt, the vault keeps the entry's receipt.
func (b *logBook) add(node string, dev peer.ID, s int, outcome api.Code, receipt bool) {
	b.t.Helper()
	var other threshold.UnitID
	rand.Read(other[:])
	e := &api.Entry{
		TimeUnixMs: uint64(s*1000 + 5), Kind: api.EntryKind_RELEASE, User: "alice", ClientPeerId: []byte(dev),
		Units:             []*api.UnitRef{{UnitId: other[:], Version: 1}, {UnitId: b.unit[:], Version: 2}},
		Outcome:           outcome,
		RequestTimeUnixMs: uint64(s * 1000), RequestNonce: []byte("0123456789abcdef"), DeviceSignature: []byte("sig"),
	}
	b.append(node, e, receipt)
}

func (b *logBook) append(node string, e *api.Entry, receipt bool) {
	b.t.Helper()
	raw, err := api.MarshalEntry(e)
	if err != nil {
		b.t.Fatal(err)
	}
	index := uint64(len(b.logs[node]))
	b.logs[node] = append(b.logs[node], client.LoggedEntry{Node: node, Index: index, Entry: e, Raw: raw})
	if receipt {
		b.receipts = append(b.receipts, vault.Receipt{Node: node, Index: index, Entry: raw, Checkpoint: []byte("cp"),
			Units: []vault.UnitRef{{ID: b.unit, Version: 2}}})
	}
}

func (b *logBook) report(dev peer.ID, pruned bool) *auditor.UnitReport {
	q := auditor.UnitQuery{Unit: b.unit, Threshold: 3, Nodes: reportNodes, Device: dev, ReceiptsPruned: pruned}
	if dev != "" {
		q.Receipts = b.receipts
	}
	return auditor.ReportUnit(q, b.logs)
}

func flagsOf(r *auditor.UnitReport) string {
	var all []string
	for _, u := range r.Unlocks {
		all = append(all, u.Flags...)
	}
	return strings.Join(append(all, r.Flags...), "\n")
}

func TestReportUnitNormalUnlock(t *testing.T) {
	dev := newDevice(t)
	b := newLogBook(t)
	for _, n := range []string{"c", "a", "b"} {
		b.add(n, dev, 100, api.Code_OK, true)
	}
	b.add("d", dev, 100, api.Code_OK, false) // answered after the key was made
	r := b.report(dev, false)
	if len(r.Unlocks) != 1 || r.Flagged() != 0 {
		t.Fatalf("want one unflagged unlock, got %d: %s", len(r.Unlocks), flagsOf(r))
	}
	u := r.Unlocks[0]
	if got := u.Released(); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("released by %v, want a b c d in network order", got)
	}
	if !slices.Equal(u.Silent, []string{"e"}) || u.Client != dev || u.User != "alice" || u.Version != 2 ||
		!u.Time.Equal(time.UnixMilli(100_000)) {
		t.Errorf("unlock %+v", u)
	}
}

func TestReportUnitGrouping(t *testing.T) {
	dev := newDevice(t)
	b := newLogBook(t)
	// Two unlocks two seconds apart: each node released in both.
	for _, s := range []int{100, 102} {
		for _, n := range []string{"a", "b", "c"} {
			b.add(n, dev, s, api.Code_OK, true)
		}
	}
	// One where a node refused first and released after a new login.
	b.add("a", dev, 500, api.Code_UNAUTHENTICATED, false)
	for _, n := range []string{"a", "b", "c"} {
		b.add(n, dev, 501, api.Code_OK, true)
	}
	// Requests further apart than the window are two unlocks, each flagged.
	b.add("a", dev, 1000, api.Code_OK, false)
	b.add("b", dev, 1000+int(auditor.DefaultWindow/time.Second)+1, api.Code_OK, false)
	r := b.report("", false)
	if len(r.Unlocks) != 5 {
		t.Fatalf("%d unlocks, want 5", len(r.Unlocks))
	}
	if a := r.Unlocks[2].Attempts; len(a) != 4 || a[0].Released || a[0].Outcome != api.Code_UNAUTHENTICATED || !a[1].Released {
		t.Errorf("the retried unlock: %+v", a)
	}
	for i, want := range []int{0, 0, 0, 1, 1} {
		if got := len(r.Unlocks[i].Flags); got != want {
			t.Errorf("unlock %d: %d flags, want %d: %v", i, got, want, r.Unlocks[i].Flags)
		}
	}
}

func TestReportUnitBelowThreshold(t *testing.T) {
	dev := newDevice(t)
	b := newLogBook(t)
	b.add("a", dev, 100, api.Code_OK, true)
	b.add("b", dev, 100, api.Code_OK, true)
	b.add("c", dev, 100, api.Code_LOCKED, false)
	// The vault's own unlock that failed: explained by its receipts.
	if r := b.report(dev, false); r.Flagged() != 0 {
		t.Errorf("the device's own failed unlock is flagged: %s", flagsOf(r))
	}
	// Without the vault, nothing explains it.
	r := b.report("", false)
	if f := flagsOf(r); r.Flagged() != 1 || !strings.Contains(f, "released by 2 node(s) (a, b), fewer than the threshold of 3") {
		t.Errorf("flags: %s", f)
	}
	// Nor when a release has no receipt: a node may have released to
	// someone else.
	b.add("d", dev, 100, api.Code_OK, false) // d now makes 3: no longer below
	b.add("a", dev, 300, api.Code_OK, true)
	b.add("e", dev, 300, api.Code_OK, false)
	r = b.report(dev, false)
	if len(r.Unlocks) != 2 || len(r.Unlocks[0].Flags) != 1 || len(r.Unlocks[1].Flags) != 2 {
		t.Fatalf("flags: %s", flagsOf(r))
	}
	if f := r.Unlocks[0].Flags[0]; !strings.Contains(f, "released by d with no receipt in the vault") {
		t.Errorf("first unlock: %s", f)
	}
}

func TestReportUnitOtherDevice(t *testing.T) {
	dev, thief := newDevice(t), newDevice(t)
	b := newLogBook(t)
	for _, n := range []string{"a", "b", "c"} {
		b.add(n, dev, 100, api.Code_OK, true)
		b.add(n, thief, 200, api.Code_OK, false)
	}
	b.add("d", thief, 300, api.Code_NOT_FOUND, false) // refused only: not a release
	r := b.report(dev, false)
	if len(r.Unlocks) != 3 || r.Flagged() != 1 || len(r.Unlocks[1].Flags) != 1 ||
		!strings.Contains(r.Unlocks[1].Flags[0], "released to device "+thief.String()+", which is not the vault's device") {
		t.Fatalf("flags: %s", flagsOf(r))
	}
	// Without the vault, a device is as good as another.
	if r := b.report("", false); r.Flagged() != 0 {
		t.Errorf("flags without the vault: %s", flagsOf(r))
	}
	// A copy of the vault's own device key, used elsewhere.
	b = newLogBook(t)
	for _, n := range []string{"a", "b", "c"} {
		b.add(n, dev, 100, api.Code_OK, false)
	}
	if r := b.report(dev, false); r.Flagged() != 1 || !strings.Contains(flagsOf(r), "released by a, b, c with no receipt in the vault") {
		t.Errorf("flags: %s", flagsOf(r))
	}
	// Unless the vault may have dropped receipts that old.
	b.add("a", dev, 900, api.Code_OK, true)
	r = b.report(dev, true)
	if r.Flagged() != 0 || !r.Unlocks[0].Unchecked || r.Unlocks[1].Unchecked {
		t.Errorf("pruned vault: %s, unchecked %v %v", flagsOf(r), r.Unlocks[0].Unchecked, r.Unlocks[1].Unchecked)
	}
}

func TestReportUnitReceiptContradicted(t *testing.T) {
	dev := newDevice(t)
	b := newLogBook(t)
	for _, n := range []string{"a", "b", "c"} {
		b.add(n, dev, 100, api.Code_OK, true)
	}
	// Node b rewrote its entry: the receipt's entry is not in its log.
	e := b.logs["b"][0].Entry
	e.Reason = "rewritten"
	raw, err := api.MarshalEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	b.logs["b"][0].Raw = raw
	// Node c rolled back past it.
	b.logs["c"] = []client.LoggedEntry{}
	// Node a could not be read: its receipt says nothing.
	delete(b.logs, "a")
	r := b.report(dev, false)
	if len(r.Flags) != 2 || !strings.Contains(r.Flags[0], "node b: the vault holds a receipt of its log entry 0, which its log as read does not hold") ||
		!strings.HasPrefix(r.Flags[1], "node c:") {
		t.Fatalf("report flags: %q", r.Flags)
	}
	// b's rewritten release lost its receipt; a's is known from its receipt.
	if len(r.Unlocks) != 1 || len(r.Unlocks[0].Flags) != 2 || !slices.Equal(r.Unlocks[0].Silent, []string{"c", "d", "e"}) {
		t.Fatalf("unlock: %+v", r.Unlocks)
	}
	if a := r.Unlocks[0].Attempts; len(a) != 2 || a[0].Node != "a" || !a[0].FromReceipt || !a[0].Receipt || a[1].FromReceipt || a[1].Receipt {
		t.Errorf("attempts: %+v", a)
	}
}

func TestReportUnitIgnoresOtherEntries(t *testing.T) {
	dev := newDevice(t)
	b := newLogBook(t)
	b.append("a", &api.Entry{Kind: api.EntryKind_PUT, User: "alice", Units: []*api.UnitRef{{UnitId: b.unit[:], Version: 2}}}, false)
	b.append("a", &api.Entry{Kind: api.EntryKind_RELEASE, User: "alice", Units: []*api.UnitRef{{UnitId: make([]byte, 16), Version: 1}}}, false)
	// A batch in which the unit itself was refused.
	e := &api.Entry{Kind: api.EntryKind_RELEASE, User: "alice", ClientPeerId: []byte(dev), RequestTimeUnixMs: 5000,
		Units:    []*api.UnitRef{{UnitId: make([]byte, 16), Version: 1}, {UnitId: b.unit[:], Version: 2}},
		Refusals: []*api.Refusal{{UnitIndex: 1, Code: api.Code_RATE_LIMITED}},
		Outcome:  api.Code_OK,
	}
	b.append("b", e, false)
	r := b.report(dev, false)
	if len(r.Unlocks) != 1 || r.Flagged() != 0 {
		t.Fatalf("unlocks %+v, flags %s", r.Unlocks, flagsOf(r))
	}
	if a := r.Unlocks[0].Attempts; len(a) != 1 || a[0].Node != "b" || a[0].Released || a[0].Outcome != api.Code_RATE_LIMITED {
		t.Errorf("attempts %+v", a)
	}
}
