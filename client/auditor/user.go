package auditor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
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
	// Earlier is set when the checkpoint may be of a log that a restore the
	// user's client accepted since replaced: the checkpoint of a receipt
	// (not kept as evidence of a fork) or the one a restore replaced. The
	// others, the checkpoint the vault keeps of the node now, a restore's
	// new one and a fork's evidence, are of what the node shows now.
	Earlier bool
}

// UserView is what Verify checks of a user's vault: the checkpoints its
// nodes showed the user, the receipts the user keeps, and the restores of
// nodes that the user's client accepted.
type UserView struct {
	Checkpoints []UserCheckpoint
	Receipts    []vault.Receipt
	Restores    []vault.Restore
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
	receipts, err := h.Receipts()
	if err != nil {
		return nil, fmt.Errorf("read the vault: %w", err)
	}
	view := &UserView{Checkpoints: userCheckpoints(v, receipts, nw), Receipts: receipts}
	for _, r := range v.Restores {
		r.Replaced = append([]byte(nil), r.Replaced...)
		r.Entry = append([]byte(nil), r.Entry...)
		r.Checkpoint = append([]byte(nil), r.Checkpoint...)
		view.Restores = append(view.Restores, r)
	}
	return view, nil
}

// userCheckpoints gathers the checkpoints v holds of each node, each once,
// with the peer ID nw (the vault's network file) pins the node at: the one
// kept of each node, those of its receipts (evidence of a fork included)
// and of its accepted restores. A node nw no longer lists has no pin, and
// its checkpoints are kept with an empty PeerID. A checkpoint held in more
// than one role is Earlier only if it is so in each.
func userCheckpoints(v *vault.Vault, receipts []vault.Receipt, nw *client.Network) []UserCheckpoint {
	pins := map[string]string{}
	for _, card := range nw.Nodes {
		pins[card.Name] = card.PeerID
	}
	type key struct{ node, signed string }
	seen := map[key]int{} // index into out
	var out []UserCheckpoint
	add := func(node string, signed []byte, earlier bool) {
		k := key{node, string(signed)}
		if i, ok := seen[k]; ok {
			out[i].Earlier = out[i].Earlier && earlier
			return
		}
		seen[k] = len(out)
		out = append(out, UserCheckpoint{Node: node, PeerID: pins[node], Signed: append([]byte(nil), signed...), Earlier: earlier})
	}
	for _, c := range v.Checkpoints {
		add(c.Node, c.Checkpoint, false)
	}
	for _, r := range receipts {
		add(r.Node, r.Checkpoint, r.Evidence != vault.EvidenceFork)
	}
	for _, r := range v.Restores {
		add(r.Node, r.Replaced, true)
		add(r.Node, r.Checkpoint, false)
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

// userOf is what of view concerns the node of one card: its checkpoints,
// the entries of its evidence receipts by index, and its restores that the
// user's client accepted. Checkpoints, receipts and restores of the node
// that the vault pins at another peer ID are left out, with the reason in
// skipped.
func userOf(view *UserView, card api.Card) (cps []UserCheckpoint, refused map[uint64][]byte, restores []vault.Restore, skipped string) {
	if view == nil {
		return nil, nil, nil, ""
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
		return nil, nil, nil, skipped
	}
	for i := range view.Receipts {
		if r := &view.Receipts[i]; r.Node == card.Name && evidence(r) {
			if refused == nil {
				refused = map[uint64][]byte{}
			}
			refused[r.Index] = r.Entry
		}
	}
	for _, r := range view.Restores {
		if r.Node == card.Name {
			restores = append(restores, r)
		}
	}
	return cps, refused, restores, ""
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
// the larger). One that is not is a split view, unless a restore explains
// it that both the user's client and the auditor accepted (replacedBy).
// With Options.Accept, the node's restores that the user's client accepted
// are accepted first, when the node's log holds their entries
// (acceptUserRestores).
func (a *nodeAudit) checkUser(ctx context.Context, cp api.Checkpoint, cps []UserCheckpoint) {
	restores := a.userRestoresOpened()
	if a.accept && len(restores) > 0 && a.passing() {
		a.acceptUserRestores(ctx, cp, restores)
	}
	split := 0
	for _, u := range cps {
		uc, err := api.OpenCheckpoint(u.Signed, a.origin, a.pub)
		if err != nil {
			a.fail(BadUserCheckpoint, -1, "a checkpoint of it in the vault does not verify with its pinned key (%v): the vault's copy is damaged or not the node's, and proves nothing against the node", err)
			continue
		}
		a.rep.UserCheckpoints++
		err = a.sameHistory(ctx, uc, cp)
		if errors.Is(err, errNoAnswer) {
			a.fail(Unreachable, -1, "unreachable: consistency proof for a checkpoint of the vault: %v", err)
			return
		}
		if err == nil {
			continue
		}
		r, accepted := a.replacedBy(u, uc, restores)
		if accepted {
			a.rep.UserReplaced++
			continue
		}
		if split++; split <= maxEntryProblems {
			hint := ""
			if r != nil {
				hint = fmt.Sprintf("; the user's client accepted the restore at entry %d, which explains it: accept it too (custos audit verify --accept %s) once its operator confirms the restore", r.index, a.card.Name)
			}
			a.fail(SplitView, -1, "split view: %v%s", err, hint)
		}
	}
	if n := split - maxEntryProblems; n > 0 {
		a.fail(SplitView, -1, "and %d more checkpoints of the vault not consistent with it", n)
	}
}

// passing reports whether the node passed every check so far.
func (a *nodeAudit) passing() bool { return len(a.rep.Problems) == 0 }

// userRestore is a restore of the node that the user's client accepted,
// as the vault keeps it (vault.Restore), read and verified.
type userRestore struct {
	index    int64
	entry    []byte
	admin    string
	restore  api.Restore
	replaced api.Checkpoint // verified with the node's pinned key
	signed   []byte         // replaced, the signed note
}

// userRestoresOpened reads the user's restores of the node. One whose
// entry is not a restore entry, or whose replaced checkpoint does not
// verify (the vault's checkpoints report it), explains nothing.
func (a *nodeAudit) userRestoresOpened() []userRestore {
	var out []userRestore
	for _, vr := range a.userRestores {
		e, err := api.ParseEntry(vr.Entry)
		if err != nil || vr.Index > math.MaxInt64 {
			continue
		}
		r, ok := api.RestoreOf(e)
		if !ok {
			continue
		}
		old, err := api.OpenCheckpoint(vr.Replaced, a.origin, a.pub)
		if err != nil {
			continue
		}
		out = append(out, userRestore{index: int64(vr.Index), entry: vr.Entry, admin: e.Admin, restore: r, replaced: old, signed: vr.Replaced})
	}
	return out
}

// replacedBy returns the restore that the user's client accepted which
// explains u, a checkpoint of the user's vault not of one history with
// the node's log, and whether the auditor accepted it too. The rule: u is
// Earlier (of a log the client held before it accepted a restore, not of
// what the node shows it now); the restore's entry explains u
// (api.Restore.Explains, as it explains a recorded checkpoint); and u is
// no larger than the checkpoint the client kept when it accepted it, since
// the client kept nothing of the replaced log past that one.
func (a *nodeAudit) replacedBy(u UserCheckpoint, uc api.Checkpoint, restores []userRestore) (*userRestore, bool) {
	if !u.Earlier {
		return nil, false
	}
	var found *userRestore
	for i := range restores {
		r := &restores[i]
		if uc.Size > r.replaced.Size || r.restore.Explains(r.index, uc) != "" {
			continue
		}
		if a.accepted(r) {
			return r, true
		}
		found = r
	}
	return found, false
}

// accepted reports whether the auditor accepted the restore r too: its
// entry at the same index, with the same text.
func (a *nodeAudit) accepted(r *userRestore) bool {
	for _, ar := range a.rep.Restores {
		if ar.Entry == r.index && ar.Admin == r.admin {
			return true
		}
	}
	return false
}

// acceptUserRestores is Options.Accept for the restores of the node that
// the user's client accepted and the auditor has not: the auditor's own
// recorded checkpoint may not show the rollback (it was recorded before
// the backup), but the user's does. It reads every entry of cp's tree; a
// restore whose entry is there, byte for byte at its index, and explains
// the checkpoint the user's client replaced, is kept in the node's
// restores, with that checkpoint as the one it replaced.
func (a *nodeAudit) acceptUserRestores(ctx context.Context, cp api.Checkpoint, restores []userRestore) {
	var todo []*userRestore
	for i := range restores {
		if r := &restores[i]; !a.accepted(r) && r.index < cp.Size && r.restore.Explains(r.index, r.replaced) == "" {
			todo = append(todo, r)
		}
	}
	if len(todo) == 0 {
		return
	}
	if a.rep.First {
		var err error
		if a.rep.Restores, err = a.loadRestores(); err != nil {
			a.fail(StateError, -1, "read the accepted restores: %v", err)
			return
		}
	}
	logged := map[int64][]byte{}
	ok := a.readEntries(ctx, cp, func(index int64, b []byte) {
		for _, r := range todo {
			if r.index == index {
				logged[index] = b
			}
		}
	})
	if !ok {
		return
	}
	restores2 := a.rep.Restores
	for _, r := range todo {
		if !bytes.Equal(logged[r.index], r.entry) {
			continue // the user's vault holds an entry the node's log does not
		}
		restores2 = append(restores2, AcceptedRestore{Accepted: time.Now().UTC(), Entry: r.index, Admin: r.admin,
			Replaced: r.signed, ReplacedSize: r.replaced.Size, Named: r.restore.Names(r.replaced), Size: cp.Size, FromVault: true})
	}
	if len(restores2) == len(a.rep.Restores) {
		return
	}
	if err := a.saveRestores(restores2); err != nil {
		a.fail(StateError, -1, "record the accepted restore: %v", err)
		return
	}
	a.rep.Restores = restores2
	if a.rep.Accepted == nil {
		a.rep.Accepted = &restores2[len(restores2)-1]
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
