package node_test

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// TestPutsAndDeletesCannotGrowTheLog: every put and delete adds a log
// entry, so each takes a token of its user's limits.user_writes bucket
// before the store is touched; past the bucket they are refused, and one
// refusal per period is logged. So N put and delete pairs of a logged-in
// device add a few small entries, not 2N.
func TestPutsAndDeletesCannotGrowTheLog(t *testing.T) {
	const burst, pairs = 5, 300
	e := newEnv(t, opt(func(c *config.Config) {
		c.Limits.UserWrites = config.Bucket{Burst: burst, Every: time.Hour}
	})...)
	start := len(rawLog(t, e.n))
	tokens := burst - 1 // newEnv's put took one
	wrong := 0
	for i := range pairs {
		u := nodetest.Unit()
		_, putErr := e.alice.Put(e.ctx, e.n.ID(), u, nodetest.Share())
		delErr := e.alice.Delete(e.ctx, e.n.ID(), u)
		for j, err := range []error{putErr, delErr} {
			k := 2*i + j
			if k < tokens && err == nil || k >= tokens && nodetest.IsCode(err, api.Code_RATE_LIMITED) {
				continue
			}
			if wrong++; wrong == 1 {
				t.Errorf("write %d: %v; want OK within the burst of %d, RATE_LIMITED past it", k, err, burst)
			}
		}
	}
	if wrong > 1 {
		t.Errorf("and %d more writes got another answer than they should", wrong-1)
	}

	added := entries(t, e.n, start)
	total := 0
	for _, b := range rawLog(t, e.n)[start:] {
		total += len(b)
	}
	t.Logf("%d puts and deletes added %d entries, %d bytes", 2*pairs, len(added), total)
	if len(added) != tokens+1 {
		t.Fatalf("%d puts and deletes added %d log entries; want %d (the burst left, and the first refusal past it)", 2*pairs, len(added), tokens+1)
	}
	if last := added[tokens]; last.Outcome != api.Code_RATE_LIMITED {
		t.Errorf("the last entry is %s/%s; want the refusal past the burst", last.Kind, last.Outcome)
	}
	want := strconv.Itoa(2*pairs - tokens - 1)
	if _, body := get(t, "http://"+e.n.OpsAddrForTest()+"/metrics"); !regexp.MustCompile(`(?m)^custos_unlogged_write_refusals_total ` + want + `$`).MatchString(body) {
		t.Errorf("/metrics does not count the %s refusals not logged", want)
	}
	e.releasable() // releases have their own budget
}

// TestRefusedLoginsOfAnAccountCannotGrowTheLog: a device whose account is
// locked, or must wait out a backoff, may ask to log in again and again
// (within auth.logins), and each refusal costs it nothing; they are logged
// within the account's auth.refusal_log, and counted past it. Counted
// attempts (wrong passwords) are always logged.
func TestRefusedLoginsOfAnAccountCannotGrowTheLog(t *testing.T) {
	const burst, tries = 3, 30
	n := nodetest.Start(t, func(c *config.Config) {
		c.Auth.Logins = config.Bucket{Burst: 1000, Every: time.Second}
		c.Auth.RefusalLog = config.Bucket{Burst: burst, Every: time.Hour}
		c.Auth.BackoffBase, c.Auth.BackoffMax = time.Hour, time.Hour
	})
	ctx := t.Context()
	alice, bob := loggedIn(t, n, "alice"), loggedIn(t, n, "bob")
	if err := n.Lock(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	bob.SetPassword("wrong")
	if err := bob.Login(ctx, n.ID()); !errors.Is(err, api.ErrUnauthenticated) {
		t.Fatalf("bob's wrong password: %v", err)
	}
	start := len(rawLog(t, n))

	for _, c := range []struct {
		d    *nodetest.Device
		code api.Code
	}{{alice, api.Code_LOCKED}, {bob, api.Code_RATE_LIMITED}} {
		for i := range tries {
			if err := c.d.Login(ctx, n.ID()); !nodetest.IsCode(err, c.code) {
				t.Fatalf("%s's login %d: %v; want %s", c.d.User, i, err, c.code)
			}
		}
	}
	added := entries(t, n, start)
	if len(added) != 2*burst {
		t.Fatalf("%d refused logins of 2 accounts added %d entries; want %d, the burst of each", 2*tries, len(added), 2*burst)
	}
	for i, en := range added {
		if en.Kind != api.EntryKind_LOGIN || en.Outcome == api.Code_OK || strings.Contains(en.Reason, "not logged") {
			t.Errorf("entry %d is %s/%s %q; want a refused login, the first of its kind", start+i, en.Kind, en.Outcome, en.Reason)
		}
	}
	want := strconv.Itoa(2 * (tries - burst))
	if _, body := get(t, "http://"+n.OpsAddrForTest()+"/metrics"); !regexp.MustCompile(`(?m)^custos_unlogged_login_refusals_total ` + want + `$`).MatchString(body) {
		t.Errorf("/metrics does not count the %s refusals not logged", want)
	}

	// A counted attempt is logged however many refusals went before.
	if err := n.Unlock(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	alice.SetPassword("wrong")
	if err := alice.Login(ctx, n.ID()); !errors.Is(err, api.ErrUnauthenticated) {
		t.Fatalf("alice's wrong password: %v", err)
	}
	if last := lastEntry(t, n); last.Kind != api.EntryKind_LOGIN || last.Outcome != api.Code_UNAUTHENTICATED {
		t.Errorf("the last entry is %s/%s; want alice's failed login", last.Kind, last.Outcome)
	}
}
