package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
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
		if err := v.AddReceipts(testReceipt(2), bad); !errors.Is(err, ErrInvalid) || len(v.Receipts) != 1 {
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
		if v.Receipts[1].Entry[0] != 0x0e {
			t.Fatal("the vault's receipt changed with the caller's")
		}
	})
}

func TestAddRequests(t *testing.T) {
	t.Run("requests are kept oldest first, the newest 5000", func(t *testing.T) {
		v := testVault(t) // which holds two requests already
		base := testTime.Truncate(time.Millisecond)
		for i := range MaxRequests + 5 {
			r := testRequest("cove", 0)
			r.Time = base.Add(time.Duration(i) * time.Second)
			if err := v.AddRequests(r); err != nil {
				t.Fatal(err)
			}
		}
		first, last := v.Requests[0].Time, v.Requests[MaxRequests-1].Time
		if len(v.Requests) != MaxRequests || first.Sub(base) != 5*time.Second || last.Sub(base) != (MaxRequests+4)*time.Second {
			t.Fatalf("kept %d requests from %v to %v", len(v.Requests), first, last)
		}
		if _, err := decode(mustEncode(t, v)); err != nil {
			t.Fatalf("a vault of the most requests does not decode: %v", err)
		}
	})
	t.Run("a request that breaks a rule is refused and none is added", func(t *testing.T) {
		for _, bad := range []func(*Request){
			func(r *Request) { r.Node = "Acme Corp" },
			func(r *Request) { r.Nonce = r.Nonce[:15] },
			func(r *Request) { r.Nonce = nil },
			func(r *Request) { r.Time = time.Time{} },
		} {
			v := testVault(t)
			r := testRequest("acme", 9)
			bad(&r)
			if err := v.AddRequests(testRequest("bolt", 8), r); !errors.Is(err, ErrInvalid) || len(v.Requests) != 2 {
				t.Fatalf("AddRequests = %v with %d requests, want ErrInvalid and none added", err, len(v.Requests))
			}
		}
	})
	t.Run("the vault keeps its own copy of the nonce", func(t *testing.T) {
		v := testVault(t)
		r := testRequest("acme", 3)
		if err := v.AddRequests(r); err != nil {
			t.Fatal(err)
		}
		r.Nonce[0] ^= 0xff
		if v.Requests[2].Nonce[0] != 3 {
			t.Fatal("the vault's request changed with the caller's")
		}
	})
	t.Run("the time is kept in UTC to the millisecond", func(t *testing.T) {
		v := testVault(t)
		r := testRequest("acme", 4)
		r.Time = time.Date(2026, 1, 20, 17, 2, 5, 512999999, time.FixedZone("CET", 3600)) // with no monotonic reading
		if err := v.AddRequests(r); err != nil {
			t.Fatal(err)
		}
		want := time.Date(2026, 1, 20, 16, 2, 5, 512000000, time.UTC)
		if got := v.Requests[2].Time; got != want {
			t.Fatalf("the request's time is %v, want %v", got, want)
		}
		r.Time = time.Now() // with a monotonic reading, which the file cannot hold
		if err := v.AddRequests(r); err != nil {
			t.Fatal(err)
		}
		got, err := decode(mustEncode(t, v))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Requests, v.Requests) {
			t.Fatal("the requests differ after a round trip")
		}
	})
	t.Run("RequestsMayBePruned is true from MaxRequests on", func(t *testing.T) {
		v := testVault(t)
		v.Requests = nil
		for i := range MaxRequests + 1 {
			if got := v.RequestsMayBePruned(); got != (len(v.Requests) == MaxRequests) {
				t.Fatalf("after %d requests: %v", len(v.Requests), got)
			}
			if err := v.AddRequests(testRequest("acme", byte(i))); err != nil {
				t.Fatal(err)
			}
		}
		if len(v.Requests) != MaxRequests || !v.RequestsMayBePruned() {
			t.Fatalf("%d requests kept after one was dropped, and RequestsMayBePruned is %v", len(v.Requests), v.RequestsMayBePruned())
		}
	})
}
