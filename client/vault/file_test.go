package vault

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCreateOpenSaveRoundTrip(t *testing.T) {
	path := vaultPath(t)
	want := testVault(t)
	if err := Create(path, want); err != nil {
		t.Fatalf("Create: %v", err)
	}
	h, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !reflect.DeepEqual(h.Vault(), want) {
		t.Fatalf("the vault differs after Create and Open")
	}

	v := h.Vault()
	u := testUnit(t, "a-first-label", 0x30)
	if err := v.PutUnit(u); err != nil {
		t.Fatalf("PutUnit: %v", err)
	}
	if !v.RemoveUnit("bank") {
		t.Fatalf("RemoveUnit found no unit bank")
	}
	v.PendingDeletes = nil
	if err := h.Save(); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	h2, err := Open(path)
	if err != nil {
		t.Fatalf("Open after Save: %v", err)
	}
	defer h2.Close()
	got := h2.Vault()
	if len(got.Units) != 2 || got.Units[0].Label != "a-first-label" || got.Units[1].Label != "acme-portal" {
		t.Fatalf("the saved units are not the ones put, in label order")
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("the vault differs after Save and Open")
	}
}

func TestCreateMakesPrivateFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "vault.json")
	if err := Create(path, testVault(t)); err != nil {
		t.Fatalf("Create: %v", err)
	}
	for _, tc := range []struct {
		name string
		path string
		want fs.FileMode
	}{
		{"the vault is mode 0600", path, 0o600},
		{"the directory made for it is mode 0700", filepath.Dir(path), 0o700},
		{"the lock file is mode 0600", path + ".lock", 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Mode().Perm(); got != tc.want {
				t.Errorf("mode %#o, want %#o", got, tc.want)
			}
		})
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Create left its temporary file")
	}
}

func TestCreateRefusesExistingFile(t *testing.T) {
	path := vaultPath(t)
	writeRaw(t, path, []byte("someone's file"))
	err := Create(path, testVault(t))
	if !errors.Is(err, ErrExists) {
		t.Fatalf("Create over a file: got %v, want ErrExists", err)
	}
	if got := mustRead(t, path); string(got) != "someone's file" {
		t.Fatalf("Create changed the file it refused")
	}
}

func TestCreateRefusesInvalidVault(t *testing.T) {
	path := vaultPath(t)
	v := testVault(t)
	v.Units[0].Threshold = 7
	if err := Create(path, v); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Create: got %v, want ErrInvalid", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Create wrote an invalid vault")
	}
}

func TestOpenMissingVault(t *testing.T) {
	path := vaultPath(t)
	_, err := Open(path)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open: got %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a missing vault left a lock file")
	}
}

// Every damaged file and every unknown format is reported and left exactly
// as it was, with no temporary file beside it.
func TestOpenNeverWritesADamagedFile(t *testing.T) {
	cases := append([]struct {
		name string
		make func(t testing.TB) []byte
	}{
		{"unknown format version is left alone", edit(`"custos-vault/3"`, `"custos-vault/4"`)},
	}, damaged...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.make(t)
			if len(b) > MaxFileSize {
				t.Skip("too large to be worth writing to disk")
			}
			path := vaultPath(t)
			writeRaw(t, path, b)
			before, _ := os.Stat(path)
			_, err := Open(path)
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownFormat) {
				t.Fatalf("Open: got %v, want ErrCorrupt or ErrUnknownFormat", err)
			}
			noSecrets(t, testVault(t), "the error", err.Error())
			if !bytes.Equal(mustRead(t, path), b) {
				t.Fatalf("Open changed a file it could not read")
			}
			after, _ := os.Stat(path)
			if !after.ModTime().Equal(before.ModTime()) || after.Mode() != before.Mode() {
				t.Fatalf("Open touched a file it could not read")
			}
			if _, err := os.Stat(path + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Open made a temporary file")
			}
			// The lock was released: the file can be fixed and opened.
			writeRaw(t, path, mustEncode(t, testVault(t)))
			h, err := open(path, 0)
			if err != nil {
				t.Fatalf("Open after a failed Open: %v", err)
			}
			h.Close()
		})
	}
}

func TestOpenRefusesFilesOthersCanReach(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode fs.FileMode
	}{
		{"readable by all is refused", 0o644},
		{"readable by the group is refused", 0o640},
		{"writable by the group is refused", 0o620},
		{"writable by others is refused", 0o602},
		{"executable by others is refused", 0o601},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := vaultPath(t)
			if err := Create(path, testVault(t)); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path)
			if !errors.Is(err, ErrPermissions) {
				t.Fatalf("Open: got %v, want ErrPermissions", err)
			}
			if !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Errorf("the error does not say how to fix it: %v", err)
			}
		})
	}
	t.Run("owner-only modes stricter than 0600 are accepted", func(t *testing.T) {
		path := vaultPath(t)
		if err := Create(path, testVault(t)); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o400); err != nil {
			t.Fatal(err)
		}
		h, err := Open(path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		h.Close()
	})
}

func TestOpenRefusesSymlink(t *testing.T) {
	path := vaultPath(t)
	real := filepath.Join(filepath.Dir(filepath.Dir(path)), "real.json")
	if err := Create(real, testVault(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, path); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Open of a symlink: got %v, want a refusal", err)
	}
}

// A crash between writing the temporary file and renaming it leaves the
// temporary file beside the old vault: the old vault is the truth.
func TestLeftoverTemporaryFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		tmp  func(t *testing.T) []byte
	}{
		{"a half-written temporary file is ignored", func(t *testing.T) []byte { b := mustEncode(t, testVault(t)); return b[:100] }},
		{"a complete but unrenamed temporary file is ignored", func(t *testing.T) []byte {
			v := testVault(t)
			v.User = "bob"
			return mustEncode(t, v)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := vaultPath(t)
			want := testVault(t)
			if err := Create(path, want); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path+".tmp", tc.tmp(t), 0o644); err != nil {
				t.Fatal(err)
			}
			h, err := Open(path)
			if err != nil {
				t.Fatalf("Open beside a leftover temporary file: %v", err)
			}
			defer h.Close()
			if !reflect.DeepEqual(h.Vault(), want) {
				t.Fatalf("Open did not read the old vault")
			}
			h.Vault().User = "carol"
			if err := h.Save(); err != nil {
				t.Fatalf("Save beside a leftover temporary file: %v", err)
			}
			if _, err := os.Stat(path + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Save left the temporary file")
			}
			got, err := decode(mustRead(t, path))
			if err != nil || got.User != "carol" {
				t.Fatalf("Save did not write the vault (%v)", err)
			}
			info, _ := os.Stat(path)
			if info.Mode().Perm() != 0o600 {
				t.Errorf("the saved vault is mode %#o, want 0600", info.Mode().Perm())
			}
		})
	}
}

func TestFailedSaveKeepsOldVault(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sabotage func(t *testing.T, path string)
	}{
		{"a read-only directory fails the save", func(t *testing.T, path string) {
			if os.Geteuid() == 0 {
				t.Skip("root writes to read-only directories")
			}
			dir := filepath.Dir(path)
			if err := os.Chmod(dir, 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
		}},
		{"a temporary file that cannot be replaced fails the save", func(t *testing.T, path string) {
			// A non-empty directory where the temporary file goes can
			// be neither removed nor opened as a file, even by root.
			if err := os.MkdirAll(filepath.Join(path+".tmp", "x"), 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := vaultPath(t)
			if err := Create(path, testVault(t)); err != nil {
				t.Fatal(err)
			}
			old := mustRead(t, path)
			h, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			tc.sabotage(t, path)
			h.Vault().User = "bob"
			if err := h.Save(); err == nil {
				t.Fatalf("Save succeeded")
			}
			if !bytes.Equal(mustRead(t, path), old) {
				t.Fatalf("a failed Save changed the vault")
			}
		})
	}
}

func TestSaveRefusesInvalidVault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(v *Vault)
	}{
		{"a wiped vault is not saved", func(v *Vault) { v.Wipe() }},
		{"a unit breaking a rule is not saved", func(v *Vault) { v.Units[0].Nodes[0].Stored = false }},
		{"units with one label are not saved", func(v *Vault) { v.Units = append(v.Units, v.Units[0]) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := vaultPath(t)
			if err := Create(path, testVault(t)); err != nil {
				t.Fatal(err)
			}
			old := mustRead(t, path)
			h, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			tc.change(h.Vault())
			if err := h.Save(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Save: got %v, want ErrInvalid", err)
			}
			if !bytes.Equal(mustRead(t, path), old) {
				t.Fatalf("a refused Save changed the vault")
			}
		})
	}
}

func TestSaveSortsUnits(t *testing.T) {
	h, _ := openNew(t)
	v := h.Vault()
	aaa := testUnit(t, "aaa", 0x40)
	if err := v.SealUnit(&aaa); err != nil {
		t.Fatal(err)
	}
	v.Units = append(v.Units, aaa) // appended out of order
	if err := h.Save(); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if v.Units[0].Label != "aaa" {
		t.Errorf("Save did not put the units in memory in label order")
	}
}

func TestCloseIsIdempotentAndEndsSaving(t *testing.T) {
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
}

func TestDefaultPath(t *testing.T) {
	t.Run("CUSTOS_VAULT wins", func(t *testing.T) {
		t.Setenv("CUSTOS_VAULT", "/somewhere/v.json")
		if p, err := DefaultPath(); err != nil || p != "/somewhere/v.json" {
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
		if p, err := DefaultPath(); err != nil || p != filepath.Join(dir, "custos", "vault.json") {
			t.Fatalf("DefaultPath = %q, %v", p, err)
		}
	})
}
