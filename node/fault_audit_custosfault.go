//go:build custosfault

package node

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"

	"golang.org/x/mod/sumdb/note"

	"github.com/custos-network/custos/api"
)

// A custosd built with -tags custosfault serves auditors bad checkpoints
// when CUSTOS_FAULT says so, for tests of how auditors name such a node:
//
//	CUSTOS_FAULT=unsigned-checkpoint        the checkpoint's text, no signature
//	CUSTOS_FAULT=foreign-signed-checkpoint  the text signed by another key
//	                                        under the node's key name
func init() {
	switch os.Getenv("CUSTOS_FAULT") {
	case "unsigned-checkpoint":
		badCheckpoint = func(signed []byte) ([]byte, error) {
			text, err := checkpointText(signed)
			return []byte(text), err
		}
	case "foreign-signed-checkpoint":
		_, other, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic("custosfault: " + err.Error())
		}
		badCheckpoint = func(signed []byte) ([]byte, error) {
			text, err := checkpointText(signed)
			if err != nil {
				return nil, err
			}
			origin, _, _ := bytes.Cut([]byte(text), []byte("\n"))
			s, err := api.NoteSigner(string(origin), other)
			if err != nil {
				return nil, err
			}
			return note.Sign(&note.Note{Text: text}, s)
		}
	}
}

// checkpointText is the text of a signed note: what comes before the
// blank line that starts its signatures.
func checkpointText(signed []byte) (string, error) {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return "", errors.New("custosfault: not a signed note")
	}
	return string(signed[:i+1]), nil
}
