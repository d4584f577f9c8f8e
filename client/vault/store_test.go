package vault

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A vault reads back as it was made and saved: its header, and its
// records one by one.
func TestCreateOpenSaveRoundTrip(t *testing.T) {
	h, path := openNew(t)
	want := mustEncode(t, testVault(t))
	if !bytes.Equal(mustEncode(t, h.Vault()), want) {
		t.Fatal("the header does not read back as it was made")
	}
	v := h.Vault()
	if err := v.SetCheckpoint("cove", []byte("custos/cove\n9\n(root)\n")); err != nil {
		t.Fatal(err)
	}
	v.Network = append(v.Network, "# edited\n"...)
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
	saved := mustEncode(t, v)
	h.Close()
	h = mustOpen(t, path)
	if !bytes.Equal(mustEncode(t, h.Vault()), saved) {
		t.Fatal("the header does not read back as it was saved")
	}
	if err := h.Verify(); err != nil {
		t.Fatal(err)
	}
	if s := h.Vault().String(); !strings.Contains(s, "[redacted]") {
		t.Errorf("String: %s", s)
	}
	noSecrets(t, h.Vault(), "String", h.Vault().String())
}

func TestCreateMakesPrivateFiles(t *testing.T) {
	path := vaultPath(t)
	if err := Create(path, testVault(t)); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: mode %#o, want %#o", p, got, want)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("Create left %d files, want the vault alone", len(entries))
	}
}

func TestCreateRefusesExistingFileAndInvalidVault(t *testing.T) {
	path := vaultPath(t)
	if err := Create(path, testVault(t)); err != nil {
		t.Fatal(err)
	}
	before := mustRead(t, path)
	if err := Create(path, testVault(t)); !errors.Is(err, ErrExists) {
		t.Errorf("Create over a vault: %v, want ErrExists", err)
	}
	if !bytes.Equal(mustRead(t, path), before) {
		t.Error("the vault changed")
	}
	v := testVault(t)
	v.MasterSecret = nil
	if err := Create(vaultPath(t), v); !errors.Is(err, ErrInvalid) {
		t.Errorf("Create of a vault without a master secret: %v, want ErrInvalid", err)
	}
}

func TestOpenMissingVault(t *testing.T) {
	path := vaultPath(t)
	if _, err := Open(path); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open of nothing: %v, want ErrNotFound", err)
	}
	if _, err := os.Lstat(filepath.Dir(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Open made something")
	}
}

// Opening and reading a vault writes nothing to it.
func TestOpenAndReadsWriteNothing(t *testing.T) {
	h, path := openNew(t)
	h.Close()
	before := mustRead(t, path)
	h = mustOpen(t, path)
	if _, _, err := h.Unit("bank"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Receipts(); err != nil {
		t.Fatal(err)
	}
	if err := h.Save(); err != nil { // nothing changed
		t.Fatal(err)
	}
	if err := h.Verify(); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if !bytes.Equal(mustRead(t, path), before) {
		t.Error("the vault file changed")
	}
}

func TestOpenRefusesFilesOthersCanReach(t *testing.T) {
	for _, mode := range []fs.FileMode{0o640, 0o604, 0o660, 0o606} {
		t.Run(fmt.Sprintf("%#o", mode), func(t *testing.T) {
			_, path := openNew(t)
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err := open(path, shortWait)
			if !errors.Is(err, ErrPermissions) || !strings.Contains(err.Error(), "chmod 600") {
				t.Fatalf("Open: %v, want ErrPermissions with the fix", err)
			}
		})
	}
}

func TestOpenRefusesSymlink(t *testing.T) {
	_, path := openNew(t)
	link := filepath.Join(t.TempDir(), "link.db")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if _, err := open(link, shortWait); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Open of a link: %v", err)
	}
}

// A file that is not a vault of this version is refused, says what it is
// where it can, and is left as it was.
func TestOpenRefusesWhatIsNoVaultOfThisVersion(t *testing.T) {
	withFormat := func(format string) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			writeUnchecked(t, path, testVault(t))
			editValue(t, path, bucketMeta, []byte(metaFormat), func([]byte) []byte { return []byte(format) })
		}
	}
	raw := func(b string) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(b), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name  string
		make  func(t *testing.T, path string)
		want  error
		words string
	}{
		{"a newer format is named", withFormat("custos-vault/9"), ErrUnknownFormat, `"custos-vault/9": a newer custos wrote it`},
		{"another format is named", withFormat("custos-vault/3"), ErrUnknownFormat, `"custos-vault/3" (this build reads "custos-vault/4")`},
		{"a JSON vault says to make a new one", raw(`{"format": "custos-vault/3"}`), ErrUnknownFormat, "a JSON vault"},
		{"an empty file is not made a vault", raw(""), ErrCorrupt, "the file is empty"},
		{"other bytes are no database", raw(strings.Repeat("x", 9000)), ErrCorrupt, "not a vault database"},
		{"an unknown bucket is damage", func(t *testing.T, path string) {
			writeUnchecked(t, path, testVault(t))
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("extra")); return err }); err != nil {
				t.Fatal(err)
			}
		}, ErrCorrupt, `unknown bucket "extra"`},
		{"an unknown meta key is damage", func(t *testing.T, path string) {
			writeUnchecked(t, path, testVault(t))
			editValue(t, path, bucketMeta, []byte("color"), func([]byte) []byte { return []byte("blue") })
		}, ErrCorrupt, `unknown key "color"`},
		{"an oversized network file is damage", func(t *testing.T, path string) {
			writeUnchecked(t, path, testVault(t))
			editValue(t, path, bucketMeta, []byte(metaNetwork), func([]byte) []byte { return make([]byte, MaxNetworkSize+1) })
		}, ErrCorrupt, "meta: network is 1048577 bytes"},
		{"a damaged login dealing is damage", func(t *testing.T, path string) {
			writeUnchecked(t, path, testVault(t))
			editValue(t, path, bucketMeta, []byte(metaLogin), func(b []byte) []byte { return b[:len(b)-1] })
		}, ErrCorrupt, "ends in the middle"},
		{"a damaged node table is damage", func(t *testing.T, path string) {
			writeUnchecked(t, path, testVault(t))
			editValue(t, path, bucketNodes, putU32(nil, 1), func([]byte) []byte { return []byte{0, 0, 0, 1, 'a', 0, 0, 0, 0} })
		}, ErrCorrupt, "the node table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vault.db")
			tc.make(t, path)
			before := mustRead(t, path)
			_, err := open(path, shortWait)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.words) {
				t.Fatalf("Open: %v; want %v saying %q", err, tc.want, tc.words)
			}
			noSecrets(t, testVault(t), "the error", err.Error())
			if !bytes.Equal(mustRead(t, path), before) {
				t.Error("the file changed")
			}
		})
	}
}

// Damage found in a record makes the handle refuse every write after it,
// and the file stays as it was; reading the other records still works.
func TestDamageFoundStopsEveryWrite(t *testing.T) {
	h, path := openNew(t)
	h.Close()
	editValue(t, path, bucketUnits, []byte("bank"), func(b []byte) []byte { return append(b, 0) })
	h = mustOpen(t, path)
	if err := h.PutUnit(testUnit(t, "before", 0x70)); err != nil {
		t.Fatalf("a write before the damage is found: %v", err)
	}
	before := mustRead(t, path)
	if _, _, err := h.Unit("bank"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `unit "bank"`) {
		t.Fatalf("Unit(bank): %v, want ErrCorrupt naming it", err)
	}
	if _, _, err := h.Unit("acme-portal"); err != nil {
		t.Errorf("another unit after the damage was found: %v", err)
	}
	for name, write := range map[string]func() error{
		"PutUnit":    func() error { return h.PutUnit(testUnit(t, "after", 0x71)) },
		"RemoveUnit": func() error { _, err := h.RemoveUnit("acme-portal", testUnitID(0x10), nil); return err },
		"MarkNotStored": func() error {
			_, err := h.MarkNotStored(testUnitID(0x10), 1, "acme")
			return err
		},
		"SetPendingDelete": func() error {
			return h.SetPendingDelete(PendingDelete{ID: testUnitID(0x20), Version: 2, Nodes: nil})
		},
		"Save": func() error {
			if err := h.AddReceipts(testReceipt(99)); err != nil {
				return err
			}
			return h.Save()
		},
		"SaveInBackground": func() error {
			if err := h.AddReceipts(testReceipt(98)); err != nil {
				return err
			}
			return h.SaveInBackground(nil)
		},
		"AppendRequests": func() error { return h.AppendRequests(testRequest("acme", 1)) },
	} {
		if err := write(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s after damage was found: %v, want ErrCorrupt", name, err)
		}
	}
	h.Close()
	if !bytes.Equal(mustRead(t, path), before) {
		t.Error("the damaged vault was written to")
	}
	if _, err := os.Lstat(journalPath(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a journal was made for the damaged vault")
	}
}

// Damaged pages of the database (a disk's damage, not a careful edit) are
// reported as a damaged vault, never as a crash, and nothing is written.
func TestDamagedPagesAreReported(t *testing.T) {
	h, path := openNew(t)
	for i := range 300 {
		if err := h.PutUnit(testUnit(t, fmt.Sprintf("filler-%03d", i), byte(i))); err != nil && !errors.Is(err, ErrExists) {
			t.Fatal(err)
		}
	}
	h.Close()
	good := mustRead(t, path)
	pageSize := os.Getpagesize()
	found := 0
	for page := 2; page*pageSize < len(good); page++ {
		b := bytes.Clone(good)
		for i := page * pageSize; i < (page+1)*pageSize && i < len(b); i++ {
			b[i] = byte(i*7 + 3)
		}
		// A file of its own: bbolt may panic half-way through opening a
		// damaged file, and its lock then stays with this process.
		path := filepath.Join(filepath.Dir(path), fmt.Sprintf("damaged-%d.db", page))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		h, err := open(path, shortWait)
		if err == nil {
			err = h.Verify()
			h.Close()
		}
		if err != nil {
			found++
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrDamaged) {
				t.Errorf("page %d damaged: %v, want ErrCorrupt", page, err)
			}
		}
		if !bytes.Equal(mustRead(t, path), b) {
			t.Fatalf("page %d damaged: the vault was written to", page)
		}
	}
	if found == 0 {
		t.Fatal("no damaged page was found")
	}
}
