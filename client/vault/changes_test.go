package vault

import (
	"bytes"
	"errors"
	"testing"
)

func testChange(u *Unit, op ChangeOp) Change {
	c := Change{Op: op, Label: u.Label, ID: u.ID, From: u.Version, To: u.Version + 1, Nodes: []string{"acme", "bolt", "cove"}, Started: testTime}
	if op == ChangeReplace {
		c.Content = bytes.Repeat([]byte{0xc0}, 80)
	}
	return c
}

func TestAChangeIsKeptUntilCommittedAndTheOldVersionThenWaitsToBeDeleted(t *testing.T) {
	h, path := openNew(t)
	u := testUnit(t, "acme-portal", 0x10)
	c := testChange(&u, ChangeReplace)
	if err := h.StageChanges([]Change{c}, nil); err != nil {
		t.Fatal(err)
	}
	h.Close()
	h = mustOpen(t, path)
	got, err := h.Changes()
	if err != nil || len(got) != 1 || !bytes.Equal(encodeUnitChange(&got[0]), encodeUnitChange(&c)) {
		t.Fatalf("Changes after reopening = %+v, %v", got, err)
	}
	if old, _, _ := h.Unit("acme-portal"); old.Version != 1 {
		t.Fatalf("the unit moved to version %d before the change was committed", old.Version)
	}
	nu := testUnit(t, "acme-portal", 0x10)
	nu.Version, nu.Sealed = 2, []byte("a new sealed record")
	if err := h.CommitChanges([]Commit{{Unit: nu, Old: PendingDelete{ID: u.ID, Version: 1, Nodes: []string{"acme", "cove"}}}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.Changes(); len(got) != 0 {
		t.Fatalf("the change is still recorded after its commit: %+v", got)
	}
	now, _, err := h.Unit("acme-portal")
	if err != nil || now.Version != 2 || string(now.Sealed) != "a new sealed record" || h.v.CheckUnit(now) != nil {
		t.Fatalf("the committed unit: %+v, %v", now, err)
	}
	if ok, _ := h.HasPendingDelete(u.ID, 1); !ok {
		t.Fatal("the old version is not waiting to be deleted")
	}
	if err := h.Verify(); err != nil {
		t.Fatal(err)
	}
}

func TestAnAbandonedChangeLeavesTheUnitAndWaitsToDeleteItsNewVersion(t *testing.T) {
	h, _ := openNew(t)
	u := testUnit(t, "acme-portal", 0x10)
	c := testChange(&u, ChangeRotate)
	if err := h.StageChanges([]Change{c}, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.AbandonChanges([]PendingDelete{{ID: u.ID, Version: 2, Nodes: c.Nodes}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.Changes(); len(got) != 0 {
		t.Fatalf("abandoned change still recorded: %+v", got)
	}
	if ok, _ := h.HasPendingDelete(u.ID, 2); !ok {
		t.Fatal("the abandoned version is not waiting to be deleted")
	}
	// Staging the change again, to the version after, in the same
	// transaction as giving the first one up.
	c2 := c
	c2.To = 3
	if err := h.StageChanges([]Change{c2}, []PendingDelete{{ID: u.ID, Version: 2, Nodes: c.Nodes}}); err != nil {
		t.Fatal(err)
	}
	if err := h.StageChanges([]Change{c}, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("staging a change to a version waiting to be deleted: %v; want ErrInvalid", err)
	}
}

func TestAChangeIsRefusedUnlessItStartsFromTheUnitsVersion(t *testing.T) {
	h, _ := openNew(t)
	u := testUnit(t, "acme-portal", 0x10)
	for name, edit := range map[string]func(*Change){
		"from another version":       func(c *Change) { c.From, c.To = 2, 3 },
		"of another unit":            func(c *Change) { c.ID = testUnitID(0x77) },
		"to a version not after":     func(c *Change) { c.To = c.From },
		"a rotate holding a record":  func(c *Change) { c.Content = []byte{1} },
		"a replace without a record": func(c *Change) { c.Op, c.Content = ChangeReplace, nil },
		"with no nodes":              func(c *Change) { c.Nodes = nil },
	} {
		c := testChange(&u, ChangeRotate)
		edit(&c)
		if err := h.StageChanges([]Change{c}, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("a change %s: %v; want ErrInvalid", name, err)
		}
	}
	if err := h.AbandonChanges([]PendingDelete{{ID: u.ID, Version: 1, Nodes: []string{"acme"}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("abandoning the unit's current version: %v; want ErrInvalid", err)
	}
	nu := testUnit(t, "acme-portal", 0x10)
	nu.Version = 2
	if err := h.CommitChanges([]Commit{{Unit: nu, Old: PendingDelete{ID: u.ID, Version: 1}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("committing a unit with no change under way: %v; want ErrInvalid", err)
	}
}

func FuzzDecodeUnitChange(f *testing.F) {
	u := testUnit(f, "acme-portal", 0x10)
	for _, op := range []ChangeOp{ChangeReplace, ChangeRotate, ChangeReshare} {
		c := testChange(&u, op)
		f.Add(append(c.ID[:], encodeUnitChange(&c)...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 16 {
			return
		}
		c, err := decodeUnitChange(b[:16], b[16:])
		if err != nil {
			return
		}
		if again := encodeUnitChange(&c); !bytes.Equal(again, b[16:]) {
			t.Fatalf("an accepted change is not in its one encoding: %x", b)
		}
	})
}
