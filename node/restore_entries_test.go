package node_test

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node"
	"github.com/custos-network/custos/node/nodetest"
)

// A logged-in user reads the node's restore entries beside their own, each
// with its inclusion proof: their client needs the entry to tell the
// node's restore from a backup from a fork of its log. Other users'
// entries, and other operator actions (the backup's own entry), stay
// hidden.
func TestUsersReadTheRestoreEntries(t *testing.T) {
	ctx := t.Context()
	n := nodetest.Start(t)
	alice, bob := loggedIn(t, n, "alice"), loggedIn(t, n, "bob")
	putUnits(t, n, alice, 2)
	putUnits(t, n, bob, 1)
	var backup bytes.Buffer
	if err := n.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	st, err := n.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	putUnits(t, n, alice, 2) // what the restore rolls back

	// The operator restores the backup into a new data directory, and the
	// node runs on it.
	cfg := *n.Config
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	done, err := node.RestoreWith(ctx, &cfg, bytes.NewReader(backup.Bytes()), node.RestoreOptions{}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	n.Config.DataDir = cfg.DataDir
	n.Restart(t)
	for _, d := range []*nodetest.Device{alice, bob} {
		if err := d.Connect(ctx, n.Info()); err != nil {
			t.Fatal(err)
		}
		if err := d.Login(ctx, n.ID()); err != nil {
			t.Fatal(err)
		}
	}
	putUnits(t, n, bob, 1)

	raw := rawLog(t, n)
	restoreAt := uint64(st.LogSize)
	if e, err := api.ParseEntry(raw[restoreAt]); err != nil || e.Admin != done.Entry {
		t.Fatalf("entry %d is not the restore's %q (%v)", restoreAt, done.Entry, err)
	}
	for _, d := range []*nodetest.Device{alice, bob} {
		t.Run(d.User, func(t *testing.T) {
			resp, err := fetchEntries(ctx, n, d, &api.EntriesRequest{Start: 0, End: uint64(len(raw))})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Next != uint64(len(raw)) || len(resp.Proofs) != len(resp.Entries) {
				t.Fatalf("next %d, %d entries, %d proofs", resp.Next, len(resp.Entries), len(resp.Proofs))
			}
			c := openCheckpoint(t, n, resp.Checkpoint)
			var want, got []uint64
			for i, b := range raw {
				if e, _ := api.ParseEntry(b); e.User == d.User || uint64(i) == restoreAt {
					want = append(want, uint64(i))
				}
			}
			for i, b := range resp.Entries {
				p := resp.Proofs[i]
				proof, err := toHashes(p.Hashes)
				if err != nil {
					t.Fatal(err)
				}
				if err := api.VerifyInclusion(proof, c.Size, c.Root, int64(p.Index), b); err != nil {
					t.Fatalf("entry %d: %v", p.Index, err)
				}
				got = append(got, p.Index)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s read the entries %v; want their own and the restore entry %d: %v", d.User, got, restoreAt, want)
			}
		})
	}
}
