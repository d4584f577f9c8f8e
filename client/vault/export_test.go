package vault

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exportOf exports the vault of h (its device the test's) into memory.
func exportOf(t *testing.T, h *Handle) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := h.Export(&buf, ExportHeader{User: h.Vault().User, Device: "12D3KooWtest", Created: time.Now()}); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return buf.Bytes()
}

func TestExportImportKeepsEverythingButTheDeviceKey(t *testing.T) {
	h, path := openNew(t)
	writeRaw(t, path+".export-1234", []byte("left by a killed export"))
	exp := exportOf(t, h)
	if bytes.Contains(exp, h.Vault().DeviceKey) {
		t.Error("the export holds the device key")
	}
	if left, _ := filepath.Glob(path + ".export-*"); len(left) != 0 {
		t.Errorf("Export left %v behind", left)
	}
	newPath := vaultPath(t)
	newKey := testDeviceKey(t, 0x02)
	hdr, err := Import(newPath, bytes.NewReader(exp), newKey, nil)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if hdr.User != h.Vault().User || hdr.Device != "12D3KooWtest" {
		t.Errorf("Import header = %+v", hdr)
	}
	got := mustOpen(t, newPath)
	if !bytes.Equal(got.Vault().DeviceKey, newKey) {
		t.Error("the imported vault's device key is not the one given")
	}
	if err := got.Verify(); err != nil {
		t.Errorf("Verify the imported vault: %v", err)
	}
	want := *h.Vault()
	want.DeviceKey = newKey
	if !bytes.Equal(mustEncode(t, got.Vault()), mustEncode(t, &want)) {
		t.Error("the imported vault's header differs from the exported one's, beyond the device key")
	}
	for _, label := range []string{"acme-portal", "bank"} {
		a, _, err1 := h.Unit(label)
		b, ok, err2 := got.Unit(label)
		if err1 != nil || err2 != nil || !ok || a.MAC == nil || !bytes.Equal(a.MAC, b.MAC) || !bytes.Equal(a.Sealed, b.Sealed) {
			t.Errorf("unit %s: %v, %v, found %v; want the same unit", label, err1, err2, ok)
		}
	}
	if info, err := os.Stat(newPath); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the imported vault's mode: %v, %v; want 0600", info, err)
	}
}

func TestImportRefusesWhatIsNotAWholeExport(t *testing.T) {
	h, _ := openNew(t)
	exp := exportOf(t, h)
	key := testDeviceKey(t, 0x02)
	body := bytes.SplitN(exp, []byte("\n"), 3)
	cases := map[string][]byte{
		"cut short":                   exp[:len(exp)-10],
		"with more data":              append(bytes.Clone(exp), 'x'),
		"of another format":           append([]byte("custos-vault-export/2\n"), exp[len(ExportFormat)+1:]...),
		"with no header":              []byte(ExportFormat + "\n"),
		"a header with unknown field": []byte(ExportFormat + "\n" + `{"user":"a","device":"d","size":1,"x":1}` + "\n"),
		"a database that is garbage":  append(append(bytes.Clone(body[0]), '\n'), append(append(bytes.Clone(body[1]), '\n'), bytes.Repeat([]byte{0xaa}, len(body[2]))...)...),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			path := vaultPath(t)
			if _, err := Import(path, bytes.NewReader(b), key, nil); err == nil {
				t.Fatal("Import succeeded")
			}
			if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
				t.Errorf("Import left %d files behind", len(entries))
			}
		})
	}
	t.Run("over a vault", func(t *testing.T) {
		path := vaultPath(t)
		writeRaw(t, path, []byte("x"))
		if _, err := Import(path, bytes.NewReader(exp), key, nil); !errors.Is(err, ErrExists) {
			t.Errorf("Import over a file: %v, want ErrExists", err)
		}
	})
}

func FuzzReadExportHeader(f *testing.F) {
	f.Add([]byte(ExportFormat + "\n" + `{"user":"alice","device":"12D3KooW","created":"2026-01-01T00:00:00Z","size":4096}` + "\n"))
	f.Add([]byte(ExportFormat + "\n" + `{"user":"alice","device":"d","size":-1}` + "\n"))
	f.Add([]byte(ExportFormat + "\n" + strings.Repeat("{", 5000)))
	f.Add([]byte("custos-vault/4\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		hdr, err := ReadExportHeader(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			if !errors.Is(err, ErrExportFormat) {
				t.Fatalf("error %v does not match ErrExportFormat", err)
			}
			return
		}
		if hdr.check() != nil || hdr.Size <= 0 || hdr.Size > MaxExportSize {
			t.Fatalf("accepted a header that breaks the rules: %+v", hdr)
		}
	})
}
