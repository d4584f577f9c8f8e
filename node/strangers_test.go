package node_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// TestStrangerRefusalsAreBounded: anyone can make fresh device keys, so
// the logged refusals of devices not enrolled are bounded node-wide
// (auth.stranger_log); past it they are refused the same, unlogged, and
// the next logged one says how many went before it. An enrolled user's
// failed logins are always logged.
func TestStrangerRefusalsAreBounded(t *testing.T) {
	// The flood below must end within one period, also under -race on a
	// busy machine.
	const every = 3 * time.Second
	n := nodetest.Start(t, func(c *config.Config) {
		c.Enrollment = "invite"
		c.Auth.StrangerLog = config.Bucket{Burst: 3, Every: every}
		c.Auth.BackoffBase, c.Auth.BackoffMax = time.Millisecond, time.Millisecond
	})
	ctx := context.Background()
	alice := loggedIn(t, n, "alice")
	start := len(rawLog(t, n))

	stranger := func(i int) error {
		d := device(t, n, fmt.Sprintf("ghost%d", i))
		return d.Login(ctx, n.ID())
	}
	const tries = 10
	for i := range tries {
		if err := stranger(i); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("stranger %d: %v, want NOT_FOUND", i, err)
		}
	}
	// A refused enrollment (no invite token) is a stranger's refusal too.
	if err := device(t, n, "ghost-enroll").Enroll(ctx, n.ID(), ""); err == nil {
		t.Fatal("an enrollment without a token was taken")
	}
	if got := len(rawLog(t, n)) - start; got != 3 {
		t.Fatalf("%d refusals of strangers logged, want the burst of 3", got)
	}
	if _, body := get(t, "http://"+n.OpsAddrForTest()+"/metrics"); !regexp.MustCompile(`(?m)^custos_unlogged_refusals_total 8$`).MatchString(body) {
		t.Errorf("/metrics does not count the 8 unlogged refusals")
	}

	// An enrolled user's failed logins are still every one logged: the
	// counted attempt (EVALUATION) and its outcome (LOGIN).
	alice.SetPassword("wrong")
	for range 3 {
		if err := alice.Login(ctx, n.ID()); !errors.Is(err, api.ErrUnauthenticated) {
			t.Fatalf("a wrong password: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := len(rawLog(t, n)) - start; got != 9 {
		t.Fatalf("%d entries after 3 failed logins of alice, want 6 more", got)
	}

	time.Sleep(every + 50*time.Millisecond)
	if err := stranger(tries); !errors.Is(err, api.ErrNotFound) {
		t.Fatal(err)
	}
	last := entries(t, n, start+9)
	if len(last) != 1 || last[0].Kind != api.EntryKind_LOGIN || !strings.Contains(last[0].Reason, "after 8 refusals like it not logged") {
		t.Fatalf("the next logged refusal: %v; want it to count the 8 unlogged", last)
	}
}
