package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node"
	"github.com/custos-network/custos/node/audit"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
	"github.com/custos-network/custos/node/store"
	"github.com/custos-network/custos/threshold"
	"github.com/custos-network/custos/threshold/toprf"
)

// opsNode starts an in-process node with a logged-in device of alice that
// has put n units, and returns them with their shares.
func opsNode(t *testing.T, n int) (*nodetest.InProcess, map[*api.UnitRef][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := nodetest.Start(t)
	d := nodetest.NewDevice(t, "alice")
	if err := d.Connect(ctx, p.Info()); err != nil {
		t.Fatal(err)
	}
	if err := d.Enroll(ctx, p.ID(), ""); err != nil {
		t.Fatal(err)
	}
	if err := d.Login(ctx, p.ID()); err != nil {
		t.Fatal(err)
	}
	units := map[*api.UnitRef][]byte{}
	for range n {
		u, sh := nodetest.Unit(), nodetest.Share()
		if _, err := d.Put(ctx, p.ID(), u, sh); err != nil {
			t.Fatal(err)
		}
		units[u] = sh
	}
	return p, units
}

func TestOpsBackupRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	p, units := opsNode(t, 3)
	var backup bytes.Buffer
	if err := p.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(backup.Bytes(), []byte("age-encryption.org/v1\n")) {
		t.Fatal("the backup is not an age file")
	}
	st, err := p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}

	restored := *p.Config
	restored.DataDir = filepath.Join(t.TempDir(), "restored")
	if err := node.Restore(&restored, bytes.NewReader(backup.Bytes()), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, restored.DataDir, restored.StorageKey.File)
	err = s.View(func(tx *store.Tx) error {
		for u, want := range units {
			got, err := tx.Share("alice", threshold.UnitID(u.UnitId), u.Version)
			if err != nil {
				t.Errorf("unit %x after restore: %v", u.UnitId, err)
			} else if !bytes.Equal(got, want) {
				t.Errorf("unit %x after restore: another share", u.UnitId)
			}
		}
		a, err := tx.Account("alice")
		if err != nil || a.Locked {
			t.Fatalf("alice's account after restore: %+v, %v", a, err)
		}
		// The OPRF key share comes back sealed, opens under the storage
		// key, and is the one dealt: its public part is the dealing's R_i.
		key, err := tx.OprfKeyShare("alice", a.Current.Epoch)
		if err != nil {
			t.Fatalf("alice's OPRF key share after restore: %v", err)
		}
		ks, err := toprf.KeyShareFromBytes(a.Current.Index, key)
		clear(key)
		if err != nil {
			t.Fatalf("alice's OPRF key share after restore: %v", err)
		}
		if pub := ks.Public(); !bytes.Equal(pub.Element[:], a.Current.PublicShare) {
			t.Error("alice's OPRF key share after restore is not the one of her dealing")
		}
		ks.Wipe()
		n, err := tx.LogSize()
		if err != nil || n != st.LogSize+1 {
			t.Errorf("log size %d after restore (%v), %d before; want the backup's log and the restore's entry", n, err, st.LogSize)
		}
		for i, want := range []string{"backup", fmt.Sprintf("restore: backup of log size %d", st.LogSize)} {
			b, err := tx.LogEntry(st.LogSize - 1 + int64(i))
			if err != nil {
				return err
			}
			if e, err := api.ParseEntry(b); err != nil || e.Kind != api.EntryKind_ADMIN || e.Admin != want {
				t.Errorf("entry %d after the restore is %v (%v), want the ADMIN entry %q", st.LogSize-1+int64(i), e, err, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkCheckpoint(t, p, s, st.Checkpoint)

	if err := node.Restore(&restored, bytes.NewReader(backup.Bytes()), zap.NewNop()); !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("restore into a non-empty directory: got %v, want ErrNotEmpty", err)
	}
}

func TestOpsRestoreRefusesAnotherNodesKeyAndDamage(t *testing.T) {
	ctx := context.Background()
	p, _ := opsNode(t, 1)
	var backup bytes.Buffer
	if err := p.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	otherDir := filepath.Join(t.TempDir(), "other")
	if _, _, err := node.Init(node.InitOptions{Dir: otherDir}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		storageKey string
		backup     []byte
		want       string
	}{
		{"another node's storage key", filepath.Join(otherDir, "storage.key"), backup.Bytes(), "not a backup of this node"},
		{"truncated backup", p.Config.StorageKey.File, backup.Bytes()[:backup.Len()-100], ""},
		{"flipped byte", p.Config.StorageKey.File, flip(backup.Bytes(), backup.Len()/2), ""},
		{"not a backup", p.Config.StorageKey.File, []byte("hello\n"), "not a backup of this node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := *p.Config
			cfg.StorageKey = config.KeySource{File: tt.storageKey}
			cfg.DataDir = filepath.Join(t.TempDir(), "restored")
			err := node.Restore(&cfg, bytes.NewReader(tt.backup), zap.NewNop())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
			if entries, _ := os.ReadDir(cfg.DataDir); len(entries) > 0 {
				t.Errorf("a refused restore left %d files in the data directory", len(entries))
			}
		})
	}
}

func TestOpsStatusUsersLockUnlockInvite(t *testing.T) {
	ctx := context.Background()
	p, _ := opsNode(t, 2)
	st, err := p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "n1" || st.PeerID != p.ID().String() || !st.Ready || st.Accounts != 1 || st.Shares != 2 || st.LockedAccounts != 0 || st.LogSize < 4 {
		t.Errorf("status %+v", st)
	}
	cp, err := api.OpenCheckpoint([]byte(st.Checkpoint), api.LogOrigin("n1"), publicKey(t, p))
	if err != nil || cp.Size != st.LogSize {
		t.Errorf("status checkpoint: %+v, %v; want one of size %d signed by the node", cp, err, st.LogSize)
	}

	users := func() []string {
		us, err := p.Users(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range us {
			out = append(out, u.User+map[bool]string{true: " locked", false: ""}[u.Locked])
			if u.Device == "" || u.Created.IsZero() || u.Epoch != 1 || u.StagedEpoch != 0 {
				t.Errorf("user %+v has no device or creation time, or not the dealing of enrollment alone", u)
			}
		}
		return out
	}
	if got := users(); len(got) != 1 || got[0] != "alice" {
		t.Errorf("users %v, want alice", got)
	}
	if err := p.Lock(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if got := users(); len(got) != 1 || got[0] != "alice locked" {
		t.Errorf("users after lock %v", got)
	}
	if st, _ := p.Status(ctx); st.LockedAccounts != 1 {
		t.Errorf("status after lock: %d locked accounts", st.LockedAccounts)
	}
	if err := p.Unlock(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if got := users(); len(got) != 1 || got[0] != "alice" {
		t.Errorf("users after unlock %v", got)
	}
	if err := p.Lock(ctx, "bob"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("lock of an unknown user: got %v, want NOT_FOUND", err)
	}
	if _, _, err := p.Invite(ctx, "alice", 0); !errors.Is(err, api.ErrAlreadyExists) {
		t.Errorf("invite of an enrolled user: got %v, want ALREADY_EXISTS", err)
	}
	token, expires, err := p.Invite(ctx, "bob", time.Hour)
	if err != nil || !strings.HasPrefix(token, "custos-invite-") || time.Until(expires) > time.Hour || time.Until(expires) < 59*time.Minute {
		t.Errorf("invite of bob: %v, expires %v", err, expires)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

func publicKey(t *testing.T, p *nodetest.InProcess) ed25519.PublicKey {
	t.Helper()
	priv, err := node.LoadIdentity(p.Config.IdentityKey)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := priv.GetPublic().Raw()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func openStore(t *testing.T, dir, keyFile string) *store.Store {
	t.Helper()
	key, err := node.LoadStorageKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	defer clear(key)
	s, err := store.Open(dir, key, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// checkCheckpoint checks that the restored log replays, and extends the
// checkpoint the node signed before the backup by one entry, the restore's.
func checkCheckpoint(t *testing.T, p *nodetest.InProcess, s *store.Store, signed string) {
	t.Helper()
	cp, err := api.OpenCheckpoint([]byte(signed), api.LogOrigin(p.Config.Name), publicKey(t, p))
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(api.LogOrigin(p.Config.Name), ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(func(tx *store.Tx) error {
		n, _, err := l.Replay(tx)
		if err != nil {
			return err
		}
		old, err := l.TreeHash(tx, cp.Size)
		if err != nil {
			return err
		}
		if n != cp.Size+1 || old != cp.Root {
			t.Errorf("the restored log has %d entries, the checkpoint before the backup was of size %d, or the roots of that size differ", n, cp.Size)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("replay the restored log: %v", err)
	}
}
