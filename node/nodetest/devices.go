package nodetest

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
)

// Copy makes another device of d's user, as custos vault import makes one:
// the same master secret, password and dealings, with a fresh device key.
// Nodes know it only once it logs in with a new-device invite
// (LoginNewDevice). It is closed when the test ends.
func (d *Device) Copy(t testing.TB) *Device {
	t.Helper()
	h := newHost(t)
	d.mu.Lock()
	defer d.mu.Unlock()
	indexes := make(map[peer.ID]int, len(d.indexes))
	for k, v := range d.indexes {
		indexes[k] = v
	}
	return &Device{Host: h, User: d.User, master: d.master, password: d.password,
		current: d.current, staged: d.staged, indexes: indexes}
}

// newHost makes a device's host with a fresh device key, as the client
// makes it; it is closed when the test ends.
func newHost(t testing.TB) host.Host {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := client.NewHost(priv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// LoginNewDevice logs in at node with a new-device invite token: the node
// adds the device to the user's account when the login succeeds.
func (d *Device) LoginNewDevice(ctx context.Context, node peer.ID, token string) error {
	_, err := d.login(ctx, node, d.Epoch(), d.AuthKey(node), token)
	return err
}

// Devices lists the user's devices at node (logged in).
func (d *Device) Devices(ctx context.Context, node peer.ID) ([]*api.DeviceInfo, error) {
	return d.deviceCall(ctx, node, &api.DeviceRequest{Op: &api.DeviceRequest_List{List: &api.DeviceList{}}})
}

// Revoke revokes the user's device target at node (logged in) and returns
// the devices after it.
func (d *Device) Revoke(ctx context.Context, node, target peer.ID) ([]*api.DeviceInfo, error) {
	return d.deviceCall(ctx, node, &api.DeviceRequest{Op: &api.DeviceRequest_Revoke{Revoke: []byte(target)}})
}

func (d *Device) deviceCall(ctx context.Context, node peer.ID, req *api.DeviceRequest) ([]*api.DeviceInfo, error) {
	var resp api.DeviceResponse
	if err := d.Call(ctx, node, api.ProtocolDevice, req, &resp); err != nil {
		return nil, err
	}
	return resp.Devices, api.FromProto(resp.Error)
}

// CloseAccount closes the user's account at node (logged in).
func (d *Device) CloseAccount(ctx context.Context, node peer.ID) error {
	var resp api.AccountResponse
	req := &api.AccountRequest{Op: &api.AccountRequest_Close{Close: &api.AccountClose{}}}
	if err := d.Call(ctx, node, api.ProtocolAccount, req, &resp); err != nil {
		return err
	}
	return api.FromProto(resp.Error)
}
