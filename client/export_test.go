package client

import "context"

// ConnectAll dials every node in parallel, as Unlock does first, so that a
// benchmark can time the dials apart from the logins.
func (c *Client) ConnectAll(ctx context.Context) []error {
	return c.fanOut(ctx, c.nodes, c.connect)
}
