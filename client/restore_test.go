package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest/observer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// A node restored from a backup has lost its log after the backup, so the
// checkpoint a vault kept of it from after the backup is not extended by
// what it shows now. The client does not name it as a fork: the restore
// entry in its log explains the rollback, so the next unlock accepts the
// restore (one warning), keeps the checkpoint it replaced in the vault,
// and uses the node's share; the unlocks after use the node as any other.
// A record put after the backup has lost its share there: the node
// answers NOT_FOUND, and the record is marked degraded.
//
// Each step that needs n1's answer has another node stopped, so that n1
// is part of every threshold. The nodes keep their addresses.
func TestRestoredNodeIsAcceptedAndItsLostSharesDegrade(t *testing.T) {
	t.Run("into an empty data directory, met by a get", func(t *testing.T) { restoredNodeIsAccepted(t, false, false) })
	t.Run("over the store it replaces, met by a history read", func(t *testing.T) { restoredNodeIsAccepted(t, true, true) })
}

func restoredNodeIsAccepted(t *testing.T, replace, history bool) {
	ctx := context.Background()
	addrs := []string{freeTCP(t), freeTCP(t), freeTCP(t)}
	tn := startNet(t, 3, 2, func(i int) ([]string, []nodetest.Option) {
		return nil, []nodetest.Option{nodetest.Listen(addrs[i])}
	})
	n1, n2, n3 := tn.nodes[0], tn.nodes[1], tn.nodes[2]
	log, logs := observed()
	c, path := tn.unlocked(t, "alice", client.Options{Logger: log})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	backup, backupSize := backupOf(t, n1)
	if err := c.Put(ctx, "globex-api", globex, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// With n2 stopped, both records come from n1 and n3: the vault keeps
	// a checkpoint of n1 past the backup.
	n2.Stop(t)
	if _, err := c.GetMany(ctx, []string{"acme-portal", "globex-api"}); err != nil {
		t.Fatal(err)
	}
	before := checkpointOf(c, "n1")
	if size := keptSize(t, c, "n1"); size <= backupSize {
		t.Fatalf("the vault keeps n1's checkpoint of size %d, not past the backup's %d", size, backupSize)
	}

	restoreNode(t, n1, backup, replace)

	// The first unlock, or history read, since: n1 is needed (n2 is still
	// stopped). The history shows the restore entry, and no release of it.
	if history {
		hist, failed, err := c.History(ctx, "")
		if err != nil || len(failed) != 1 || failed[0].Node != "n2" {
			t.Fatalf("the first history read after n1's restore: %v, failed %v; want only n2, stopped", err, failed)
		}
		for _, h := range hist {
			if h.Label != "acme-portal" && h.Label != "globex-api" {
				t.Errorf("a release in the history that is not of a record: %+v", h)
			}
		}
		entries, _, err := c.Log(ctx)
		if err != nil || !restoreIn(entries, "n1", backupSize) {
			t.Errorf("the log read at n1 does not hold its restore entry at %d (%v)", backupSize, err)
		}
	} else {
		rec, err := c.Get(ctx, "acme-portal")
		if err != nil {
			t.Fatalf("the first get after n1's restore: %v", err)
		}
		sameRecord(t, rec, acme)
	}
	want := fmt.Sprintf("node n1 was restored from a backup of log size %d", backupSize)
	if got := warned(logs, want); got != 1 {
		t.Errorf("%d warnings %q, want 1", got, want)
	}
	if proof := evidenceOf(t, c, "n1"); len(proof) != 0 {
		t.Errorf("n1's answer is kept as evidence: %+v", proof)
	}
	restores := c.Restores()
	if len(restores) != 1 || restores[0].Node != "n1" || restores[0].Index != uint64(backupSize) ||
		!bytes.Equal(restores[0].Replaced, before) || !bytes.Equal(restores[0].Checkpoint, checkpointOf(c, "n1")) {
		t.Fatalf("the vault's restores: %d, want n1's at entry %d replacing the checkpoint kept before", len(restores), backupSize)
	}
	e, err := api.ParseEntry(restores[0].Entry)
	if r, ok := api.RestoreOf(e); err != nil || !ok || r.BackupSize != backupSize || r.Replaced != replace {
		t.Errorf("the kept restore entry: %v %v", e, err)
	}

	// The next unlock uses n1 as any other node, and warns no more.
	rec, err := c.Get(ctx, "acme-portal")
	if err != nil {
		t.Fatalf("a get after n1's restore was accepted: %v", err)
	}
	sameRecord(t, rec, acme)
	if got := warned(logs, "was restored"); got != 1 {
		t.Errorf("%d warnings of a restore after the second get, want 1", got)
	}

	// globex-api was put after the backup: n1 has no share of it. With n3
	// stopped, n1's NOT_FOUND is read, and the record cannot open now.
	n3.Stop(t)
	n2.Start(t)
	_, err = c.Get(ctx, "globex-api")
	if _, named := quorumError(t, err); !errors.Is(named["n1"], api.ErrNotFound) {
		t.Errorf("n1 for globex-api: %v, want NOT_FOUND", named["n1"])
	}
	if got := degradedOf(t, c); !got["globex-api"] || got["acme-portal"] {
		t.Fatalf("degraded: %v; want globex-api only", got)
	}
	n3.Start(t)
	rec, err = c.Get(ctx, "globex-api")
	if err != nil {
		t.Fatalf("globex-api from n2 and n3: %v", err)
	}
	sameRecord(t, rec, globex)

	// The vault on disk keeps the checkpoint the restore replaced.
	h := closeAndOpen(t, c, path)
	v := h.Vault()
	if len(v.Restores) != 1 || !bytes.Equal(v.Restores[0].Replaced, before) || bytes.Equal(v.Checkpoint("n1"), before) {
		t.Errorf("the saved vault keeps %d restores; want n1's, with the checkpoint it replaced", len(v.Restores))
	}
}

// restoreIn reports whether entries hold node's restore entry at index.
func restoreIn(entries []client.LoggedEntry, node string, index int64) bool {
	for _, le := range entries {
		if _, ok := api.RestoreOf(le.Entry); ok && le.Node == node && le.Index == uint64(index) {
			return true
		}
	}
	return false
}

// backupOf makes a backup of node p in a file and returns its path and the
// size of the log it holds.
func backupOf(t *testing.T, p *nodetest.Process) (string, int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), p.Config.Name+".backup")
	var b bytes.Buffer
	if err := p.Admin().Backup(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, status(t, p).LogSize
}

// restoreNode stops p, restores backup with custosd restore, over its store
// (--replace) or into an empty data directory (the old one moved aside by
// hand), and starts it again.
func restoreNode(t *testing.T, p *nodetest.Process, backup string, replace bool) {
	t.Helper()
	p.Stop(t)
	args := []string{"restore", "--in", backup, "--config", p.Path}
	if replace {
		args = append(args, "--replace")
	} else {
		data := p.Config.Path(p.Config.DataDir)
		if err := os.Rename(data, data+".old"); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(nodetest.Binary(t, "custosfault"), args...).CombinedOutput(); err != nil {
		t.Fatalf("custosd restore: %v\n%s", err, out)
	}
	p.Start(t)
}

// warned counts the warnings whose message holds text.
func warned(logs *observer.ObservedLogs, text string) int {
	n := 0
	for _, e := range logs.All() {
		if strings.Contains(e.Message, text) {
			n++
		}
	}
	return n
}

// degradedOf says which of c's records are degraded.
func degradedOf(t testing.TB, c *client.Client) map[string]bool {
	out := map[string]bool{}
	for _, u := range list(t, c) {
		out[u.Label] = u.Degraded
	}
	return out
}

// A restore entry already in the log the vault keeps a checkpoint of
// explains nothing when that node later shows a fork: the node was
// restored early, the vault kept checkpoints of its log after the restore,
// and then the node showed a branch of that log (its data directory was
// copied and run on). The entry does not explain the kept checkpoint, so
// the node is named as a fork: when the entry names the log it replaced,
// that log is smaller than the kept one; when it names none, the vault
// holds receipts of the kept log logged after it. A node showing the fork
// is not read whole again at the next request.
func TestRestoreAlreadyInTheKeptLogDoesNotExplainAFork(t *testing.T) {
	t.Run("the entry names a smaller log than the kept one", func(t *testing.T) { oldRestoreIsNoExcuse(t, true) })
	t.Run("receipts of the kept log are newer than the entry", func(t *testing.T) { oldRestoreIsNoExcuse(t, false) })
}

func oldRestoreIsNoExcuse(t *testing.T, replace bool) {
	ctx := context.Background()
	addrs := []string{freeTCP(t), freeTCP(t), freeTCP(t)}
	metrics := freeHostPort(t)
	tn := startNet(t, 3, 2, func(i int) ([]string, []nodetest.Option) {
		opts := []nodetest.Option{nodetest.Listen(addrs[i])}
		if i == 0 {
			opts = append(opts, func(c *config.Config) { c.HTTP = metrics })
		}
		return nil, opts
	})
	n1, n2 := tn.nodes[0], tn.nodes[1]
	log, logs := observed()
	alice, _ := tn.unlocked(t, "alice", client.Options{Logger: log})
	bob, _ := tn.unlocked(t, "bob", client.Options{})
	if err := alice.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := bob.Put(ctx, "bob-record", globex, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	n2.Stop(t) // n1 answers every get from here on
	if _, err := alice.Get(ctx, "acme-portal"); err != nil {
		t.Fatal(err)
	}

	// The early restore: nothing is lost, and alice's vault follows n1's
	// log past the restore entry, by history reads only (the entry names
	// the log it replaced) or by gets (it names none).
	backup, backupSize := backupOf(t, n1)
	restoreNode(t, n1, backup, replace)
	follow := func() {
		t.Helper()
		if replace {
			if _, failed, err := alice.History(ctx, ""); err != nil || len(failed) != 1 {
				t.Fatalf("history: %v %v", err, failed)
			}
		} else if _, err := alice.Get(ctx, "acme-portal"); err != nil {
			t.Fatal(err)
		}
	}
	follow()
	if len(alice.Restores()) != 0 || keptSize(t, alice, "n1") <= backupSize {
		t.Fatalf("after a restore that lost nothing: %d restores accepted, n1's checkpoint of size %d kept", len(alice.Restores()), keptSize(t, alice, "n1"))
	}

	// The copy, then branch A, which alice's vault follows.
	n1.Stop(t)
	data := n1.Config.Path(n1.Config.DataDir)
	snapshot := filepath.Join(t.TempDir(), "n1-data")
	copyDir(t, data, snapshot)
	n1.Start(t)
	follow()
	seen := keptSize(t, alice, "n1")

	// Branch B, grown by bob's gets past what alice saw.
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

	_, err := alice.Get(ctx, "acme-portal")
	if _, named := quorumError(t, err); !errors.Is(named["n1"], client.ErrForkedLog) {
		t.Fatalf("n1 showing a branch of its log: %v, want ErrForkedLog", named["n1"])
	}
	if n := len(alice.Restores()); n != 0 || warned(logs, "was restored") != 0 {
		t.Fatalf("%d restores accepted for a fork", n)
	}
	read := entriesServed(t, metrics)
	_, err = alice.Get(ctx, "acme-portal")
	if _, named := quorumError(t, err); !errors.Is(named["n1"], client.ErrForkedLog) {
		t.Fatalf("n1 showing the branch again: %v, want ErrForkedLog", named["n1"])
	}
	if again := entriesServed(t, metrics); again != read {
		t.Errorf("n1 served %d more entries requests for a fork already read", again-read)
	}
}

// freeHostPort is an address on 127.0.0.1 at a port free just now.
func freeHostPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// entriesServed is how many entries requests the node whose metrics are
// at addr answered.
func entriesServed(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^custos_requests_total\{code="OK",protocol="` + regexp.QuoteMeta(string(api.ProtocolEntries)) + `"\} (\d+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
