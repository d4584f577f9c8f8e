package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
)

// ErrDeviceRevoked: a node refused this device because another device of
// the user revoked it there (custos device revoke). It does not come back;
// use another device, or import the vault's export on a new one.
var ErrDeviceRevoked = errors.New("this device was revoked for the user at this node")

// ErrLastDevice: a node refused to revoke the user's last active device
// there: no one could log in to the account again.
var ErrLastDevice = errors.New("the last active device of the user cannot be revoked")

// Device is one device of the user as one node knows it.
type Device struct {
	ID      peer.ID
	Added   time.Time
	Revoked time.Time // zero while the device is active
	// This is set for the device of this vault.
	This bool
}

// Active reports whether the device is not revoked.
func (d Device) Active() bool { return d.Revoked.IsZero() }

// NodeDevices is one node's list of the user's devices, oldest first, or
// why there is none.
type NodeDevices struct {
	Node    string
	Devices []Device
	Err     error
}

// helloRefusal files a node's refusal of a login hello: UNAUTHENTICATED
// is a revoked device, or, when the hello carried a new-device token, a
// refused token.
func helloRefusal(hello *api.LoginHello, err error) error {
	switch {
	case !errors.Is(err, api.ErrUnauthenticated):
		return err
	case hello.DeviceToken != "":
		return &refusal{kind: ErrTokenRefused, node: err}
	}
	return &refusal{kind: ErrDeviceRevoked, node: err}
}

// deviceToken is the new-device token of an AddDevice under way for n, or
// "".
func (c *Client) deviceToken(n *custodian) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tokens[n.name]
}

// AddDevice enrolls this device for the vault's user at the nodes named in
// tokens, each with its new-device invite token (custosd invite
// --new-device), by logging in there with password: a node adds the device
// once the login's signature is good, so a token without the password (or
// without the vault's master secret) adds nothing. It waits for every
// node, unlocks the vault as Unlock does, and returns each node's error in
// network order (nil: this device is enrolled there now, or was). Nodes
// where this device was enrolled already ignore their token. It fails as
// Unlock does when fewer than the threshold accepted.
func (c *Client) AddDevice(ctx context.Context, password []byte, tokens map[string]string) ([]error, error) {
	if err := c.CheckTokens(tokens); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.tokens = tokens
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.tokens = nil
		c.mu.Unlock()
	}()
	return c.unlock(ctx, password, len(c.nodes))
}

// Devices lists the user's devices at every node (logged in), in network
// order.
func (c *Client) Devices(ctx context.Context) ([]NodeDevices, error) {
	return c.deviceOp(ctx, &api.DeviceRequest{Op: &api.DeviceRequest_List{List: &api.DeviceList{}}})
}

// RevokeDevice revokes the user's device id at every node, and returns
// each node's list after it. A revocation must reach every node to keep the
// device out: when some node did not take it, the error is a *QuorumError
// naming each, and running it again finishes the work (a node where the
// device is revoked already answers as for a revocation). A node refuses
// to revoke the user's last active device there.
func (c *Client) RevokeDevice(ctx context.Context, id peer.ID) ([]NodeDevices, error) {
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("revoke device: %w", err)
	}
	out, err := c.deviceOp(ctx, &api.DeviceRequest{Op: &api.DeviceRequest_Revoke{Revoke: []byte(id)}})
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(out))
	for i := range out {
		if errors.Is(out[i].Err, api.ErrInvalidArgument) {
			out[i].Err = &refusal{kind: ErrLastDevice, node: out[i].Err}
		}
		errs[i] = out[i].Err
	}
	return out, c.quorum(fmt.Sprintf("revoke device %s", id), len(c.nodes), errs)
}

func (c *Client) deviceOp(ctx context.Context, req *api.DeviceRequest) ([]NodeDevices, error) {
	done, err := c.begin(true)
	if err != nil {
		return nil, err
	}
	defer done()
	out := make([]NodeDevices, len(c.nodes))
	errs := c.fanOut(ctx, c.nodes, func(ctx context.Context, n *custodian) error {
		return c.authed(ctx, n, func() error {
			var resp api.DeviceResponse
			if err := c.call(ctx, n, api.ProtocolDevice, req, &resp); err != nil {
				return err
			}
			if err := api.FromProto(resp.Error); err != nil {
				return err
			}
			ds, err := c.devices(resp.Devices)
			out[n.index].Devices = ds
			return err
		})
	})
	for i, n := range c.nodes {
		out[i].Node, out[i].Err = n.name, errs[i]
	}
	return out, nil
}

// devices checks a node's device list: at most api.MaxDevices, each a
// peer ID.
func (c *Client) devices(infos []*api.DeviceInfo) ([]Device, error) {
	if len(infos) > api.MaxDevices {
		return nil, fmt.Errorf("the node listed %d devices, more than %d", len(infos), api.MaxDevices)
	}
	out := make([]Device, 0, len(infos))
	for _, d := range infos {
		id, err := peer.IDFromBytes(d.PeerId)
		if err != nil {
			return nil, errors.New("the node listed a device that is not a peer ID")
		}
		dev := Device{ID: id, Added: time.UnixMilli(int64(d.AddedUnixMs)), This: id == c.host.ID()}
		if d.RevokedUnixMs != 0 {
			dev.Revoked = time.UnixMilli(int64(d.RevokedUnixMs))
		}
		out = append(out, dev)
	}
	return out, nil
}

// The device changes a HistoryEntry may be (HistoryEntry.Change).
const (
	DeviceAdded   = "device added"
	DeviceRevoked = "device revoked"
)

// deviceChanges turns a device change entry (an addition or revocation
// of one of the user's devices) into its HistoryEntry; other entries give
// none.
func deviceChanges(le LoggedEntry) []HistoryEntry {
	e := le.Entry
	change := map[api.EntryKind]string{api.EntryKind_DEVICE_ADD: DeviceAdded, api.EntryKind_DEVICE_REVOKE: DeviceRevoked}[e.Kind]
	if change == "" || e.Outcome != api.Code_OK {
		return nil
	}
	return []HistoryEntry{{
		Time: time.UnixMilli(int64(e.TimeUnixMs)), Node: le.Node, Index: le.Index,
		Released: false, Outcome: api.Code_OK, Reason: e.Reason, Device: peer.ID(e.Device), Change: change,
	}}
}
