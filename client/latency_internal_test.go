package client

import (
	"testing"
	"time"
)

// TestHedgeDelayFollowsMeasuredLatency: a node's hedge delay is its
// smoothed release round trip plus four deviations, within its bounds: a
// steady node is hedged just past its usual answer, an unsteady one later,
// and a login's round trip stands in only until a release is timed.
func TestHedgeDelayFollowsMeasuredLatency(t *testing.T) {
	var l latency
	if d := l.hedgeAfter(); d != hedgeUnmeasured {
		t.Errorf("untimed: %v, want %v", d, hedgeUnmeasured)
	}
	l.seed(40 * time.Millisecond)
	if d := l.hedgeAfter(); d != 120*time.Millisecond {
		t.Errorf("after a login of 40 ms: %v, want 120 ms (40 + 4 × 20)", d)
	}
	for range 30 {
		l.observe(20 * time.Millisecond)
	}
	l.seed(time.Second) // a later login does not replace what releases measured
	if d := l.hedgeAfter(); d < 20*time.Millisecond || d > 22*time.Millisecond {
		t.Errorf("after 30 releases of 20 ms: %v, want just over 20 ms", d)
	}
	for i := range 30 {
		l.observe(time.Duration(10+40*(i%2)) * time.Millisecond)
	}
	if d := l.hedgeAfter(); d < 50*time.Millisecond || d > 150*time.Millisecond {
		t.Errorf("after releases of 10 and 50 ms in turn: %v, want past the slower (50 ms), within 150 ms", d)
	}

	var slow, fast latency
	for range 5 {
		slow.observe(5 * time.Second)
		fast.observe(10 * time.Microsecond)
	}
	if d := slow.hedgeAfter(); d != hedgeMax {
		t.Errorf("releases of 5 s: %v, want the bound %v", d, hedgeMax)
	}
	if d := fast.hedgeAfter(); d != hedgeMin {
		t.Errorf("releases of 10 µs: %v, want the bound %v", d, hedgeMin)
	}
}

// TestUnlockAsksNodesInRankOrder: nodes whose request failed lately go
// last; before the others, nodes never timed (so that each gets tried),
// then the fastest.
func TestUnlockAsksNodesInRankOrder(t *testing.T) {
	now := time.Now()
	c := &Client{}
	for i, name := range []string{"slow", "fast", "failed", "new", "failed-long-ago"} {
		c.nodes = append(c.nodes, &custodian{index: i, name: name})
	}
	c.nodes[0].lat.observe(30 * time.Millisecond)
	c.nodes[1].lat.observe(5 * time.Millisecond)
	c.nodes[2].lat.observe(time.Millisecond)
	c.nodes[2].lat.fail(now.Add(-time.Second))
	c.nodes[4].lat.observe(10 * time.Millisecond)
	c.nodes[4].lat.fail(now.Add(-failCooldown - time.Second))
	var got []string
	for _, n := range c.rankNodes(now) {
		got = append(got, n.name)
	}
	want := []string{"new", "fast", "failed-long-ago", "slow", "failed"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}
