package auditor_test

import (
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/auditor"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/threshold"
)

// logBook builds the verified logs of five nodes a to e, threshold 3, and
// a user's vault records, for ReportUnit.
type logBook struct {
	t        *testing.T
	unit     threshold.UnitID
	network  *client.Network
	peers    map[string]peer.ID
	logs     map[string][]client.LoggedEntry
	receipts []vault.Receipt
	requests []vault.Request
}

func newLogBook(t *testing.T) *logBook {
	b := &logBook{t: t, logs: map[string][]client.LoggedEntry{}, peers: map[string]peer.ID{}}
	rand.Read(b.unit[:])
	var cards []*api.Card
	for i, n := range []string{"a", "b", "c", "d", "e"} {
		id := newDevice(t).id
		b.peers[n] = id
		b.logs[n] = nil
		cards = append(cards, &api.Card{Name: n, PeerID: id.String(), Addrs: []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 4001+i)}})
	}
	nw, err := client.NewNetwork(3, cards)
	if err != nil {
		t.Fatal(err)
	}
	b.network = nw
	return b
}

type device struct {
	key crypto.PrivKey
	id  peer.ID
}

func newDevice(t *testing.T) device {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return device{key, id}
}

// how a request is logged and what the vault kept of it
type how int

const (
	recorded  how = 1 << iota // the vault recorded the request
	receipted                 // and kept the receipt of its answer
	unsigned                  // the entry's signature does not match
)

// add logs at node a request by dev for the book's unit (and another unit)
// signed with second s; outcome OK is a release.
func (b *logBook) add(node string, dev device, s int, outcome api.Code, h how) *api.Entry {
	b.t.Helper()
	var other threshold.UnitID
	rand.Read(other[:])
	e := &api.Entry{
		TimeUnixMs: uint64(s*1000 + 5), Kind: api.EntryKind_RELEASE, User: "alice", ClientPeerId: []byte(dev.id),
		Units:             []*api.UnitRef{{UnitId: other[:], Version: 1}, {UnitId: b.unit[:], Version: 2}},
		Outcome:           outcome,
		RequestTimeUnixMs: uint64(s * 1000), RequestNonce: make([]byte, api.RequestNonceSize),
	}
	rand.Read(e.RequestNonce)
	b.sign(node, dev, e)
	if h&unsigned != 0 {
		e.DeviceSignature[0] ^= 1
	}
	b.append(node, e, h)
	return e
}

func (b *logBook) append(node string, e *api.Entry, h how) {
	b.t.Helper()
	raw, err := api.MarshalEntry(e)
	if err != nil {
		b.t.Fatal(err)
	}
	index := uint64(len(b.logs[node]))
	b.logs[node] = append(b.logs[node], client.LoggedEntry{Node: node, Index: index, Entry: e, Raw: raw})
	if h&(recorded|receipted) != 0 {
		b.requests = append(b.requests, vault.Request{Node: node, Time: time.UnixMilli(int64(e.RequestTimeUnixMs)), Nonce: e.RequestNonce})
	}
	if h&receipted != 0 {
		b.receipts = append(b.receipts, vault.Receipt{Node: node, Index: index, Entry: raw, Checkpoint: []byte("cp"),
			Units: []vault.UnitRef{{ID: b.unit, Version: 2}}})
	}
}

// report reports as with dev's vault, or without a vault for device{},
// whose request journal dropped the requests up to second dropped (none
// if 0).
func (b *logBook) report(dev device, dropped int) *auditor.UnitReport {
	q := auditor.UnitQuery{Unit: b.unit, Threshold: 3, Network: b.network, Device: dev.id}
	if dev.id != "" {
		q.Receipts = b.receipts
		for _, r := range b.requests {
			if r.Time.After(time.Unix(int64(dropped), 0)) || dropped == 0 {
				q.Requests = append(q.Requests, r)
			}
		}
		if dropped != 0 {
			q.DroppedUntil = time.Unix(int64(dropped), 0)
		}
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
		b.add(n, dev, 100, api.Code_OK, receipted)
	}
	b.add("d", dev, 100, api.Code_OK, recorded) // answered after the key was made
	r := b.report(dev, 0)
	if len(r.Unlocks) != 1 || r.Flagged() != 0 {
		t.Fatalf("want one unflagged unlock, got %d: %s", len(r.Unlocks), flagsOf(r))
	}
	u := r.Unlocks[0]
	if got := u.Released(); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("released by %v, want a b c d in network order", got)
	}
	if !slices.Equal(u.Silent, []string{"e"}) || u.Client != dev.id || u.User != "alice" || u.Version != 2 ||
		!u.Time.Equal(time.UnixMilli(100_000)) {
		t.Errorf("unlock %+v", u)
	}
	if a := u.Attempts; !a[0].Receipt || !a[0].Asked || a[3].Receipt || !a[3].Asked {
		t.Errorf("attempts %+v", a)
	}
}

func TestReportUnitGrouping(t *testing.T) {
	dev := newDevice(t)
	b := newLogBook(t)
	// Two unlocks interleaved a millisecond apart: each has its own time.
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		b.add(n, dev, 100, api.Code_OK, recorded)
		b.append(n, signedAt(b, n, dev, 100_001), recorded)
	}
	// One where a node refused first (over its rate limit) and released
	// to a retry.
	b.add("a", dev, 500, api.Code_RATE_LIMITED, recorded)
	for _, n := range []string{"a", "b", "c"} {
		b.add(n, dev, 500, api.Code_OK, receipted)
	}
	r := b.report(dev, 0)
	if len(r.Unlocks) != 3 || r.Flagged() != 0 {
		t.Fatalf("%d unlocks, flags %s", len(r.Unlocks), flagsOf(r))
	}
	for i, want := range []int{5, 5, 4} {
		if got := len(r.Unlocks[i].Attempts); got != want {
			t.Errorf("unlock %d: %d attempts, want %d", i, got, want)
		}
	}
	if a := r.Unlocks[2].Attempts; a[0].Released || a[0].Outcome != api.Code_RATE_LIMITED || !a[1].Released {
		t.Errorf("the retried unlock: %+v", a)
	}
}

// signedAt is a release by dev at node, signed with the time ms.
func signedAt(b *logBook, node string, dev device, ms int64) *api.Entry {
	e := &api.Entry{
		TimeUnixMs: uint64(ms), Kind: api.EntryKind_RELEASE, User: "alice", ClientPeerId: []byte(dev.id),
		Units:             []*api.UnitRef{{UnitId: b.unit[:], Version: 2}},
		RequestTimeUnixMs: uint64(ms), RequestNonce: make([]byte, api.RequestNonceSize),
	}
	rand.Read(e.RequestNonce)
	b.sign(node, dev, e)
	return e
}

// sign signs e as dev's request to node.
func (b *logBook) sign(node string, dev device, e *api.Entry) {
	b.t.Helper()
	sig, err := dev.key.Sign(api.ReleaseTranscript([]byte(b.peers[node]), e.ClientPeerId, e.User, e.RequestTimeUnixMs, e.RequestNonce, e.Units))
	if err != nil {
		b.t.Fatal(err)
	}
	e.DeviceSignature = sig
}

func TestReportUnitBelowThreshold(t *testing.T) {
	dev := newDevice(t)
	b := newLogBook(t)
	b.add("a", dev, 100, api.Code_OK, receipted)
	b.add("b", dev, 100, api.Code_OK, recorded)
	b.add("c", dev, 100, api.Code_LOCKED, recorded)
	// The vault's own unlock that failed: it recorded every request.
	if r := b.report(dev, 0); r.Flagged() != 0 {
		t.Errorf("the device's own failed unlock is flagged: %s", flagsOf(r))
	}
	// Without the vault, nothing explains it.
	r := b.report(device{}, 0)
	if f := flagsOf(r); r.Flagged() != 1 || !strings.Contains(f, "released by 2 node(s) (a, b), fewer than the threshold of 3") {
		t.Errorf("flags: %s", f)
	}
	// Unless a node not read may have released too.
	delete(b.logs, "e")
	if r := b.report(device{}, 0); r.Flagged() != 0 || !slices.Equal(r.Unread, []string{"e"}) {
		t.Errorf("with e not read: flags %s, unread %v", flagsOf(r), r.Unread)
	}
	b.logs["e"] = nil
	// Two releases the vault did not ask for, in an unlock of its own time.
	b.add("a", dev, 300, api.Code_OK, receipted)
	b.add("e", dev, 300, api.Code_OK, 0)
	r = b.report(dev, 0)
	if len(r.Unlocks) != 2 || len(r.Unlocks[0].Flags) != 0 || len(r.Unlocks[1].Flags) != 2 {
		t.Fatalf("flags: %s", flagsOf(r))
	}
	if f := r.Unlocks[1].Flags[1]; !strings.Contains(f, "released by e to the vault's device, for a request the vault did not send") {
		t.Errorf("second unlock: %s", f)
	}
}

// journal records in the vault's journal a request to node signed with
// second s that the node never logged: the unlock did not need to send it.
func (b *logBook) journal(node string, s int) {
	nonce := make([]byte, api.RequestNonceSize)
	rand.Read(nonce)
	b.requests = append(b.requests, vault.Request{Node: node, Time: time.UnixMilli(int64(s * 1000)), Nonce: nonce})
}

// TestReportUnitUnlockThatAskedOnlyItsThreshold: an unlock journals a
// request to every node and asks only the nodes it needs; the nodes it
// did not ask, or whose request it cancelled, are not findings, and a
// release for a request the vault did not send still is.
func TestReportUnitUnlockThatAskedOnlyItsThreshold(t *testing.T) {
	dev := newDevice(t)
	b := newLogBook(t)
	// The first unlock asked a, b and c; the second asked a, b and c,
	// found a slow, asked d, and cancelled a's request before a read it.
	for _, n := range []string{"a", "b", "c"} {
		b.add(n, dev, 100, api.Code_OK, receipted)
	}
	b.journal("d", 100)
	b.journal("e", 100)
	for _, n := range []string{"b", "c", "d"} {
		b.add(n, dev, 200, api.Code_OK, receipted)
	}
	b.journal("a", 200)
	b.journal("e", 200)
	r := b.report(dev, 0)
	if len(r.Unlocks) != 2 || r.Flagged() != 0 {
		t.Fatalf("want two unflagged unlocks, got %d: %s", len(r.Unlocks), flagsOf(r))
	}
	for i, want := range [][]string{{"d", "e"}, {"a", "e"}} {
		if u := r.Unlocks[i]; len(u.Silent) != 0 || !slices.Equal(u.NotNeeded, want) {
			t.Errorf("unlock %d: silent %v, not needed %v; want none silent, %v not needed", i, u.Silent, u.NotNeeded, want)
		}
	}
	// Without the vault, nothing tells whether they were asked.
	r = b.report(device{}, 0)
	if r.Flagged() != 0 || !slices.Equal(r.Unlocks[0].Silent, []string{"d", "e"}) || len(r.Unlocks[0].NotNeeded) != 0 {
		t.Errorf("without the vault: flags %s, first unlock silent %v, not needed %v", flagsOf(r), r.Unlocks[0].Silent, r.Unlocks[0].NotNeeded)
	}
	// A copy of the device key asks e in the first unlock's time: e's
	// journaled request does not cover a release to another nonce.
	b.add("e", dev, 100, api.Code_OK, 0)
	r = b.report(dev, 0)
	if f := flagsOf(r); r.Flagged() != 1 || !strings.Contains(f, "released by e to the vault's device, for a request the vault did not send") {
		t.Errorf("with a copy's release at e: %s", f)
	}
	if u := r.Unlocks[0]; !slices.Equal(u.NotNeeded, []string{"d"}) {
		t.Errorf("with a copy's release at e: not needed %v, want d", u.NotNeeded)
	}
}

func TestReportUnitOtherDevice(t *testing.T) {
	dev, thief := newDevice(t), newDevice(t)
	b := newLogBook(t)
	for _, n := range []string{"a", "b", "c"} {
		b.add(n, thief, 50, api.Code_OK, 0)
		b.add(n, dev, 100, api.Code_OK, receipted)
	}
	b.add("d", thief, 300, api.Code_NOT_FOUND, 0) // refused only: not a release
	r := b.report(dev, 0)
	if len(r.Unlocks) != 3 || r.Flagged() != 1 || len(r.Unlocks[0].Flags) != 1 ||
		!strings.Contains(r.Unlocks[0].Flags[0], "released to device "+thief.id.String()+", which is not the vault's device") {
		t.Fatalf("flags: %s", flagsOf(r))
	}
	// Also when it is older than what the vault's journal dropped.
	if r := b.report(dev, 100); r.Flagged() != 1 || !r.Unlocks[0].Unchecked {
		t.Errorf("pruned: flags %s", flagsOf(r))
	}
	// Without the vault, a device is as good as another.
	if r := b.report(device{}, 0); r.Flagged() != 0 {
		t.Errorf("flags without the vault: %s", flagsOf(r))
	}
}

func TestReportUnitCopiedDeviceKey(t *testing.T) {
	dev := newDevice(t)
	b := newLogBook(t)
	// The user's unlock got its key from a, b, c and stopped waiting.
	for _, n := range []string{"a", "b", "c"} {
		b.add(n, dev, 100, api.Code_OK, receipted)
	}
	b.add("d", dev, 100, api.Code_OK, recorded)
	// A copy of the device key asks e, and a again, signing the user's
	// own time so as to hide in that unlock.
	b.add("e", dev, 100, api.Code_OK, 0)
	b.add("a", dev, 100, api.Code_OK, 0)
	r := b.report(dev, 0)
	if len(r.Unlocks) != 1 || r.Flagged() != 1 {
		t.Fatalf("%d unlocks, flags %s", len(r.Unlocks), flagsOf(r))
	}
	if f := r.Unlocks[0].Flags[0]; !strings.Contains(f, "released by a, e to the vault's device, for a request the vault did not send") {
		t.Errorf("flag: %s", f)
	}
	// When the journal dropped requests that old, it cannot tell; nor of
	// an unlock as old as the newest dropped request.
	for _, s := range []int{900, 950} {
		for _, n := range []string{"a", "b", "c"} {
			b.add(n, dev, s, api.Code_OK, receipted)
		}
	}
	r = b.report(dev, 900)
	if len(r.Unlocks) != 3 || r.Flagged() != 0 {
		t.Fatalf("pruned: %d unlocks, flags %s", len(r.Unlocks), flagsOf(r))
	}
	for i, want := range []bool{true, true, false} {
		if r.Unlocks[i].Unchecked != want {
			t.Errorf("pruned: unlock %d unchecked %v, want %v", i, r.Unlocks[i].Unchecked, want)
		}
	}
}

func TestReportUnitNodeFindings(t *testing.T) {
	dev := newDevice(t)
	b := newLogBook(t)
	for _, n := range []string{"a", "b", "c", "d"} {
		b.add(n, dev, 100, api.Code_OK, receipted)
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
	// Node d logged the same request twice.
	b.logs["d"] = append(b.logs["d"], client.LoggedEntry{Node: "d", Index: 1, Entry: b.logs["d"][0].Entry, Raw: b.logs["d"][0].Raw})
	// Node e made up a release the device never signed.
	b.add("e", dev, 100, api.Code_OK, unsigned)
	// And a refused request with a bad signature is just that.
	b.add("e", dev, 200, api.Code_UNAUTHENTICATED, unsigned)
	// Node a could not be read: its receipt stands for its release.
	delete(b.logs, "a")
	r := b.report(dev, 0)
	want := []string{
		"node b: the vault holds a receipt of its log entry 0, which its log as read does not hold",
		"node c: the vault holds a receipt of its log entry 0",
		"node d: its entries 0 and 1 release for one request",
		"node e: its entry 0 is a release of the unit that the device it names did not sign",
	}
	if len(r.Flags) != len(want) {
		t.Fatalf("node findings: %q", r.Flags)
	}
	for i, w := range want {
		if !strings.HasPrefix(r.Flags[i], w) {
			t.Errorf("finding %d: %q, want %q…", i, r.Flags[i], w)
		}
	}
	if len(r.Unlocks) != 2 || len(r.Unlocks[0].Flags) != 0 || !slices.Equal(r.Unlocks[0].Released(), []string{"a", "b", "d"}) ||
		!slices.Equal(r.Unlocks[0].Silent, []string{"c", "e"}) || !slices.Equal(r.Unread, []string{"a"}) {
		t.Fatalf("unlocks: %+v, unread %v", r.Unlocks, r.Unread)
	}
	if a := r.Unlocks[0].Attempts[0]; a.Node != "a" || !a.FromReceipt || !a.Receipt {
		t.Errorf("a's attempt: %+v", a)
	}
	if a := r.Unlocks[1].Attempts; len(a) != 1 || a[0].Node != "e" || a[0].Released || len(r.Unlocks[1].Flags) != 0 {
		t.Errorf("the refused request: %+v", r.Unlocks[1])
	}
}

func TestReportUnitIgnoresOtherEntries(t *testing.T) {
	dev := newDevice(t)
	b := newLogBook(t)
	b.append("a", &api.Entry{Kind: api.EntryKind_PUT, User: "alice", Units: []*api.UnitRef{{UnitId: b.unit[:], Version: 2}}}, 0)
	b.append("a", &api.Entry{Kind: api.EntryKind_RELEASE, User: "alice", Units: []*api.UnitRef{{UnitId: make([]byte, 16), Version: 1}}}, 0)
	// A batch in which the unit itself was refused.
	e := signedAt(b, "b", dev, 5000)
	e.Units = []*api.UnitRef{{UnitId: make([]byte, 16), Version: 1}, {UnitId: b.unit[:], Version: 2}}
	b.sign("b", dev, e)
	e.Refusals = []*api.Refusal{{UnitIndex: 1, Code: api.Code_RATE_LIMITED}}
	b.append("b", e, recorded)
	r := b.report(dev, 0)
	if len(r.Unlocks) != 1 || r.Flagged() != 0 {
		t.Fatalf("unlocks %+v, flags %s", r.Unlocks, flagsOf(r))
	}
	if a := r.Unlocks[0].Attempts; len(a) != 1 || a[0].Node != "b" || a[0].Released || a[0].Outcome != api.Code_RATE_LIMITED {
		t.Errorf("attempts %+v", a)
	}
}

func TestReportUnitRefusalOfASignedRequest(t *testing.T) {
	dev := newDevice(t)
	b := newLogBook(t)
	for _, n := range []string{"a", "b", "c"} {
		b.add(n, dev, 100, api.Code_OK, receipted)
	}
	// Node d answered a request it logged as refused with a receipt,
	// which the vault keeps; node e refused one "for a bad signature"
	// that verifies.
	b.add("d", dev, 100, api.Code_NOT_FOUND, receipted)
	b.add("e", dev, 100, api.Code_UNAUTHENTICATED, recorded)
	// Refusals with nothing against them: a bad request, and a refusal
	// the vault kept no receipt of.
	b.add("e", dev, 200, api.Code_UNAUTHENTICATED, recorded|unsigned)
	b.add("b", dev, 300, api.Code_RATE_LIMITED, recorded)
	want := []string{
		"node d: its entry 0 refuses (NOT_FOUND) a request for the unit that its device signed, yet the vault holds the receipt",
		"node e: its entry 0 refuses a request for the unit for a bad device signature, yet the signature verifies",
	}
	check := func(name string, r *auditor.UnitReport, want []string) {
		t.Helper()
		if len(r.Flags) != len(want) {
			t.Fatalf("%s: node findings %q, want %d", name, r.Flags, len(want))
		}
		for i, w := range want {
			if !strings.HasPrefix(r.Flags[i], w) {
				t.Errorf("%s: finding %d: %q, want %q…", name, i, r.Flags[i], w)
			}
		}
	}
	check("with the vault", b.report(dev, 0), want)
	check("without the vault", b.report(device{}, 0), want[1:])
	// A node not read: its receipt stands for its entry.
	delete(b.logs, "d")
	check("d not read", b.report(dev, 0), want)
}
