package node

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// Key files are text: a first line that names the kind and format version,
// then the key in standard base64. They are mode 0600, and a node refuses to
// start from one that others can read.
const (
	identityHeader = "custos identity key v1"
	storageHeader  = "custos storage key v1"
	maxKeyFile     = 4096
)

// StorageKeySize is the size of the node's storage key.
const StorageKeySize = 32

func writeKeyFile(path, header string, key []byte) error {
	body := fmt.Sprintf("%s\n%s\n", header, base64.StdEncoding.EncodeToString(key))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	_, err = f.WriteString(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// A half-written key file must not pass for a key, nor make the
		// next init think a node is here.
		os.Remove(path)
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return nil
}

func readKeyFile(path, header string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("read key %s: others can read it (mode %v); run chmod 600 %s", path, info.Mode().Perm(), path)
	}
	if info.Size() > maxKeyFile || !info.Mode().IsRegular() {
		return nil, fmt.Errorf("read key %s: not a key file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	first, rest, _ := bytes.Cut(b, []byte("\n"))
	if string(first) != header {
		return nil, fmt.Errorf("read key %s: not a %q file", path, header)
	}
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(rest)))
	if err != nil {
		return nil, fmt.Errorf("read key %s: the key is not valid base64", path)
	}
	return key, nil
}

// newIdentity makes an Ed25519 identity key and writes it to path.
func newIdentity(path string) (crypto.PrivKey, error) {
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("make identity key: %w", err)
	}
	raw, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("make identity key: %w", err)
	}
	return priv, writeKeyFile(path, identityHeader, raw)
}

// LoadIdentity reads the node's Ed25519 identity key.
func LoadIdentity(path string) (crypto.PrivKey, error) {
	raw, err := readKeyFile(path, identityHeader)
	if err != nil {
		return nil, err
	}
	priv, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil || priv.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("read key %s: not an Ed25519 identity key", path)
	}
	return priv, nil
}

func newStorageKey(path string) error {
	key := make([]byte, StorageKeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("make storage key: %w", err)
	}
	defer clear(key)
	return writeKeyFile(path, storageHeader, key)
}

// LoadStorageKey reads the node's storage key; the caller wipes it.
func LoadStorageKey(path string) ([]byte, error) {
	key, err := readKeyFile(path, storageHeader)
	if err != nil {
		return nil, err
	}
	if len(key) != StorageKeySize {
		clear(key)
		return nil, fmt.Errorf("read key %s: a storage key is %d bytes", path, StorageKeySize)
	}
	return key, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
