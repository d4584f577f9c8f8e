package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestUnitLookup(t *testing.T) {
	v := testVault(t)
	u, ok := v.Unit("bank")
	if !ok || u.Version != 3 {
		t.Fatalf("Unit(bank) = %v, %v", u, ok)
	}
	u.Version = 4
	if v.Units[1].Version != 4 {
		t.Errorf("the unit Unit returns is not the vault's own")
	}
	if _, ok := v.Unit("nope"); ok {
		t.Errorf("Unit found a label that is not there")
	}
}

func TestPutUnit(t *testing.T) {
	for _, tc := range []struct {
		name string
		unit func(t *testing.T) Unit
		want error
	}{
		{"a new unit goes in label order", func(t *testing.T) Unit { return testUnit(t, "b", 0x50) }, nil},
		{"a label in use is refused", func(t *testing.T) Unit { return testUnit(t, "bank", 0x50) }, ErrExists},
		{"an ID in use is refused", func(t *testing.T) Unit { return testUnit(t, "new", 0x20) }, ErrExists},
		{"a malformed unit is refused", func(t *testing.T) Unit { u := testUnit(t, "new", 0x50); u.Threshold = 1; return u }, ErrInvalid},
		{"a bad label is refused", func(t *testing.T) Unit { return testUnit(t, "trailing ", 0x50) }, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := testVault(t)
			err := v.PutUnit(tc.unit(t))
			if !errors.Is(err, tc.want) || (tc.want != nil && err == nil) {
				t.Fatalf("PutUnit: got %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				if len(v.Units) != 2 {
					t.Fatalf("a refused unit was added")
				}
				return
			}
			var labels []string
			for _, u := range v.Units {
				labels = append(labels, u.Label)
			}
			if fmt.Sprint(labels) != "[acme-portal b bank]" {
				t.Fatalf("units after PutUnit: %v", labels)
			}
		})
	}
}

func TestPutUnitCopies(t *testing.T) {
	v := testVault(t)
	u := testUnit(t, "c", 0x50)
	if err := v.PutUnit(u); err != nil {
		t.Fatal(err)
	}
	u.Sealed[0] = 0xff
	u.Nodes[0].Name = "changed"
	got, _ := v.Unit("c")
	if got.Sealed[0] == 0xff || got.Nodes[0].Name == "changed" {
		t.Errorf("the vault shares the slices of the unit it was given")
	}
}

func TestRemoveUnit(t *testing.T) {
	v := testVault(t)
	if !v.RemoveUnit("acme-portal") || len(v.Units) != 1 || v.Units[0].Label != "bank" {
		t.Fatalf("RemoveUnit did not remove the unit")
	}
	if v.RemoveUnit("acme-portal") {
		t.Fatalf("RemoveUnit removed a unit twice")
	}
}

func TestValidLabel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		label string
		ok    bool
	}{
		{"plain label is valid", "acme-portal", true},
		{"inner spaces are valid", "My bank (joint)", true},
		{"non-ASCII letters are valid", "Bücherei – 図書館", true},
		{"128 bytes is valid", string(make128('x')), true},
		{"empty is invalid", "", false},
		{"129 bytes is invalid", string(make128('x')) + "x", false},
		{"a leading space is invalid", " acme", false},
		{"a trailing space is invalid", "acme ", false},
		{"a tab is invalid", "ac\tme", false},
		{"a newline is invalid", "acme\n", false},
		{"an escape sequence is invalid", "\x1b[31macme", false},
		{"a no-break space is invalid", "acme\u00a0portal", false},
		{"a bidirectional override is invalid", "acme\u202eportal", false},
		{"invalid UTF-8 is invalid", "acme\xff", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidLabel(tc.label); got != tc.ok {
				t.Fatalf("ValidLabel(%q) = %v", tc.label, got)
			}
		})
	}
}

func make128(c byte) []byte {
	b := make([]byte, MaxLabelLen)
	for i := range b {
		b[i] = c
	}
	return b
}

func TestWipe(t *testing.T) {
	v := testVault(t)
	dk, ms := v.DeviceKey, v.MasterSecret
	v.Wipe()
	if v.DeviceKey != nil || v.MasterSecret != nil {
		t.Errorf("Wipe left the secrets in the vault")
	}
	if !isZero(dk) || !isZero(ms) {
		t.Errorf("Wipe did not overwrite the secrets' bytes")
	}
	v.Wipe() // twice is fine
}

func TestVaultNeverPrintsSecrets(t *testing.T) {
	v := testVault(t)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q"} {
		noSecrets(t, v, verb+" of *Vault", fmt.Sprintf(verb, v))
		noSecrets(t, v, verb+" of Vault", fmt.Sprintf(verb, *v))
		noSecrets(t, v, verb+" of a struct holding a Vault", fmt.Sprintf(verb, struct{ V Vault }{*v}))
	}
	if b, err := json.Marshal(v); err == nil {
		noSecrets(t, v, "JSON of a Vault", string(b))
		t.Errorf("a Vault was JSON-encoded")
	}
	if err := json.Unmarshal(mustEncode(t, v), new(Vault)); err == nil {
		t.Errorf("a Vault was JSON-decoded without its checks")
	}
}

func TestAddReceipts(t *testing.T) {
	t.Run("receipts are kept oldest first, the newest 1000", func(t *testing.T) {
		v := testVault(t)
		for i := range MaxReceipts + 5 {
			if err := v.AddReceipts(testReceipt(uint64(100 + i))); err != nil {
				t.Fatal(err)
			}
		}
		if len(v.Receipts) != MaxReceipts || v.Receipts[0].Index != 105 || v.Receipts[MaxReceipts-1].Index != 100+MaxReceipts+4 {
			t.Fatalf("kept %d receipts from index %d", len(v.Receipts), v.Receipts[0].Index)
		}
		if _, err := decode(mustEncode(t, v)); err != nil {
			t.Fatalf("a vault of the most receipts does not decode: %v", err)
		}
	})
	t.Run("a receipt that breaks a rule is refused", func(t *testing.T) {
		v := testVault(t)
		bad := testReceipt(1)
		bad.Entry = nil
		if err := v.AddReceipts(testReceipt(2), bad); !errors.Is(err, ErrInvalid) || len(v.Receipts) != 2 {
			t.Fatalf("AddReceipts = %v with %d receipts, want ErrInvalid and none added", err, len(v.Receipts))
		}
	})
	t.Run("the vault keeps its own copy", func(t *testing.T) {
		v := testVault(t)
		r := testReceipt(3)
		if err := v.AddReceipts(r); err != nil {
			t.Fatal(err)
		}
		r.Entry[0] ^= 0xff
		if v.Receipts[len(v.Receipts)-1].Entry[0] != 0x0e {
			t.Fatal("the vault's receipt changed with the caller's")
		}
	})
}
