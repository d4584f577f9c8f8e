package auditor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/node/api"
)

// ErrNoSuchNode: the network file has no node of that name.
var ErrNoSuchNode = errors.New("no such node in the network file")

// Entries reads every entry of the log of the node called node, dialling
// it at its pinned peer ID with key as the auditor's identity, and returns
// them in log order (entry i at index i) with the checkpoint they make. It
// returns them only if the checkpoint is signed by the node's pinned key,
// the root of the entries is the checkpoint's, and every entry decodes;
// otherwise the error says what the node failed.
func Entries(ctx context.Context, network *client.Network, key crypto.PrivKey, node string) ([]*api.Entry, api.Checkpoint, error) {
	if network == nil {
		return nil, api.Checkpoint{}, errors.New("read entries: no network file")
	}
	if err := network.Validate(); err != nil {
		return nil, api.Checkpoint{}, fmt.Errorf("read entries: %w", err)
	}
	var card *api.Card
	for i := range network.Nodes {
		if network.Nodes[i].Name == node {
			card = &network.Nodes[i]
		}
	}
	if card == nil {
		return nil, api.Checkpoint{}, fmt.Errorf("read entries: %q: %w", node, ErrNoSuchNode)
	}
	h, err := client.NewHost(key)
	if err != nil {
		return nil, api.Checkpoint{}, fmt.Errorf("read entries: make libp2p host: %w", err)
	}
	defer h.Close()
	a := &nodeAudit{h: h, card: *card, rep: &NodeReport{Node: card.Name, PeerID: card.PeerID, Full: true}}
	cp, _, ok := a.head(ctx)
	if !ok {
		return nil, api.Checkpoint{}, a.err()
	}
	a.rep.Size = cp.Size
	entries := make([]*api.Entry, 0, min(cp.Size, 1<<16))
	ok = a.readEntries(ctx, cp, func(index int64, b []byte) {
		e, err := api.ParseEntry(b)
		if err != nil {
			a.fail(MalformedEntry, index, "entry %d malformed: %v", index, err)
		}
		entries = append(entries, e)
	})
	if !ok || len(a.rep.Problems) > 0 {
		return nil, api.Checkpoint{}, a.err()
	}
	return entries, cp, nil
}

// err is the node's problems as one error that names the node.
func (a *nodeAudit) err() error {
	msgs := make([]string, 0, len(a.rep.Problems))
	for _, p := range a.rep.Problems {
		msgs = append(msgs, p.Message)
	}
	return fmt.Errorf("%s: %s", a.card.Name, strings.Join(msgs, "; "))
}
