package node

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/audit"
	"github.com/custos-network/custos/node/store"
)

// The audit protocols let auditors and users read the log from outside.
// Checkpoints and proofs reveal only tree sizes and hashes, so any peer may
// have them; entries go to the auditors of the node's config (all of them)
// and to logged-in users (their own, and the restore entries, with inclusion
// proofs). A restore entry (api.Restore) holds no user data, and a user's
// client needs it to tell the node's restore from a backup from a fork of
// its log.
//
// Reading the log is not itself logged (docs/auditing.md lists the entry
// kinds): since checkpoints and proofs are public, an entry per read would
// let any peer grow the log at will.

// proofHashSize is what one hash adds to an answer on the wire: 32 bytes,
// a tag and a length.
const proofHashSize = tlog.HashSize + 2

func (n *Node) checkpoint(ctx context.Context, s network.Stream, r *api.Reader) error {
	var req api.CheckpointRequest
	resp := &api.CheckpointResponse{}
	err := n.read(r, &req)
	if err == nil {
		err = n.store.View(func(tx *store.Tx) error {
			size, err := n.audit.Size(tx)
			if err != nil {
				return err
			}
			if forkRoot != nil {
				resp.Checkpoint, err = n.forkedCheckpoint(tx, size)
				return err
			}
			resp.Checkpoint, err = n.audit.Checkpoint(tx, size)
			if err == nil && badCheckpoint != nil {
				// A test build's node that auditors must refuse; nil otherwise.
				resp.Checkpoint, err = badCheckpoint(resp.Checkpoint)
			}
			return err
		})
	}
	return reply(s, resp, &resp.Error, err)
}

// forkedCheckpoint signs, for a custosfault build's lying node, a
// checkpoint of the log's size with another root than its tree's.
func (n *Node) forkedCheckpoint(tx *store.Tx, size int64) ([]byte, error) {
	root, err := n.audit.TreeHash(tx, size)
	if err != nil {
		return nil, err
	}
	raw, err := n.key.Raw()
	if err != nil {
		return nil, err
	}
	signer, err := api.NoteSigner(n.audit.Origin(), raw)
	if err != nil {
		return nil, err
	}
	return api.SignCheckpoint(api.Checkpoint{Origin: n.audit.Origin(), Size: size, Root: forkRoot(root)}, signer)
}

func (n *Node) entries(ctx context.Context, s network.Stream, r *api.Reader) error {
	var req api.EntriesRequest
	resp := &api.EntriesResponse{}
	err := n.read(r, &req)
	if err == nil {
		err = n.doEntries(s.Conn().RemotePeer(), &req, resp)
	}
	if err != nil {
		resp.Entries, resp.Proofs, resp.Checkpoint = nil, nil, nil
	}
	return reply(s, resp, &resp.Error, err)
}

// doEntries fills resp with one page of [req.Start, req.End): every entry
// for an auditor; for a user, their own and the restore entries, with their
// proofs. The page and its proofs are read in one snapshot with the
// checkpoint they prove against.
func (n *Node) doEntries(device peer.ID, req *api.EntriesRequest, resp *api.EntriesResponse) error {
	user := "" // "" for an auditor, who reads every entry
	if !n.auditors[device] {
		sess, err := n.auth.Session(device)
		if err != nil {
			return err
		}
		user = sess.User
	}
	return n.store.View(func(tx *store.Tx) error {
		size, err := n.audit.Size(tx)
		if err != nil {
			return err
		}
		if err := req.Validate(size); err != nil {
			return err
		}
		start, end := int64(req.Start), int64(req.End)
		if req.Limit > 0 {
			end = min(end, start+int64(req.Limit))
		}
		// Entries stops at audit.MaxEntries and audit.MaxEntriesBytes.
		page, err := n.audit.Entries(tx, start, end)
		if err != nil {
			return err
		}
		if resp.Checkpoint, err = n.audit.Checkpoint(tx, size); err != nil {
			return err
		}
		resp.Start, resp.Next = req.Start, req.Start+uint64(len(page))
		if user == "" {
			resp.Entries = page
			return nil
		}
		// A user's page holds at most the auditor's page, plus a proof per
		// entry: stop early when the proofs would push it past the cap.
		budget := audit.MaxEntriesBytes
		for i, b := range page {
			index := start + int64(i)
			e, err := api.ParseEntry(b)
			if err != nil {
				return fmt.Errorf("log entry %d: %w", index, err)
			}
			if !forUser(e, user) {
				continue
			}
			proof, err := n.audit.InclusionProof(tx, index, size)
			if err != nil {
				return err
			}
			if budget -= len(b) + len(proof)*proofHashSize; budget < 0 && len(resp.Entries) > 0 {
				resp.Next = uint64(index)
				break
			}
			resp.Entries = append(resp.Entries, b)
			resp.Proofs = append(resp.Proofs, &api.InclusionProof{Index: uint64(index), Hashes: api.ProofBytes(proof)})
		}
		return nil
	})
}

// forUser reports whether a user may read the log entry e: one of their
// own, or a restore entry.
func forUser(e *api.Entry, user string) bool {
	_, restore := api.RestoreOf(e)
	return e.User == user || restore
}

func (n *Node) proof(ctx context.Context, s network.Stream, r *api.Reader) error {
	var req api.ProofRequest
	resp := &api.ProofResponse{}
	err := n.read(r, &req)
	if err == nil {
		err = n.store.View(func(tx *store.Tx) error {
			size, err := n.audit.Size(tx)
			if err != nil {
				return err
			}
			if err := req.Validate(size); err != nil {
				return err
			}
			var proof []tlog.Hash
			switch q := req.Query.(type) {
			case *api.ProofRequest_Inclusion:
				proof, err = n.audit.InclusionProof(tx, int64(q.Inclusion.Index), int64(q.Inclusion.Size))
			case *api.ProofRequest_Consistency:
				proof, err = n.audit.ConsistencyProof(tx, int64(q.Consistency.OldSize), int64(q.Consistency.NewSize))
			default:
				// Validate refuses any other query.
				return fmt.Errorf("internal error: proof query %T", req.Query)
			}
			resp.Hashes = api.ProofBytes(proof)
			return err
		})
	}
	if err != nil {
		resp.Hashes = nil
	}
	return reply(s, resp, &resp.Error, err)
}
