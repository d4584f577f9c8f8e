package auditor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
)

// ErrNoSuchNode: the network file has no node of that name.
var ErrNoSuchNode = errors.New("no such node in the network file")

// Entries reads every entry of the log of the node called node, dialling
// it at its pinned peer ID with key as the auditor's identity, and returns
// them in log order (entry i at index i) with the checkpoint they make. It
// returns them only if the checkpoint is signed by the node's pinned key,
// the root of the entries is the checkpoint's, and every entry decodes;
// otherwise the error says what the node failed.
func Entries(ctx context.Context, network *client.Network, key crypto.PrivKey, node string) ([]client.LoggedEntry, api.Checkpoint, error) {
	if err := checkNetwork(network); err != nil {
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
	return readLog(ctx, h, *card, nil)
}

// checkNetwork refuses a missing or invalid network file.
func checkNetwork(network *client.Network) error {
	if network == nil {
		return errors.New("no network file")
	}
	return network.Validate()
}

// Logs reads the log of every node of network in parallel, as Entries
// reads one, and keeps the entries keep reports true for (every entry is
// still checked; keep nil keeps all). It returns the kept entries of each
// node that passed, by node name, and the error of each node that did not.
func Logs(ctx context.Context, network *client.Network, key crypto.PrivKey, keep func(*client.LoggedEntry) bool) (map[string][]client.LoggedEntry, map[string]error, error) {
	if err := checkNetwork(network); err != nil {
		return nil, nil, fmt.Errorf("read logs: %w", err)
	}
	h, err := client.NewHost(key)
	if err != nil {
		return nil, nil, fmt.Errorf("read logs: make libp2p host: %w", err)
	}
	defer h.Close()
	logs, failed := map[string][]client.LoggedEntry{}, map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, card := range network.Nodes {
		wg.Go(func() {
			entries, _, err := readLog(ctx, h, card, keep)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[card.Name] = err
			} else {
				logs[card.Name] = entries
			}
		})
	}
	wg.Wait()
	return logs, failed, nil
}

// readLog reads and checks every entry of the node of card with h, and
// returns those keep reports true for (all, when keep is nil).
func readLog(ctx context.Context, h host.Host, card api.Card, keep func(*client.LoggedEntry) bool) ([]client.LoggedEntry, api.Checkpoint, error) {
	a := &nodeAudit{h: h, card: card, rep: &NodeReport{Node: card.Name, PeerID: card.PeerID, Full: true}}
	cp, _, ok := a.head(ctx)
	if !ok {
		return nil, api.Checkpoint{}, a.err()
	}
	a.rep.Size = cp.Size
	var entries []client.LoggedEntry
	ok = a.readEntries(ctx, cp, func(index int64, b []byte) {
		e, err := api.ParseEntry(b)
		if err != nil {
			a.fail(MalformedEntry, index, "entry %d malformed: %v", index, err)
		}
		le := client.LoggedEntry{Node: card.Name, Index: uint64(index), Entry: e, Raw: b}
		if err == nil && (keep == nil || keep(&le)) {
			entries = append(entries, le)
		}
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
