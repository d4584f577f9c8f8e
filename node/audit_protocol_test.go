package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// auditorNode starts a node whose one auditor is a fresh device, connected
// to it, with alice enrolled, logged in and holding a few units.
func auditorNode(t *testing.T) (*nodetest.InProcess, *nodetest.Device) {
	t.Helper()
	auditor := nodetest.NewDevice(t, "auditor")
	n := nodetest.Start(t, func(c *config.Config) { c.Auditors = []string{auditor.Host.ID().String()} })
	if err := auditor.Connect(t.Context(), n.Info()); err != nil {
		t.Fatal(err)
	}
	alice := loggedIn(t, n, "alice")
	putUnits(t, n, alice, 3)
	return n, auditor
}

// nodeKey is the node's identity key, as its peer ID embeds it.
func nodeKey(t *testing.T, n *nodetest.InProcess) ed25519.PublicKey {
	t.Helper()
	pub, err := n.ID().ExtractPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := pub.Raw()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// fetchCheckpoint gets the node's checkpoint and verifies it.
func fetchCheckpoint(t *testing.T, n *nodetest.InProcess, d *nodetest.Device) api.Checkpoint {
	t.Helper()
	var resp api.CheckpointResponse
	if err := d.Call(t.Context(), n.ID(), api.ProtocolCheckpoint, &api.CheckpointRequest{}, &resp); err != nil {
		t.Fatal(err)
	}
	if err := api.FromProto(resp.Error); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	return openCheckpoint(t, n, resp.Checkpoint)
}

func openCheckpoint(t *testing.T, n *nodetest.InProcess, signed []byte) api.Checkpoint {
	t.Helper()
	c, err := api.OpenCheckpoint(signed, api.LogOrigin(n.Config.Name), nodeKey(t, n))
	if err != nil {
		t.Fatalf("open the node's checkpoint: %v", err)
	}
	return c
}

func fetchEntries(ctx context.Context, n *nodetest.InProcess, d *nodetest.Device, req *api.EntriesRequest) (*api.EntriesResponse, error) {
	resp := &api.EntriesResponse{}
	if err := d.Call(ctx, n.ID(), api.ProtocolEntries, req, resp); err != nil {
		return nil, err
	}
	return resp, api.FromProto(resp.Error)
}

func fetchProof(ctx context.Context, n *nodetest.InProcess, d *nodetest.Device, req *api.ProofRequest) ([]tlog.Hash, error) {
	var resp api.ProofResponse
	if err := d.Call(ctx, n.ID(), api.ProtocolProof, req, &resp); err != nil {
		return nil, err
	}
	if err := api.FromProto(resp.Error); err != nil {
		return nil, err
	}
	return toHashes(resp.Hashes)
}

func toHashes(bs [][]byte) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(bs))
	for i, b := range bs {
		if len(b) != tlog.HashSize {
			return nil, api.Errorf(api.Code_INTERNAL, "a proof hash is %d bytes", len(b))
		}
		copy(out[i][:], b)
	}
	return out, nil
}

func inclusion(index, size int64) *api.ProofRequest {
	return &api.ProofRequest{Query: &api.ProofRequest_Inclusion{Inclusion: &api.InclusionQuery{Index: uint64(index), Size: uint64(size)}}}
}

func consistency(oldSize, newSize int64) *api.ProofRequest {
	return &api.ProofRequest{Query: &api.ProofRequest_Consistency{Consistency: &api.ConsistencyQuery{OldSize: uint64(oldSize), NewSize: uint64(newSize)}}}
}

// treeRoot recomputes the RFC 6962 root of entries, as an auditor does.
func treeRoot(t *testing.T, entries [][]byte) tlog.Hash {
	t.Helper()
	var stored []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, e := range entries {
		hs, err := tlog.StoredHashes(int64(i), e, r)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	root, err := tlog.TreeHash(int64(len(entries)), r)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// readAll reads [0, end) page by page, limit entries a request (0 for the
// node's page size), checking that each page starts where the last stopped.
func readAll(t *testing.T, n *nodetest.InProcess, d *nodetest.Device, end int64, limit uint32) (entries [][]byte, pages int) {
	t.Helper()
	for next := uint64(0); next < uint64(end); pages++ {
		resp, err := fetchEntries(t.Context(), n, d, &api.EntriesRequest{Start: next, End: uint64(end), Limit: limit})
		if err != nil {
			t.Fatalf("entries from %d: %v", next, err)
		}
		got := uint64(len(resp.Entries))
		if resp.Start != next || resp.Next != next+got || got == 0 || (limit > 0 && got > uint64(limit)) {
			t.Fatalf("entries from %d, limit %d: start %d, next %d, %d entries", next, limit, resp.Start, resp.Next, got)
		}
		if len(resp.Proofs) != 0 {
			t.Fatalf("an auditor got %d proofs; want none", len(resp.Proofs))
		}
		entries = append(entries, resp.Entries...)
		next = resp.Next
	}
	return entries, pages
}

func TestAuditCheckpointVerifies(t *testing.T) {
	n := nodetest.Start(t)
	loggedIn(t, n, "alice")
	stranger := device(t, n, "stranger")
	c := fetchCheckpoint(t, n, stranger)
	raw := rawLog(t, n)
	if c.Size != int64(len(raw)) || c.Root != treeRoot(t, raw) {
		t.Fatalf("checkpoint of size %d does not match the node's log of %d entries", c.Size, len(raw))
	}
}

func TestAuditorReadsTheWholeLog(t *testing.T) {
	n, auditor := auditorNode(t)
	c := fetchCheckpoint(t, n, auditor)
	all, pages := readAll(t, n, auditor, c.Size, 0)
	if pages != 1 {
		t.Errorf("a log of %d entries came in %d pages; want 1", c.Size, pages)
	}
	if treeRoot(t, all) != c.Root {
		t.Fatal("the root of the entries an auditor read does not match the checkpoint")
	}
	for i, b := range rawLog(t, n)[:c.Size] {
		if !bytes.Equal(all[i], b) {
			t.Fatalf("entry %d as read differs from the stored one", i)
		}
	}

	t.Run("paging with a small page cap", func(t *testing.T) {
		paged, pages := readAll(t, n, auditor, c.Size, 2)
		if want := int(c.Size+1) / 2; pages != want {
			t.Errorf("%d entries came in %d pages of 2; want %d", c.Size, pages, want)
		}
		if treeRoot(t, paged) != c.Root {
			t.Fatal("the root of the paged entries does not match the checkpoint")
		}
	})

	t.Run("inclusion proofs verify", func(t *testing.T) {
		for i := range c.Size {
			proof, err := fetchProof(t.Context(), n, auditor, inclusion(i, c.Size))
			if err != nil {
				t.Fatalf("inclusion proof of %d: %v", i, err)
			}
			if err := api.VerifyInclusion(proof, c.Size, c.Root, i, all[i]); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("consistency proofs verify", func(t *testing.T) {
		// The log grows meanwhile: the checkpoint is older than the head.
		loggedIn(t, n, "bob")
		now := fetchCheckpoint(t, n, auditor)
		if now.Size <= c.Size {
			t.Fatalf("the log did not grow: %d then %d entries", c.Size, now.Size)
		}
		for old := range c.Size + 1 {
			proof, err := fetchProof(t.Context(), n, auditor, consistency(old, now.Size))
			if err != nil {
				t.Fatalf("consistency proof %d to %d: %v", old, now.Size, err)
			}
			if err := api.VerifyConsistency(proof, old, treeRoot(t, all[:old]), now.Size, now.Root); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestUsersReadOnlyTheirOwnEntries(t *testing.T) {
	n := nodetest.Start(t)
	alice, bob := loggedIn(t, n, "alice"), loggedIn(t, n, "bob")
	putUnits(t, n, alice, 2)
	putUnits(t, n, bob, 2)
	// A refused release is logged too, about alice.
	if _, err := alice.Release(t.Context(), n.ID(), nodetest.Unit()); err != nil {
		t.Fatal(err)
	}
	raw := rawLog(t, n)
	for _, d := range []*nodetest.Device{alice, bob} {
		t.Run(d.User, func(t *testing.T) {
			resp, err := fetchEntries(t.Context(), n, d, &api.EntriesRequest{Start: 0, End: uint64(len(raw))})
			if err != nil {
				t.Fatal(err)
			}
			c := openCheckpoint(t, n, resp.Checkpoint)
			if resp.Next != uint64(len(raw)) || len(resp.Proofs) != len(resp.Entries) {
				t.Fatalf("next %d, %d entries and %d proofs; want next %d, a proof per entry", resp.Next, len(resp.Entries), len(resp.Proofs), len(raw))
			}
			want := 0
			for _, b := range raw {
				if e, _ := api.ParseEntry(b); e.User == d.User {
					want++
				}
			}
			if len(resp.Entries) != want || want == 0 {
				t.Fatalf("%s read %d entries; the log holds %d about them", d.User, len(resp.Entries), want)
			}
			for i, b := range resp.Entries {
				e, err := api.ParseEntry(b)
				if err != nil {
					t.Fatal(err)
				}
				if e.User != d.User {
					t.Fatalf("%s read an entry about %q", d.User, e.User)
				}
				p := resp.Proofs[i]
				proof, err := toHashes(p.Hashes)
				if err != nil {
					t.Fatal(err)
				}
				if err := api.VerifyInclusion(proof, c.Size, c.Root, int64(p.Index), b); err != nil {
					t.Fatalf("entry at %d: %v", p.Index, err)
				}
				if !bytes.Equal(raw[p.Index], b) {
					t.Fatalf("entry at %d is not the stored one", p.Index)
				}
			}
		})
	}
}

func TestUnknownPeerReadsNoEntries(t *testing.T) {
	n, _ := auditorNode(t)
	stranger := device(t, n, "stranger")
	enrolled := device(t, n, "carol") // enrolled, not logged in
	if err := enrolled.Enroll(t.Context(), n.ID(), ""); err != nil {
		t.Fatal(err)
	}
	c := fetchCheckpoint(t, n, stranger)
	for _, d := range []*nodetest.Device{stranger, enrolled} {
		resp, err := fetchEntries(t.Context(), n, d, &api.EntriesRequest{Start: 0, End: uint64(c.Size)})
		if !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
			t.Fatalf("%s reading entries: %v; want UNAUTHENTICATED", d.User, err)
		}
		if resp != nil && (len(resp.Entries) != 0 || len(resp.Proofs) != 0 || len(resp.Checkpoint) != 0) {
			t.Fatalf("%s was refused entries but got %d of them", d.User, len(resp.Entries))
		}
	}
	proof, err := fetchProof(t.Context(), n, stranger, consistency(1, c.Size))
	if err != nil {
		t.Fatalf("a stranger asking a consistency proof: %v", err)
	}
	first := rawLog(t, n)[0]
	if err := api.VerifyConsistency(proof, 1, tlog.RecordHash(first), c.Size, c.Root); err != nil {
		t.Fatal(err)
	}
	proof, err = fetchProof(t.Context(), n, stranger, inclusion(0, c.Size))
	if err != nil {
		t.Fatalf("a stranger asking an inclusion proof: %v", err)
	}
	if err := api.VerifyInclusion(proof, c.Size, c.Root, 0, first); err != nil {
		t.Fatal(err)
	}
}

func TestAuditRequestsOutOfBounds(t *testing.T) {
	n, auditor := auditorNode(t)
	size := fetchCheckpoint(t, n, auditor).Size
	// The log may grow by a few entries meanwhile; far stays beyond it.
	far := size + 1000
	entriesCases := []struct {
		name       string
		start, end int64
	}{
		{"an empty range is refused", 1, 1},
		{"a reversed range is refused", 2, 1},
		{"a range beyond the log is refused", 0, far},
		{"a range at the uint64 limit is refused", 0, -1},
	}
	for _, tc := range entriesCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fetchEntries(t.Context(), n, auditor, &api.EntriesRequest{Start: uint64(tc.start), End: uint64(tc.end)})
			if !nodetest.IsCode(err, api.Code_INVALID_ARGUMENT) {
				t.Fatalf("got %v; want INVALID_ARGUMENT", err)
			}
		})
	}
	proofCases := []struct {
		name string
		req  *api.ProofRequest
	}{
		{"inclusion at the tree size is refused", inclusion(size, size)},
		{"inclusion in a tree beyond the log is refused", inclusion(0, far)},
		{"inclusion in the empty tree is refused", inclusion(0, 0)},
		{"consistency from a larger size is refused", consistency(2, 1)},
		{"consistency to a size beyond the log is refused", consistency(1, far)},
		{"consistency to a huge size is refused", consistency(1, 1<<62)},
		{"a request naming no proof is refused", &api.ProofRequest{}},
		{"an inclusion query left empty is refused", &api.ProofRequest{Query: &api.ProofRequest_Inclusion{}}},
	}
	for _, tc := range proofCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fetchProof(t.Context(), n, auditor, tc.req)
			if !nodetest.IsCode(err, api.Code_INVALID_ARGUMENT) {
				t.Fatalf("got %v; want INVALID_ARGUMENT", err)
			}
		})
	}
}
