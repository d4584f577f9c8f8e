package api

import (
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ProtocolDevice lists a user's devices at a node, or revokes one
// (DeviceRequest, DeviceResponse).
const ProtocolDevice protocol.ID = "/custos/device/1.0.0"

// MaxDevices bounds the devices of one account a node lists: the active
// ones (at most MaxActiveDevices) and the revoked ones it remembers.
const (
	MaxActiveDevices  = 8
	MaxRevokedDevices = 8
	MaxDevices        = MaxActiveDevices + MaxRevokedDevices
)

// Validate checks a device request: a list, or the revocation of a device
// named by a well-formed peer ID.
func (r *DeviceRequest) Validate() error {
	switch op := r.Op.(type) {
	case *DeviceRequest_List:
		return nil
	case *DeviceRequest_Revoke:
		if len(op.Revoke) > maxPeerIDLen {
			return Errorf(Code_INVALID_ARGUMENT, "the device to revoke is not a peer ID")
		}
		if _, err := peer.IDFromBytes(op.Revoke); err != nil {
			return Errorf(Code_INVALID_ARGUMENT, "the device to revoke is not a peer ID")
		}
		return nil
	}
	return Errorf(Code_INVALID_ARGUMENT, "the device request names no operation")
}

// maxPeerIDLen bounds a binary peer ID read from a peer.
const maxPeerIDLen = 128
