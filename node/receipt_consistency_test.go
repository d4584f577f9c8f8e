package node_test

import (
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
)

// A release receipt proves its checkpoint consistent with the checkpoint
// the client says it holds (known_size), so that a client can tell a node
// that shows it a forked log; without a known size, or with one beyond the
// log, it carries no such proof.
func TestReleaseReceiptProvesConsistencyWithTheKnownSize(t *testing.T) {
	e := newEnv(t)
	first, err := e.release(e.alice, signed(e.alice, e.n.ID(), time.Now(), e.unit))
	if err != nil {
		t.Fatal(err)
	}
	known := openCheckpoint(t, e.n, first.Receipt.Checkpoint)
	if len(first.Receipt.Consistency) != 0 {
		t.Fatalf("a receipt for no known size has a consistency proof of %d hashes", len(first.Receipt.Consistency))
	}
	for range 3 {
		if _, err := e.release(e.alice, signed(e.alice, e.n.ID(), time.Now(), e.unit)); err != nil {
			t.Fatal(err)
		}
	}

	req := signed(e.alice, e.n.ID(), time.Now(), e.unit)
	req.KnownSize = uint64(known.Size)
	resp, err := e.release(e.alice, req)
	if err != nil {
		t.Fatal(err)
	}
	checkReceipt(t, e.n, e.alice, req, resp.Receipt)
	now := openCheckpoint(t, e.n, resp.Receipt.Checkpoint)
	proof := make(tlog.TreeProof, len(resp.Receipt.Consistency))
	for i, h := range resp.Receipt.Consistency {
		if len(h) != tlog.HashSize {
			t.Fatalf("consistency hash %d is %d bytes", i, len(h))
		}
		copy(proof[i][:], h)
	}
	if now.Size <= known.Size || len(proof) == 0 {
		t.Fatalf("a checkpoint of size %d with %d proof hashes after one of size %d", now.Size, len(proof), known.Size)
	}
	if err := api.VerifyConsistency(proof, known.Size, known.Root, now.Size, now.Root); err != nil {
		t.Fatalf("the receipt's consistency proof: %v", err)
	}

	req = signed(e.alice, e.n.ID(), time.Now(), e.unit)
	req.KnownSize = 1 << 40
	resp, err = e.release(e.alice, req)
	if err != nil {
		t.Fatalf("a release with a known size beyond the log: %v", err)
	}
	if len(resp.Shares) != 1 || len(resp.Receipt.GetConsistency()) != 0 {
		t.Fatalf("a release with a known size beyond the log: %d shares, %d proof hashes; want the share and no proof", len(resp.Shares), len(resp.Receipt.GetConsistency()))
	}
	if got := checkReceipt(t, e.n, e.alice, req, resp.Receipt); got.Outcome != api.Code_OK {
		t.Fatalf("the entry records %s", got.Outcome)
	}
}
