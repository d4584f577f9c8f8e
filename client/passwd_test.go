package client_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
)

var newPassword = []byte("tr0ub4dor&3 is not the new password")

// steps records the progress of password changes as "node step" lines
// ("all step" for the change as a whole), and runs the hook set for a
// line, once.
type steps struct {
	mu    sync.Mutex
	seen  []string
	hooks map[string]func()
}

func newSteps() *steps { return &steps{hooks: map[string]func(){}} }

func (s *steps) on(line string, hook func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks[line] = hook
}

func (s *steps) progress(p client.PasswdProgress) {
	node := p.Node
	if node == "" {
		node = "all"
	}
	line := node + " " + string(p.Step)
	s.mu.Lock()
	s.seen = append(s.seen, line)
	hook := s.hooks[line]
	delete(s.hooks, line)
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
}

func (s *steps) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.seen
	s.seen = nil
	return out
}

// loginsWith checks that password opens the vault at path (want true) or
// is refused as a wrong password (want false), in a client of its own.
func loginsWith(t *testing.T, path string, pw []byte, want bool) {
	t.Helper()
	c := open(t, path, client.Options{})
	defer c.Close()
	err := c.Unlock(context.Background(), pw)
	switch {
	case want && err != nil:
		t.Fatalf("the password that should log in is refused: %v", err)
	case !want && !errors.Is(err, client.ErrWrongPassword):
		t.Fatalf("the password that should be refused: %v, want ErrWrongPassword", err)
	}
}

// A password change stages and commits a new dealing at every node, each
// step logged there as a PASSWORD entry; then the new password logs in
// and opens the records, and the old one is refused, also after the vault
// is read again from disk. (3 nodes, threshold 2.)
func TestPasswordChangeRetiresTheOldPasswordAndKeepsRecords(t *testing.T) {
	ctx := context.Background()
	tn := startNet(t, 3, 2, nil)
	path := tn.vault(t, "alice")
	st := newSteps()
	c := open(t, path, client.Options{PasswdProgress: st.progress})
	if err := c.Unlock(ctx, password); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangePassword(ctx, password, newPassword); err != nil {
		t.Fatalf("change the password: %v", err)
	}
	want := []string{"n1 staged", "n2 staged", "n3 staged", "all staged", "n1 committed", "n2 committed", "n3 committed", "all committed"}
	if got := st.take(); !slices.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	if p := c.PendingPasswordChange(); p != nil {
		t.Errorf("a change is still pending after it finished: %+v", p)
	}
	if _, err := c.Get(ctx, "acme-portal"); !errors.Is(err, client.ErrVaultLocked) {
		t.Errorf("after the change the client is not locked: %v", err)
	}
	if err := c.Unlock(ctx, newPassword); err != nil {
		t.Fatalf("unlock with the new password: %v", err)
	}
	rec, err := c.Get(ctx, "acme-portal")
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, rec, acme)

	// Every node logged the stage and the commit of epoch 2.
	logged, failed, err := c.Log(ctx)
	if err != nil || len(failed) > 0 {
		t.Fatalf("read the logs: %v %v", err, failed)
	}
	steps := map[string][]string{}
	for _, le := range logged {
		if e := le.Entry; e.Kind == api.EntryKind_PASSWORD && e.Epoch == 2 && e.Outcome == api.Code_OK {
			steps[le.Node] = append(steps[le.Node], strings.Fields(e.Reason)[0])
		}
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		if !slices.Equal(steps[n], []string{"staged", "committed"}) {
			t.Errorf("%s logged the password change as %v, want a stage, then a commit", n, steps[n])
		}
	}
	c.Close()

	loginsWith(t, path, password, false)
	loginsWith(t, path, newPassword, true)
}

// A node that goes down during a change stops it with an error naming the
// node, in a state from which one password logs in, and the next
// ChangePassword, once the node is back, finishes it: during staging the
// old password stays, and the change is dealt again; during the commits
// the new one logs in, no abort is possible, and only the commits left are
// made. (3 nodes, threshold 2.)
func TestPasswordChangeWithANodeDownIsResumed(t *testing.T) {
	ctx := context.Background()
	tn := startNet(t, 3, 2, fixedAddrs(t, 3))
	path := tn.vault(t, "alice")
	st := newSteps()
	c := open(t, path, client.Options{PasswdProgress: st.progress})
	if err := c.Unlock(ctx, password); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	n3 := tn.nodes[2]

	// Down before the change: it needs every node, and records nothing.
	n3.Stop(t)
	err := c.ChangePassword(ctx, password, newPassword)
	if q, named := quorumError(t, err); len(named) != 1 || named["n3"] == nil || q.Reason() != client.ErrNotEnoughCustodians {
		t.Fatalf("a change with n3 down: %v; want n3 named as unreachable", err)
	}
	if p := c.PendingPasswordChange(); p != nil {
		t.Fatalf("a change that reached no node is recorded: %+v", p)
	}
	n3.Start(t)

	// Down while staging: the old password stays.
	st.on("n1 staged", func() { n3.Stop(t) })
	err = c.ChangePassword(ctx, password, newPassword)
	if _, named := quorumError(t, err); len(named) != 1 || named["n3"] == nil {
		t.Fatalf("a change with n3 down while staging: %v; want n3 named", err)
	}
	if p := c.PendingPasswordChange(); p == nil || p.State != vault.ChangeStaging || !slices.Equal(p.Staged, []string{"n1", "n2"}) || p.NewPassword() {
		t.Fatalf("pending after n3 failed to stage: %+v; want staging at n1 and n2, with the old password", p)
	}
	c.Close()
	loginsWith(t, path, password, true)
	loginsWith(t, path, newPassword, false)
	n3.Start(t)
	st.take()
	c = open(t, path, client.Options{PasswdProgress: st.progress})
	if err := c.ChangePassword(ctx, password, newPassword); err != nil {
		t.Fatalf("the change again, n3 back: %v", err)
	}
	if got := st.take(); len(got) != 8 || got[0] != "n1 staged" {
		t.Errorf("the change again took %v; want it dealt and staged anew at every node, then committed", got)
	}
	c.Close()
	loginsWith(t, path, newPassword, true)
	loginsWith(t, path, password, false)

	// Down while committing: only finishing, with the new password.
	third := []byte("a third password, for epoch 3")
	c = open(t, path, client.Options{PasswdProgress: st.progress})
	st.on("n2 committed", func() { n3.Stop(t) })
	err = c.ChangePassword(ctx, newPassword, third)
	if _, named := quorumError(t, err); len(named) != 1 || named["n3"] == nil {
		t.Fatalf("a change with n3 down while committing: %v; want n3 named", err)
	}
	p := c.PendingPasswordChange()
	if p == nil || p.State != vault.ChangeCommitting || !slices.Equal(p.Committed, []string{"n1", "n2"}) || !p.NewPassword() || p.CanAbort() {
		t.Fatalf("pending after n3 failed to commit: %+v; want committing, committed at n1 and n2", p)
	}
	if err := c.AbortPasswordChange(ctx, newPassword); !errors.Is(err, client.ErrChangeCommitted) {
		t.Fatalf("abort after commits: %v, want ErrChangeCommitted", err)
	}
	c.Close()
	loginsWith(t, path, third, true) // n1 and n2 hold it
	loginsWith(t, path, newPassword, false)
	n3.Start(t)
	st.take()
	c = open(t, path, client.Options{PasswdProgress: st.progress})
	if err := c.ChangePassword(ctx, nil, third); err != nil {
		t.Fatalf("finish the change, n3 back: %v", err)
	}
	if got := st.take(); !slices.Equal(got, []string{"n3 committed", "all committed"}) {
		t.Errorf("finishing took %v; want n3's commit alone", got)
	}
	c.Close()
	loginsWith(t, path, third, true)
	loginsWith(t, path, newPassword, false)
	for _, p := range tn.nodes {
		if users, err := p.Admin().Users(ctx); err != nil || len(users) != 1 || users[0].Locked {
			t.Errorf("%s: users %v (%v)", p.Config.Name, users, err)
		}
	}
}

// A change that every node staged and none committed can be aborted with
// the old password, which then logs in again while the new one is refused;
// until then the new one logs in. A node down then holds up the commits
// (the change stays abortable) and the abort (which the next call
// finishes). Enroll waits for the change. (3 nodes, threshold 2.)
func TestAbortedPasswordChangeKeepsTheOldPassword(t *testing.T) {
	tn := startNet(t, 3, 2, fixedAddrs(t, 3))
	path := tn.vault(t, "alice")
	st := newSteps()
	c := open(t, path, client.Options{PasswdProgress: st.progress})
	ctx, cancel := context.WithCancel(context.Background())
	st.on("all staged", cancel)
	if err := c.ChangePassword(ctx, password, newPassword); !errors.Is(err, context.Canceled) {
		t.Fatalf("a change stopped once staged: %v", err)
	}
	ctx = context.Background()
	if p := c.PendingPasswordChange(); p == nil || p.State != vault.ChangeStaged || !p.NewPassword() || !p.CanAbort() {
		t.Fatalf("pending: %+v; want staged, with the new password", p)
	}
	if _, err := c.Enroll(ctx, password, nil); !errors.Is(err, client.ErrPasswordChangePending) {
		t.Errorf("enroll during a change: %v, want ErrPasswordChangePending", err)
	}

	// With n3 down no commit is sent: the change stays abortable.
	n3 := tn.nodes[2]
	n3.Stop(t)
	err := c.ChangePassword(ctx, nil, newPassword)
	if _, named := quorumError(t, err); len(named) != 1 || named["n3"] == nil {
		t.Fatalf("finishing with n3 down: %v; want n3 named", err)
	}
	if p := c.PendingPasswordChange(); p == nil || p.State != vault.ChangeStaged {
		t.Fatalf("finishing with n3 down left %+v; want it staged, no commit sent", p)
	}
	c.Close()
	loginsWith(t, path, newPassword, true)

	c = open(t, path, client.Options{PasswdProgress: st.progress})
	if err := c.AbortPasswordChange(ctx, wrongPassword); !errors.Is(err, client.ErrWrongPassword) {
		t.Fatalf("abort with a wrong password: %v", err)
	}
	if p := c.PendingPasswordChange(); p == nil || p.State != vault.ChangeStaged {
		t.Fatalf("a refused abort changed the change: %+v", p)
	}
	st.take()
	err = c.AbortPasswordChange(ctx, password)
	if _, named := quorumError(t, err); len(named) != 1 || named["n3"] == nil {
		t.Fatalf("abort with n3 down: %v; want n3 named", err)
	}
	if p := c.PendingPasswordChange(); p == nil || p.State != vault.ChangeAborting || !slices.Equal(p.Staged, []string{"n3"}) || p.NewPassword() {
		t.Fatalf("pending after an abort n3 missed: %+v; want aborting, unconfirmed at n3", p)
	}
	if got := st.take(); !slices.Equal(got, []string{"n1 aborted", "n2 aborted"}) {
		t.Errorf("the abort with n3 down took %v", got)
	}
	c.Close()
	loginsWith(t, path, password, true)

	n3.Start(t)
	c = open(t, path, client.Options{PasswdProgress: st.progress})
	if err := c.AbortPasswordChange(ctx, password); err != nil {
		t.Fatalf("abort again, n3 back: %v", err)
	}
	if got := st.take(); !slices.Equal(got, []string{"n3 aborted", "all aborted"}) {
		t.Errorf("the abort again took %v; want n3's alone", got)
	}
	if p := c.PendingPasswordChange(); p != nil {
		t.Fatalf("pending after the abort: %+v", p)
	}
	if err := c.AbortPasswordChange(ctx, password); !errors.Is(err, client.ErrNoPasswordChange) {
		t.Errorf("a second abort: %v, want ErrNoPasswordChange", err)
	}
	c.Close()
	loginsWith(t, path, password, true)
	loginsWith(t, path, newPassword, false)
}
