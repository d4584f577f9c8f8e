package auditor

import (
	"context"
	"errors"
	"fmt"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/node/api"
)

// UserCheckpoint is a checkpoint a node showed a user, as the user's vault
// keeps it: a node that shows one user a forked log is seen only by
// checking what that user was shown.
type UserCheckpoint struct {
	// Node is the node's name in the vault's network file.
	Node string
	// PeerID is the peer ID the vault's network file pins the node at.
	PeerID string
	// Signed is the checkpoint, a signed note as the node served it.
	Signed []byte
}

// UserView is what Verify checks of a user's vault: the checkpoints its
// nodes showed the user, and the receipts the user keeps.
type UserView struct {
	Checkpoints []UserCheckpoint
	Receipts    []vault.Receipt
}

// ReadVault reads what Verify checks of the vault at path. It needs no
// password, and never writes to the vault or its request journal; it
// holds the vault's lock while it reads (vault.Open), and wipes the
// vault's secrets before it returns.
func ReadVault(path string) (*UserView, error) {
	h, err := vault.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the vault: %w", err)
	}
	defer h.Close()
	v := h.Vault()
	defer v.Wipe()
	nw, err := client.ParseNetwork(v.Network)
	if err != nil {
		return nil, fmt.Errorf("read the vault: its network file: %w", err)
	}
	view := &UserView{Checkpoints: userCheckpoints(v, nw)}
	for _, r := range v.Receipts {
		r.Units = append([]vault.UnitRef(nil), r.Units...)
		r.Checkpoint = append([]byte(nil), r.Checkpoint...)
		r.Entry = append([]byte(nil), r.Entry...)
		view.Receipts = append(view.Receipts, r)
	}
	return view, nil
}

// userCheckpoints gathers the checkpoints v holds of each node, each once,
// with the peer ID nw (the vault's network file) pins the node at. They
// are the checkpoints of the vault's receipts; a receipt of a node nw no
// longer lists has no pin and is kept with an empty PeerID.
func userCheckpoints(v *vault.Vault, nw *client.Network) []UserCheckpoint {
	pins := map[string]string{}
	for _, card := range nw.Nodes {
		pins[card.Name] = card.PeerID
	}
	type key struct{ node, signed string }
	seen := map[key]bool{}
	var out []UserCheckpoint
	add := func(node string, signed []byte) {
		if k := (key{node, string(signed)}); !seen[k] {
			seen[k] = true
			out = append(out, UserCheckpoint{Node: node, PeerID: pins[node], Signed: append([]byte(nil), signed...)})
		}
	}
	// The newest checkpoint the client kept of each node, then those of
	// its receipts (evidence receipts of a fork included).
	for _, c := range v.Checkpoints {
		add(c.Node, c.Checkpoint)
	}
	for _, r := range v.Receipts {
		add(r.Node, r.Checkpoint)
	}
	return out
}

// evidence reports whether the user keeps r as evidence of a lying node:
// a receipt the client marked so because its entry refuses what the node
// answered as served, or, from a client that did not mark them, a receipt
// whose entry refuses the request: a node that refuses a request sends no
// receipt the client keeps.
func evidence(r *vault.Receipt) bool {
	if r.Evidence == vault.EvidenceRefusal {
		return true
	}
	e, err := api.ParseEntry(r.Entry)
	return err == nil && e.Kind == api.EntryKind_RELEASE && e.Outcome != api.Code_OK
}

// userOf is what of view concerns the node of one card: its checkpoints
// and the entries of its evidence receipts by index. Checkpoints and
// receipts of the node that the vault pins at another peer ID are left
// out, with the reason in skipped.
func userOf(view *UserView, card api.Card) (cps []UserCheckpoint, refused map[uint64][]byte, skipped string) {
	if view == nil {
		return nil, nil, ""
	}
	for _, u := range view.Checkpoints {
		switch {
		case u.Node != card.Name:
		case u.PeerID != card.PeerID:
			skipped = fmt.Sprintf("%s: the vault pins it at %s, the network file at %s: its checkpoints in the vault not checked", card.Name, orNone(u.PeerID), card.PeerID)
		default:
			cps = append(cps, u)
		}
	}
	if skipped != "" {
		return nil, nil, skipped
	}
	for i := range view.Receipts {
		if r := &view.Receipts[i]; r.Node == card.Name && evidence(r) {
			if refused == nil {
				refused = map[uint64][]byte{}
			}
			refused[r.Index] = r.Entry
		}
	}
	return cps, refused, ""
}

// unknownNodes lists the nodes view has checkpoints of that network does
// not name.
func unknownNodes(view *UserView, network *client.Network) []string {
	if view == nil {
		return nil
	}
	known := map[string]bool{}
	for _, card := range network.Nodes {
		known[card.Name] = true
	}
	var out []string
	for _, u := range view.Checkpoints {
		if !known[u.Node] {
			known[u.Node] = true
			out = append(out, fmt.Sprintf("%s: not in the network file: its checkpoints in the vault not checked", u.Node))
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "no peer ID (its network file no longer lists it)"
	}
	return s
}

// checkUser checks each of cps, the checkpoints of the node that a user's
// vault holds, against cp, the checkpoint the node serves the auditor:
// signed by the node's pinned key, and one history with cp (the same root
// at the same size; else the node's consistency proof from the smaller to
// the larger).
func (a *nodeAudit) checkUser(ctx context.Context, cp api.Checkpoint, cps []UserCheckpoint) {
	split := 0
	for _, u := range cps {
		uc, err := api.OpenCheckpoint(u.Signed, a.origin, a.pub)
		if err != nil {
			a.fail(BadUserCheckpoint, -1, "a checkpoint of it in the vault does not verify with its pinned key (%v): the vault's copy is damaged or not the node's, and proves nothing against the node", err)
			continue
		}
		a.rep.UserCheckpoints++
		err = a.sameHistory(ctx, uc, cp)
		switch {
		case errors.Is(err, errNoAnswer):
			a.fail(Unreachable, -1, "unreachable: consistency proof for a checkpoint of the vault: %v", err)
			return
		case err != nil:
			if split++; split <= maxEntryProblems {
				a.fail(SplitView, -1, "split view: %v", err)
			}
		}
	}
	if n := split - maxEntryProblems; n > 0 {
		a.fail(SplitView, -1, "and %d more checkpoints of the vault not consistent with it", n)
	}
}

// sameHistory checks that the user's checkpoint u and the auditor's cp are
// of one history, and says how they are not.
func (a *nodeAudit) sameHistory(ctx context.Context, u, cp api.Checkpoint) error {
	switch {
	case u.Size == cp.Size && u.Root != cp.Root:
		return fmt.Errorf("the vault holds its checkpoint of size %d with another root than the one it shows the auditor at that size", u.Size)
	case u.Size == cp.Size:
		return nil
	case u.Size < cp.Size:
		if err := a.extends(ctx, u, cp); err != nil {
			if errors.Is(err, errNoAnswer) {
				return err
			}
			return fmt.Errorf("the vault holds its checkpoint of size %d, which its tree of size %d shown to the auditor does not extend: %w", u.Size, cp.Size, err)
		}
		return nil
	}
	if err := a.extends(ctx, cp, u); err != nil {
		if errors.Is(err, errNoAnswer) {
			return err
		}
		return fmt.Errorf("the vault holds its checkpoint of size %d, larger than its tree of size %d shown to the auditor, and no proof that one extends the other: %w", u.Size, cp.Size, err)
	}
	return nil
}
