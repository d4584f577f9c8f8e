package node_test

import (
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// batch is a release of the largest batch: unit and units that do not exist.
func batch(unit *api.UnitRef) []*api.UnitRef {
	units := []*api.UnitRef{unit}
	for len(units) < config.MaxBatch {
		units = append(units, nodetest.Unit())
	}
	return units
}

// TestBadReleaseRequestsCannotGrowTheLog: a logged-in device that sends
// release requests of the largest batch with a bad signature, a bad clock
// or a nonce served before pays for each from its user's budget before
// anything is logged; each is logged without its unit list, and past the
// budget one refusal is logged per period. So N such requests add a few
// small entries, not N entries of 1024 units.
func TestBadReleaseRequestsCannotGrowTheLog(t *testing.T) {
	const burst, rounds = 5, 20
	e := newEnv(t, opt(func(c *config.Config) {
		c.Limits.UserReleases = config.Bucket{Burst: burst, Every: time.Hour}
	})...)
	units := batch(e.unit)
	served := signed(e.alice, e.n.ID(), time.Now(), units...)
	if _, err := e.release(e.alice, served); err != nil {
		t.Fatal(err)
	}
	start := len(rawLog(t, e.n))

	bad := []struct {
		name string
		code api.Code
		req  func() *api.ReleaseRequest
	}{
		{"a bad signature", api.Code_UNAUTHENTICATED, func() *api.ReleaseRequest {
			req := signed(e.alice, e.n.ID(), time.Now(), units...)
			req.DeviceSignature[0] ^= 1
			return req
		}},
		{"a clock 6 minutes off", api.Code_INVALID_ARGUMENT, func() *api.ReleaseRequest {
			return signed(e.alice, e.n.ID(), time.Now().Add(-6*time.Minute), units...)
		}},
		{"a replay", api.Code_INVALID_ARGUMENT, func() *api.ReleaseRequest { return served }},
	}
	tokens := burst - 1 // the served request took one
	wrong := 0
	for i := range rounds * len(bad) {
		b := bad[i%len(bad)]
		want := b.code
		if i >= tokens {
			want = api.Code_RATE_LIMITED
		}
		resp, err := e.release(e.alice, b.req())
		if !nodetest.IsCode(err, want) {
			if wrong++; wrong == 1 {
				t.Errorf("request %d, %s: %v; want %s", i, b.name, err, want)
			}
			continue
		}
		for _, sh := range resp.Shares {
			if len(sh.Share) > 0 {
				t.Fatalf("request %d, %s, got a share", i, b.name)
			}
		}
	}
	if wrong > 1 {
		t.Errorf("and %d more requests got another answer than they should", wrong-1)
	}

	added := rawLog(t, e.n)[start:]
	total := 0
	for _, b := range added {
		total += len(b)
	}
	t.Logf("%d bad requests of %d units added %d entries, %d bytes", rounds*len(bad), len(units), len(added), total)
	// The burst left, and the first refusal past it.
	if len(added) > tokens+1 {
		t.Errorf("%d bad requests added %d log entries; want at most %d", rounds*len(bad), len(added), tokens+1)
	}
	if big := slices.IndexFunc(added, func(b []byte) bool { return len(b) > 512 }); big >= 0 {
		t.Errorf("entry %d of a refused request is %d bytes; want at most 512", start+big, len(added[big]))
	}
	for i, en := range entries(t, e.n, start) {
		if en.Kind != api.EntryKind_RELEASE || en.Outcome == api.Code_OK || len(en.Units) != 0 {
			t.Errorf("entry %d is %s/%s with %d units; want a refusal without units", start+i, en.Kind, en.Outcome, len(en.Units))
		}
	}
	want := strconv.Itoa(rounds*len(bad) - tokens - 1)
	if _, body := get(t, "http://"+e.n.OpsAddrForTest()+"/metrics"); !regexp.MustCompile(`(?m)^custos_unlogged_release_refusals_total ` + want + `$`).MatchString(body) {
		t.Errorf("/metrics does not count the %s refusals not logged", want)
	}
}

// TestOneUserCannotFillTheReplayMemoryForOthers: a user who fills their
// share of the replay memory is refused UNAVAILABLE, and other users'
// releases are still served.
func TestOneUserCannotFillTheReplayMemoryForOthers(t *testing.T) {
	const total, perUser = 8, 3
	node.SetReplayBoundsForTest(t, total, perUser)
	e := newEnv(t)
	mallory := loggedIn(t, e.n, "mallory")
	mine, _ := putUnits(t, e.n, mallory, 1)
	for i := range total + 1 {
		_, err := e.release(mallory, signed(mallory, e.n.ID(), time.Now(), mine...))
		if nodetest.IsCode(err, api.Code_UNAVAILABLE) {
			break
		}
		if err != nil || i == total {
			t.Fatalf("mallory's request %d: %v; want served until UNAVAILABLE", i, err)
		}
	}
	e.releasable()
	bob := loggedIn(t, e.n, "bob")
	units, _ := putUnits(t, e.n, bob, 1)
	if _, err := e.release(bob, signed(bob, e.n.ID(), time.Now(), units...)); err != nil {
		t.Errorf("bob, after mallory filled her share: %v", err)
	}
}

// TestRefusedRequestsTakeNoReplayMemory: requests refused for the user's
// budget are not remembered, now or after a restart, so they cannot fill
// the replay memory that other users' requests need.
func TestRefusedRequestsTakeNoReplayMemory(t *testing.T) {
	const burst, total = 2, 4
	node.SetReplayBoundsForTest(t, total, total)
	e := newEnv(t, opt(func(c *config.Config) {
		c.Limits.UserReleases = config.Bucket{Burst: burst, Every: time.Hour}
	})...)
	mallory := loggedIn(t, e.n, "mallory")
	mine, _ := putUnits(t, e.n, mallory, 1)
	for i := range 5 * total {
		_, err := e.release(mallory, signed(mallory, e.n.ID(), time.Now(), mine...))
		if i >= burst && !nodetest.IsCode(err, api.Code_RATE_LIMITED) {
			t.Fatalf("mallory's request %d: %v; want RATE_LIMITED past her burst", i, err)
		}
	}
	e.releasable() // mallory's two and this one: 3 of 4

	e.n.Restart(t)
	if err := e.alice.Connect(e.ctx, e.n.Info()); err != nil {
		t.Fatal(err)
	}
	if err := e.alice.Login(e.ctx, e.n.ID()); err != nil {
		t.Fatal(err)
	}
	e.releasable() // the 4th, if the restart remembered only the 3 served
}
