package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/node/nodetest"
)

// A node shows a user one branch of a forked log and then the other: its
// data directory was copied while it was stopped, it ran on, and later a
// process with its identity ran on the copy, so that each history has
// other entries at the same indexes. The client that verified a checkpoint
// of the first branch names the node when it is shown the second, and does
// not use its shares; the other nodes still give the record back.
//
// An unlock stops waiting once enough nodes answered, so each step that
// needs n1's answer stops another node first: n1 is then part of every
// threshold. The nodes keep their addresses across restarts.
func TestNodeShowingAForkedLogIsNamed(t *testing.T) {
	ctx := context.Background()
	addrs := []string{freeTCP(t), freeTCP(t), freeTCP(t)}
	tn := startNet(t, 3, 2, func(i int) ([]string, []nodetest.Option) {
		return nil, []nodetest.Option{nodetest.Listen(addrs[i])}
	})
	n1, n2, n3 := tn.nodes[0], tn.nodes[1], tn.nodes[2]
	log, logs := observed()
	alice, _ := tn.unlocked(t, "alice", client.Options{Logger: log})
	bob, _ := tn.unlocked(t, "bob", client.Options{})
	if err := alice.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := bob.Put(ctx, "bob-record", globex, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	// The copy: n1 stopped, its data directory taken as it is.
	n1.Stop(t)
	data := n1.Config.Path(n1.Config.DataDir)
	snapshot := filepath.Join(t.TempDir(), "n1-data")
	copyDir(t, data, snapshot)
	n1.Start(t)
	copied := status(t, n1).LogSize

	// Branch A, with n3 stopped: alice's releases at n1 and n2, and her
	// vault keeps a checkpoint of n1 beyond the copy.
	n3.Stop(t)
	for range 3 {
		if _, err := alice.Get(ctx, "acme-portal"); err != nil {
			t.Fatal(err)
		}
	}
	// A history read checks n1's checkpoint against the kept one too, and
	// keeps the newer.
	before := status(t, n1).LogSize
	if _, failed, err := alice.History(ctx, ""); err != nil || len(failed) > 1 {
		t.Fatalf("history on branch A: %v %v", err, failed)
	}
	seen := keptSize(t, alice, "n1")
	if seen <= copied || seen < before {
		t.Fatalf("alice keeps n1's checkpoint of size %d; want at least the log's size %d before the history read, beyond the copy's %d", seen, before, copied)
	}
	keptA := checkpointOf(alice, "n1")

	// Branch B: n1's identity on the copy, where bob's releases (n3 still
	// stopped) take the indexes that alice's took on branch A, and more.
	n1.Stop(t)
	if err := os.Rename(data, data+".branch-a"); err != nil {
		t.Fatal(err)
	}
	copyDir(t, snapshot, data)
	n1.Start(t)
	for status(t, n1).LogSize <= seen+2 {
		if _, err := bob.Get(ctx, "bob-record"); err != nil {
			t.Fatal(err)
		}
	}

	// Alice is shown branch B. With n3 stopped n1 would have to make up
	// the threshold: it is named, its shares are not used, and no record
	// opens; its receipt is kept as evidence of the fork.
	rec, err := alice.Get(ctx, "acme-portal")
	if rec != nil {
		t.Fatal("a record opened with the share of a node showing a fork")
	}
	_, named := quorumError(t, err)
	if !errors.Is(named["n1"], client.ErrForkedLog) {
		t.Errorf("n1: %v, want ErrForkedLog", named["n1"])
	}
	if named["n2"] != nil {
		t.Errorf("n2, an honest node, is named: %v", named["n2"])
	}
	if !namedIn(logs, "n1", client.ErrForkedLog) {
		t.Error("no warning names n1 as showing a forked log")
	}
	if !bytes.Equal(checkpointOf(alice, "n1"), keptA) {
		t.Error("the vault no longer keeps the checkpoint of branch A")
	}
	if proof := evidenceOf(t, alice, "n1"); len(proof) == 0 || proof[0].Evidence != vault.EvidenceFork {
		t.Errorf("evidence of n1: %+v, want its receipt of branch B kept as a fork", proof)
	}
	_, failed, err := alice.History(ctx, "")
	if err != nil || len(failed) != 2 || !errors.Is(nodeErr(failed, "n1"), client.ErrForkedLog) {
		t.Errorf("history on branch B: %v, failed %v; want n1 named as a fork (and n3 down)", err, failed)
	}

	// With n3 back, the record comes from n2 and n3, and n1 stays named.
	n3.Start(t)
	n2.Stop(t)
	rec, err = alice.Get(ctx, "acme-portal")
	if rec != nil {
		t.Fatal("a record opened with n1's share while n2 is down")
	}
	if _, named := quorumError(t, err); !errors.Is(named["n1"], client.ErrForkedLog) || named["n3"] != nil {
		t.Errorf("with n2 down: %v; want only n1 named, as a fork", err)
	}
	n2.Start(t)
	rec, err = alice.Get(ctx, "acme-portal")
	if err != nil {
		t.Fatalf("get from n2 and n3 with n1 showing a fork: %v", err)
	}
	sameRecord(t, rec, acme)
}

// nodeErr is the error failed names node with, or nil.
func nodeErr(failed []*client.NodeError, node string) error {
	for _, f := range failed {
		if f.Node == node {
			return f.Err
		}
	}
	return nil
}

// freeTCP is a TCP multiaddr on 127.0.0.1 at a port free just now.
func freeTCP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", l.Addr().(*net.TCPAddr).Port)
}

// copyDir copies the regular files of a directory tree.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkpointOf is the checkpoint c's vault keeps of node, or nil.
func checkpointOf(c *client.Client, node string) []byte {
	for _, cp := range c.Checkpoints() {
		if cp.Node == node {
			return cp.Checkpoint
		}
	}
	return nil
}

// keptSize is the tree size of the checkpoint c's vault keeps of node, 0
// for none. The size is the note's second line.
func keptSize(t *testing.T, c *client.Client, node string) int64 {
	t.Helper()
	cp := checkpointOf(c, node)
	if cp == nil {
		return 0
	}
	lines := bytes.SplitN(cp, []byte("\n"), 3)
	size, err := strconv.ParseInt(string(lines[1]), 10, 64)
	if err != nil {
		t.Fatalf("the kept checkpoint of %s: %v", node, err)
	}
	return size
}

// Two requests of one client in flight at a node that shows each its own
// branch of a forked log: each answer's checkpoint extends the one the
// vault kept when it was sent, but the second to arrive must also be
// proven consistent with the one the first made the vault keep.
func TestConcurrentRequestsShownTwoBranchesNameTheFork(t *testing.T) {
	ctx := context.Background()
	addrs := []string{freeTCP(t), freeTCP(t), freeTCP(t)}
	tn := startNet(t, 3, 2, func(i int) ([]string, []nodetest.Option) {
		return nil, []nodetest.Option{nodetest.Listen(addrs[i])}
	})
	n1, n3 := tn.nodes[0], tn.nodes[2]
	alice, _ := tn.unlocked(t, "alice", client.Options{})
	bob, _ := tn.unlocked(t, "bob", client.Options{})
	if err := alice.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := bob.Put(ctx, "bob-record", globex, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	n3.Stop(t) // every get needs n1

	// The common past: what alice's vault keeps of n1 when both requests
	// are sent.
	if _, err := alice.Get(ctx, "acme-portal"); err != nil {
		t.Fatal(err)
	}
	sent := checkpointOf(alice, "n1")
	n1.Stop(t)
	data := n1.Config.Path(n1.Config.DataDir)
	snapshot := filepath.Join(t.TempDir(), "n1-data")
	copyDir(t, data, snapshot)

	// Branch A: the first answer, which alice's vault keeps.
	n1.Start(t)
	if _, err := alice.Get(ctx, "acme-portal"); err != nil {
		t.Fatal(err)
	}
	branchA := checkpointOf(alice, "n1")
	if bytes.Equal(branchA, sent) {
		t.Fatal("the vault kept no newer checkpoint of n1")
	}

	// Branch B, on the copy, grown past A: the second answer's checkpoint,
	// as bob's vault kept it.
	n1.Stop(t)
	if err := os.Rename(data, data+".branch-a"); err != nil {
		t.Fatal(err)
	}
	copyDir(t, snapshot, data)
	n1.Start(t)
	for range 3 {
		if _, err := bob.Get(ctx, "bob-record"); err != nil {
			t.Fatal(err)
		}
	}
	branchB := checkpointOf(bob, "n1")

	kept, err := alice.AdvanceCheckpoint(ctx, "n1", sent, branchB)
	if kept || !errors.Is(err, client.ErrForkedLog) {
		t.Fatalf("the second branch's checkpoint: kept %v, %v; want ErrForkedLog", kept, err)
	}
	if !bytes.Equal(checkpointOf(alice, "n1"), branchA) {
		t.Error("the vault no longer keeps the first branch's checkpoint")
	}
}
