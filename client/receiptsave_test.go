package client_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
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
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := vault.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
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
