package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/vault"
)

// A node restored from a backup (custosd restore) has lost its log after
// the backup, so a checkpoint the vault kept of it from after the backup
// is no longer extended by what the node shows: from the checkpoints
// alone, a restore is a fork. Restore logs an entry right after the
// restored log that says so (api.Restore), and a node serves its restore
// entries to every logged-in user. Before the client names a node whose
// log does not extend the kept checkpoint (ErrForkedLog), it reads the
// node's log as the user may and looks for a restore entry that explains
// it: then it accepts the restore, as the entry says, keeps the checkpoint
// it replaced in the vault (vault.Restore), and goes on with the node's
// log from there.
//
// The entry must explain the kept checkpoint as it would an auditor's
// recorded one (api.Restore.Explains), and must not already be in the log
// the kept checkpoint is of: a restore the vault accepted before explains
// nothing new, nor does one that the node logged before an entry of the
// kept log, at the restored log's size or later, that the vault holds a
// receipt of (the node's clock dates both). Without such a receipt (a
// vault that followed the node by history reads only), an entry that names
// no replaced log is taken at its word; auditors who check the vault must
// accept the same restore (custos audit verify --vault).

// restoreScan is what the client remembers of the last read of a node's
// log that found no restore explaining the kept checkpoint, so that a node
// showing a fork is not read whole at every request: kept, the kept
// checkpoint it was for, and seen, the checkpoint whose entries were all
// read.
type restoreScan struct {
	kept []byte
	seen *keptCheckpoint
}

// noRestoreSince returns the checkpoint of n up to which the client found
// no restore explaining the kept checkpoint kept; nil for none.
func (n *custodian) noRestoreSince(kept *keptCheckpoint) *keptCheckpoint {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.scan == nil || !bytes.Equal(n.scan.kept, kept.raw) {
		return nil
	}
	return n.scan.seen
}

func (n *custodian) rememberNoRestore(kept, seen *keptCheckpoint) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.scan = &restoreScan{kept: kept.raw, seen: seen}
}

// restoredSince reports whether a restore of n explains why head, a
// verified checkpoint of n, does not extend kept, the checkpoint the vault
// kept of n when the request was sent; if so, the vault has accepted it,
// and keeps a checkpoint of n that extends head. It reads n's log up to
// head's size, but only from where the last read that found no such
// restore stopped, if head is proven to extend where it stopped. A log
// that does not verify holds no restore; the error is for a log that could
// not be read (the request was cancelled, say).
func (c *Client) restoredSince(ctx context.Context, n *custodian, kept, head *keptCheckpoint) (bool, error) {
	from := uint64(0)
	if seen := n.noRestoreSince(kept); seen != nil {
		switch {
		case head.Size <= seen.Size && c.proveExtends(ctx, n, head, seen) == nil:
			return false, nil // every entry of head was read
		case head.Size > seen.Size && c.proveExtends(ctx, n, seen, head) == nil:
			if seen.Size >= kept.Size {
				return false, nil // a restore that explains kept lies below its size
			}
			from = uint64(seen.Size)
		}
	}
	entries, newest, err := c.readLog(ctx, n, head, from)
	switch {
	case errors.Is(err, ErrBadLog) || errors.Is(err, ErrForkedLog):
		c.log.Debug("a node's log does not verify; no restore of it is accepted", zap.String("node", n.name), zap.Error(err))
		return false, nil
	case err != nil:
		return false, err
	}
	if c.explainFork(ctx, n, kept, newest, entries) {
		return true, nil
	}
	n.rememberNoRestore(kept, head)
	return false, nil
}

// explainFork reports whether a restore entry among entries, read from n's
// log and proven to be in newest's tree, explains why newest does not
// extend kept, the checkpoint the vault kept of n when the read began. If
// one does, it accepts the restore (acceptRestore) and says so at warn
// level. If the vault's kept checkpoint changed meanwhile (another request
// accepted the same restore), it reports whether newest is of one log with
// the one kept now.
func (c *Client) explainFork(ctx context.Context, n *custodian, kept, newest *keptCheckpoint, entries []LoggedEntry) bool {
	n.restoreMu.Lock()
	defer n.restoreMu.Unlock()
	if now := c.keptCheckpointOf(n); now == nil || !bytes.Equal(now.raw, kept.raw) {
		if now == nil {
			return false
		}
		_, err := c.pageExtends(ctx, n, now, newest)
		return err == nil
	}
	le, r, ok := c.explainingRestore(n, kept, entries)
	if !ok {
		return false
	}
	if err := c.acceptRestore(n, kept, newest, le); err != nil {
		c.log.Warn("a node's restore could not be accepted", zap.String("node", n.name), zap.Error(err))
		return false
	}
	c.log.Warn(fmt.Sprintf("node %s was restored from a backup of log size %d; its log after %d is gone: accepted, as its restore entry says",
		n.name, r.BackupSize, r.BackupSize), zap.String("node", n.name), zap.Int64("restore_entry", r.BackupSize))
	return true
}

// explainingRestore returns the last restore entry of entries that
// explains why n's log no longer extends kept, by the rules at the top of
// this file.
func (c *Client) explainingRestore(n *custodian, kept *keptCheckpoint, entries []LoggedEntry) (LoggedEntry, api.Restore, bool) {
	for i := len(entries) - 1; i >= 0; i-- {
		le := entries[i]
		r, ok := api.RestoreOf(le.Entry)
		if !ok || r.Explains(int64(le.Index), kept.Checkpoint) != "" {
			continue
		}
		if c.inKeptLog(n, le) {
			continue
		}
		return le, r, true
	}
	return LoggedEntry{}, api.Restore{}, false
}

// inKeptLog reports whether the vault shows that the restore entry le of
// n was already in the log it keeps a checkpoint of: it accepted this very
// restore before, or it holds the receipt of an entry of that log, at or
// after le's index, that n logged after le.
func (c *Client) inKeptLog(n *custodian, le LoggedEntry) bool {
	c.mu.Lock()
	for _, r := range c.v.Restores {
		if r.Node == n.name && r.Index == le.Index && bytes.Equal(r.Entry, le.Raw) {
			c.mu.Unlock()
			return true
		}
	}
	c.mu.Unlock()
	receipts, err := c.vh.Receipts()
	if err != nil {
		// Not read, not refuted: the restore is not accepted.
		c.log.Warn("the vault's receipts could not be read; a node's restore is not accepted", zap.Error(err))
		return true
	}
	for _, r := range receipts {
		if r.Node != n.name || r.Evidence == vault.EvidenceFork || r.Index < le.Index {
			continue // not of the kept log, or before the restore entry
		}
		if e, err := api.ParseEntry(r.Entry); err == nil && e.TimeUnixMs > le.Entry.TimeUnixMs {
			return true
		}
	}
	return false
}

// acceptRestore records in the vault that n was restored, as the restore
// entry le says: the checkpoint kept of n until now (kept) as the one the
// restore replaced, and newest, whose tree holds le, as n's checkpoint
// from now on; and saves the vault. The caller holds n.restoreMu and has
// checked that the vault still keeps kept.
func (c *Client) acceptRestore(n *custodian, kept, newest *keptCheckpoint, le LoggedEntry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !bytes.Equal(c.v.Checkpoint(n.name), kept.raw) {
		return errors.New("the vault's checkpoint of the node changed meanwhile")
	}
	before := slices.Clone(c.v.Restores)
	r := vault.Restore{Node: n.name, Accepted: time.Now(), Replaced: kept.raw, Index: le.Index, Entry: le.Raw, Checkpoint: newest.raw}
	if err := c.v.AddRestore(r); err != nil {
		return err
	}
	if err := c.v.SetCheckpoint(n.name, newest.raw); err != nil {
		c.v.Restores = before
		return err
	}
	// Saved at once: the evidence of what the node showed before is the
	// user's only copy.
	if err := c.vh.Save(); err != nil {
		c.log.Warn("the vault could not be saved with a node's accepted restore", zap.String("node", n.name), zap.Error(err))
	}
	return nil
}

// Restores returns copies of the restores of nodes that the client
// accepted, oldest first (see vault.Restore).
func (c *Client) Restores() []vault.Restore {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]vault.Restore, len(c.v.Restores))
	for i, r := range c.v.Restores {
		out[i] = r
		out[i].Replaced, out[i].Entry, out[i].Checkpoint = slices.Clone(r.Replaced), slices.Clone(r.Entry), slices.Clone(r.Checkpoint)
	}
	return out
}
