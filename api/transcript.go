package api

import (
	"encoding/binary"
	"slices"
)

// The byte strings that clients sign. Each starts with its own label and
// names the node, so a signature made for one purpose or one node is useless
// for another. Fields are encoded as in docs/threshold.md: a variable-length
// field as its length in 4 bytes big-endian and its bytes, a number as 8
// bytes big-endian.

const (
	loginLabel   = "custos/v2/login"
	releaseLabel = "custos/v1/release"
)

func appendLP(b, field []byte) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(field))), field...)
}

// LoginTranscript is what a user signs with their login key for one node:
// ("custos/v2/login", node peer ID, client peer ID, user, nonce). Peer IDs
// are in binary form. The label is login v2's: a v2 login key is derived
// from the threshold OPRF's output (docs/login.md), and a signature made
// under v1's label is no answer to it.
func LoginTranscript(nodePeer, clientPeer []byte, user string, nonce []byte) []byte {
	b := appendLP(nil, []byte(loginLabel))
	b = appendLP(b, nodePeer)
	b = appendLP(b, clientPeer)
	b = appendLP(b, []byte(user))
	return appendLP(b, nonce)
}

// ReleaseTranscript is what the device signs with its device key to ask one
// node for shares: ("custos/v1/release", node peer ID, client peer ID, user,
// time, nonce, count, then each unit ID and version). The node stores the
// signature in its log entry, so an auditor can check the device asked.
func ReleaseTranscript(nodePeer, clientPeer []byte, user string, timeUnixMs uint64, nonce []byte, units []*UnitRef) []byte {
	b := appendLP(nil, []byte(releaseLabel))
	b = appendLP(b, nodePeer)
	b = appendLP(b, clientPeer)
	b = appendLP(b, []byte(user))
	b = binary.BigEndian.AppendUint64(b, timeUnixMs)
	b = appendLP(b, nonce)
	b = binary.BigEndian.AppendUint32(b, uint32(len(units)))
	b = slices.Grow(b, len(units)*(UnitIDSize+8))
	for _, u := range units {
		b = append(b, u.GetUnitId()...)
		b = binary.BigEndian.AppendUint64(b, u.GetVersion())
	}
	return b
}
