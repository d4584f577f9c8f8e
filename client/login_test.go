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

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/node/api"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// secondBackoff gives nodes their default login backoff: a second after
// the first failure, doubling.
func secondBackoff(int) ([]string, []nodetest.Option) {
	return nil, []nodetest.Option{func(c *config.Config) {
		c.Auth.BackoffBase, c.Auth.BackoffMax = time.Second, 8*time.Second
	}}
}

// After one mistyped password the right one works at once: Unlock waits
// out the nodes' backoff itself, within Options.MaxLoginWait, and says so.
// A longer backoff is not waited for: the unlock fails as asked to wait.
func TestTypoDoesNotRefuseTheRightPasswordThatFollows(t *testing.T) {
	tn := startNet(t, 3, 2, secondBackoff)
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
