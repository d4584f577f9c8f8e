package auditor

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// An auditor key file is text, like a node's key files: a first line that
// names the kind and format version, then the libp2p-encoded Ed25519 private
// key in standard base64. It is mode 0600.
const (
	keyHeader  = "custos auditor key v1"
	maxKeyFile = 4096
)

// NewKey makes an auditor key and writes it to path, which must not exist.
// It returns the auditor's peer ID, which the operators of the nodes list
// under auditors in node.yaml.
func NewKey(path string) (peer.ID, error) {
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("make auditor key: %w", err)
	}
	raw, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("make auditor key: %w", err)
	}
	defer clear(raw)
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("make auditor key: %w", err)
	}
	body := []byte(keyHeader + "\n" + base64.StdEncoding.EncodeToString(raw) + "\n")
	defer clear(body)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("write auditor key: %w", err)
	}
	_, err = f.Write(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// A half-written file must not pass for a key.
		os.Remove(path)
		return "", fmt.Errorf("write auditor key %s: %w", path, err)
	}
	return id, nil
}

// LoadKey reads an auditor key file. It refuses a file others can read.
func LoadKey(path string) (crypto.PrivKey, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read auditor key: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("read auditor key %s: others can read it (mode %v); run chmod 600 %s", path, info.Mode().Perm(), path)
	}
	if info.Size() > maxKeyFile || !info.Mode().IsRegular() {
		return nil, fmt.Errorf("read auditor key %s: not a key file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read auditor key: %w", err)
	}
	defer clear(b)
	first, rest, _ := bytes.Cut(b, []byte("\n"))
	if string(first) != keyHeader {
		return nil, fmt.Errorf("read auditor key %s: not a %q file", path, keyHeader)
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(rest)))
	if err != nil {
		return nil, fmt.Errorf("read auditor key %s: the key is not valid base64", path)
	}
	defer clear(raw)
	priv, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil || priv.Type() != crypto.Ed25519 {
		return nil, errors.New("read auditor key " + path + ": not an Ed25519 key")
	}
	return priv, nil
}
