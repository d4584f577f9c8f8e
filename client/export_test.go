package client

import (
	"context"
	"fmt"
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
