package auditor_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/auditor"
	"github.com/custos-network/custos/node/audit"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
	"github.com/custos-network/custos/node/store"
)

// A node restored from a backup (custosd backup, more entries, custosd
// restore) rolls back below what the auditor recorded. The auditor accepts
// it, once, from the restore entry in its log: the node's checkpoint
// becomes the new base, the replaced one is kept and shown by later runs,
// and the node is audited as before from there on.
func TestAcceptedRestoreBecomesTheNewBase(t *testing.T) {
	n := startAuditNet(t)
	n.traffic()
	p := n.procs[1]
	ctx := context.Background()
	backup := filepath.Join(t.TempDir(), "n2.backup")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Admin().Backup(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := p.Admin().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	backupSize := st.LogSize // the backup holds its own entry

	// Twice: the restored log, with its restore entry and the login
	// after the restart (an evaluation and a login entry), stays below
	// the recorded size, so that the auditor sees a rollback.
	n.traffic()
	n.traffic()
	recorded := n.verify(n.key, false).Node("n2").Size
	if recorded <= backupSize {
		t.Fatalf("recorded size %d, backup size %d", recorded, backupSize)
	}

	p.Stop(t)
	data := p.Config.Path(p.Config.DataDir)
	if err := os.Rename(data, data+".old"); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(nodetest.Binary(t), "restore", "--in", backup, "--config", p.Path).CombinedOutput(); err != nil {
		t.Fatalf("custosd restore: %v\n%s", err, out)
	}
	wantRestoreEntry(t, p, backupSize)
	n.restart(1, nil)

	rep := n.verify(n.key, false)
	wantOnly(t, rep, map[string]auditor.Kind{"n2": auditor.Rollback})

	rep = n.verifyWith(n.key, auditor.Options{Accept: []string{"n2"}})
	wantOnly(t, rep, nil)
	r := rep.Node("n2")
	if a := r.Accepted; a == nil || a.Entry != backupSize || a.ReplacedSize != recorded || a.Size != r.Size ||
		!strings.HasPrefix(a.Admin, fmt.Sprintf("restore: backup of log size %d", backupSize)) {
		t.Fatalf("accepted: %+v", a)
	}
	if !strings.Contains(r.String(), fmt.Sprintf("restore accepted: the restore at entry %d replaced the recorded size %d", backupSize, recorded)) {
		t.Errorf("report: %s", r)
	}

	// From the new base on, the node is audited as before, and the
	// restore is shown.
	n.traffic()
	rep = n.verify(n.key, true)
	wantOnly(t, rep, nil)
	r = rep.Node("n2")
	if len(r.Restores) != 1 || r.Accepted != nil || r.Restores[0].ReplacedSize != recorded ||
		!strings.Contains(r.String(), "restores accepted before: 1, the last: the restore at entry") {
		t.Errorf("a later run: %s", r)
	}
	if _, err := api.OpenCheckpoint(r.Restores[0].Replaced, api.LogOrigin("n2"), pinnedKey(t, n, 1)); err != nil {
		t.Errorf("the replaced checkpoint kept: %v", err)
	}

	// Accepting again finds nothing to accept, and keeps one restore.
	rep = n.verifyWith(n.key, auditor.Options{Accept: []string{"n2"}})
	wantOnly(t, rep, nil)
	if r := rep.Node("n2"); r.Accepted != nil || len(r.Restores) != 1 {
		t.Errorf("accepting again: %s", r)
	}

	// The kept checkpoint is checked each run: one changed in the state
	// directory is refused.
	path := filepath.Join(n.state, "n2.restores")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The note's size line, as JSON escapes it.
	size := fmt.Sprintf(`\n%d\n`, recorded)
	if !bytes.Contains(b, []byte(size)) {
		t.Fatalf("%s does not hold the replaced size line %s", path, size)
	}
	b = bytes.Replace(b, []byte(size), []byte(fmt.Sprintf(`\n%d\n`, recorded+1)), 1)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	wantOnly(t, n.verify(n.key, false), map[string]auditor.Kind{"n2": auditor.StateError})
}

// wantRestoreEntry checks that custosd restore appended its restore entry
// to the restored log of node p, at index backupSize.
func wantRestoreEntry(t *testing.T, p *nodetest.Process, backupSize int64) {
	t.Helper()
	withLog(t, p, func(tx *store.Tx, l *audit.Log) error {
		size, err := l.Size(tx)
		if err != nil {
			return err
		}
		if size != backupSize+1 {
			return fmt.Errorf("the restored log has size %d, want the backup's %d and one restore entry", size, backupSize)
		}
		b, err := tx.LogEntry(backupSize)
		if err != nil {
			return err
		}
		e, err := api.ParseEntry(b)
		if err != nil || e.Kind != api.EntryKind_ADMIN || e.Admin != fmt.Sprintf("restore: backup of log size %d", backupSize) {
			return fmt.Errorf("the entry after the restored log is not its restore entry (%v)", err)
		}
		return nil
	})
}

// pinnedKey is node i's public key, from its peer ID.
func pinnedKey(t *testing.T, n *auditNet, i int) ed25519.PublicKey {
	t.Helper()
	pk, err := n.ids[i].ExtractPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := pk.Raw()
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.PublicKey(raw)
}

// A user's client that accepted a node's restore keeps, as evidence, the
// checkpoint it replaced, and its receipts still hold checkpoints of the
// rolled-back log. Neither is of one history with the node's log any
// more: with --vault, they are a split view until the auditor accepts the
// same restore, then not, and its acceptance holds in later runs. The
// auditor accepts it from its own recorded checkpoint when that one was
// rolled back too, else from the user's vault.
func TestUsersAcceptedRestoreIsASplitViewUntilTheAuditorAcceptsIt(t *testing.T) {
	t.Run("the auditor's checkpoint was rolled back too", func(t *testing.T) { usersAcceptedRestore(t, true) })
	t.Run("only the user's checkpoints were rolled back", func(t *testing.T) { usersAcceptedRestore(t, false) })
}

func usersAcceptedRestore(t *testing.T, auditorSawIt bool) {
	ctx := context.Background()
	n := startAuditNet(t)
	n.pin(1) // bob's vault must reach n2 after its restore
	n.traffic()
	path := n.userVault(t, "bob")
	wantOnly(t, n.verify(n.key, false), nil)
	p := n.procs[1]
	backup := filepath.Join(t.TempDir(), "n2.backup")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Admin().Backup(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	// Bob's unlock waits for every node (threshold 3 of 3): his vault
	// keeps n2's checkpoint past the backup.
	bobGets := func() *client.Client {
		t.Helper()
		c := openVault(t, path)
		if err := c.Unlock(ctx, []byte(testPassword)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "rec"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := bobGets().Close(); err != nil {
		t.Fatal(err)
	}
	if auditorSawIt {
		n.traffic()
		wantOnly(t, n.verify(n.key, false), nil)
	}

	p.Stop(t)
	data := p.Config.Path(p.Config.DataDir)
	if err := os.Rename(data, data+".old"); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(nodetest.Binary(t), "restore", "--in", backup, "--config", p.Path).CombinedOutput(); err != nil {
		t.Fatalf("custosd restore: %v\n%s", err, out)
	}
	n.restart(1, nil)
	c := bobGets()
	if rs := c.Restores(); len(rs) != 1 || rs[0].Node != "n2" {
		t.Fatalf("bob's client accepted %d restores, want n2's", len(rs))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	view, err := auditor.ReadVault(path)
	if err != nil {
		t.Fatal(err)
	}

	rep := n.verifyWith(n.key, auditor.Options{User: view})
	wantOnly(t, rep, map[string]auditor.Kind{"n2": auditor.SplitView})
	if msg := rep.Node("n2").String(); !strings.Contains(msg, "the user's client accepted the restore at entry") {
		t.Errorf("the split view does not say the user's client accepted a restore: %s", msg)
	}

	rep = n.verifyWith(n.key, auditor.Options{User: view, Accept: []string{"n2"}})
	wantOnly(t, rep, nil)
	r := rep.Node("n2")
	if r.Accepted == nil || r.Accepted.FromVault == auditorSawIt || r.UserReplaced == 0 {
		t.Errorf("accepting n2's restore with bob's vault: %s", r)
	}
	rep = n.verifyWith(n.key, auditor.Options{User: view})
	wantOnly(t, rep, nil)
	if r := rep.Node("n2"); r.UserReplaced == 0 || len(r.Restores) != 1 {
		t.Errorf("a later run with bob's vault: %s", r)
	}
}

// pin stops node i, makes it listen on a TCP port of its own from now on,
// and starts it again: a vault made after keeps reaching it across
// restarts.
func (n *auditNet) pin(i int) {
	n.t.Helper()
	p := n.procs[i]
	p.Stop(n.t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		n.t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	p.Config.Listen = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}
	if err := os.Remove(p.Path); err != nil {
		n.t.Fatal(err)
	}
	if err := config.WriteDefault(p.Path, *p.Config); err != nil {
		n.t.Fatal(err)
	}
	n.restart(i, nil)
}
