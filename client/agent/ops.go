package agent

import (
	"context"
	"fmt"

	"github.com/custos-network/custos/client"
)

// do serves one valid request.
func (s *Server) do(ctx context.Context, req *request) *response {
	resp := &response{V: Version}
	var err error
	switch req.Op {
	case OpInfo:
		resp.Info = s.info()
	case OpUnlock:
		err = s.unlock(ctx, req.Secret)
		resp.Info = s.info()
	case OpLock:
		s.lockClient(EndLocked)
	default:
		var c *client.Client
		if c, err = s.client(); err == nil {
			err = serve(ctx, c, req, resp)
		}
	}
	if err != nil {
		wipe(resp)
		return &response{V: Version, Err: s.describe(err)}
	}
	return resp
}

// serve does what req asks of the unlocked client c.
func serve(ctx context.Context, c *client.Client, req *request, resp *response) error {
	switch req.Op {
	case OpGet:
		recs, err := c.GetMany(ctx, req.Labels)
		for _, r := range recs {
			resp.Records = append(resp.Records, wireRecord{Username: r.Username, Password: []byte(r.Password)})
			r.Wipe()
		}
		return err
	case OpList:
		units, err := c.List(req.Prefix)
		for _, u := range units {
			resp.Units = append(resp.Units, wireUnit{Label: u.Label, ID: u.ID[:], Version: u.Version,
				Threshold: u.Threshold, Nodes: u.Nodes, Degraded: u.Degraded, Created: u.Created})
		}
		return err
	case OpPut:
		return put(ctx, c, req, resp)
	case OpDelete:
		if err := c.Check(req.Label); err != nil {
			return err
		}
		return c.Delete(ctx, req.Label)
	case OpStatus:
		return status(ctx, c, resp)
	case OpHistory:
		return history(ctx, c, req.Label, resp)
	}
	return fmt.Errorf("%w: unknown operation", errMalformed)
}

func put(ctx context.Context, c *client.Client, req *request, resp *response) error {
	rec := &client.Record{Username: req.Username}
	if err := c.CheckPut(req.Label, rec); err != nil {
		return err
	}
	if k, n := c.Network().Threshold, len(c.Network().Nodes); req.MinAcks != 0 && (req.MinAcks <= k || req.MinAcks > n) {
		return fmt.Errorf("min_acks %d: it must be from %d (threshold+1) to %d", req.MinAcks, k+1, n)
	}
	rec.Password = string(req.Secret)
	defer rec.Wipe()
	if err := c.Put(ctx, req.Label, rec, client.PutOptions{MinAcks: req.MinAcks}); err != nil {
		return err
	}
	var err error
	resp.Stored, resp.Missing, err = c.Placement(req.Label)
	return err
}

func status(ctx context.Context, c *client.Client, resp *response) error {
	st := &Status{Threshold: c.Network().Threshold}
	for _, n := range c.Status(ctx) {
		ns := NodeStatus{Name: n.Name, PeerID: n.PeerID, Reachable: n.Reachable, LoggedIn: n.LoggedIn, Latency: Duration(n.Latency)}
		if n.Err != nil {
			ns.Error = n.Err.Error()
		}
		st.Nodes = append(st.Nodes, ns)
	}
	units, err := c.List("")
	if err != nil {
		return err
	}
	for _, u := range units {
		if u.Degraded {
			st.Degraded = append(st.Degraded, u.Label)
		}
	}
	st.Pending, st.Held = c.Enrollment()
	resp.Status = st
	return nil
}

func history(ctx context.Context, c *client.Client, label string, resp *response) error {
	if label != "" {
		if err := c.Check(label); err != nil {
			return err
		}
	}
	hist, failed, err := c.History(ctx, label)
	if err != nil {
		return err
	}
	for _, h := range hist {
		w := wireHistory{Time: h.Time, Node: h.Node, Index: h.Index, Label: h.Label,
			UnitID: h.UnitID, Version: h.Version, Released: h.Released, Outcome: int32(h.Outcome), Reason: h.Reason,
			Change: h.Change}
		if h.Device != "" {
			w.Device = h.Device.String()
		}
		resp.History = append(resp.History, w)
	}
	for _, f := range failed {
		resp.Failed = append(resp.Failed, wireNodeFail{Node: f.Node, Error: f.Err.Error()})
	}
	return nil
}

// wipe clears the secrets of resp, once written (best effort: see
// package threshold).
func wipe(resp *response) {
	for i := range resp.Records {
		clear(resp.Records[i].Password)
	}
}
