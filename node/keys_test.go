package node

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestKeysRoundTrip(t *testing.T) {
	dir := t.TempDir()
	idPath, skPath := filepath.Join(dir, "identity.key"), filepath.Join(dir, "storage.key")
	priv, err := newIdentity(idPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := newStorageKey(skPath); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{idPath, skPath} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), info.Mode().Perm())
		}
	}
	got, err := LoadIdentity(idPath)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equals(priv) {
		t.Error("LoadIdentity returns another key than newIdentity wrote")
	}
	want, _ := peer.IDFromPrivateKey(priv)
	if id, _ := peer.IDFromPrivateKey(got); id != want {
		t.Errorf("peer ID %s after loading, %s before", id, want)
	}
	key, err := LoadStorageKey(skPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != StorageKeySize || bytes.Equal(key, make([]byte, StorageKeySize)) {
		t.Errorf("storage key of %d bytes, or all zero", len(key))
	}
}

func TestKeysNewKeyNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	idPath, skPath := filepath.Join(dir, "identity.key"), filepath.Join(dir, "storage.key")
	if _, err := newIdentity(idPath); err != nil {
		t.Fatal(err)
	}
	if err := newStorageKey(skPath); err != nil {
		t.Fatal(err)
	}
	before := [][]byte{readFile(t, idPath), readFile(t, skPath)}
	if _, err := newIdentity(idPath); err == nil {
		t.Error("newIdentity overwrote an identity key")
	}
	if err := newStorageKey(skPath); err == nil {
		t.Error("newStorageKey overwrote a storage key")
	}
	if !bytes.Equal(before[0], readFile(t, idPath)) || !bytes.Equal(before[1], readFile(t, skPath)) {
		t.Error("a refused key write changed the file")
	}
}

func TestKeysFilesOthersCanReadAreRefused(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o606, 0o666, 0o700 | 0o004} {
		path := writeStorageKeyFile(t, storageHeader+"\n"+base64.StdEncoding.EncodeToString(make([]byte, StorageKeySize))+"\n", mode)
		_, err := LoadStorageKey(path)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %#o: got %v, want a refusal that says chmod 600", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		path := writeStorageKeyFile(t, storageHeader+"\n"+base64.StdEncoding.EncodeToString(make([]byte, StorageKeySize))+"\n", mode)
		if _, err := LoadStorageKey(path); err != nil {
			t.Errorf("mode %#o: %v", mode, err)
		}
	}
}

func TestKeysMalformedFilesAreRefused(t *testing.T) {
	secret := make([]byte, StorageKeySize)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	enc := base64.StdEncoding.EncodeToString
	otherKey, _, err := crypto.GenerateSecp256k1Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secp, err := crypto.MarshalPrivateKey(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		identity bool // load as an identity key, else as a storage key
		body     string
		want     string
	}{
		{"storage key file given as identity key", true, storageHeader + "\n" + enc(secret) + "\n", `not a "custos identity key v1" file`},
		{"identity key file given as storage key", false, identityHeader + "\n" + enc(secret) + "\n", `not a "custos storage key v1" file`},
		{"unknown format version", false, "custos storage key v2\n" + enc(secret) + "\n", `not a "custos storage key v1" file`},
		{"no header", false, enc(secret) + "\n", "not a"},
		{"empty file", false, "", "not a"},
		{"header with trailing space", false, storageHeader + " \n" + enc(secret) + "\n", "not a"},
		{"bad base64", false, storageHeader + "\n" + "not*base64!\n", "not valid base64"},
		{"storage key too short", false, storageHeader + "\n" + enc(secret[:31]) + "\n", "a storage key is 32 bytes"},
		{"storage key too long", false, storageHeader + "\n" + enc(append(secret, 0)) + "\n", "a storage key is 32 bytes"},
		{"empty storage key", false, storageHeader + "\n\n", "a storage key is 32 bytes"},
		{"identity key of random bytes", true, identityHeader + "\n" + enc(secret) + "\n", "not an Ed25519 identity key"},
		{"identity key of another type", true, identityHeader + "\n" + enc(secp) + "\n", "not an Ed25519 identity key"},
		{"file too large", false, storageHeader + "\n" + strings.Repeat("A", maxKeyFile) + "\n", "not a key file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeStorageKeyFile(t, tt.body, 0o600)
			var err error
			if tt.identity {
				_, err = LoadIdentity(path)
			} else {
				_, err = LoadStorageKey(path)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("the error %q does not name the file", err)
			}
			for _, s := range []string{enc(secret), enc(secret)[:20], enc(secp)} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error shows the key: %q", err)
				}
			}
		})
	}
}

func TestKeysMissingOrOddFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadIdentity(filepath.Join(dir, "identity.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want a not-exist error", err)
	}
	sub := filepath.Join(dir, "storage.key")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadStorageKey(sub); err == nil || !strings.Contains(err.Error(), "not a key file") {
		t.Errorf("a directory: got %v, want \"not a key file\"", err)
	}
}

func writeStorageKeyFile(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
