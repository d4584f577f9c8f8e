package client_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/auditor"
)

// releasesLogged counts the release entries of c's user in the nodes' logs,
// by node, and checks that the vault's journal recorded each one's request
// before it was sent.
func releasesLogged(t *testing.T, c *client.Client) map[string]int {
	t.Helper()
	recorded := journaled(t, c)
	logged, failed, err := c.Log(context.Background())
	if err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	out := map[string]int{}
	for _, le := range logged {
		if le.Entry.Kind != api.EntryKind_RELEASE {
			continue
		}
		out[le.Node]++
		if !recorded[le.Node+"/"+string(le.Entry.RequestNonce)] {
			t.Errorf("%s logged release %d, whose request the vault's journal does not hold", le.Node, le.Index)
		}
	}
	return out
}

// journaled is the requests in c's vault's journal, as node/nonce.
func journaled(t *testing.T, c *client.Client) map[string]bool {
	t.Helper()
	reqs, _, err := c.Requests()
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	for _, r := range reqs {
		recorded[r.Node+"/"+string(r.Nonce)] = true
	}
	return recorded
}

// getsWithin gets acme-portal gets times from c and fails when one takes
// longer than limit (why says what it was held up by).
func getsWithin(t *testing.T, c *client.Client, gets int, limit time.Duration, why string) {
	t.Helper()
	for i := range gets {
		start := time.Now()
		rec, err := c.Get(context.Background(), "acme-portal")
		if err != nil {
			t.Fatal(err)
		}
		sameRecord(t, rec, acme)
		if d := time.Since(start); d > limit {
			t.Fatalf("get %d took %v with %s", i, d, why)
		}
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestWarmGetAsksOnlyTheNodesItNeeds: with every node answering in time, a
// get asks its threshold of nodes (3 of 5), not all of them; a node that
// answers slower than usual now and then may add a hedged request.
func TestWarmGetAsksOnlyTheNodesItNeeds(t *testing.T) {
	tn := startNet(t, 5, 3, nil)
	ctx := context.Background()
	c, _ := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 4 { // every node timed
		if _, err := c.Get(ctx, "acme-portal"); err != nil {
			t.Fatal(err)
		}
	}
	before := total(releasesLogged(t, c))
	const gets = 20
	for range gets {
		rec, err := c.Get(ctx, "acme-portal")
		if err != nil {
			t.Fatal(err)
		}
		sameRecord(t, rec, acme)
	}
	// The log read above races no request: Get returns once it has
	// enough, and the requests it cancelled were not logged by then, or
	// will not be.
	time.Sleep(200 * time.Millisecond)
	asked := total(releasesLogged(t, c)) - before
	// On a loaded machine a node is slower than usual often enough that
	// some gets hedge; asking all five would make 5 each.
	if asked < 3*gets || asked >= 4*gets {
		t.Errorf("%d gets made %d releases; want 3 each, and fewer hedged ones than gets", gets, asked)
	}
}

// TestSlowNodeDoesNotSlowAGetPastItsHedgeDelay: a node that takes 3 s to
// answer, among the first asked, holds a get up for its hedge delay (here
// 50 ms), not for its answer: the next node is asked then. It is asked
// after the others from then on.
func TestSlowNodeDoesNotSlowAGetPastItsHedgeDelay(t *testing.T) {
	tn := startNet(t, 4, 3, faulty("slow-release", 0))
	ctx := context.Background()
	c, _ := tn.unlocked(t, "alice", client.Options{Timeout: 10 * time.Second})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	c.SetLatencyForTest(50 * time.Millisecond) // n1, n2, n3 first; 50 ms hedge delay
	getsWithin(t, c, 4, time.Second, "n1 slow (3 s) and a hedge delay of 50 ms")
	if d := c.HedgeDelaysForTest()["n1"]; d < 50*time.Millisecond {
		t.Errorf("n1's hedge delay is %v after it was slow; want no less than the 50 ms it was", d)
	}
	logged := releasesLogged(t, c)
	if logged["n1"] != 0 || logged["n4"] == 0 {
		t.Errorf("releases logged by node: %v; want none by n1 (asked once, and given up on), some by n4 (asked in its place)", logged)
	}
}

// TestFailedNodeIsReplacedAtOnce: a node that refuses a release at once is
// replaced at once, not after its hedge delay (here 1 s), and is asked
// after the others from then on.
func TestFailedNodeIsReplacedAtOnce(t *testing.T) {
	tn := startNet(t, 4, 3, faulty("fail-release", 0))
	ctx := context.Background()
	c, _ := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	c.SetLatencyForTest(time.Second) // n1, n2, n3 first; 1 s hedge delay
	getsWithin(t, c, 3, 500*time.Millisecond, "n1 failing at once: its replacement waited (hedge delay 1 s)")
	if logged := releasesLogged(t, c); logged["n1"] != 0 || logged["n4"] != 3 {
		t.Errorf("releases logged by node: %v; want none by n1, one a get by n4", logged)
	}
}

// TestAuditOfGetsThatAskedKNodesFlagsNothing: the audit report of a
// record whose gets asked only the nodes they needed flags none of them,
// and names the nodes they did not ask as not needed, not silent; a copy
// of the vault that gets the record elsewhere is still flagged, its
// releases being of requests the vault's journal does not hold.
func TestAuditOfGetsThatAskedKNodesFlagsNothing(t *testing.T) {
	tn := startNet(t, 5, 3, nil)
	ctx := context.Background()
	c, path := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	const gets = 6
	getsWithin(t, c, gets, time.Minute, "nothing slow")
	rep := auditReport(t, tn, c, "acme-portal")
	if len(rep.Unlocks) != gets || rep.Flagged() != 0 {
		t.Fatalf("%d unlocks, %d flagged: %v; want %d, none flagged", len(rep.Unlocks), rep.Flagged(), rep.Flags, gets)
	}
	notNeeded := 0
	for i, u := range rep.Unlocks {
		notNeeded += len(u.NotNeeded)
		if len(u.Silent) != 0 || len(u.Released()) < 3 || len(u.Released())+len(u.NotNeeded) != 5 {
			t.Errorf("unlock %d: released by %v, not needed %v, silent %v; want 3 or more released, the rest not needed", i, u.Released(), u.NotNeeded, u.Silent)
		}
	}
	if notNeeded == 0 {
		t.Errorf("no get left a node out: each asked all five nodes")
	}

	// A copy of the vault, made while the client is closed, gets the
	// record elsewhere.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", ".requests"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+".copy"+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	thief := open(t, path+".copy", client.Options{})
	if err := thief.Unlock(ctx, password); err != nil {
		t.Fatal(err)
	}
	getsWithin(t, thief, 1, time.Minute, "nothing slow")
	c = open(t, path, client.Options{})
	if err := c.Unlock(ctx, password); err != nil {
		t.Fatal(err)
	}
	rep = auditReport(t, tn, c, "acme-portal")
	if len(rep.Unlocks) != gets+1 || rep.Flagged() != 1 {
		t.Fatalf("with the copy's get: %d unlocks, %d flagged; want %d, one flagged", len(rep.Unlocks), rep.Flagged(), gets+1)
	}
	if f := rep.Unlocks[gets].Flags; len(f) != 1 || !strings.Contains(f[0], "for a request the vault did not send: someone else holds the device key") {
		t.Errorf("the copy's unlock is flagged %q", f)
	}
}

// auditReport is auditor.ReportUnit of c's record label over every node's
// log, with c's vault.
func auditReport(t *testing.T, tn *testNet, c *client.Client, label string) *auditor.UnitReport {
	t.Helper()
	u, ok, err := c.Unit(label)
	if err != nil || !ok {
		t.Fatal(label, ok, err)
	}
	nw, err := client.ParseNetwork(tn.network)
	if err != nil {
		t.Fatal(err)
	}
	reqs, dropped, err := c.Requests()
	if err != nil {
		t.Fatal(err)
	}
	logged, failed, err := c.Log(context.Background())
	if err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	logs := map[string][]client.LoggedEntry{}
	for _, card := range nw.Nodes {
		logs[card.Name] = nil
	}
	for _, le := range logged {
		logs[le.Node] = append(logs[le.Node], le)
	}
	q := auditor.UnitQuery{Unit: u.ID, Threshold: u.Threshold, Network: nw, Device: c.Device(),
		Receipts: receiptsOf(t, c), Requests: reqs, DroppedUntil: dropped}
	return auditor.ReportUnit(q, logs)
}
