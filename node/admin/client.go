package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/custos-network/custos/api"
)

// ErrNotRunning is the error of a Client whose node is not running.
var ErrNotRunning = errors.New("the node is not running")

// maxAnswer caps an admin answer other than a backup.
const maxAnswer = 16 << 20

// Client talks to a running node through its admin socket.
type Client struct {
	path string
	hc   *http.Client
}

// NewClient returns a client of the admin socket at path.
func NewClient(path string) *Client {
	return &Client{path: path, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(out)
}

func (c *Client) send(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://custosd"+path, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w (no admin socket answers at %s); start it with custosd run", ErrNotRunning, c.path)
		}
		return nil, fmt.Errorf("admin socket %s: %w", c.path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e errorBody
		if json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&e) != nil || e.Error == "" {
			e.Error = resp.Status
		}
		code, ok := api.Code_value[e.Code]
		if !ok {
			code = int32(api.Code_INTERNAL)
		}
		return nil, &api.StatusError{Code: api.Code(code), Message: e.Error}
	}
	return resp, nil
}

// Status returns the node's health and size.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	return &st, c.do(ctx, http.MethodGet, "/status", nil, &st)
}

// Card returns the node's card, with the addresses it listens on.
func (c *Client) Card(ctx context.Context) (*api.Card, error) {
	var card api.Card
	return &card, c.do(ctx, http.MethodGet, "/card", nil, &card)
}

// Users lists the node's accounts.
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var users []User
	return users, c.do(ctx, http.MethodGet, "/users", nil, &users)
}

// Invite makes a one-time enrollment token for user.
func (c *Client) Invite(ctx context.Context, user string, ttl time.Duration) (*Invite, error) {
	return c.invite(ctx, userRequest{User: user, TTL: ttl})
}

// InviteDevice makes a one-time token that adds a device to the enrolled
// user's account (custosd invite --new-device).
func (c *Client) InviteDevice(ctx context.Context, user string, ttl time.Duration) (*Invite, error) {
	return c.invite(ctx, userRequest{User: user, TTL: ttl, NewDevice: true})
}

func (c *Client) invite(ctx context.Context, req userRequest) (*Invite, error) {
	var inv Invite
	return &inv, c.do(ctx, http.MethodPost, "/invite", req, &inv)
}

// Lock locks the user's account.
func (c *Client) Lock(ctx context.Context, user string) error {
	return c.do(ctx, http.MethodPost, "/lock", userRequest{User: user}, &struct{}{})
}

// Unlock unlocks the user's account and clears its failed logins.
func (c *Client) Unlock(ctx context.Context, user string) error {
	return c.do(ctx, http.MethodPost, "/unlock", userRequest{User: user}, &struct{}{})
}

// Backup writes the node's encrypted backup to w.
func (c *Client) Backup(ctx context.Context, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, "/backup", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if msg := resp.Trailer.Get("X-Backup-Error"); msg != "" {
		return fmt.Errorf("backup: %s", msg)
	}
	return nil
}
