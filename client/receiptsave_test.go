package client_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/custos-network/custos/client"
)

// The receipts of every unlock reach the disk by Close, those that a save
// in the background took (the 64th unlock starts one) and those after it,
// with the newest checkpoint of each node.
func TestReceiptsOfEveryUnlockAreOnDiskAfterClose(t *testing.T) {
	tn := startNet(t, 5, 3, nil)
	c, path := tn.unlocked(t, "alice", client.Options{})
	ctx := context.Background()
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	const gets = 70
	for range gets {
		rec, err := c.Get(ctx, "acme-portal")
		if err != nil {
			t.Fatal(err)
		}
		rec.Wipe()
	}
	kept := c.Checkpoints()
	h := closeAndOpen(t, c, path)
	rs, err := h.Receipts()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) < 3*gets {
		t.Errorf("%d receipts on disk after %d gets of a record of threshold 3", len(rs), gets)
	}
	for _, cp := range kept {
		if !bytes.Equal(h.Vault().Checkpoint(cp.Node), cp.Checkpoint) {
			t.Errorf("the checkpoint of %s on disk is not the newest the client kept", cp.Node)
		}
	}
}
