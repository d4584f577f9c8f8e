package client

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/custos-network/custos/api"
)

// exported makes a vault on a network of three nodes that do not run,
// exports it with a new recovery key and returns the export's path, the
// key and the exporting device.
func exported(t *testing.T) (file string, key *age.HybridIdentity, c *Client) {
	t.Helper()
	n, err := NewNetwork(2, []*api.Card{card(t, "a"), card(t, "b"), card(t, "c")})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "vault.db")
	if err := Init(path, n.Marshal(), "alice"); err != nil {
		t.Fatal(err)
	}
	c, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if key, err = NewRecoveryKey(); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "export.age")
	if err := c.ExportVault(file, key.Recipient()); err != nil {
		t.Fatalf("ExportVault: %v", err)
	}
	return file, key, c
}

func TestExportFileIsPrivateAndNeverOverwritten(t *testing.T) {
	file, key, c := exported(t)
	info, err := os.Stat(file)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the export's mode: %v, %v; want 0600", info, err)
	}
	before, _ := os.ReadFile(file)
	if err := c.ExportVault(file, key.Recipient()); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("an export over a file: %v, want it refused", err)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
		t.Error("the refused export changed the file")
	}
}

func TestBeginImportRecordsTheMoveAndResumes(t *testing.T) {
	file, key, old := exported(t)
	path := filepath.Join(t.TempDir(), "new", "vault.db")
	other, err := NewRecoveryKey()
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(file)
	defer f.Close()
	if _, err := BeginImport(path, f, false, nil, other); err == nil {
		t.Fatal("BeginImport with another key succeeded")
	}
	if m, err := ReadMove(path); m != nil || err != nil {
		t.Errorf("after a refused import: move %v, %v; want none", m, err)
	}
	var steps []ImportStep
	f2, _ := os.Open(file)
	defer f2.Close()
	m, err := BeginImport(path, f2, false, func(s ImportStep) { steps = append(steps, s) }, key)
	if err != nil {
		t.Fatalf("BeginImport: %v", err)
	}
	if m.OldDevice != old.Device() || m.User != "alice" || m.KeepOld {
		t.Errorf("move %+v, want alice's, from %s", m, old.Device())
	}
	if len(steps) != 2 || steps[0] != ImportRecorded || steps[1] != ImportVaultMade {
		t.Errorf("steps %v, want recorded, vault", steps)
	}
	again, err := BeginImport(path, strings.NewReader("not read"), false, nil)
	if err != nil || again.OldDevice != m.OldDevice {
		t.Errorf("BeginImport again: %+v, %v; want the move under way", again, err)
	}
	c, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Device() == old.Device() || c.User() != "alice" {
		t.Errorf("the imported vault: device %s (old %s), user %s; want a new device of alice's", c.Device(), old.Device(), c.User())
	}
}
