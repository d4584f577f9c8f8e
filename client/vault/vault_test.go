package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

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
	if err := json.Unmarshal([]byte(`{"user": "alice"}`), new(Vault)); err == nil {
		t.Errorf("a Vault was JSON-decoded without its checks")
	}
}

func TestSaveRefusesInvalidVault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(v *Vault)
	}{
		{"a wiped vault is not saved", func(v *Vault) { v.Wipe() }},
		{"a dealing breaking a rule is not saved", func(v *Vault) { v.Login.Threshold = 9 }},
		{"checkpoints out of order are not saved", func(v *Vault) {
			v.Checkpoints[0], v.Checkpoints[1] = v.Checkpoints[1], v.Checkpoints[0]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, path := openNew(t)
			old := mustRead(t, path)
			tc.change(h.Vault())
			if err := h.AddReceipts(testReceipt(77)); err != nil {
				t.Fatal(err)
			}
			if err := h.Save(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Save: got %v, want ErrInvalid", err)
			}
			if !bytes.Equal(mustRead(t, path), old) {
				t.Fatalf("a refused Save changed the vault")
			}
		})
	}
}

func TestCloseIsIdempotentAndEndsWriting(t *testing.T) {
	h, _ := openNew(t)
	if err := h.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := h.Save(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Save after Close: got %v, want os.ErrClosed", err)
	}
	if err := h.PutUnit(testUnit(t, "late", 0x70)); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("PutUnit after Close: got %v, want os.ErrClosed", err)
	}
	if _, _, err := h.Unit("bank"); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Unit after Close: got %v, want os.ErrClosed", err)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Run("CUSTOS_VAULT wins", func(t *testing.T) {
		t.Setenv("CUSTOS_VAULT", "/somewhere/v.db")
		if p, err := DefaultPath(); err != nil || p != "/somewhere/v.db" {
			t.Fatalf("DefaultPath = %q, %v", p, err)
		}
	})
	t.Run("else the user's config directory", func(t *testing.T) {
		t.Setenv("CUSTOS_VAULT", "")
		t.Setenv("XDG_CONFIG_HOME", "/cfg")
		dir, err := os.UserConfigDir()
		if err != nil {
			t.Skip(err)
		}
		if p, err := DefaultPath(); err != nil || p != filepath.Join(dir, "custos", "vault.db") {
			t.Fatalf("DefaultPath = %q, %v", p, err)
		}
	})
}
