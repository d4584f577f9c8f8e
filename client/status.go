package client

import (
	"context"
	"errors"
	"time"

	"github.com/custos-network/custos/api"
)

// NodeStatus is one node as this client sees it.
type NodeStatus struct {
	Name      string
	PeerID    string
	Reachable bool
	LoggedIn  bool
	Latency   time.Duration // of a list request, when logged in; of connecting otherwise
	Err       error
}

// Status checks every node in parallel: can it be reached, is there a
// session, how long does a request take.
func (c *Client) Status(ctx context.Context) []NodeStatus {
	out := make([]NodeStatus, len(c.nodes))
	done, err := c.begin(false)
	if err != nil {
		for i, n := range c.nodes {
			out[i] = NodeStatus{Name: n.name, PeerID: n.idText, Err: err}
		}
		return out
	}
	defer done()
	c.fanOut(ctx, c.nodes, func(ctx context.Context, n *custodian) error {
		st := NodeStatus{Name: n.name, PeerID: n.info.ID.String()}
		start := time.Now()
		if st.Err = c.connect(ctx, n); st.Err == nil {
			st.Reachable = true
			st.Latency = time.Since(start)
			n.mu.Lock()
			haveKey := !n.auth.IsZero()
			n.mu.Unlock()
			if haveKey {
				start = time.Now()
				st.Err = c.authed(ctx, n, func() error {
					// A page of one: the same small request however many
					// units the user holds.
					var resp api.ListResponse
					if err := c.call(ctx, n, api.ProtocolList, &api.ListRequest{PageSize: 1}, &resp); err != nil {
						return err
					}
					return api.FromProto(resp.Error)
				})
				st.LoggedIn = st.Err == nil
				st.Latency = time.Since(start)
				// A connection that carries no answer (a crashed node's
				// QUIC connection looks open until it times out) is no
				// reach; a node's own refusal is.
				var se *api.StatusError
				if st.Err != nil && !errors.As(st.Err, &se) {
					st.Reachable = false
				}
			}
		}
		out[n.index] = st
		return nil
	})
	return out
}
