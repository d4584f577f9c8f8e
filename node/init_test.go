package node

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/config"
)

func TestInitNameFromDir(t *testing.T) {
	tests := []struct{ dir, want string }{
		{"n1", "n1"},
		{"/var/lib/custos", "custos"},
		{"/srv/acme-eu/", "acme-eu"},
		{"My_Node.2", "my-node-2"},
		{"acme  eu", "acme--eu"},
		{"-node-", "node"},
		{"__x__", "x"},
		{"Ünïcode", "n-code"},
		{"0042", "0042"},
		{strings.Repeat("a", 31) + "-" + strings.Repeat("b", 8), strings.Repeat("a", 31)},
		{strings.Repeat("c", 40), strings.Repeat("c", 32)},
		{"/", "custos"},
		{"", "custos"},
		{".", "custos"},
		{"日本", "custos"},
	}
	for _, tt := range tests {
		got := nameFromDir(tt.dir)
		if got != tt.want {
			t.Errorf("nameFromDir(%q) = %q, want %q", tt.dir, got, tt.want)
		}
		if !api.ValidNodeName(got) {
			t.Errorf("nameFromDir(%q) = %q, which is not a valid node name", tt.dir, got)
		}
	}
}

func TestInitWritesPrivateDirAndKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acme")
	path, id, err := Init(InitOptions{Dir: dir, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Enrollment: "open"})
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, ConfigFile) {
		t.Errorf("config path %s", path)
	}
	checkMode(t, dir, 0o700)
	for _, f := range []string{ConfigFile, "identity.key", "storage.key"} {
		checkMode(t, filepath.Join(dir, f), 0o600)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load what Init wrote: %v", err)
	}
	if cfg.Name != "acme" || cfg.Enrollment != "open" || len(cfg.Listen) != 1 || cfg.Listen[0] != "/ip4/127.0.0.1/tcp/0" {
		t.Errorf("config: name %q, enrollment %q, listen %v", cfg.Name, cfg.Enrollment, cfg.Listen)
	}
	key, err := LoadIdentity(cfg.IdentityKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := peer.IDFromPrivateKey(key); got != id {
		t.Errorf("Init returned peer ID %s, the identity key's is %s", id, got)
	}
	if _, err := LoadStorageKey(cfg.StorageKey.File); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
		t.Errorf("Init made the data directory (%v); the node makes it at its first start", err)
	}
}

func TestInitMakesAnExistingDirPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n1")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Init(InitOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	checkMode(t, dir, 0o700)
}

func TestInitRefusesAnExistingNode(t *testing.T) {
	for _, file := range []string{ConfigFile, "identity.key", "storage.key", "data"} {
		t.Run(file, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "n1")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, file), []byte("precious\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := Init(InitOptions{Dir: dir})
			if err == nil || !strings.Contains(err.Error(), "holds a node already ("+file+")") {
				t.Fatalf("got %v, want a refusal naming %s", err, file)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("a refused Init left %d files, want only %s", len(entries), file)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, file)); !bytes.Equal(b, []byte("precious\n")) {
				t.Errorf("a refused Init changed %s", file)
			}
		})
	}

	t.Run("second init", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "n1")
		if _, _, err := Init(InitOptions{Dir: dir}); err != nil {
			t.Fatal(err)
		}
		before := map[string][]byte{}
		for _, f := range []string{ConfigFile, "identity.key", "storage.key"} {
			before[f], _ = os.ReadFile(filepath.Join(dir, f))
		}
		if _, _, err := Init(InitOptions{Dir: dir, Name: "other"}); err == nil {
			t.Fatal("a second Init into the same directory succeeded")
		}
		for f, b := range before {
			if got, _ := os.ReadFile(filepath.Join(dir, f)); !bytes.Equal(got, b) {
				t.Errorf("the second Init changed %s", f)
			}
		}
	})
}

func TestInitRefusesBadOptionsBeforeWriting(t *testing.T) {
	tests := []struct {
		name string
		o    InitOptions
		want string
	}{
		{"bad name", InitOptions{Name: "Acme!"}, "name"},
		{"bad enrollment", InitOptions{Enrollment: "sometimes"}, "enrollment"},
		{"bad listen address", InitOptions{Listen: []string{"127.0.0.1:4001"}}, "listen[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Dir = filepath.Join(t.TempDir(), "n1")
			_, _, err := Init(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error about %s", err, tt.want)
			}
			if _, err := os.Stat(tt.o.Dir); !os.IsNotExist(err) {
				t.Errorf("a refused Init made the directory (%v)", err)
			}
		})
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s has mode %#o, want %#o", filepath.Base(path), got, want)
	}
}
