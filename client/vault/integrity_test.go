package vault

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/custos-network/custos/threshold"
)

// Every field of a unit is covered by its MAC: a change to any one of them
// makes CheckUnit report the unit as damaged, by label and nothing more.
func TestUnitMACCoversEveryField(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(u *Unit)
	}{
		{"another label is damage", func(u *Unit) { u.Label = "acme-portal2" }},
		{"another unit ID is damage", func(u *Unit) { u.ID[15] ^= 1 }},
		{"another version is damage", func(u *Unit) { u.Version++ }},
		{"another threshold is damage", func(u *Unit) { u.Threshold = 3 }},
		{"a node fewer is damage", func(u *Unit) { u.Nodes = u.Nodes[:2] }},
		{"nodes in another order are damage", func(u *Unit) { u.Nodes[0], u.Nodes[1] = u.Nodes[1], u.Nodes[0] }},
		{"another node name is damage", func(u *Unit) { u.Nodes[1].Name = "bolt2" }},
		{"another peer ID is damage", func(u *Unit) { u.Nodes[1].PeerID = u.Nodes[2].PeerID }},
		{"another share commitment is damage", func(u *Unit) { u.Nodes[2].Commitment[0] ^= 1 }},
		{"another stored flag is damage", func(u *Unit) { u.Nodes[0].Stored = false }},
		{"another key commitment is damage", func(u *Unit) { u.KeyCommit[31] ^= 0x80 }},
		{"another sealed record is damage", func(u *Unit) { u.Sealed[10] ^= 1 }},
		{"a longer sealed record is damage", func(u *Unit) { u.Sealed = append(u.Sealed, 0) }},
		{"another degraded flag is damage", func(u *Unit) { u.Degraded = true }},
		{"another creation time is damage", func(u *Unit) { u.Created = u.Created.Add(time.Nanosecond) }},
		{"another update time is damage", func(u *Unit) { u.Updated = u.Updated.Add(-time.Second) }},
		{"another MAC is damage", func(u *Unit) { u.MAC[0] ^= 1 }},
		{"no MAC is damage", func(u *Unit) { u.MAC = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := testVault(t)
			u := sealedUnit(t, v)
			if err := v.CheckUnit(u); err != nil {
				t.Fatalf("the unit as sealed: %v", err)
			}
			tc.change(u)
			err := v.CheckUnit(u)
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("CheckUnit = %v, want ErrDamaged", err)
			}
			noSecrets(t, v, "the error", err.Error())
		})
	}
}

func TestUnitMACIsTheVaults(t *testing.T) {
	v, other := testVault(t), testVault(t)
	u := sealedUnit(t, v)
	other.MasterSecret[0] ^= 1
	if err := other.CheckUnit(u); !errors.Is(err, ErrDamaged) {
		t.Errorf("a unit sealed under another master secret: %v, want ErrDamaged", err)
	}
	if err := v.CheckUnit(u); err != nil {
		t.Errorf("the vault's own unit: %v", err)
	}
	v.Wipe()
	if err := v.CheckUnit(u); err == nil || errors.Is(err, ErrDamaged) {
		t.Errorf("a wiped vault checks units: %v", err)
	}
}

// The time zone of a time is not part of the unit: the same instant reads
// back in UTC and still checks.
func TestUnitMACSurvivesASaveInUTC(t *testing.T) {
	h, _ := openNew(t)
	u := testUnit(t, "zoned", 0x60)
	u.Created = u.Created.In(time.FixedZone("", -7*3600))
	if err := h.PutUnit(u); err != nil {
		t.Fatal(err)
	}
	got, _, err := h.Unit("zoned")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Vault().CheckUnit(got); err != nil || got.Created.Location() != time.UTC {
		t.Errorf("after a round trip: %v, in %v", err, got.Created.Location())
	}
}

// sealedUnit is the test vault's first unit, sealed under v's master
// secret.
func sealedUnit(t testing.TB, v *Vault) *Unit {
	t.Helper()
	u := testUnit(t, "acme-portal", 0x10)
	if err := v.SealUnit(&u); err != nil {
		t.Fatal(err)
	}
	return &u
}

// specUnitMAC is the MAC as docs/vault.md writes it out, with the
// primitives alone: the package must agree with it, byte for byte.
func specUnitMAC(master []byte, u *Unit) []byte {
	lp := func(b, x []byte) []byte { return append(binary.BigEndian.AppendUint32(b, uint32(len(x))), x...) }
	flag := func(b []byte, x bool) []byte {
		if x {
			return append(b, 1)
		}
		return append(b, 0)
	}
	when := func(b []byte, t time.Time) []byte {
		return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(b, uint64(t.Unix())), uint32(t.Nanosecond()))
	}
	var m []byte
	m = lp(m, []byte(u.Label))
	m = append(m, u.ID[:]...)
	m = binary.BigEndian.AppendUint64(m, u.Version)
	m = binary.BigEndian.AppendUint64(m, uint64(u.Threshold))
	m = binary.BigEndian.AppendUint32(m, uint32(len(u.Nodes)))
	for _, n := range u.Nodes {
		m = lp(m, []byte(n.Name))
		m = lp(m, []byte(n.PeerID))
		m = append(m, n.Commitment[:]...)
		m = flag(m, n.Stored)
	}
	m = append(m, u.KeyCommit[:]...)
	m = lp(m, u.Sealed)
	m = flag(m, u.Degraded)
	m = when(when(m, u.Created), u.Updated)
	key, err := hkdf.Key(sha256.New, master, nil, "custos/v1/vault-unit", 32)
	if err != nil {
		panic(err)
	}
	h := hmac.New(sha256.New, key)
	h.Write(m)
	return h.Sum(nil)
}

func TestUnitMACMatchesTheSpec(t *testing.T) {
	h, _ := openNew(t)
	for _, label := range []string{"acme-portal", "bank"} {
		u, _, err := h.Unit(label)
		if err != nil {
			t.Fatal(err)
		}
		if want := specUnitMAC(h.Vault().MasterSecret, u); !bytes.Equal(u.MAC, want) {
			t.Errorf("unit %q: the MAC is not the one docs/vault.md specifies", label)
		}
	}
}

func TestMarkNotStored(t *testing.T) {
	t.Run("a node that lost its share makes the unit degraded", func(t *testing.T) {
		h, path := openNew(t)
		u := testUnit(t, "acme-portal", 0x10)
		changed, err := h.MarkNotStored(u.ID, u.Version, "bolt")
		if err != nil || !changed {
			t.Fatalf("MarkNotStored = %v, %v", changed, err)
		}
		h.Close()
		h = mustOpen(t, path)
		got, _, err := h.Unit("acme-portal")
		if err != nil {
			t.Fatal(err)
		}
		if got.Nodes[1].Stored || !got.Degraded || !got.Nodes[0].Stored || !got.Nodes[2].Stored {
			t.Fatalf("after MarkNotStored: degraded %v, nodes %+v", got.Degraded, got.Nodes)
		}
		if err := h.Vault().CheckUnit(got); err != nil {
			t.Fatalf("the changed unit is not sealed again: %v", err)
		}
		if err := h.Verify(); err != nil {
			t.Fatalf("the vault no longer follows its rules: %v", err)
		}
	})
	t.Run("nothing changes for another version, node or a node not storing", func(t *testing.T) {
		h, path := openNew(t)
		h.Close()
		before := mustRead(t, path)
		h = mustOpen(t, path)
		bank := testBank(t)
		for _, c := range []struct {
			id      threshold.UnitID
			version uint64
			node    string
		}{
			{bank.ID, bank.Version - 1, "acme"},
			{bank.ID, bank.Version, "dune"},
			{bank.ID, bank.Version, "cove"}, // not storing already
			{testUnitID(0x70), 1, "acme"},
		} {
			if changed, err := h.MarkNotStored(c.id, c.version, c.node); changed || err != nil {
				t.Errorf("MarkNotStored(%s, %d, %s) = %v, %v; want nothing done", c.id, c.version, c.node, changed, err)
			}
		}
		h.Close()
		if !bytes.Equal(mustRead(t, path), before) {
			t.Error("the vault changed")
		}
	})
	t.Run("a damaged unit is not sealed again", func(t *testing.T) {
		h, path := openNew(t)
		h.Close()
		editValue(t, path, bucketSealed, idKey(0x10), func(b []byte) []byte { b[5] ^= 1; return b })
		h = mustOpen(t, path)
		u := testUnit(t, "acme-portal", 0x10)
		if changed, err := h.MarkNotStored(u.ID, u.Version, "acme"); changed || !errors.Is(err, ErrDamaged) {
			t.Fatalf("MarkNotStored = %v, %v; want ErrDamaged", changed, err)
		}
		got, _, err := h.Unit("acme-portal")
		if err != nil || !got.Nodes[0].Stored || h.Vault().CheckUnit(got) == nil {
			t.Fatalf("the damaged unit was changed or sealed (%v)", err)
		}
	})
}

func TestPutUnitSeals(t *testing.T) {
	h, _ := openNew(t)
	u := testUnit(t, "new", 0x50)
	u.MAC = bytes.Repeat([]byte{1}, MACSize) // whatever the caller had
	if err := h.PutUnit(u); err != nil {
		t.Fatal(err)
	}
	got, _, err := h.Unit("new")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Vault().CheckUnit(got); err != nil {
		t.Fatalf("a unit PutUnit added: %v", err)
	}
}

func TestCheckpoints(t *testing.T) {
	v := testVault(t)
	if cp := v.Checkpoint("acme"); !bytes.Equal(cp, testReceipt(57).Checkpoint) {
		t.Fatalf("Checkpoint(acme) = %q", cp)
	}
	if cp := v.Checkpoint("cove"); cp != nil {
		t.Fatalf("Checkpoint(cove) = %q, want none", cp)
	}
	mine := []byte("custos/cove\n3\n(root)\n")
	for _, node := range []string{"cove", "aaa", "acme"} {
		if err := v.SetCheckpoint(node, mine); err != nil {
			t.Fatal(err)
		}
	}
	mine[0] = 'X'
	var nodes []string
	for _, c := range v.Checkpoints {
		nodes = append(nodes, c.Node)
		if c.Node != "bolt" && !bytes.HasPrefix(c.Checkpoint, []byte("custos/cove")) {
			t.Errorf("%s: the vault's checkpoint changed with the caller's", c.Node)
		}
	}
	if strings.Join(nodes, " ") != "aaa acme bolt cove" {
		t.Fatalf("checkpoints of %v; want one per node, in node order", nodes)
	}
	if _, err := reread(t, v); err != nil {
		t.Fatalf("the vault no longer follows its rules: %v", err)
	}
	for _, bad := range []struct{ node, cp string }{{"Bad Node", "x"}, {"dune", ""}} {
		if err := v.SetCheckpoint(bad.node, []byte(bad.cp)); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetCheckpoint(%q, %d bytes) = %v, want ErrInvalid", bad.node, len(bad.cp), err)
		}
	}
}

// AddRestore keeps copies of what it is given, in UTC, refuses a restore
// that breaks the rules, and keeps the newest MaxRestores.
func TestAddRestore(t *testing.T) {
	v := testVault(t)
	r := testRestore()
	r.Node, r.Accepted = "cove", r.Accepted.In(time.FixedZone("", 3600))
	if err := v.AddRestore(r); err != nil {
		t.Fatal(err)
	}
	r.Replaced[0] = 'X'
	got := v.Restores[len(v.Restores)-1]
	if got.Node != "cove" || got.Replaced[0] != 'c' || got.Accepted.Location() != time.UTC {
		t.Errorf("the kept restore: node %s, replaced %q…, time in %v", got.Node, got.Replaced[:1], got.Accepted.Location())
	}
	if err := v.AddRestore(Restore{Node: "cove"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("an empty restore: %v, want ErrInvalid", err)
	}
	for i := range MaxRestores {
		r := testRestore()
		r.Index = uint64(i)
		if err := v.AddRestore(r); err != nil {
			t.Fatal(err)
		}
	}
	if len(v.Restores) != MaxRestores || v.Restores[0].Index != 0 || v.Restores[MaxRestores-1].Index != MaxRestores-1 {
		t.Errorf("%d restores kept, from index %d; want the newest %d", len(v.Restores), v.Restores[0].Index, MaxRestores)
	}
	if _, err := reread(t, v); err != nil {
		t.Fatalf("the vault no longer follows its rules: %v", err)
	}
}
