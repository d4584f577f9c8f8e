package node

import (
	"context"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/store"
)

// device lists the devices of a logged-in device's user, or revokes one
// of them (auth.Revoke). A revocation is a log entry, so it is charged to
// the user's limits.user_writes as puts and deletes are.
func (n *Node) device(ctx context.Context, s network.Stream, r *api.Reader) error {
	var req api.DeviceRequest
	resp := &api.DeviceResponse{}
	err := n.read(r, &req)
	if err == nil {
		var devices []store.Device
		devices, err = n.doDevice(ctx, s.Conn().RemotePeer(), &req)
		resp.Devices = deviceInfos(devices)
	}
	return reply(s, resp, &resp.Error, err)
}

func (n *Node) doDevice(ctx context.Context, device peer.ID, req *api.DeviceRequest) ([]store.Device, error) {
	sess, err := n.auth.Session(device)
	if err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	op, ok := req.Op.(*api.DeviceRequest_Revoke)
	if !ok {
		return n.auth.Devices(ctx, sess)
	}
	target := peer.ID(op.Revoke)
	entry := &api.Entry{Kind: api.EntryKind_DEVICE_REVOKE, User: sess.User, ClientPeerId: []byte(device), Device: op.Revoke}
	if err := n.chargeWrite(ctx, entry); err != nil {
		return nil, err
	}
	return n.auth.Revoke(ctx, sess, target)
}

func deviceInfos(ds []store.Device) []*api.DeviceInfo {
	out := make([]*api.DeviceInfo, len(ds))
	for i, d := range ds {
		out[i] = &api.DeviceInfo{PeerId: d.PeerID, AddedUnixMs: uint64(d.Added.UnixMilli())}
		if !d.Active() {
			out[i].RevokedUnixMs = uint64(d.Revoked.UnixMilli())
		}
	}
	return out
}
