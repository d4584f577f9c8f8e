package auditor

import (
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/internal/keyfile"
)

// An auditor key file is a key file like a node's (package keyfile), holding
// the libp2p-encoded Ed25519 private key.
const keyHeader = "custos auditor key v1"

// NewKey makes an auditor key and writes it to path, which must not exist.
// It returns the auditor's peer ID, which the operators of the nodes list
// under auditors in node.yaml.
func NewKey(path string) (peer.ID, error) {
	priv, err := keyfile.NewEd25519(path, keyHeader)
	if err != nil {
		return "", err
	}
	return peer.IDFromPrivateKey(priv)
}

// LoadKey reads an auditor key file. It refuses a file others can read.
func LoadKey(path string) (crypto.PrivKey, error) {
	return keyfile.ReadEd25519(path, keyHeader)
}
