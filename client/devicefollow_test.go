package client_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/custos-network/custos/client"
)

// secondDevice exports the vault at path and imports it as a second device
// of user, kept beside the first, enrolled at every node with new-device
// invites. It returns the new vault's path.
func (tn *testNet) secondDevice(t *testing.T, user, path string) string {
	t.Helper()
	ctx := context.Background()
	key, err := client.NewRecoveryKey()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "export.age")
	a := open(t, path, client.Options{})
	if err := a.ExportVault(file, key.Recipient()); err != nil {
		t.Fatal(err)
	}
	a.Close()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	second := filepath.Join(t.TempDir(), "second", "vault.db")
	if _, err := client.BeginImport(second, f, true, nil, key); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, p := range tn.nodes {
		inv, err := p.Admin().InviteDevice(ctx, user, 0)
		if err != nil {
			t.Fatal(err)
		}
		tokens[p.Config.Name] = inv.Token
	}
	b := open(t, second, client.Options{})
	if _, err := b.FinishImport(ctx, password, tokens, nil); err != nil {
		t.Fatalf("import the second device: %v", err)
	}
	b.Close()
	return second
}

// copyFile copies the vault at from to a new path and returns it: the same
// device, in the state it had.
func copyFile(t *testing.T, from string) string {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "copy", "vault.db")
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return to
}

// After device A changes the password, device B, a second device of the
// same user whose vault still holds the old dealing, follows the change
// with no copy of A's vault: with the old password it is refused as a
// wrong password; with the new one it unlocks and opens a record, and a
// node that hands it a forged dealing note is named and ignored while the
// other nodes' notes suffice. (3 nodes, threshold 2.)
func TestOtherDeviceFollowsAPasswordChange(t *testing.T) {
	ctx := context.Background()
	tn := startNet(t, 3, 2, fixedAddrs(t, 3))
	pathA := tn.vault(t, "alice")
	a := open(t, pathA, client.Options{})
	if err := a.Unlock(ctx, password); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	pathB := tn.secondDevice(t, "alice", pathA)
	oldB, otherB := copyFile(t, pathB), copyFile(t, pathB)

	a = open(t, pathA, client.Options{})
	if err := a.ChangePassword(ctx, password, newPassword); err != nil {
		t.Fatalf("change the password on A: %v", err)
	}
	a.Close()

	t.Run("the old password is a wrong password", func(t *testing.T) {
		loginsWith(t, oldB, password, false)
	})

	t.Run("the new password unlocks, past a node that forges its note", func(t *testing.T) {
		tn.nodes[1].Stop(t)
		tn.nodes[1].StartEnv(t, []string{"CUSTOS_FAULT=forge-note"})
		log, logs := observed()
		b := open(t, pathB, client.Options{Logger: log})
		if err := b.Unlock(ctx, newPassword); err != nil {
			t.Fatalf("B unlocks with the new password: %v", err)
		}
		rec, err := b.Get(ctx, "acme-portal")
		if err != nil {
			t.Fatal(err)
		}
		sameRecord(t, rec, acme)
		var named []string
		for _, e := range logs.FilterMessageSnippet("dealing note").All() {
			if n, ok := e.ContextMap()["node"].(string); ok {
				named = append(named, n)
			}
		}
		if !slices.Equal(named, []string{"n2"}) {
			t.Errorf("the warnings about forged notes named %v, want n2", named)
		}
		b.Close()
		// B's vault holds the new dealing now: it unlocks with no note.
		loginsWith(t, pathB, newPassword, true)
		loginsWith(t, pathB, password, false)
	})

	t.Run("a device that missed a change changes the password again, and the other follows", func(t *testing.T) {
		b := open(t, otherB, client.Options{})
		if err := b.ChangePassword(ctx, newPassword, thirdPassword); err != nil {
			t.Fatalf("change the password on a device that missed the change before: %v", err)
		}
		b.Close()
		loginsWith(t, pathA, thirdPassword, true)
	})
}

var thirdPassword = []byte("a third password, for a third epoch")

// A device whose vault holds the dealing before an interrupted password
// change (staged at every node, committed at none) logs in with the old
// password and adopts nothing: only a committed dealing is followed.
func TestOtherDeviceDoesNotFollowAnUncommittedChange(t *testing.T) {
	ctx := context.Background()
	tn := startNet(t, 3, 2, nil)
	pathA := tn.vault(t, "alice")
	pathB := tn.secondDevice(t, "alice", pathA)
	st := newSteps()
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	st.on("all staged", cancel)
	a := open(t, pathA, client.Options{PasswdProgress: st.progress})
	if err := a.ChangePassword(stop, password, newPassword); !errors.Is(err, context.Canceled) {
		t.Fatalf("the change cut short after staging: %v", err)
	}
	a.Close()
	loginsWith(t, pathB, password, true)
	loginsWith(t, pathB, newPassword, false)
}
