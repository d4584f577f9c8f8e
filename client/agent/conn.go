package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/threshold"
)

// Conn asks the agent of one vault. Each call is one connection; a Conn is
// safe for concurrent use.
type Conn struct{ sock string }

// Dial finds the agent of the vault at vaultPath and checks that it
// answers: ErrNoAgent when none does (no socket, or a dead agent's). It
// refuses a socket directory that is not private (ErrUnsafeDir) or a
// server of another user (ErrOtherUser).
func Dial(ctx context.Context, vaultPath string) (*Conn, *Info, error) {
	sock, err := SocketPath(vaultPath)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Lstat(sock); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, ErrNoAgent
	}
	if err := checkDir(filepath.Dir(sock)); err != nil {
		return nil, nil, err
	}
	c := &Conn{sock: sock}
	var resp response
	if err := c.do(ctx, &request{Op: OpInfo}, &resp); err != nil {
		return nil, nil, err
	}
	if resp.Info == nil {
		return nil, nil, fmt.Errorf("ask the agent: %w: no info", errMalformed)
	}
	return c, resp.Info, nil
}

// do sends req and reads its response into resp; an error the agent
// answered is an *Error.
func (c *Conn) do(ctx context.Context, req *request, resp *response) error {
	req.V = Version
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", c.sock)
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist) {
		return ErrNoAgent // the socket of an agent that was killed, or just ended
	}
	if err != nil {
		return fmt.Errorf("reach the agent: %w", err)
	}
	conn := nc.(*net.UnixConn)
	defer conn.Close()
	cred, err := peerCred(conn)
	if err == nil {
		err = CheckPeer(cred, os.Getuid())
	}
	if err != nil {
		return err // send it nothing
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(opTimeout + writeTimeout))
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := writeFrame(conn, req); err != nil {
		return fmt.Errorf("ask the agent: %w", err)
	}
	if err := readFrame(conn, MaxResponse, resp); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("read the agent's answer: %w", err)
	}
	if resp.V != Version {
		return fmt.Errorf("read the agent's answer: %w: protocol version %d", errMalformed, resp.V)
	}
	if resp.Err != nil {
		return resp.Err
	}
	return nil
}

// Info describes the agent.
func (c *Conn) Info(ctx context.Context) (*Info, error) {
	var resp response
	if err := c.do(ctx, &request{Op: OpInfo}, &resp); err != nil {
		return nil, err
	}
	return resp.Info, nil
}

// Unlock opens the agent's vault and logs in with password (unless it is
// unlocked already).
func (c *Conn) Unlock(ctx context.Context, password []byte) (*Info, error) {
	var resp response
	if err := c.do(ctx, &request{Op: OpUnlock, Secret: password}, &resp); err != nil {
		return nil, err
	}
	return resp.Info, nil
}

// Lock locks the agent: it forgets its keys and closes the vault, and runs
// on, locked, until its idle time ends it (an unlock under way is undone).
func (c *Conn) Lock(ctx context.Context) error {
	return c.do(ctx, &request{Op: OpLock}, &response{})
}

// GetMany opens the records labels in one batch, as client.GetMany. The
// caller wipes them.
func (c *Conn) GetMany(ctx context.Context, labels []string) ([]*client.Record, error) {
	var resp response
	defer wipe(&resp)
	if err := c.do(ctx, &request{Op: OpGet, Labels: labels}, &resp); err != nil {
		return nil, err
	}
	if len(resp.Records) != len(labels) {
		return nil, fmt.Errorf("read the agent's answer: %w: %d records for %d labels", errMalformed, len(resp.Records), len(labels))
	}
	recs := make([]*client.Record, len(labels))
	for i, r := range resp.Records {
		recs[i] = &client.Record{Username: r.Username, Password: string(r.Password)}
	}
	return recs, nil
}

// List lists the records whose label starts with prefix, as client.List.
func (c *Conn) List(ctx context.Context, prefix string) ([]client.Unit, error) {
	var resp response
	if err := c.do(ctx, &request{Op: OpList, Prefix: prefix}, &resp); err != nil {
		return nil, err
	}
	units := make([]client.Unit, len(resp.Units))
	for i, u := range resp.Units {
		units[i] = client.Unit{Label: u.Label, Version: u.Version, Threshold: u.Threshold, Nodes: u.Nodes,
			Degraded: u.Degraded, Created: u.Created}
		if len(u.ID) != len(threshold.UnitID{}) {
			return nil, fmt.Errorf("read the agent's answer: %w: a unit ID of %d bytes", errMalformed, len(u.ID))
		}
		copy(units[i].ID[:], u.ID)
	}
	return units, nil
}

// Put stores rec under label, as client.Put, and says at which nodes.
func (c *Conn) Put(ctx context.Context, label string, rec *client.Record, minAcks int) (stored, missing []string, err error) {
	req := &request{Op: OpPut, Label: label, Username: rec.Username, Secret: []byte(rec.Password), MinAcks: minAcks}
	defer clear(req.Secret)
	var resp response
	if err := c.do(ctx, req, &resp); err != nil {
		return nil, nil, err
	}
	return resp.Stored, resp.Missing, nil
}

// Delete deletes the record label, as client.Delete.
func (c *Conn) Delete(ctx context.Context, label string) error {
	return c.do(ctx, &request{Op: OpDelete, Label: label}, &response{})
}

// Status asks the agent's client how the nodes and the vault are.
func (c *Conn) Status(ctx context.Context) (*Status, error) {
	var resp response
	if err := c.do(ctx, &request{Op: OpStatus}, &resp); err != nil {
		return nil, err
	}
	if resp.Status == nil {
		return nil, fmt.Errorf("read the agent's answer: %w: no status", errMalformed)
	}
	return resp.Status, nil
}

// History reads the releases of the user's records, as client.History.
func (c *Conn) History(ctx context.Context, label string) ([]client.HistoryEntry, []*client.NodeError, error) {
	var resp response
	if err := c.do(ctx, &request{Op: OpHistory, Label: label}, &resp); err != nil {
		return nil, nil, err
	}
	hist := make([]client.HistoryEntry, len(resp.History))
	for i, h := range resp.History {
		hist[i] = client.HistoryEntry{Time: h.Time, Node: h.Node, Index: h.Index, Label: h.Label, UnitID: h.UnitID,
			Version: h.Version, Released: h.Released, Outcome: api.Code(h.Outcome), Reason: h.Reason, Change: h.Change}
		if h.Device != "" {
			id, err := peer.Decode(h.Device)
			if err != nil {
				return nil, nil, fmt.Errorf("read the agent's answer: %w: a device that is no peer ID", errMalformed)
			}
			hist[i].Device = id
		}
	}
	var failed []*client.NodeError
	for _, f := range resp.Failed {
		failed = append(failed, &client.NodeError{Node: f.Node, Err: errors.New(f.Error)})
	}
	return hist, failed, nil
}
