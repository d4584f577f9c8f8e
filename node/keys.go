package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/libp2p/go-libp2p/core/crypto"
	"go.uber.org/zap"

	"github.com/custos-network/custos/internal/keyfile"
	"github.com/custos-network/custos/node/config"
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

// LoadStorageKey reads a storage key file; the caller wipes the key.
func LoadStorageKey(path string) ([]byte, error) {
	key, err := keyfile.Read(path, storageHeader)
	if err != nil {
		return nil, err
	}
	if len(key) != StorageKeySize {
		clear(key)
		return nil, fmt.Errorf("read key %s: %w", path, errKeySize)
	}
	return key, nil
}

var errKeySize = fmt.Errorf("a storage key is %d bytes", StorageKeySize)

// ReadStorageKey reads the node's storage key from where cfg.StorageKey
// says: a key file, a systemd credential or a command's output, each in the
// key file format. Every error says which source failed and how to fix it,
// and none holds the key. ctx bounds a command (besides its own timeout).
// The caller wipes the key.
func ReadStorageKey(ctx context.Context, cfg *config.Config, log *zap.Logger) ([]byte, error) {
	if log == nil {
		log = zap.NewNop()
	}
	src := cfg.StorageKey
	switch src.Kind() {
	case config.SourceFile:
		return LoadStorageKey(cfg.Path(src.File))
	case config.SourceCredential:
		return readCredential(os.Getenv(credentialsDirEnv), src.Credential)
	case config.SourceCommand:
		return runKeyCommand(ctx, src.Command, cfg.Dir, log)
	}
	return nil, fmt.Errorf("read storage key: storage_key names %s", src)
}

// parseStorageKey returns the storage key of a key file's contents; the
// caller wipes b and the key.
func parseStorageKey(b []byte) ([]byte, error) {
	key, err := keyfile.Parse(b, storageHeader)
	if err != nil {
		return nil, err
	}
	if len(key) != StorageKeySize {
		clear(key)
		return nil, errKeySize
	}
	return key, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
