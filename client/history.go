package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/threshold"
)

// ErrBadLog: a node's answer about its audit log does not verify against
// its signed checkpoint; none of its entries are shown.
var ErrBadLog = errors.New("the node's log answer does not verify")

// HistoryEntry is one unit of one release request, as a node logged it.
type HistoryEntry struct {
	Time    time.Time
	Node    string
	Index   uint64 // the entry's index in the node's log
	Label   string // the unit's label in the vault, or "" for a unit it no longer has
	UnitID  string // hex
	Version uint64
	// Released is true when the node released its share; otherwise Outcome
	// and Reason say why it refused.
	Released bool
	Outcome  api.Code
	Reason   string
}

// History reads, at every node in parallel, the release entries of the
// user's units from the node's audit log, as the user's own session may:
// the node answers with the user's entries only, each with its inclusion
// proof against a checkpoint signed by the key the network file pins. A
// node whose answers do not verify is in the returned NodeErrors (matching
// ErrBadLog, or ErrForkedLog for a checkpoint that does not extend the one
// the vault keeps of the node, unless a restore of the node explains it:
// see Log), and none of its entries is returned; so is a node that cannot
// be asked. With label, only that record's entries are returned (its
// current unit ID, every version). Entries are newest first.
func (c *Client) History(ctx context.Context, label string) ([]HistoryEntry, []*NodeError, error) {
	done, err := c.begin(true)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	var only []byte
	if label != "" {
		u, ok, err := c.vh.Describe(label)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, fmt.Errorf("%q: %w", label, ErrNotFound)
		}
		only = append([]byte(nil), u.ID[:]...)
	}
	logged, failed, err := c.Log(ctx)
	if err != nil {
		return nil, nil, err
	}
	labels, err := c.labelsOf(logged)
	if err != nil {
		return nil, nil, err
	}
	var out []HistoryEntry
	for _, le := range logged {
		out = append(out, releases(le, labels, only)...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.After(out[j].Time)
		}
		if out[i].Node != out[j].Node {
			return out[i].Node < out[j].Node
		}
		return out[i].Index > out[j].Index
	})
	return out, failed, nil
}

// LoggedEntry is an entry of a node's log whose inclusion in the node's
// signed tree was verified.
type LoggedEntry struct {
	Node  string // the node's name in the network file
	Index uint64 // the entry's index in the node's log
	Entry *api.Entry
	Raw   []byte // the entry as the node stored it (and hashed it)
}

// Log reads, at every node in parallel, every entry of the node's audit log
// about the user, and the node's restore entries (api.RestoreOf), as the
// user's own session may: each with its inclusion proof against a
// checkpoint signed by the key the network file pins. A node whose answers
// do not verify is in the returned NodeErrors (matching ErrBadLog, or
// ErrForkedLog as for History), and none of its entries is returned; so is
// a node that cannot be asked. Every checkpoint read is checked against
// the one the vault keeps of its node, and the newest is kept (saved with
// the receipts). A node whose log does not extend the kept checkpoint is
// ErrForkedLog, unless one of its restore entries explains why: the
// restore is then accepted, as for a release (see GetMany). Entries are in
// network-file order of their nodes, then in log order.
func (c *Client) Log(ctx context.Context) ([]LoggedEntry, []*NodeError, error) {
	done, err := c.begin(true)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	per := make([][]LoggedEntry, len(c.nodes))
	errs := c.fanOut(ctx, c.nodes, func(ctx context.Context, n *custodian) error {
		var err error
		per[n.index], err = c.userEntries(ctx, n)
		return err
	})
	var out []LoggedEntry
	var failed []*NodeError
	for i, err := range errs {
		if err != nil {
			failed = append(failed, &NodeError{Node: c.nodes[i].name, Err: err})
			continue
		}
		out = append(out, per[i]...)
	}
	return out, failed, nil
}

// userEntries reads n's log, up to the size of its checkpoint at the
// start, with the user's session (readLog), and keeps the newest
// checkpoint of the read once it is proven to extend the one the vault
// keeps of n (follow).
func (c *Client) userEntries(ctx context.Context, n *custodian) ([]LoggedEntry, error) {
	head, err := c.headOf(ctx, n)
	if err != nil {
		return nil, err
	}
	kept := c.keptCheckpointOf(n)
	entries, newest, err := c.readLog(ctx, n, head, 0)
	if err != nil {
		return nil, err
	}
	if err := c.follow(ctx, n, kept, newest, entries); err != nil {
		return nil, err
	}
	return entries, nil
}

// headOf asks n for its checkpoint and verifies it with n's pinned key
// (ErrBadLog).
func (c *Client) headOf(ctx context.Context, n *custodian) (*keptCheckpoint, error) {
	var cr api.CheckpointResponse
	if err := c.call(ctx, n, api.ProtocolCheckpoint, &api.CheckpointRequest{}, &cr); err != nil {
		return nil, err
	}
	if err := api.FromProto(cr.Error); err != nil {
		return nil, err
	}
	head, err := c.openCheckpoint(n, cr.Checkpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: the checkpoint is not signed by the node", ErrBadLog)
	}
	return &keptCheckpoint{raw: cr.Checkpoint, Checkpoint: head}, nil
}

// readLog pages through n's log from index start up to head's size, with
// the user's session, and checks every page: its checkpoint signed by n's
// pinned key and of one log with head and the pages before (the node's
// consistency proofs), each entry in its tree, in order, and the user's
// own or a restore entry (api.RestoreOf), the entries a node serves a
// user. It returns those entries and the newest checkpoint of the read
// (head, or a later one proven to extend it). A failure to verify matches
// ErrBadLog; checkpoints of two logs, ErrForkedLog.
func (c *Client) readLog(ctx context.Context, n *custodian, head *keptCheckpoint, start uint64) ([]LoggedEntry, *keptCheckpoint, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadLog, fmt.Sprintf(format, args...))
	}
	newest := head
	var out []LoggedEntry
	for start < uint64(head.Size) {
		var er api.EntriesResponse
		err := c.authed(ctx, n, func() error {
			er.Reset()
			req := &api.EntriesRequest{Start: start, End: uint64(head.Size)}
			if err := c.call(ctx, n, api.ProtocolEntries, req, &er); err != nil {
				return err
			}
			return api.FromProto(er.Error)
		})
		if err != nil {
			return nil, nil, err
		}
		if er.Start != start || er.Next <= start || er.Next > uint64(head.Size) || len(er.Proofs) != len(er.Entries) {
			return nil, nil, bad("entries from %d: an answer for [%d, %d) with %d entries and %d proofs", start, er.Start, er.Next, len(er.Entries), len(er.Proofs))
		}
		cp, err := c.openCheckpoint(n, er.Checkpoint)
		if err != nil {
			return nil, nil, bad("entries from %d: the checkpoint is not signed by the node", start)
		}
		if cp.Size < head.Size {
			return nil, nil, bad("entries from %d: a checkpoint of size %d, smaller than %d", start, cp.Size, head.Size)
		}
		if newest, err = c.pageExtends(ctx, n, newest, &keptCheckpoint{raw: er.Checkpoint, Checkpoint: cp}); err != nil {
			return nil, nil, err
		}
		next := start // the least index the next entry may have
		for i, b := range er.Entries {
			p := er.Proofs[i]
			if p == nil || p.Index < next || p.Index >= er.Next || p.Index > math.MaxInt64 {
				return nil, nil, bad("entries from %d: an entry out of order or out of the page", start)
			}
			proof, err := api.ProofHashes(p.Hashes)
			if err != nil {
				return nil, nil, bad("entry %d: a malformed proof", p.Index)
			}
			if api.VerifyInclusion(proof, cp.Size, cp.Root, int64(p.Index), b) != nil {
				return nil, nil, bad("entry %d is not in its checkpoint's log", p.Index)
			}
			e, err := api.ParseEntry(b)
			if err != nil {
				return nil, nil, bad("entry %d is malformed", p.Index)
			}
			// The node serves a user their own entries and the restore
			// entries only; another is not shown, whatever the node meant
			// by it.
			if _, restore := api.RestoreOf(e); e.User == c.v.User || restore {
				out = append(out, LoggedEntry{Node: n.name, Index: p.Index, Entry: e, Raw: b})
			}
			next = p.Index + 1
		}
		start = er.Next
	}
	return out, newest, nil
}

// follow keeps newest, the newest checkpoint of a read of n's log whose
// entries are entries, as n's newest once it is proven to extend kept (the
// one the vault kept when the read began; nil for none), or once a restore
// entry among entries explains why it does not (explainFork).
func (c *Client) follow(ctx context.Context, n *custodian, kept, newest *keptCheckpoint, entries []LoggedEntry) error {
	if kept != nil {
		err := c.proveExtends(ctx, n, kept, newest)
		if errors.Is(err, ErrForkedLog) && c.explainFork(ctx, n, kept, newest, entries) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	advanced, err := c.advanceCheckpoint(ctx, n, kept, newest.Checkpoint, newest.raw)
	if err != nil {
		return err
	}
	if advanced {
		c.mu.Lock()
		c.unsaved++ // the newer checkpoint is saved with the receipts
		c.mu.Unlock()
	}
	return nil
}

// pageExtends checks that the checkpoint of a page of entries and the
// newest of the read so far are of one log, whichever is larger, and
// returns the newer one.
func (c *Client) pageExtends(ctx context.Context, n *custodian, newest, page *keptCheckpoint) (*keptCheckpoint, error) {
	if page.Size < newest.Size {
		return newest, c.proveExtends(ctx, n, page, newest)
	}
	return page, c.proveExtends(ctx, n, newest, page)
}

// proveExtends checks that the verified checkpoint b of n extends a, an
// earlier one: the same root at the same size, or, at a larger size, with
// the consistency proof that n's proof protocol gives. A failure, b older
// than a included, is ErrForkedLog; a node that cannot be asked, its error.
func (c *Client) proveExtends(ctx context.Context, n *custodian, a, b *keptCheckpoint) error {
	if b.Size <= a.Size {
		return a.extendedBy(b.Checkpoint, nil)
	}
	var pr api.ProofResponse
	req := &api.ProofRequest{Query: &api.ProofRequest_Consistency{Consistency: &api.ConsistencyQuery{OldSize: uint64(a.Size), NewSize: uint64(b.Size)}}}
	if err := c.call(ctx, n, api.ProtocolProof, req, &pr); err != nil {
		return err
	}
	if err := api.FromProto(pr.Error); err != nil {
		return err
	}
	return a.extendedBy(b.Checkpoint, pr.Hashes)
}

// labelsOf maps the unit IDs that the release entries of logged name to
// their labels in the vault (by the IDs' bytes), looking up each ID once.
func (c *Client) labelsOf(logged []LoggedEntry) (map[string]string, error) {
	labels := map[string]string{}
	seen := map[string]bool{}
	for _, le := range logged {
		if le.Entry.Kind != api.EntryKind_RELEASE {
			continue
		}
		for _, u := range le.Entry.Units {
			var id threshold.UnitID
			if len(u.GetUnitId()) != len(id) || seen[string(u.GetUnitId())] {
				continue
			}
			seen[string(u.GetUnitId())] = true
			copy(id[:], u.GetUnitId())
			label, ok, err := c.vh.LabelOf(id)
			if err != nil {
				return nil, err
			}
			if ok {
				labels[string(id[:])] = label
			}
		}
	}
	return labels, nil
}

// releases turns a release entry into one HistoryEntry per unit (only the
// unit only, when not nil).
func releases(le LoggedEntry, labels map[string]string, only []byte) []HistoryEntry {
	e := le.Entry
	if e.Kind != api.EntryKind_RELEASE {
		return nil
	}
	refused := map[uint32]api.Code{}
	for _, r := range e.Refusals {
		refused[r.GetUnitIndex()] = r.GetCode()
	}
	var out []HistoryEntry
	for i, u := range e.Units {
		id := u.GetUnitId()
		if only != nil && !bytes.Equal(id, only) {
			continue
		}
		h := HistoryEntry{
			Time: time.UnixMilli(int64(e.TimeUnixMs)), Node: le.Node, Index: le.Index,
			Label: labels[string(id)], UnitID: hex.EncodeToString(id), Version: u.GetVersion(),
			Released: true, Outcome: api.Code_OK,
		}
		if code, ok := refused[uint32(i)]; ok {
			h.Released, h.Outcome = false, code
		}
		if e.Outcome != api.Code_OK {
			h.Released, h.Outcome, h.Reason = false, e.Outcome, e.Reason
		}
		out = append(out, h)
	}
	return out
}
