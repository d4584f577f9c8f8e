package auditor_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/auditor"
	"github.com/custos-network/custos/node/nodetest"
)

// A real fork: a node's data directory is copied while it is stopped, the
// node runs on and is seen, and later the same identity runs on the copy,
// whose history then diverges from what was seen.

// snapshot stops node i, copies its data directory aside, and starts it
// again; rewind later runs the node on that copy.
func (n *auditNet) snapshot(i int) string {
	n.t.Helper()
	p := n.procs[i]
	p.Stop(n.t)
	snap := filepath.Join(n.t.TempDir(), "data")
	copyDir(n.t, p.Config.Path(p.Config.DataDir), snap)
	n.restart(i, nil)
	return snap
}

// rewind stops node i and starts it, with its identity, on a fresh copy of
// the data directory snap that snapshot saved.
func (n *auditNet) rewind(i int, snap string) {
	n.t.Helper()
	p := n.procs[i]
	p.Stop(n.t)
	data := p.Config.Path(p.Config.DataDir)
	if err := os.RemoveAll(data); err != nil {
		n.t.Fatal(err)
	}
	copyDir(n.t, snap, data)
	n.restart(i, nil)
}

// restart starts the stopped node i, with env, and logs the device in
// there again (the node listens on a new port, and kept no session).
func (n *auditNet) restart(i int, env []string) {
	n.t.Helper()
	p := n.procs[i]
	p.StartEnv(n.t, env)
	ctx := context.Background()
	info := p.Info(n.t)
	if err := n.dev.Connect(ctx, info); err != nil {
		n.t.Fatal(err)
	}
	if err := n.dev.Login(ctx, info.ID); err != nil {
		n.t.Fatal(err)
	}
}

// grow puts and releases units at node i until its log is larger than
// size, and returns its size.
func (n *auditNet) grow(i int, size int64) int64 {
	n.t.Helper()
	ctx := context.Background()
	for {
		st, err := n.procs[i].Admin().Status(ctx)
		if err != nil {
			n.t.Fatal(err)
		}
		if st.LogSize > size {
			return st.LogSize
		}
		u := nodetest.Unit()
		if _, err := n.dev.Put(ctx, n.ids[i], u, nodetest.Share()); err != nil {
			n.t.Fatal(err)
		}
		if _, err := n.dev.Release(ctx, n.ids[i], u); err != nil {
			n.t.Fatal(err)
		}
	}
}

// copyDir copies the regular files and directories under src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// A node that rewrites its history and then grows past the size the
// auditor recorded is inconsistent: only the consistency proof tells its
// larger tree from one that extends the recorded one. Without a restore
// entry in its log, the auditor cannot accept it as a restore.
func TestRewrittenHistoryGrownPastTheRecordIsInconsistent(t *testing.T) {
	n := startAuditNet(t)
	n.traffic()
	snap := n.snapshot(1)
	n.traffic()
	recorded := n.verify(n.key, false).Node("n2").Size
	statePath := filepath.Join(n.state, "n2.checkpoint")
	before, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}

	n.rewind(1, snap) // the same identity, on the older data directory
	if size := n.grow(1, recorded); size <= recorded {
		t.Fatalf("the rewritten log has size %d, not past the recorded %d", size, recorded)
	}
	rep := n.verify(n.key, false)
	wantOnly(t, rep, map[string]auditor.Kind{"n2": auditor.Inconsistent})
	if msg := rep.Node("n2").String(); !strings.Contains(msg, "does not extend the recorded size") {
		t.Errorf("report: %s", msg)
	}

	rep = n.verifyWith(n.key, auditor.Options{Accept: []string{"n2"}})
	wantOnly(t, rep, map[string]auditor.Kind{"n2": auditor.Inconsistent})
	if r := rep.Node("n2"); r.Accepted != nil || !strings.Contains(r.String(), "not accepted: its log of size") {
		t.Errorf("a fork without a restore entry: %s", r.String())
	}
	if after, err := os.ReadFile(statePath); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the recorded checkpoint changed (%v)", err)
	}
}

// A node that showed one user a log and shows the auditor a forked one is
// caught when the auditor checks the checkpoints the user's vault holds,
// though the auditor alone, having never seen the user's fork, sees
// nothing wrong. Reading the vault needs no password and writes nothing.
func TestUserSeenForkIsASplitView(t *testing.T) {
	n := startAuditNet(t)
	n.traffic()
	snap := n.snapshot(1)
	// Bob's vault pins the nodes' addresses: made after the restart.
	path := n.userVault(t, "bob")

	// Bob's unlock: every node answers (threshold 3 of 3), and his vault
	// keeps the receipts, with their checkpoints.
	c := openVault(t, path)
	if err := c.Unlock(context.Background(), []byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), "rec"); err != nil {
		t.Fatal(err)
	}
	var bobSaw int64
	receipts, err := c.Receipts()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range receipts {
		if r.Node == "n2" {
			bobSaw = max(bobSaw, sizeOf(t, r.Checkpoint))
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if bobSaw == 0 {
		t.Fatal("bob's vault holds no receipt of n2")
	}

	// n2 goes back to the copy and grows another history past what Bob
	// saw; the auditor's first look is at that history.
	n.rewind(1, snap)
	n.grow(1, bobSaw)
	wantOnly(t, n.verify(n.key, false), nil)

	vaultBefore := fileState(t, path)
	view, err := auditor.ReadVault(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fileState(t, path); got != vaultBefore {
		t.Errorf("reading the vault changed it or its journal: %q, was %q", got, vaultBefore)
	}
	rep := n.verifyWith(n.key, auditor.Options{User: view})
	wantOnly(t, rep, map[string]auditor.Kind{"n2": auditor.SplitView})
	for _, name := range []string{"n1", "n3"} {
		if r := rep.Node(name); r.UserCheckpoints == 0 {
			t.Errorf("%s: none of its checkpoints in the vault checked: %s", name, r)
		}
	}
	if len(rep.UserSkipped) != 0 {
		t.Errorf("skipped: %q", rep.UserSkipped)
	}
	// The auditor alone still sees nothing wrong.
	wantOnly(t, n.verify(n.key, false), nil)
}

// sizeOf reads the tree size of a checkpoint note's text, unverified.
func sizeOf(t *testing.T, note []byte) int64 {
	t.Helper()
	lines := strings.SplitN(string(note), "\n", 3)
	if len(lines) < 3 {
		t.Fatalf("checkpoint %q", note)
	}
	var size int64
	for _, c := range lines[1] {
		size = size*10 + int64(c-'0')
	}
	return size
}

// fileState is the vault's bytes and its journal's, for a test that
// nothing wrote to them.
func fileState(t *testing.T, path string) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{path, path + ".requests"} {
		data, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		info, _ := os.Stat(p)
		if info != nil {
			b.WriteString(info.ModTime().String())
		}
		b.Write(data)
	}
	return b.String()
}

const testPassword = "correct horse battery staple"

// userVault makes a vault for user on the network with threshold 3 (so
// that an unlock waits for, and keeps the receipt of, every node), enrolls
// it at every node, and puts a record "rec".
func (n *auditNet) userVault(t *testing.T, user string) string {
	t.Helper()
	var cards []*api.Card
	for _, p := range n.procs {
		c, err := p.Admin().Card(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		cards = append(cards, c)
	}
	nw, err := client.NewNetwork(3, cards)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), user+".vault")
	if err := client.Init(path, nw.Marshal(), user); err != nil {
		t.Fatal(err)
	}
	c := openVault(t, path)
	ctx := context.Background()
	open := map[string]string{} // the nodes enroll openly: no token
	for _, card := range nw.Nodes {
		open[card.Name] = ""
	}
	results, err := c.Enroll(ctx, []byte(testPassword), open)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.OK() {
			t.Fatalf("enroll: %v", results)
		}
	}
	if err := c.Unlock(ctx, []byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "rec", &client.Record{Username: "svc", Password: "s3cret"}, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// openVault opens the vault at path; it is closed when the test ends.
func openVault(t *testing.T, path string) *client.Client {
	t.Helper()
	c, err := client.Open(path, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
