package vault

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/custos-network/custos/api"
)

func TestPutUnit(t *testing.T) {
	for _, tc := range []struct {
		name string
		unit func(t *testing.T) Unit
		want error
	}{
		{"a new unit is added", func(t *testing.T) Unit { return testUnit(t, "b", 0x50) }, nil},
		{"a label in use is refused", func(t *testing.T) Unit { return testUnit(t, "bank", 0x50) }, ErrExists},
		{"an ID in use is refused", func(t *testing.T) Unit { return testUnit(t, "new", 0x20) }, ErrExists},
		{"a malformed unit is refused", func(t *testing.T) Unit { u := testUnit(t, "new", 0x50); u.Threshold = 1; return u }, ErrInvalid},
		{"a bad label is refused", func(t *testing.T) Unit { return testUnit(t, "trailing ", 0x50) }, ErrInvalid},
		{"a bad peer ID is refused", func(t *testing.T) Unit {
			u := testUnit(t, "new", 0x50)
			u.Nodes[1].PeerID = "12D3KooWnot-a-peer"
			return u
		}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := openNew(t)
			err := h.PutUnit(tc.unit(t))
			if !errors.Is(err, tc.want) || (tc.want != nil && err == nil) {
				t.Fatalf("PutUnit: got %v, want %v", err, tc.want)
			}
			want := []string{"acme-portal", "b", "bank"}
			if tc.want != nil {
				want = []string{"acme-portal", "bank"}
			}
			if got := labelsOf(t, h, ""); !slices.Equal(got, want) {
				t.Fatalf("units after PutUnit: %v, want %v", got, want)
			}
			if err := h.Verify(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// labelsOf lists the labels h.Units gives for prefix.
func labelsOf(t testing.TB, h *Handle, prefix string) []string {
	t.Helper()
	var out []string
	if err := h.Units(prefix, func(u UnitInfo) error { out = append(out, u.Label); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// A unit reads back as it was put, sealed record and all, and the vault
// keeps copies of the slices it was given.
func TestUnitReadsBackAsPut(t *testing.T) {
	h, path := openNew(t)
	u := testUnit(t, "c", 0x50)
	if err := h.PutUnit(u); err != nil {
		t.Fatal(err)
	}
	u.Sealed[0] = 0xff
	u.Nodes[0].Name = "changed"
	h.Close()
	h = mustOpen(t, path)
	got, ok, err := h.Unit("c")
	if err != nil || !ok {
		t.Fatalf("Unit(c) = %v, %v", ok, err)
	}
	want := testUnit(t, "c", 0x50)
	want.MAC = got.MAC
	if fmt.Sprint(*got) != fmt.Sprint(want) {
		t.Errorf("read back:\n%+v\nwant\n%+v", *got, want)
	}
	if err := h.Vault().CheckUnit(got); err != nil {
		t.Error(err)
	}
	d, _, err := h.Describe("c")
	if err != nil || d.Sealed != nil || d.ID != want.ID || len(d.Nodes) != 3 {
		t.Errorf("Describe(c) = %+v, %v; want the unit without its sealed record", d, err)
	}
	if _, ok, err := h.Unit("nope"); ok || err != nil {
		t.Errorf("Unit(nope) = %v, %v; want none", ok, err)
	}
	if label, ok, err := h.LabelOf(want.ID); label != "c" || !ok || err != nil {
		t.Errorf("LabelOf = %q, %v, %v", label, ok, err)
	}
}

// Units lists by label prefix in label order, and reads descriptors only:
// a unit whose sealed record is gone is still listed, and refused when it
// is read whole.
func TestUnitsListsByPrefixWithoutReadingSealedRecords(t *testing.T) {
	h, path := openNew(t)
	for i, label := range []string{"acme-mail", "acme", "acmf", "ac", "zeta"} {
		if err := h.PutUnit(testUnit(t, label, byte(0x60+i))); err != nil {
			t.Fatal(err)
		}
	}
	for prefix, want := range map[string][]string{
		"":      {"ac", "acme", "acme-mail", "acme-portal", "acmf", "bank", "zeta"},
		"acme":  {"acme", "acme-mail", "acme-portal"},
		"acme-": {"acme-mail", "acme-portal"},
		"b":     {"bank"},
		"x":     nil,
	} {
		if got := labelsOf(t, h, prefix); !slices.Equal(got, want) {
			t.Errorf("Units(%q) = %v, want %v", prefix, got, want)
		}
	}
	h.Close()
	editValue(t, path, bucketSealed, idKey(0x10), func([]byte) []byte { return nil })
	h = mustOpen(t, path)
	if got := labelsOf(t, h, "acme-p"); !slices.Equal(got, []string{"acme-portal"}) {
		t.Errorf("Units after the sealed record went: %v", got)
	}
	if _, _, err := h.Unit("acme-portal"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Unit of a unit without its sealed record: %v, want ErrCorrupt", err)
	}
}

// Each node's peer ID is stored once, in the node table, however many
// units name it.
func TestNodeTableHoldsEachNodeOnce(t *testing.T) {
	h, path := openNew(t)
	for i := range 40 {
		if err := h.PutUnit(testUnit(t, fmt.Sprintf("u%02d", i), byte(0x40+i))); err != nil {
			t.Fatal(err)
		}
	}
	h.Close()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	peerBytes := []byte(testPeerID(t, 0xa1))
	err = db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketNodes).Stats().KeyN; n != 3 {
			t.Errorf("the node table has %d entries, want 3", n)
		}
		return tx.Bucket(bucketUnits).ForEach(func(k, v []byte) error {
			if bytes.Contains(v, peerBytes) || len(v) > 300 {
				t.Errorf("unit %s: its descriptor (%d bytes) holds a peer ID", k, len(v))
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRemoveUnit(t *testing.T) {
	h, path := openNew(t)
	acme := testUnit(t, "acme-portal", 0x10)
	if ok, err := h.RemoveUnit("acme-portal", testUnitID(0x11), nil); ok || err != nil {
		t.Fatalf("RemoveUnit with another unit's ID = %v, %v; want nothing done", ok, err)
	}
	if ok, err := h.RemoveUnit("acme-portal", acme.ID, []string{"bolt", "cove"}); !ok || err != nil {
		t.Fatalf("RemoveUnit = %v, %v", ok, err)
	}
	if ok, err := h.RemoveUnit("acme-portal", acme.ID, nil); ok || err != nil {
		t.Fatalf("RemoveUnit twice = %v, %v", ok, err)
	}
	h.Close()
	h = mustOpen(t, path)
	if got := labelsOf(t, h, ""); !slices.Equal(got, []string{"bank"}) {
		t.Fatalf("units after RemoveUnit: %v", got)
	}
	pending, err := h.PendingDeletes()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(pending) != fmt.Sprint([]PendingDelete{
		{ID: acme.ID, Version: 1, Nodes: []string{"bolt", "cove"}},
		{ID: testUnitID(0x20), Version: 2, Nodes: []string{"cove"}},
	}) {
		t.Fatalf("pending deletes: %+v", pending)
	}
	if err := h.Verify(); err != nil {
		t.Fatal(err)
	}
	// The retry confirms one node, then the other.
	for _, left := range [][]string{{"cove"}, nil} {
		if err := h.SetPendingDelete(PendingDelete{ID: acme.ID, Version: 1, Nodes: left}); err != nil {
			t.Fatal(err)
		}
	}
	if pending, _ := h.PendingDeletes(); len(pending) != 1 {
		t.Fatalf("pending deletes after the retries: %+v", pending)
	}
	bank := testBank(t)
	if err := h.SetPendingDelete(PendingDelete{ID: bank.ID, Version: bank.Version, Nodes: []string{"acme"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a pending delete of a current version: %v, want ErrInvalid", err)
	}
}

// The vault keeps the newest MaxReceipts receipts, oldest first, with the
// ones queued and not saved yet.
func TestReceiptsAreBounded(t *testing.T) {
	h, path := openNew(t)
	for batch := range 11 {
		var rs []Receipt
		for i := range 100 {
			rs = append(rs, testReceipt(uint64(1000+batch*100+i)))
		}
		if err := h.AddReceipts(rs...); err != nil {
			t.Fatal(err)
		}
		if batch < 10 {
			if err := h.Save(); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(h *Handle, first, last uint64) {
		t.Helper()
		rs, err := h.Receipts()
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != MaxReceipts || rs[0].Index != first || rs[len(rs)-1].Index != last {
			t.Fatalf("%d receipts from %d to %d; want %d from %d to %d",
				len(rs), rs[0].Index, rs[len(rs)-1].Index, MaxReceipts, first, last)
		}
	}
	check(h, 1100, 2099) // the last batch is queued
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
	h.Close()
	h = mustOpen(t, path)
	check(h, 1100, 2099)
	if err := h.Verify(); err != nil {
		t.Fatal(err)
	}
	if err := h.AddReceipts(Receipt{Node: "acme"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a malformed receipt: %v, want ErrInvalid", err)
	}
}

// A receipt reads back as it was added, evidence included.
func TestReceiptsReadBack(t *testing.T) {
	h, _ := openNew(t)
	rs, err := h.Receipts()
	if err != nil {
		t.Fatal(err)
	}
	if want := []Receipt{testReceipt(57), testLie()}; fmt.Sprint(rs) != fmt.Sprint(want) {
		t.Fatalf("receipts:\n%+v\nwant\n%+v", rs, want)
	}
	if s := fmt.Sprint(rs); strings.Contains(s, "secret") {
		t.Fatal(s)
	}
}

// Receipts added while a Save writes others stay queued for the next one,
// also when the queue drops its oldest, and none is saved twice.
func TestReceiptsAddedDuringASaveAreKept(t *testing.T) {
	h, _ := openNew(t)
	done := make(chan error)
	go func() {
		var err error
		for i := range 1500 {
			if err = h.AddReceipts(testReceipt(uint64(5000 + i))); err != nil {
				break
			}
		}
		done <- err
	}()
	for range 20 {
		if err := h.Save(); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
	rs, err := h.Receipts()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != MaxReceipts {
		t.Fatalf("%d receipts, want %d", len(rs), MaxReceipts)
	}
	for i, r := range rs {
		if r.Index != uint64(5500+i) {
			t.Fatalf("receipt %d has index %d, want %d", i, r.Index, 5500+i)
		}
	}
	if err := h.Verify(); err != nil {
		t.Fatal(err)
	}
}

// A pending delete keeps the operation it is part of, so that a retry is
// logged as what it was; one written before operations were kept reads as
// a plain delete, and an operation no build knows is refused.
func TestPendingDeleteKeepsItsOperation(t *testing.T) {
	p := PendingDelete{ID: testUnitID(0x21), Version: 3, Nodes: []string{"cove"}, Operation: api.Operation_OPERATION_RESHARE}
	key := pendingKey(p.ID, p.Version)
	got, err := decodePending(key, encodePending(&p))
	if err != nil || got.Operation != api.Operation_OPERATION_RESHARE {
		t.Fatalf("decoded %+v, %v; want the reshare kept", got, err)
	}
	plain := p
	plain.Operation = api.Operation_OPERATION_UNSPECIFIED
	old := encodePending(&plain)
	if got, err := decodePending(key, old); err != nil || got.Operation != api.Operation_OPERATION_UNSPECIFIED {
		t.Fatalf("a pending delete with no operation: %+v, %v", got, err)
	}
	for name, b := range map[string][]byte{
		"unknown operation":         append(bytes.Clone(old), 0x7f),
		"unspecified written out":   append(bytes.Clone(old), 0),
		"bytes after the operation": append(bytes.Clone(old), byte(api.Operation_OPERATION_ROTATE), 1),
	} {
		if _, err := decodePending(key, b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
