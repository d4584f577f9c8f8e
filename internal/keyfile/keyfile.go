// Package keyfile reads and writes the key files of custos: a node's
// identity and storage keys and an auditor's key. A key file is text: a
// first line that names the kind of key and its format version, then the
// key in standard base64. It is written once (never over another file),
// with mode 0600, and refused when others can read it.
package keyfile

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/custos-network/custos/internal/atomicfile"
)

// MaxSize caps a key file; a real one is a few hundred bytes.
const MaxSize = 4096

// Write writes key to a new file at path under header, mode 0600. It never
// replaces a file, and removes what it wrote when it fails, so a half-written
// file never passes for a key.
func Write(path, header string, key []byte) error {
	body := []byte(header + "\n" + base64.StdEncoding.EncodeToString(key) + "\n")
	defer clear(body)
	if err := atomicfile.CreateBytes(path, 0o600, body); err != nil {
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return nil
}

// Read reads the key of the file at path, which must start with header.
// The caller wipes the key.
func Read(path, header string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("read key %s: others can read it (mode %v); run chmod 600 %s", path, info.Mode().Perm(), path)
	}
	if info.Size() > MaxSize || !info.Mode().IsRegular() {
		return nil, fmt.Errorf("read key %s: not a key file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	defer clear(b)
	key, err := Parse(b, header)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	return key, nil
}

// Parse returns the key of a key file's contents b, which must start with
// header, for keys that come from elsewhere than a file of their own (a
// systemd credential, a command's output). Its errors name no source and
// never hold the key. The caller wipes b and the key.
func Parse(b []byte, header string) ([]byte, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("not a key file: more than %d bytes", MaxSize)
	}
	first, rest, _ := bytes.Cut(b, []byte("\n"))
	if string(first) != header {
		return nil, fmt.Errorf("not a %q file", header)
	}
	// Decode without the string conversions, which would leave copies of
	// the key that nothing wipes.
	rest = bytes.TrimSpace(rest)
	key := make([]byte, base64.StdEncoding.DecodedLen(len(rest)))
	n, err := base64.StdEncoding.Decode(key, rest)
	if err != nil {
		clear(key)
		return nil, errors.New("the key is not valid base64")
	}
	return key[:n], nil
}

// NewEd25519 makes an Ed25519 key and writes it, libp2p-encoded, to a new
// file at path under header.
func NewEd25519(path, header string) (crypto.PrivKey, error) {
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("make key: %w", err)
	}
	raw, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("make key: %w", err)
	}
	defer clear(raw)
	return priv, Write(path, header, raw)
}

// ReadEd25519 reads an Ed25519 key written by NewEd25519.
func ReadEd25519(path, header string) (crypto.PrivKey, error) {
	raw, err := Read(path, header)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	priv, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil || priv.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("read key %s: not an Ed25519 identity key", path)
	}
	return priv, nil
}
