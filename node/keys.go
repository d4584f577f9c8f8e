package node

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/custos-network/custos/node/keyfile"
)

// The node's key files (see package keyfile): a node refuses to start from
// one that others can read.
const (
	identityHeader = "custos identity key v1"
	storageHeader  = "custos storage key v1"
	maxKeyFile     = keyfile.MaxSize
)

// StorageKeySize is the size of the node's storage key.
const StorageKeySize = 32

// newIdentity makes an Ed25519 identity key and writes it to path.
func newIdentity(path string) (crypto.PrivKey, error) {
	return keyfile.NewEd25519(path, identityHeader)
}

// LoadIdentity reads the node's Ed25519 identity key.
func LoadIdentity(path string) (crypto.PrivKey, error) {
	return keyfile.ReadEd25519(path, identityHeader)
}

func newStorageKey(path string) error {
	key := make([]byte, StorageKeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("make storage key: %w", err)
	}
	defer clear(key)
	return keyfile.Write(path, storageHeader, key)
}

// LoadStorageKey reads the node's storage key; the caller wipes it.
func LoadStorageKey(path string) ([]byte, error) {
	key, err := keyfile.Read(path, storageHeader)
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
