package node_test

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/nodetest"
)

// checkReceipt verifies r as a client does: the checkpoint with the node's
// key, the entry's inclusion in it, and that the entry is req's release, or
// req's refusal as a whole (which names no units).
func checkReceipt(t *testing.T, n *nodetest.InProcess, d *nodetest.Device, req *api.ReleaseRequest, r *api.Receipt) *api.Entry {
	t.Helper()
	if r == nil {
		t.Fatal("the answer has no receipt")
	}
	c := openCheckpoint(t, n, r.Checkpoint)
	proof := make(tlog.RecordProof, len(r.Proof))
	for i, h := range r.Proof {
		if len(h) != tlog.HashSize {
			t.Fatalf("proof hash %d is %d bytes", i, len(h))
		}
		copy(proof[i][:], h)
	}
	if err := api.VerifyInclusion(proof, c.Size, c.Root, int64(r.Index), r.Entry); err != nil {
		t.Fatalf("the receipt's inclusion proof: %v", err)
	}
	e, err := api.ParseEntry(r.Entry)
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != api.EntryKind_RELEASE || !bytes.Equal(e.ClientPeerId, []byte(d.Host.ID())) || !bytes.Equal(e.RequestNonce, req.Nonce) {
		t.Fatalf("the receipt's entry is a %s by another request", e.Kind)
	}
	if e.Outcome != api.Code_OK && len(e.Units) == 0 && len(e.Refusals) == 0 {
		return e
	}
	if len(e.Units) != len(req.Units) || !bytes.Equal(e.Units[0].UnitId, req.Units[0].UnitId) {
		t.Fatal("the receipt's entry names other units")
	}
	return e
}

func TestReleaseReceipts(t *testing.T) {
	e := newEnv(t)
	t.Run("a release answer's receipt proves its entry", func(t *testing.T) {
		req := signed(e.alice, e.n.ID(), time.Now(), e.unit)
		resp, err := e.release(e.alice, req)
		if err != nil || len(resp.Shares) != 1 || !bytes.Equal(resp.Shares[0].Share, e.share) {
			t.Fatalf("release: %v", err)
		}
		if resp.Receipt.GetIndex() != resp.LogIndex {
			t.Fatalf("the receipt is of entry %d, the release of %d", resp.Receipt.GetIndex(), resp.LogIndex)
		}
		if got := checkReceipt(t, e.n, e.alice, req, resp.Receipt); got.Outcome != api.Code_OK || len(got.Refusals) != 0 {
			t.Fatalf("the entry records %s, want a release", got.Outcome)
		}
	})
	t.Run("a logged refusal carries a receipt too", func(t *testing.T) {
		req := signed(e.alice, e.n.ID(), time.Now().Add(-6*time.Minute), e.unit)
		resp, err := e.release(e.alice, req)
		if err == nil || len(resp.Shares) != 0 {
			t.Fatal("a request from a clock 6 minutes off was not refused")
		}
		if got := checkReceipt(t, e.n, e.alice, req, resp.Receipt); got.Outcome != api.Code_INVALID_ARGUMENT {
			t.Fatalf("the entry records %s, want the refusal", got.Outcome)
		}
	})
}
