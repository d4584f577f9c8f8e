package client

import (
	"context"
	"fmt"
	"time"
)

// ConnectAll dials every node in parallel, as Unlock does first, so that a
// benchmark can time the dials apart from the logins.
func (c *Client) ConnectAll(ctx context.Context) []error {
	return c.fanOut(ctx, c.nodes, c.connect)
}

// AdvanceCheckpoint runs advanceCheckpoint for node as a release answer
// would, with sent the checkpoint the vault kept when the request was sent
// (nil for none) and got the answer's: the situation of two requests in
// flight, which a test cannot time.
func (c *Client) AdvanceCheckpoint(ctx context.Context, node string, sent, got []byte) (bool, error) {
	var n *custodian
	for _, m := range c.nodes {
		if m.name == node {
			n = m
		}
	}
	if n == nil {
		return false, fmt.Errorf("no node %s", node)
	}
	var s *keptCheckpoint
	if sent != nil {
		cp, err := c.openCheckpoint(n, sent)
		if err != nil {
			return false, err
		}
		s = &keptCheckpoint{raw: sent, Checkpoint: cp}
	}
	cp, err := c.openCheckpoint(n, got)
	if err != nil {
		return false, err
	}
	return c.advanceCheckpoint(ctx, n, s, cp, got)
}

// SetLatencyForTest makes every node's latency as if each of its releases
// had taken d, so that a test knows the order an unlock asks the nodes in
// (network order, all being equal) and their hedge delay.
func (c *Client) SetLatencyForTest(d time.Duration) {
	for _, n := range c.nodes {
		n.lat.mu.Lock()
		n.lat.releases, n.lat.srtt, n.lat.rttvar, n.lat.failed = 1, d, 0, time.Time{}
		n.lat.mu.Unlock()
	}
}

// HedgeDelaysForTest is each node's hedge delay now, by node name.
func (c *Client) HedgeDelaysForTest() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, n := range c.nodes {
		out[n.name] = n.lat.hedgeAfter()
	}
	return out
}
