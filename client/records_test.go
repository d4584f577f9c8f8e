package client_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/node/nodetest"
)

// A node restored from a backup made before a record was put no longer
// holds that record's share. When it answers NOT_FOUND for the share it
// had acknowledged (and proves it logged that answer), the client marks
// the record degraded in the vault, which custos ls and status show; the
// records put before the backup stay as they were.
func TestShareLostInARestoreMakesTheRecordDegraded(t *testing.T) {
	ctx := context.Background()
	tn := startNet(t, 3, 2, func(i int) ([]string, []nodetest.Option) {
		if i == 0 {
			return nil, []nodetest.Option{nodetest.Listen(freeTCP(t))}
		}
		return nil, nil
	})
	n1 := tn.nodes[0]
	c, path := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "acme-portal"); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "n1.backup")
	var b bytes.Buffer
	if err := n1.Admin().Backup(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(backup, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "globex-api", globex, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	// The operator restores n1 from the backup, into an empty data
	// directory, the old one moved aside.
	n1.Stop(t)
	data := n1.Config.Path(n1.Config.DataDir)
	if err := os.Rename(data, data+".old"); err != nil {
		t.Fatal(err)
	}
	restore := exec.Command(nodetest.Binary(t, "custosfault"), "restore", "--in", backup, "--config", n1.Path)
	if out, err := restore.CombinedOutput(); err != nil {
		t.Fatalf("custosd restore: %v\n%s", err, out)
	}
	n1.Start(t)

	degraded := func() map[string]bool {
		out := map[string]bool{}
		for _, u := range list(t, c) {
			out[u.Label] = u.Degraded
		}
		return out
	}
	// A get does not wait for the slowest node: ask until n1's answer
	// came in time to be read. n1's first answers are the slowest: it logs
	// in again (a counted evaluation, then the login, each durable) and
	// the client reads its log for the restore entry. On a loaded machine
	// the first request to n1 after its restart may fail, and a node that
	// failed is asked last for failCooldown (30 s): wait longer than that.
	for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline) && !degraded()["globex-api"]; {
		rec, err := c.Get(ctx, "globex-api")
		if err != nil {
			t.Fatalf("get with n1 restored: %v", err)
		}
		sameRecord(t, rec, globex)
	}
	if got := degraded(); !got["globex-api"] || got["acme-portal"] {
		t.Fatalf("degraded after n1's restore: %v; want globex-api only", got)
	}
	if _, err := c.Get(ctx, "acme-portal"); err != nil {
		t.Fatalf("a record put before the backup: %v", err)
	}

	// The vault on disk says so, and the changed unit is sealed again.
	h := closeAndOpen(t, c, path)
	v := h.Vault()
	u, _, err := h.Unit("globex-api")
	if err != nil {
		t.Fatal(err)
	}
	if !u.Degraded || u.Nodes[0].Name != "n1" || u.Nodes[0].Stored || !u.Nodes[1].Stored || !u.Nodes[2].Stored {
		t.Errorf("globex-api in the saved vault: degraded %v, nodes %+v; want n1 not storing", u.Degraded, u.Nodes)
	}
	if err := v.CheckUnit(u); err != nil {
		t.Errorf("the degraded unit: %v", err)
	}
}

// A record damaged in the vault (here its key commitment, edited by hand)
// is reported as such before any node is asked for it: no release is
// logged, no request recorded, and the other records still open.
func TestDamagedRecordIsReportedBeforeAnyNodeIsAsked(t *testing.T) {
	ctx := context.Background()
	tn := startNet(t, 3, 2, nil)
	c, path := tn.unlocked(t, "alice", client.Options{})
	for label, rec := range map[string]*client.Record{"acme-portal": acme, "globex-api": globex} {
		if err := c.Put(ctx, label, rec, client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// Flip a bit of acme-portal's key commitment, in its descriptor
	// (docs/vault.md): after the unit ID, version, threshold, node count
	// and the 3 nodes' entries.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		units := tx.Bucket([]byte("units"))
		desc := bytes.Clone(units.Get([]byte("acme-portal")))
		desc[16+8+2+3*37] ^= 1
		return units.Put([]byte("acme-portal"), desc)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	c = open(t, path, client.Options{})
	if err := c.Unlock(ctx, password); err != nil {
		t.Fatal(err)
	}
	logSizes := func() []int64 {
		var out []int64
		for _, p := range tn.nodes {
			out = append(out, status(t, p).LogSize)
		}
		return out
	}
	before := logSizes()
	reqs, _, err := c.Requests()
	if err != nil {
		t.Fatal(err)
	}

	rec, err := c.Get(ctx, "acme-portal")
	if rec != nil || !errors.Is(err, client.ErrDamagedRecord) {
		t.Fatalf("get of the damaged record: %v; want ErrDamagedRecord", err)
	}
	if _, err := c.GetMany(ctx, []string{"globex-api", "acme-portal"}); !errors.Is(err, client.ErrDamagedRecord) {
		t.Fatalf("get of both records: %v; want ErrDamagedRecord", err)
	}
	if err := c.Delete(ctx, "acme-portal"); !errors.Is(err, client.ErrDamagedRecord) {
		t.Fatalf("rm of the damaged record: %v; want ErrDamagedRecord", err)
	}
	if after := logSizes(); !slices.Equal(after, before) {
		t.Errorf("the nodes' logs grew from %v to %v: a node was asked", before, after)
	}
	if again, _, _ := c.Requests(); len(again) != len(reqs) {
		t.Errorf("%d release requests recorded for a damaged record", len(again)-len(reqs))
	}
	if got := tn.shareCounts(t); !slices.Equal(got, []int{2, 2, 2}) {
		t.Errorf("shares at the nodes: %v; want both records' still there", got)
	}

	rec, err = c.Get(ctx, "globex-api")
	if err != nil {
		t.Fatalf("the other record: %v", err)
	}
	sameRecord(t, rec, globex)
}
