package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"

	"go.uber.org/zap"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/vault"
)

// Errors of a node that lied about a release, to match with errors.Is. In
// each case none of the node's shares of the request is used, and the
// node is named.
var (
	// ErrFalseReceipt: a node's receipt verifies (signed checkpoint, entry
	// in its tree), but the entry it proves is not the release the node
	// answered with: it logged a refusal of what it released, or the entry
	// is of another request, device, user or units. The receipt is kept in
	// the vault as evidence (vault.Receipt.Evidence).
	ErrFalseReceipt = errors.New("the node's receipt proves another log entry than its answer")
	// ErrForkedLog: a node's signed checkpoint is not consistent with the
	// newest one the vault keeps of it: older, of the same size with
	// another root, or not proven to extend it. The node showed this user
	// two logs.
	ErrForkedLog = errors.New("the node showed a log that does not extend the one it showed before")
	// ErrDamagedRecord: a record's fields in the vault do not match their
	// MAC (vault.ErrDamaged); no node was asked for it.
	ErrDamagedRecord = vault.ErrDamaged
)

// distrusted reports whether err says a node's answer cannot be trusted
// at all, so that none of its shares of the request may be used.
func distrusted(err error) bool {
	return errors.Is(err, ErrBadReceipt) || errors.Is(err, ErrFalseReceipt) || errors.Is(err, ErrForkedLog)
}

// checkReceipt verifies that resp's receipt proves n logged exactly the
// release resp answers: the checkpoint is signed by the key n's peer ID
// pins and consistent with kept (the checkpoint of n the vault held when
// req was sent), or a restore of n explains why not (restoredSince), the
// entry is in the checkpoint's tree, and it records req (matchEntry) with
// the refusals of resp. It returns the receipt to keep: with the error too
// when the receipt is evidence of a lie (ErrFalseReceipt, ErrForkedLog). A
// receipt that does not verify is ErrBadReceipt, and is not kept. A
// checkpoint proven consistent is kept as n's newest when it is newer,
// even when its entry proves a lie: the node must then keep that entry in
// its log too.
func (c *Client) checkReceipt(ctx context.Context, n *custodian, req *api.ReleaseRequest, units []vault.Unit, resp *api.ReleaseResponse, kept *keptCheckpoint) (*vault.Receipt, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrBadReceipt, why) }
	r := resp.Receipt
	if r == nil {
		return nil, bad("there is none")
	}
	cp, err := c.openCheckpoint(n, r.Checkpoint)
	if err != nil {
		return nil, bad("the checkpoint is not signed by the node")
	}
	proof, err := api.ProofHashes(r.Proof)
	if err != nil {
		return nil, bad("the proof is malformed")
	}
	if r.Index > math.MaxInt64 || api.VerifyInclusion(proof, cp.Size, cp.Root, int64(r.Index), r.Entry) != nil {
		return nil, bad("the entry is not in the checkpoint's log")
	}
	e, err := api.ParseEntry(r.Entry)
	if err != nil {
		return nil, bad("the entry is malformed")
	}
	refs := make([]vault.UnitRef, len(units))
	for i, u := range units {
		refs[i] = vault.UnitRef{ID: u.ID, Version: u.Version}
	}
	rcpt := &vault.Receipt{Node: n.name, Units: refs, Index: r.Index, Checkpoint: r.Checkpoint, Entry: r.Entry}
	if err := kept.extendedBy(cp, r.Consistency); err != nil {
		restored, rerr := c.restoredSince(ctx, n, kept, &keptCheckpoint{raw: r.Checkpoint, Checkpoint: cp})
		switch {
		case rerr != nil:
			return nil, fmt.Errorf("%w: %v, and its log could not be read for a restore entry: %w", ErrBadReceipt, err, rerr)
		case !restored:
			rcpt.Evidence = vault.EvidenceFork
			return rcpt, err
		}
		// The vault now keeps a checkpoint of n's restored log that
		// extends cp.
	} else if _, err := c.advanceCheckpoint(ctx, n, kept, cp, r.Checkpoint); err != nil {
		if errors.Is(err, ErrForkedLog) {
			rcpt.Evidence = vault.EvidenceFork
			return rcpt, err
		}
		return nil, err
	}
	if evidence, err := matchEntry(e, []byte(c.host.ID()), c.v.User, req, resp.Shares); err != nil {
		rcpt.Evidence = evidence
		return rcpt, err
	}
	return rcpt, nil
}

// matchEntry checks that e is the log entry of req, a release request of
// device for user, as answered: a release entry of the same device, user,
// signed time, nonce, device signature and units in order, refusing
// exactly the units the answer refused, each with the same code. An entry
// that refuses the whole request refuses each of its units. The error
// matches ErrFalseReceipt and comes with the evidence it is: a refusal of
// something the answer released is vault.EvidenceRefusal, any other
// mismatch vault.EvidenceOtherEntry.
func matchEntry(e *api.Entry, device []byte, user string, req *api.ReleaseRequest, answer []*api.ReleasedShare) (string, error) {
	other := func(why string) (string, error) {
		return vault.EvidenceOtherEntry, fmt.Errorf("%w: %s", ErrFalseReceipt, why)
	}
	switch {
	case e.Kind != api.EntryKind_RELEASE:
		return other("the entry is not of a release")
	case !bytes.Equal(e.ClientPeerId, device) || e.User != user:
		return other("the entry is of another device or user")
	case !bytes.Equal(e.RequestNonce, req.Nonce) || e.RequestTimeUnixMs != req.TimeUnixMs:
		return other("the entry is of another request")
	case wholeRefusal(e):
		// Nodes log a request they refuse whole without its units and
		// signature (which proves nothing without them): the nonce and
		// time say whose it is.
	case !bytes.Equal(e.DeviceSignature, req.DeviceSignature):
		return other("the entry is of another request")
	}
	logged, ok := loggedCodes(e, len(req.Units))
	if !ok {
		return other("the entry's units or refusals are not those of the request")
	}
	for i, u := range req.Units {
		if len(e.Units) > 0 && (e.Units[i].GetVersion() != u.Version || !bytes.Equal(e.Units[i].GetUnitId(), u.UnitId)) {
			return other("the entry names other units")
		}
	}
	// A refusal of a unit the answer released is the lie to keep evidence
	// of, whatever else differs.
	refused, otherwise := false, false
	for i, code := range logged {
		if answered := answerCode(answer[i]); answered != code {
			refused = refused || answered == api.Code_OK
			otherwise = otherwise || answered != api.Code_OK
		}
	}
	switch {
	case refused:
		return vault.EvidenceRefusal, fmt.Errorf("%w: the node released shares that its log entry records as refused", ErrFalseReceipt)
	case otherwise:
		return other("the entry releases, or refuses otherwise, a unit that the answer refused")
	}
	return "", nil
}

// wholeRefusal reports whether e logs a request refused whole, as nodes
// log one: no units, and so no signature.
func wholeRefusal(e *api.Entry) bool {
	return e.Outcome != api.Code_OK && len(e.Units) == 0 && len(e.DeviceSignature) == 0
}

// loggedCodes is the outcome e records for each of the n units of its
// request: OK for a unit released, else the code it was refused with. An
// entry refusing the whole request may name no units (the node then did
// not look at them); otherwise it names all n, and each refusal names one
// of them once, with a code that is not OK.
func loggedCodes(e *api.Entry, n int) ([]api.Code, bool) {
	codes := make([]api.Code, n)
	for i := range codes {
		codes[i] = e.Outcome // OK, or the refusal of the whole request
	}
	if len(e.Units) != n && !(len(e.Units) == 0 && e.Outcome != api.Code_OK) {
		return nil, false
	}
	seen := make([]bool, n)
	for _, r := range e.Refusals {
		i := int(r.GetUnitIndex())
		if i >= n || seen[i] || r.GetCode() == api.Code_OK {
			return nil, false
		}
		seen[i], codes[i] = true, r.GetCode()
	}
	return codes, true
}

// answerCode is how a release answer treated its unit: OK for a share, else
// the code of its refusal.
func answerCode(s *api.ReleasedShare) api.Code {
	if s.GetError() != nil && s.GetError().GetCode() != api.Code_OK {
		return s.GetError().GetCode()
	}
	return api.Code_OK
}

// keptCheckpoint is the checkpoint of a node that the vault held when a
// request was sent; nil for none.
type keptCheckpoint struct {
	raw []byte
	api.Checkpoint
}

// size is the known size a release request sends: 0 for none.
func (k *keptCheckpoint) size() uint64 {
	if k == nil {
		return 0
	}
	return uint64(k.Size)
}

// extendedBy checks that cp, a verified checkpoint of the same node,
// extends k: k's tree is cp's first k.Size entries, as proof (the node's
// consistency proof from k.Size to cp.Size) shows. Failures are
// ErrForkedLog.
func (k *keptCheckpoint) extendedBy(cp api.Checkpoint, proof [][]byte) error {
	if k == nil {
		return nil
	}
	switch {
	case cp.Size < k.Size:
		return fmt.Errorf("%w: its checkpoint of size %d is older than the one of size %d it signed before", ErrForkedLog, cp.Size, k.Size)
	case cp.Size == k.Size:
		if cp.Root != k.Root {
			return fmt.Errorf("%w: it signed two trees of size %d", ErrForkedLog, cp.Size)
		}
		return nil
	}
	p, err := api.ProofHashes(proof)
	if err != nil || api.VerifyConsistency(tlog.TreeProof(p), k.Size, k.Root, cp.Size, cp.Root) != nil {
		return fmt.Errorf("%w: its tree of size %d is not proven to extend the one of size %d it signed before", ErrForkedLog, cp.Size, k.Size)
	}
	return nil
}

// keptCheckpointOf returns the checkpoint the vault keeps of n, opened. One
// that does not open under n's pinned key (the network file pins another
// key for the name now, or the vault was damaged) counts as none, and the
// next verified checkpoint replaces it.
func (c *Client) keptCheckpointOf(n *custodian) *keptCheckpoint {
	c.mu.Lock()
	raw := bytes.Clone(c.v.Checkpoint(n.name))
	c.mu.Unlock()
	if raw == nil {
		return nil
	}
	cp, err := c.openCheckpoint(n, raw)
	if err != nil {
		c.log.Warn("the vault's checkpoint of a node does not verify; the next one replaces it", zap.String("node", n.name))
		return nil
	}
	return &keptCheckpoint{raw: raw, Checkpoint: cp}
}

// advanceCheckpoint keeps cp (raw, signed) as n's newest checkpoint if it
// is newer than the one kept, now that it is proven to extend sent, the
// one kept when the request was sent, and reports whether it did.
//
// Another request of this client may have kept another checkpoint since
// sent: a node could show two requests in flight two branches that each
// extend sent. cp must then be proven consistent with that one too, with a
// consistency proof asked of n (ErrForkedLog if it is not; ErrBadReceipt if
// the proof cannot be had, so that no share of the answer is used).
func (c *Client) advanceCheckpoint(ctx context.Context, n *custodian, sent *keptCheckpoint, cp api.Checkpoint, raw []byte) (bool, error) {
	got := &keptCheckpoint{raw: raw, Checkpoint: cp}
	for {
		kept, cur := c.keepIfNext(n, sent, got)
		if cur == nil {
			return kept, nil
		}
		// cur was kept since sent: prove the two consistent, the older
		// one first, and try again against cur.
		a, b := cur, got
		if b.Size < a.Size {
			a, b = b, a
		}
		err := c.proveExtends(ctx, n, a, b)
		switch {
		case errors.Is(err, ErrForkedLog):
			return false, err
		case err != nil:
			return false, fmt.Errorf("%w: its checkpoint could not be proven consistent with the newer one kept meanwhile: %w", ErrBadReceipt, err)
		}
		sent = cur
	}
}

// keepIfNext keeps got as n's checkpoint when the vault still keeps sent
// (the checkpoint got is proven to extend) and got is newer, or keeps
// nothing. When the vault keeps another checkpoint than sent now, that one
// is returned as cur, opened, for the caller to prove got against.
func (c *Client) keepIfNext(n *custodian, sent, got *keptCheckpoint) (kept bool, cur *keptCheckpoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	raw := c.v.Checkpoint(n.name)
	switch {
	case raw != nil && (sent == nil || !bytes.Equal(raw, sent.raw)):
		now, err := c.openCheckpoint(n, raw)
		if err == nil {
			return false, &keptCheckpoint{raw: bytes.Clone(raw), Checkpoint: now}
		}
		// The kept one does not open: got replaces it.
	case raw != nil && got.Size <= sent.Size:
		return false, nil
	}
	if err := c.v.SetCheckpoint(n.name, got.raw); err != nil {
		c.log.Warn("a node's checkpoint could not be kept in the vault", zap.String("node", n.name), zap.Error(err))
		return false, nil
	}
	return true, nil
}

// openCheckpoint opens a checkpoint signed by n's pinned key, of n's log.
// The last one that opened is remembered (custodian.opened): an unlock
// opens the checkpoint the vault keeps of n, most often the one n's last
// receipt brought, and its signature need not be checked twice.
func (c *Client) openCheckpoint(n *custodian, signed []byte) (api.Checkpoint, error) {
	if cp, ok := n.opened.get(signed); ok {
		return cp, nil
	}
	pub, err := nodeKey(n.info.ID)
	if err != nil {
		return api.Checkpoint{}, err
	}
	cp, err := api.OpenCheckpoint(signed, api.LogOrigin(n.name), pub)
	if err == nil {
		n.opened.put(signed, cp)
	}
	return cp, err
}

// Checkpoints returns copies of the checkpoints the vault keeps, one per
// node in node-name order: the newest of each node's log that the client
// verified (see vault.Vault.Checkpoints).
func (c *Client) Checkpoints() []vault.NodeCheckpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]vault.NodeCheckpoint, len(c.v.Checkpoints))
	for i, cp := range c.v.Checkpoints {
		out[i] = vault.NodeCheckpoint{Node: cp.Node, Checkpoint: bytes.Clone(cp.Checkpoint)}
	}
	return out
}
