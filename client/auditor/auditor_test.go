package auditor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/auditor"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
	"github.com/custos-network/custos/node/store"
)

func TestMain(m *testing.M) {
	code := m.Run()
	nodetest.RemoveBinary()
	os.Exit(code)
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auditor.key")
	id, err := auditor.NewKey(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v, %v", info.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "custos auditor key v1\n") {
		t.Fatalf("key file does not start with its version line")
	}
	key, err := auditor.LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := peer.IDFromPrivateKey(key); got != id {
		t.Fatalf("loaded key is %s, NewKey said %s", got, id)
	}
	if _, err := auditor.NewKey(path); err == nil {
		t.Fatal("NewKey overwrote an existing key file")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := auditor.LoadKey(path); err == nil {
		t.Fatal("LoadKey read a key file others can read")
	}
}

// auditNet is three custosd processes that list the auditor, a device
// that makes traffic at each, and the auditor's key and state directory.
type auditNet struct {
	t     *testing.T
	names []string
	procs []*nodetest.Process
	ids   []peer.ID
	dev   *nodetest.Device
	key   crypto.PrivKey
	state string
}

func startAuditNet(t *testing.T) *auditNet {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "auditor.key")
	aid, err := auditor.NewKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	key, err := auditor.LoadKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	n := &auditNet{t: t, key: key, state: filepath.Join(dir, "state"), dev: nodetest.NewDevice(t, "alice")}
	withAuditor := func(c *config.Config) { c.Auditors = []string{aid.String()} }
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("n%d", i)
		p := nodetest.StartProcess(t, name, withAuditor, nodetest.Listen("/ip4/127.0.0.1/tcp/0"))
		info := p.Info(t)
		if err := n.dev.Connect(ctx, info); err != nil {
			t.Fatal(err)
		}
		if err := n.dev.Enroll(ctx, info.ID, ""); err != nil {
			t.Fatal(err)
		}
		if err := n.dev.Login(ctx, info.ID); err != nil {
			t.Fatal(err)
		}
		n.names, n.procs, n.ids = append(n.names, name), append(n.procs, p), append(n.ids, info.ID)
	}
	return n
}

// traffic puts and releases a unit at every node.
func (n *auditNet) traffic() {
	n.t.Helper()
	ctx := context.Background()
	for _, id := range n.ids {
		u := nodetest.Unit()
		if _, err := n.dev.Put(ctx, id, u, nodetest.Share()); err != nil {
			n.t.Fatal(err)
		}
		if _, err := n.dev.Release(ctx, id, u); err != nil {
			n.t.Fatal(err)
		}
		// A request with a bad signature is refused and logged with it:
		// not a release its device did not sign.
		req := n.dev.ReleaseRequest(id, u)
		req.DeviceSignature[0] ^= 1
		var resp api.ReleaseResponse
		if err := n.dev.Call(ctx, id, api.ProtocolRelease, req, &resp); err != nil || resp.GetError().GetCode() != api.Code_UNAUTHENTICATED {
			n.t.Fatalf("a badly signed release request: %v, %v; want UNAUTHENTICATED", err, resp.GetError())
		}
	}
}

// network is the network file, from the nodes' current cards (a restarted
// node listens on a new port; its pinned peer ID stays).
func (n *auditNet) network() *client.Network {
	n.t.Helper()
	var cards []*api.Card
	for _, p := range n.procs {
		c, err := p.Admin().Card(context.Background())
		if err != nil {
			n.t.Fatal(err)
		}
		cards = append(cards, c)
	}
	nw, err := client.NewNetwork(2, cards)
	if err != nil {
		n.t.Fatal(err)
	}
	return nw
}

func (n *auditNet) verify(key crypto.PrivKey, full bool) *auditor.Report {
	n.t.Helper()
	return n.verifyWith(key, auditor.Options{Full: full})
}

func (n *auditNet) verifyWith(key crypto.PrivKey, o auditor.Options) *auditor.Report {
	n.t.Helper()
	rep, err := auditor.Verify(context.Background(), n.network(), key, n.state, o)
	if err != nil {
		n.t.Fatal(err)
	}
	for _, r := range rep.Nodes {
		n.t.Logf("full=%v vault=%v accept=%v: %s", o.Full, o.User != nil, o.Accept, r.String())
	}
	return rep
}

// tamper stops node i, changes its store with fn, and starts it again.
func (n *auditNet) tamper(i int, fn func(tx *store.Tx, size int64) error) {
	n.t.Helper()
	p := n.procs[i]
	p.Stop(n.t)
	s := p.OpenStore(n.t)
	err := s.Update(context.Background(), func(tx *store.Tx) error {
		size, err := tx.LogSize()
		if err != nil {
			return err
		}
		return fn(tx, size)
	})
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		n.t.Fatal(err)
	}
	p.Start(n.t)
}

// wantOnly checks that exactly the nodes of want failed, each with a
// problem of the kind it names, and that the report's line names the node.
func wantOnly(t *testing.T, rep *auditor.Report, want map[string]auditor.Kind) {
	t.Helper()
	for _, r := range rep.Nodes {
		k, bad := want[r.Node]
		switch {
		case !bad && !r.OK():
			t.Errorf("%s failed, want OK: %s", r.Node, r.String())
		case bad && !r.Has(k):
			t.Errorf("%s: want a %q problem, got %s", r.Node, k, r.String())
		case bad && !strings.HasPrefix(r.String(), r.Node+": FAIL: "):
			t.Errorf("report line does not name the node: %s", r.String())
		}
	}
	if rep.OK() != (len(want) == 0) {
		t.Errorf("Report.OK() = %v with %d failing nodes wanted", rep.OK(), len(want))
	}
}

func TestVerify(t *testing.T) {
	n := startAuditNet(t)
	n.traffic()

	// The first run records every node's checkpoint; the second, after
	// more traffic, checks the grown logs are consistent with it.
	rep := n.verify(n.key, true)
	wantOnly(t, rep, nil)
	first := map[string]int64{}
	for _, r := range rep.Nodes {
		if !r.First || r.Size == 0 {
			t.Fatalf("first run: %s: First=%v Size=%d", r.Node, r.First, r.Size)
		}
		first[r.Node] = r.Size
		if _, err := os.Stat(filepath.Join(n.state, r.Node+".checkpoint")); err != nil {
			t.Fatalf("first run recorded no checkpoint: %v", err)
		}
	}
	n.traffic()
	rep = n.verify(n.key, true)
	wantOnly(t, rep, nil)
	for _, r := range rep.Nodes {
		if r.First || r.Size <= first[r.Node] {
			t.Fatalf("second run: %s: First=%v Size=%d, first size %d", r.Node, r.First, r.Size, first[r.Node])
		}
	}

	t.Run("an auditor the nodes do not list is refused entries", func(t *testing.T) {
		other, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		rep := n.verify(other, true)
		wantOnly(t, rep, map[string]auditor.Kind{"n1": auditor.NotAuditor, "n2": auditor.NotAuditor, "n3": auditor.NotAuditor})
	})

	// Changing, deleting or reordering entries behind the tree's back
	// leaves the stored tree hashes, so the checkpoints and consistency
	// proofs still verify: only --full, which hashes the entries, sees it.
	const target = 1
	n.tamper(0, func(tx *store.Tx, size int64) error { // change one entry
		b, err := tx.LogEntry(target)
		if err != nil {
			return err
		}
		e, err := api.ParseEntry(b)
		if err != nil {
			return err
		}
		e.TimeUnixMs++
		if b, err = api.MarshalEntry(e); err != nil {
			return err
		}
		return tx.PutLogEntry(target, b)
	})
	// The store cannot delete an entry, and the size must stay for the
	// checkpoint to verify: delete entry target by moving every later
	// entry down one place, leaving the last entry where it was (twice).
	n.tamper(1, func(tx *store.Tx, size int64) error {
		for i := int64(target); i+1 < size; i++ {
			b, err := tx.LogEntry(i + 1)
			if err != nil {
				return err
			}
			if err := tx.PutLogEntry(i, b); err != nil {
				return err
			}
		}
		return nil
	})
	n.tamper(2, func(tx *store.Tx, size int64) error { // swap two entries
		a, err := tx.LogEntry(target)
		if err != nil {
			return err
		}
		b, err := tx.LogEntry(target + 1)
		if err != nil {
			return err
		}
		if err := tx.PutLogEntry(target, b); err != nil {
			return err
		}
		return tx.PutLogEntry(target+1, a)
	})
	t.Run("changed, deleted and reordered entries pass the checkpoint checks", func(t *testing.T) {
		wantOnly(t, n.verify(n.key, false), nil)
	})
	t.Run("changed, deleted and reordered entries are a root mismatch with full", func(t *testing.T) {
		rep := n.verify(n.key, true)
		wantOnly(t, rep, map[string]auditor.Kind{"n1": auditor.RootMismatch, "n2": auditor.RootMismatch, "n3": auditor.RootMismatch})
		for _, r := range rep.Nodes {
			for _, p := range r.Problems {
				if p.Kind != auditor.RootMismatch {
					t.Errorf("%s: a problem other than the root mismatch: %s", r.Node, p)
				}
			}
		}
	})

	t.Run("a log rolled back below the recorded checkpoint is a rollback", func(t *testing.T) {
		recorded := n.verify(n.key, false).Node("n2").Size
		n.tamper(1, func(tx *store.Tx, size int64) error { return tx.SetLogSize(size - 3) })
		rep := n.verify(n.key, false)
		wantOnly(t, rep, map[string]auditor.Kind{"n2": auditor.Rollback})
		r := rep.Node("n2")
		if want := fmt.Sprintf("rollback from size %d to ", recorded); !strings.Contains(r.String(), want) {
			t.Errorf("report %q does not say %q", r.String(), want)
		}
	})

	t.Run("a malformed entry and a release entry its device did not sign are named by index", func(t *testing.T) {
		n.tamper(0, func(tx *store.Tx, size int64) error {
			return tx.PutLogEntry(2, []byte("not an entry"))
		})
		release := int64(-1) // the first release entry: after enrollment, login and put
		n.tamper(2, func(tx *store.Tx, size int64) error {
			var e *api.Entry
			for i := range size {
				b, err := tx.LogEntry(i)
				if err != nil {
					return err
				}
				if e, err = api.ParseEntry(b); err == nil && e.Kind == api.EntryKind_RELEASE {
					release = i
					break
				}
			}
			if release < 0 {
				return errors.New("no release entry in the log")
			}
			e.RequestNonce[0] ^= 1
			b, err := api.MarshalEntry(e)
			if err != nil {
				return err
			}
			return tx.PutLogEntry(release, b)
		})
		rep := n.verify(n.key, true)
		wantOnly(t, rep, map[string]auditor.Kind{"n1": auditor.MalformedEntry, "n2": auditor.Rollback, "n3": auditor.UnsignedRelease})
		for name, i := range map[string]int64{"n1": 2, "n3": release} {
			found := false
			for _, p := range rep.Node(name).Problems {
				found = found || (p.Index == i && p.Kind != auditor.RootMismatch)
			}
			if !found || !rep.Node(name).Has(auditor.RootMismatch) {
				t.Errorf("%s: want entry %d named and a root mismatch: %s", name, i, rep.Node(name))
			}
		}
	})
}
