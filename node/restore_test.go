package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node"
	"github.com/custos-network/custos/node/audit"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
	"github.com/custos-network/custos/node/store"
)

// restoreFixture is a running node with two backups: early, and late (after
// more was logged), with the node's status right after each.
type restoreFixture struct {
	p               *nodetest.InProcess
	early, late     []byte
	atEarly         int64 // the log's size in the early backup
	earlyCheckpoint string
	atLate          int64
}

func newRestoreFixture(t *testing.T) *restoreFixture {
	t.Helper()
	ctx := context.Background()
	p, _ := opsNode(t, 2)
	f := &restoreFixture{p: p}
	backup := func() ([]byte, *statusOf) {
		var b bytes.Buffer
		if err := p.Backup(ctx, &b); err != nil {
			t.Fatal(err)
		}
		st, err := p.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return b.Bytes(), &statusOf{st.LogSize, st.Checkpoint}
	}
	var st *statusOf
	f.early, st = backup()
	f.atEarly, f.earlyCheckpoint = st.size, st.checkpoint
	// What happens after the early backup: the restore rolls it back.
	if _, _, err := p.Invite(ctx, "bob", time.Hour, false); err != nil {
		t.Fatal(err)
	}
	if err := p.Lock(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	f.late, st = backup()
	f.atLate = st.size
	return f
}

type statusOf struct {
	size       int64
	checkpoint string
}

// elsewhere is the node's configuration (its keys) in a directory of its
// own, for restores that must not touch the running node's data directory
// (nor see its admin socket).
func (f *restoreFixture) elsewhere(t *testing.T) *config.Config {
	cfg := *f.p.Config
	cfg.Dir = t.TempDir()
	cfg.DataDir = filepath.Join(cfg.Dir, "data")
	return &cfg
}

func TestRestoreLogsTheRollbackItMakes(t *testing.T) {
	ctx := context.Background()
	f := newRestoreFixture(t)
	cfg := f.elsewhere(t)

	// Into an empty directory: the entry says which backup.
	done, err := node.RestoreWith(ctx, cfg, bytes.NewReader(f.late), node.RestoreOptions{}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("restore: backup of log size %d", f.atLate)
	if done.Entry != want || done.Aside != "" {
		t.Errorf("restore into an empty directory: %+v, want entry %q and nothing moved aside", done, want)
	}
	checkLastEntry(t, cfg, f.atLate, want)

	// Over that store: the entry also names the log it replaces, whose
	// head the test reads on its own first.
	oldSize, oldRoot := logHead(t, cfg, cfg.DataDir)
	if oldSize != f.atLate+1 {
		t.Fatalf("the first restore left a log of %d entries, want %d", oldSize, f.atLate+1)
	}
	if _, err := node.RestoreWith(ctx, cfg, bytes.NewReader(f.early), node.RestoreOptions{}, zap.NewNop()); !errors.Is(err, store.ErrNotEmpty) {
		t.Fatalf("restore over a store without Replace: got %v, want ErrNotEmpty", err)
	}
	done, err = node.RestoreWith(ctx, cfg, bytes.NewReader(f.early), node.RestoreOptions{Replace: true}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	want = fmt.Sprintf("restore: backup of log size %d replaces a log of size %d with root %s",
		f.atEarly, oldSize, base64.StdEncoding.EncodeToString(oldRoot[:]))
	if done.Entry != want {
		t.Errorf("restore over a store logged %q, want %q", done.Entry, want)
	}
	checkLastEntry(t, cfg, f.atEarly, want)
	if size, root := logHead(t, cfg, cfg.DataDir); size != f.atEarly+1 {
		t.Errorf("the restored log has %d entries, want the backup's %d and the restore's", size, f.atEarly)
	} else if root == oldRoot {
		t.Error("the restored log has the replaced log's root")
	}
	s := openStore(t, cfg.DataDir, cfg.StorageKey.File)
	checkCheckpoint(t, f.p, s, f.earlyCheckpoint)
	s.Close()

	// The replaced store is kept, whole, beside the data directory.
	if filepath.Dir(done.Aside) != filepath.Dir(cfg.DataDir) || !strings.HasPrefix(filepath.Base(done.Aside), "data.replaced-") {
		t.Errorf("the replaced store went to %q", done.Aside)
	}
	if size, root := logHead(t, cfg, done.Aside); size != oldSize || root != oldRoot {
		t.Errorf("the store moved aside has a log of %d entries, or another root; it had %d", size, oldSize)
	}
}

func TestRestoreThatFailsLeavesTheDataDirectoryAsItWas(t *testing.T) {
	ctx := context.Background()
	f := newRestoreFixture(t)

	t.Run("a damaged backup", func(t *testing.T) {
		cfg := f.elsewhere(t)
		if err := node.Restore(cfg, bytes.NewReader(f.late), zap.NewNop()); err != nil {
			t.Fatal(err)
		}
		size, root := logHead(t, cfg, cfg.DataDir)
		_, err := node.RestoreWith(ctx, cfg, bytes.NewReader(flip(f.early, len(f.early)/2)), node.RestoreOptions{Replace: true}, zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), "load backup") {
			t.Fatalf("got %v, want a damaged backup refused", err)
		}
		checkUnchanged(t, cfg, size, root)
	})

	t.Run("a store of another node", func(t *testing.T) {
		cfg := f.elsewhere(t)
		if err := node.Restore(cfg, bytes.NewReader(f.late), zap.NewNop()); err != nil {
			t.Fatal(err)
		}
		s := openStore(t, cfg.DataDir, cfg.StorageKey.File)
		otherKey, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		other, _ := peer.IDFromPrivateKey(otherKey)
		if err := s.Update(ctx, func(tx *store.Tx) error { return tx.SetMeta("peer_id", []byte(other)) }); err != nil {
			t.Fatal(err)
		}
		s.Close()
		size, root := logHead(t, cfg, cfg.DataDir)
		_, err = node.RestoreWith(ctx, cfg, bytes.NewReader(f.early), node.RestoreOptions{Replace: true}, zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), "belongs to node "+other.String()) {
			t.Fatalf("got %v, want a refusal of another node's store", err)
		}
		checkUnchanged(t, cfg, size, root)
	})

	t.Run("the running node's store", func(t *testing.T) {
		_, err := node.RestoreWith(ctx, f.p.Config, bytes.NewReader(f.early), node.RestoreOptions{Replace: true}, zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), "the node is running") {
			t.Fatalf("got %v, want a refusal to replace a running node's store", err)
		}
		if st, err := f.p.Status(ctx); err != nil || st.LogSize != f.atLate {
			t.Errorf("the node after a refused restore: %+v, %v", st, err)
		}
	})
}

// checkUnchanged checks that cfg's data directory holds a log of this size
// and root, and that nothing was left beside it.
func checkUnchanged(t *testing.T, cfg *config.Config, size int64, root tlog.Hash) {
	t.Helper()
	if s, r := logHead(t, cfg, cfg.DataDir); s != size || r != root {
		t.Errorf("a failed restore changed the log in the data directory: %d entries, was %d", s, size)
	}
	entries, err := os.ReadDir(filepath.Dir(cfg.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("a failed restore left %d entries beside the data directory, want none", len(entries)-1)
	}
}

// logHead returns the size and root of the log of the store in dir.
func logHead(t *testing.T, cfg *config.Config, dir string) (int64, tlog.Hash) {
	t.Helper()
	s := openStore(t, dir, cfg.StorageKey.File)
	defer s.Close()
	l, err := audit.New(api.LogOrigin(cfg.Name), ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	var root tlog.Hash
	err = s.View(func(tx *store.Tx) error {
		var err error
		if size, root, err = l.Replay(tx); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return size, root
}

// checkLastEntry checks that the log in cfg's data directory ends, at index,
// with the ADMIN entry text.
func checkLastEntry(t *testing.T, cfg *config.Config, index int64, text string) {
	t.Helper()
	s := openStore(t, cfg.DataDir, cfg.StorageKey.File)
	defer s.Close()
	err := s.View(func(tx *store.Tx) error {
		n, err := tx.LogSize()
		if err != nil {
			return err
		}
		if n != index+1 {
			t.Errorf("the log has %d entries, want the restore's at index %d to be the last", n, index)
		}
		b, err := tx.LogEntry(index)
		if err != nil {
			return err
		}
		e, err := api.ParseEntry(b)
		if err != nil {
			return err
		}
		if e.Kind != api.EntryKind_ADMIN || e.Admin != text || e.User != "" || len(e.Units) != 0 {
			t.Errorf("entry %d is %v, want only the ADMIN text %q", index, e, text)
		}
		if age := time.Since(time.UnixMilli(int64(e.TimeUnixMs))); age < 0 || age > time.Minute {
			t.Errorf("the restore entry is stamped %v ago", age)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
