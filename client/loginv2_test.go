package client_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
	"github.com/custos-network/custos/node/store"
)

// fixedAddrs gives each node an address of its own that survives restarts,
// so that a test can restart a node with a fault armed.
func fixedAddrs(t *testing.T, n int, more ...nodetest.Option) nodeSpec {
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = freeTCP(t)
	}
	return func(i int) ([]string, []nodetest.Option) {
		return nil, append([]nodetest.Option{nodetest.Listen(addrs[i])}, more...)
	}
}

// failures is each running node's count of failed logins of user, in
// network order (-1 for a node not running).
func (tn *testNet) failures(t *testing.T, user string) []int {
	t.Helper()
	var out []int
	for _, p := range tn.nodes {
		if p.Exited() {
			out = append(out, -1)
			continue
		}
		users, err := p.Admin().Users(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n := -1
		for _, u := range users {
			if u.User == user {
				n = u.Failures
			}
		}
		out = append(out, n)
	}
	return out
}

// eventualFailures waits up to 10 s for the nodes' failure counts to be
// want, and returns the last counts: a login the client stopped waiting
// for (it had k) may still be between its count and its reset.
func (tn *testNet) eventualFailures(t *testing.T, user string, want []int) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := tn.failures(t, user)
		if slices.Equal(got, want) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A node whose OPRF evaluation, or its proof, does not verify is named and
// dropped, and is sent no signature (its counted attempt is never reset):
// the unlock succeeds with k honest nodes and fails cleanly with fewer,
// naming each liar and no honest node as lying. (5 nodes, threshold 3.)
func TestLyingEvaluatorsAreNamedAndDropped(t *testing.T) {
	ctx := context.Background()
	tn := startNet(t, 5, 3, fixedAddrs(t, 5))
	path := tn.vault(t, "alice")
	{
		c := open(t, path, client.Options{})
		if err := c.Unlock(ctx, password); err != nil {
			t.Fatal(err)
		}
		if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	arm := func(i int, fault string) {
		tn.nodes[i].Stop(t)
		tn.nodes[i].StartEnv(t, []string{"CUSTOS_FAULT=" + fault})
	}
	// unlock opens the vault and unlocks it; it returns the nodes the
	// warnings named and the error.
	unlock := func(t *testing.T) (*client.Client, []string, error) {
		log, logs := observed()
		c := open(t, path, client.Options{Logger: log})
		err := c.Unlock(ctx, password)
		var named []string
		for _, e := range logs.FilterMessageSnippet("password evaluation that does not verify").All() {
			if e.Level != zapcore.WarnLevel {
				t.Errorf("logged at %s: %s", e.Level, e.Message)
			}
			named = append(named, e.ContextMap()["node"].(string))
		}
		slices.Sort(named)
		return c, named, err
	}

	t.Run("one node with a broken proof", func(t *testing.T) {
		arm(1, "bad-proof")
		c, named, err := unlock(t)
		if err != nil {
			t.Fatalf("unlock with one liar of five: %v", err)
		}
		if !slices.Equal(named, []string{"n2"}) {
			t.Errorf("warnings named %v, want n2", named)
		}
		rec, err := c.Get(ctx, "acme-portal")
		if err != nil {
			t.Fatal(err)
		}
		sameRecord(t, rec, acme)
		if got := tn.eventualFailures(t, "alice", []int{0, 1, 0, 0, 0}); !slices.Equal(got, []int{0, 1, 0, 0, 0}) {
			t.Errorf("failures %v: the liar's attempt must stay counted (no signature), the others reset", got)
		}
		// A put needs every node: the liar stays left out, not logged in
		// again with a challenge alone.
		err = c.Put(ctx, "globex-api", globex, client.PutOptions{})
		if _, named := quorumError(t, err); !errors.Is(named["n2"], client.ErrBadEvaluation) || len(named) != 1 {
			t.Errorf("a put after the liar was dropped: %v; want n2 named alone, with ErrBadEvaluation", err)
		}
	})

	t.Run("two nodes, a broken proof and a wrong evaluation", func(t *testing.T) {
		arm(3, "bad-evaluation")
		c, named, err := unlock(t)
		if err != nil {
			t.Fatalf("unlock with exactly k honest nodes: %v", err)
		}
		if !slices.Equal(named, []string{"n2", "n4"}) {
			t.Errorf("warnings named %v, want n2 and n4", named)
		}
		rec, err := c.Get(ctx, "acme-portal")
		if err != nil {
			t.Fatal(err)
		}
		sameRecord(t, rec, acme)
	})

	t.Run("fewer than k honest nodes fail cleanly", func(t *testing.T) {
		tn.nodes[4].Stop(t)
		c, _, err := unlock(t)
		q, named := quorumError(t, err)
		if q.Have != 2 || q.Reason() != client.ErrNotEnoughCustodians {
			t.Errorf("have %d, reason %v; want the 2 honest nodes and ErrNotEnoughCustodians", q.Have, q.Reason())
		}
		for _, name := range []string{"n2", "n4"} {
			if !errors.Is(named[name], client.ErrBadEvaluation) {
				t.Errorf("%s: %v, want ErrBadEvaluation", name, named[name])
			}
		}
		for _, name := range []string{"n1", "n3"} {
			if named[name] != nil {
				t.Errorf("%s, an honest node, is named: %v", name, named[name])
			}
		}
		if named["n5"] == nil || errors.Is(named["n5"], client.ErrBadEvaluation) {
			t.Errorf("n5, stopped: %v; want it named as not answering", named["n5"])
		}
		if !strings.HasPrefix(err.Error(), "unlock: 2 of the 3 custodians needed agreed\n") {
			t.Errorf("headline of %q", err)
		}
		if _, err := c.Get(ctx, "acme-portal"); !errors.Is(err, client.ErrVaultLocked) {
			t.Errorf("get after the failed unlock: %v, want ErrVaultLocked", err)
		}
	})
}

// A wrong password is told apart from a lying node: every evaluation
// verifies and every node refuses the signature, saying how many attempts
// it has left; no node is named as lying.
func TestWrongPasswordSaysTheAttemptsLeft(t *testing.T) {
	ctx := context.Background()
	tn := startNet(t, 3, 2, nil)
	c := open(t, tn.vault(t, "alice"), client.Options{})
	err := c.Unlock(ctx, wrongPassword)
	q, named := quorumError(t, err)
	if q.Reason() != client.ErrWrongPassword {
		t.Fatalf("reason %v, want ErrWrongPassword: %v", q.Reason(), err)
	}
	for _, name := range []string{"n1", "n2", "n3"} {
		var w *client.WrongPasswordError
		if !errors.As(named[name], &w) || w.AttemptsLeft != 9 {
			t.Errorf("%s: %v; want a WrongPasswordError with 9 attempts left", name, named[name])
		}
		if errors.Is(named[name], client.ErrBadEvaluation) {
			t.Errorf("%s is named as lying for a wrong password", name)
		}
	}
	want := "unlock: wrong password (refused by n1, n2 and n3; 9 attempts left at each before it locks the account)"
	if headline, _, _ := strings.Cut(err.Error(), "\n"); headline != want {
		t.Errorf("headline %q, want %q", headline, want)
	}
}

// A stolen device trying wrong passwords is locked out at every node after
// max_login_failures counted evaluations per node: each unlock counts one
// at every node and says what is left, the last locks every account, and
// after that even the right password is refused and counted nowhere.
func TestStolenDeviceIsLockedOutAfterTheGuessBudget(t *testing.T) {
	const maxFailures = 3
	ctx := context.Background()
	tn := startNet(t, 3, 2, func(int) ([]string, []nodetest.Option) {
		return nil, []nodetest.Option{func(c *config.Config) { c.Auth.MaxLoginFailures = maxFailures }}
	})
	c := open(t, tn.vault(t, "alice"), client.Options{})
	for guess := 1; guess < maxFailures; guess++ {
		q, _ := quorumError(t, c.Unlock(ctx, wrongPassword))
		left := q.AttemptsLeft()
		for _, name := range []string{"n1", "n2", "n3"} {
			if a, ok := left[name]; !ok || a != maxFailures-guess {
				t.Fatalf("guess %d: %s says %d attempts left (%v), want %d", guess, name, a, ok, maxFailures-guess)
			}
		}
	}
	q, named := quorumError(t, c.Unlock(ctx, wrongPassword))
	if q.Reason() != client.ErrLocked || len(named) != 3 {
		t.Fatalf("guess %d: reason %v, nodes %v; want every account locked", maxFailures, q.Reason(), q.Nodes)
	}
	q, _ = quorumError(t, c.Unlock(ctx, password))
	if q.Reason() != client.ErrLocked {
		t.Fatalf("the right password after the lock: %v, want ErrLocked", q)
	}
	for _, p := range tn.nodes {
		users, err := p.Admin().Users(ctx)
		if err != nil || len(users) != 1 {
			t.Fatalf("%s: %v %v", p.Config.Name, users, err)
		}
		if u := users[0]; !u.Locked || u.Failures != maxFailures {
			t.Errorf("%s: locked %v after %d failures; want locked after %d", p.Config.Name, u.Locked, u.Failures, maxFailures)
		}
	}
}

// A login again while unlocked (the node restarted, so its session is
// gone) sends a hello without a blinded element and signs with the login
// key kept since Unlock. The node restarts armed to corrupt every
// evaluation it sends: a login that asked for one would fail on it, and
// the get needs that node.
func TestLoginAgainAfterRestartSendsNoBlindedElement(t *testing.T) {
	ctx := context.Background()
	tn := startNet(t, 3, 2, fixedAddrs(t, 3))
	c, _ := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	tn.nodes[2].Stop(t) // the get needs n1 and n2
	tn.nodes[0].Stop(t)
	tn.nodes[0].StartEnv(t, []string{"CUSTOS_FAULT=bad-evaluation"})
	var rec *client.Record
	var err error
	for range 2 { // the first may find the old connection closed
		if rec, err = c.Get(ctx, "acme-portal"); err == nil {
			break
		}
		if errors.Is(err, client.ErrBadEvaluation) {
			t.Fatalf("the login again asked for an evaluation: %v", err)
		}
	}
	if err != nil {
		t.Fatalf("get after n1 restarted: %v", err)
	}
	sameRecord(t, rec, acme)
	if got := tn.eventualFailures(t, "alice", []int{0, 0, -1}); got[0] != 0 {
		t.Errorf("failures at n1 after the login again: %d, want 0 (counted, then reset)", got[0])
	}
	// The node logged the attempt as an evaluation of a challenge alone.
	alone := 0
	for _, e := range loggedEntries(t, tn.nodes[0], "alice") {
		if e.Kind == api.EntryKind_EVALUATION && strings.Contains(e.Reason, "challenge alone") {
			alone++
		}
	}
	if alone == 0 {
		t.Error("n1 logged no evaluation of a challenge alone")
	}
}

// loggedEntries stops node p and returns its log entries about user.
func loggedEntries(t *testing.T, p *nodetest.Process, user string) []*api.Entry {
	t.Helper()
	s := stoppedStore(t, p)
	defer s.Close()
	var out []*api.Entry
	err := s.View(func(tx *store.Tx) error {
		size, err := tx.LogSize()
		if err != nil {
			return err
		}
		for i := range size {
			b, err := tx.LogEntry(i)
			if err != nil {
				return err
			}
			e, err := api.ParseEntry(b)
			if err != nil {
				return err
			}
			if e.User == user {
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
