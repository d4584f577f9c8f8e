package store

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/crypto/chacha20poly1305"
)

// The key check is an empty plaintext sealed under the share-wrap key when a
// store is created (key 0x08, outside the keyspaces in doc.go). Badger
// itself refuses a wrong key for a directory, but a backup stream is
// plaintext and loads under any key: the key check lets RestoreInto refuse
// a storage key under which the backup's shares would never open.
const (
	prefixKeyCheck byte = 0x08
	keyCheckLabel       = "custos/v1/node/key-check"
)

func keyCheckKey() []byte { return []byte{prefixKeyCheck} }

func keyCheckAD() []byte {
	ad := binary.BigEndian.AppendUint32(nil, uint32(len(keyCheckLabel)))
	return append(ad, keyCheckLabel...)
}

func makeKeyCheck(aead cipher.AEAD) ([]byte, error) {
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("read random nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, nil, keyCheckAD()), nil
}

// verifyKeyCheck returns ErrNotFound if txn holds no key check and an error
// wrapping ErrWrongKey if it does not open under aead.
func verifyKeyCheck(txn *badger.Txn, aead cipher.AEAD) error {
	item, err := txn.Get(keyCheckKey())
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("read key check: %w", err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return fmt.Errorf("read key check: %w", err)
	}
	if len(v) != chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return fmt.Errorf("%w: key check record", ErrCorrupt)
	}
	nonce := v[:chacha20poly1305.NonceSizeX]
	if _, err := aead.Open(nil, nonce, v[len(nonce):], keyCheckAD()); err != nil {
		return fmt.Errorf("the stored shares are sealed under another storage key: %w", ErrWrongKey)
	}
	return nil
}

// ensureKeyCheck verifies the key check, writing it first into a new store.
func (s *Store) ensureKeyCheck() error {
	err := s.db.View(func(txn *badger.Txn) error { return verifyKeyCheck(txn, s.shareAEAD) })
	if !errors.Is(err, ErrNotFound) {
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		return nil
	}
	check, err := makeKeyCheck(s.shareAEAD)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	return s.Update(context.Background(), func(tx *Tx) error {
		tx.overlay[string(keyCheckKey())] = staged{value: check}
		return nil
	})
}
