package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// typoBackoff gives nodes a login backoff of 3 s after the first failure:
// longer than a loaded machine takes for the next Unlock (so the wait is
// always met), shorter than the default MaxLoginWait of 5 s.
func typoBackoff(int) ([]string, []nodetest.Option) {
	return nil, []nodetest.Option{func(c *config.Config) {
		c.Auth.BackoffBase, c.Auth.BackoffMax = 3*time.Second, 24*time.Second
	}}
}

// After one mistyped password the right one works at once: Unlock waits
// out the nodes' backoff itself, within Options.MaxLoginWait, and says so.
// A longer backoff is not waited for: the unlock fails as asked to wait.
func TestTypoDoesNotRefuseTheRightPasswordThatFollows(t *testing.T) {
	tn := startNet(t, 3, 2, typoBackoff)
	ctx := context.Background()

	t.Run("a backoff within MaxLoginWait is waited out", func(t *testing.T) {
		core, logs := observer.New(zapcore.WarnLevel)
		c := open(t, tn.vault(t, "alice"), client.Options{Logger: zap.New(core)})
		if err := c.Unlock(ctx, wrongPassword); !errors.Is(err, client.ErrWrongPassword) {
			t.Fatalf("got %v, want ErrWrongPassword", err)
		}
		if err := c.Unlock(ctx, password); err != nil {
			t.Fatalf("the right password after a typo: %v", err)
		}
		waits := logs.FilterMessageSnippet("asked to wait before the next login").All()
		if len(waits) != 1 {
			t.Fatalf("%d warnings of a wait, want 1: %v", len(waits), logs.All())
		}
	})

	t.Run("a backoff beyond MaxLoginWait is reported, not waited", func(t *testing.T) {
		c := open(t, tn.vault(t, "bob"), client.Options{MaxLoginWait: 10 * time.Millisecond})
		if err := c.Unlock(ctx, wrongPassword); !errors.Is(err, client.ErrWrongPassword) {
			t.Fatalf("got %v, want ErrWrongPassword", err)
		}
		err := c.Unlock(ctx, password)
		q, _ := quorumError(t, err)
		if q.Reason() != client.ErrRateLimited {
			t.Fatalf("reason %v, want ErrRateLimited: %v", q.Reason(), err)
		}
		if !strings.HasPrefix(err.Error(), "unlock: asked to wait by n1, n2 and n3\n") {
			t.Fatalf("message %q does not lead with the wait", err)
		}
	})
}

// A QuorumError leads with what the user must act on when that, not nodes
// that could not be reached, kept the operation short.
func TestQuorumErrorLeadsWithTheRefusal(t *testing.T) {
	wrong := fmt.Errorf("refused: %w", client.ErrWrongPassword)
	down := errors.New("cannot reach it: connection refused")
	locked := api.Errorf(api.Code_LOCKED, "the account is locked")
	wait := &api.StatusError{Code: api.Code_RATE_LIMITED, Message: "wait before the next login", RetryAfter: time.Second}
	notEnrolled := fmt.Errorf("refused: %w", client.ErrNotEnrolled)
	refused := api.Errorf(api.Code_UNAUTHENTICATED, "wrong user or password")
	left := func(n int) error { return &client.WrongPasswordError{AttemptsLeft: n, Err: refused} }
	lying := fmt.Errorf("login: %w", client.ErrBadEvaluation)
	nodes := func(errs ...error) []*client.NodeError {
		var out []*client.NodeError
		for i, err := range errs {
			if err != nil {
				out = append(out, &client.NodeError{Node: fmt.Sprintf("n%d", i+1), Err: err})
			}
		}
		return out
	}
	cases := []struct {
		name     string
		q        client.QuorumError
		reason   error
		headline string
	}{
		{"a wrong password leads, not the count", client.QuorumError{Op: "unlock", Need: 2, Nodes: nodes(wrong, wrong, wrong)},
			client.ErrWrongPassword, "unlock: wrong password (refused by n1, n2 and n3)"},
		{"a wrong password leads also with nodes down", client.QuorumError{Op: "unlock", Need: 3, Nodes: nodes(wrong, wrong, down, down, down)},
			client.ErrWrongPassword, "unlock: wrong password (refused by n1 and n2)"},
		{"the attempts left lead with a wrong password", client.QuorumError{Op: "unlock", Need: 2, Nodes: nodes(left(9), left(9), left(9))},
			client.ErrWrongPassword, "unlock: wrong password (refused by n1, n2 and n3; 9 attempts left at each before it locks the account)"},
		{"differing attempts left are named per node", client.QuorumError{Op: "unlock", Need: 2, Nodes: nodes(left(9), left(8), down)},
			client.ErrWrongPassword, "unlock: wrong password (refused by n1 and n2; attempts left before each locks the account: 9 at n1 and 8 at n2)"},
		{"one node's attempts left", client.QuorumError{Op: "unlock", Need: 2, Nodes: nodes(left(1), down, down)},
			client.ErrWrongPassword, "unlock: wrong password (refused by n1; 1 attempt left before it locks the account)"},
		{"a lying node is no refusal: the count leads", client.QuorumError{Op: "unlock", Need: 3, Have: 2, Nodes: nodes(nil, nil, lying)},
			client.ErrNotEnoughCustodians, "unlock: 2 of the 3 custodians needed agreed"},
		{"locks that block lead", client.QuorumError{Op: "unlock", Need: 2, Have: 1, Nodes: nodes(locked, nil, down)},
			client.ErrLocked, "unlock: account locked at n1"},
		{"several refusals are named by kind", client.QuorumError{Op: "unlock", Need: 3, Have: 1, Nodes: nodes(locked, notEnrolled, nil)},
			client.ErrLocked, "unlock: account locked at n1; not enrolled at n2"},
		{"a node not enrolled leads a put", client.QuorumError{Op: "put acme", Need: 3, Have: 2, Nodes: nodes(nil, nil, notEnrolled)},
			client.ErrNotEnrolled, "put acme: not enrolled at n3"},
		{"a node asking to wait leads", client.QuorumError{Op: "unlock", Need: 2, Have: 1, Nodes: nodes(wait, nil)},
			client.ErrRateLimited, "unlock: asked to wait by n1"},
		{"nodes down lead when refusals could not have made up the shortfall",
			client.QuorumError{Op: "unlock", Need: 3, Have: 1, Nodes: nodes(locked, down, down, down, nil)},
			client.ErrNotEnoughCustodians, "unlock: 1 of the 3 custodians needed agreed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.q.Reason(); got != tc.reason {
				t.Errorf("reason %v, want %v", got, tc.reason)
			}
			if !errors.Is(&tc.q, tc.reason) || !errors.Is(&tc.q, client.ErrNotEnoughCustodians) {
				t.Errorf("does not match its reason and ErrNotEnoughCustodians")
			}
			msg := tc.q.Error()
			headline, detail, _ := strings.Cut(msg, "\n")
			if headline != tc.headline {
				t.Errorf("headline %q, want %q", headline, tc.headline)
			}
			if tc.reason != client.ErrNotEnoughCustodians && strings.Contains(msg, "custodians needed agreed") {
				t.Errorf("message %q counts custodians", msg)
			}
			if got, want := strings.Count(detail, "\n")+1, len(tc.q.Nodes); got != want {
				t.Errorf("%d detail lines, want one per failed node (%d): %q", got, want, detail)
			}
		})
	}
}

// Requests that all find a node's session gone (the node restarted) share
// one login there: each login counts at the node and sets its backoff, so
// separate logins would refuse one another.
func TestConcurrentRequestsShareOneLoginAgain(t *testing.T) {
	ctx := context.Background()
	addrs := []string{freeTCP(t), freeTCP(t)}
	tn := startNet(t, 2, 2, func(i int) ([]string, []nodetest.Option) {
		return nil, []nodetest.Option{nodetest.Listen(addrs[i])}
	})
	c, _ := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// n1 restarts: its sessions are gone, and every get needs it.
	tn.nodes[0].Stop(t)
	tn.nodes[0].Start(t)
	const gets = 8
	errs := make(chan error, gets)
	for range gets {
		go func() {
			rec, err := c.Get(ctx, "acme-portal")
			if err == nil {
				rec.Wipe()
			}
			errs <- err
		}()
	}
	for range gets {
		if err := <-errs; err != nil {
			// A get may find the old connection closed and fail once;
			// none may be refused by the node's login backoff.
			if errors.Is(err, client.ErrRateLimited) {
				t.Errorf("a get was refused by the login backoff: %v", err)
			} else {
				t.Logf("get: %v", err)
			}
		}
	}
}

// Close waits for the operations in flight and admits none after it: a get
// racing a Close either opens its record or is refused with ErrClosed, and
// never reads the vault after Close wiped it (the race detector watches).
func TestCloseWaitsForOperationsInFlight(t *testing.T) {
	ctx := context.Background()
	tn := startNet(t, 3, 2, nil)
	c, _ := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	const gets = 4
	errs := make(chan error, gets)
	for range gets {
		go func() {
			rec, err := c.Get(ctx, "acme-portal")
			if err == nil {
				rec.Wipe()
			}
			errs <- err
		}()
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for range gets {
		if err := <-errs; err != nil && !errors.Is(err, client.ErrClosed) {
			t.Errorf("a get racing Close: %v; want success or ErrClosed", err)
		}
	}
	if _, err := c.Get(ctx, "acme-portal"); !errors.Is(err, client.ErrClosed) {
		t.Errorf("a get after Close: %v; want ErrClosed", err)
	}
}

// Each node that refused the password says how many attempts it has left,
// in its line of the error and in QuorumError.AttemptsLeft; a lying node's
// line names it as such.
func TestQuorumErrorSaysTheAttemptsLeft(t *testing.T) {
	refused := api.Errorf(api.Code_UNAUTHENTICATED, "wrong user or password")
	q := &client.QuorumError{Op: "unlock", Need: 2, Nodes: []*client.NodeError{
		{Node: "n1", Err: &client.WrongPasswordError{AttemptsLeft: 7, Err: refused}},
		{Node: "n2", Err: &client.WrongPasswordError{AttemptsLeft: 0, Err: refused}},
		{Node: "n3", Err: fmt.Errorf("login: %w", client.ErrBadEvaluation)},
	}}
	if got := q.AttemptsLeft(); len(got) != 2 || got["n1"] != 7 || got["n2"] != 0 {
		t.Errorf("AttemptsLeft = %v", got)
	}
	for _, line := range []string{
		"\n  n1: wrong user or password (7 attempts left before this node locks the account)",
		"\n  n2: wrong user or password (no attempts left: the account is locked here now)",
		"\n  n3: login: sent a password evaluation that does not verify against its public share: faulty or lying",
	} {
		if !strings.Contains(q.Error(), line) {
			t.Errorf("the error lacks %q:\n%s", line, q)
		}
	}
	if !errors.Is(q, client.ErrWrongPassword) || !errors.Is(q, client.ErrBadEvaluation) {
		t.Error("the error does not match ErrWrongPassword and ErrBadEvaluation")
	}
}
