package api

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

// EntryFormat is the format version of the log entries this package writes.
const EntryFormat = 1

// MaxEntrySize caps an encoded log entry; a release of MaxBatch units fits.
const MaxEntrySize = 64 << 10

// ErrEntryMalformed is the one error for an entry that cannot be decoded.
var ErrEntryMalformed = errors.New("malformed log entry")

var deterministic = proto.MarshalOptions{Deterministic: true}

// MarshalEntry encodes an entry for the log, with the current format.
func MarshalEntry(e *Entry) ([]byte, error) {
	e.Format = EntryFormat
	b, err := deterministic.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode log entry: %w", err)
	}
	if len(b) > MaxEntrySize {
		return nil, fmt.Errorf("encode log entry: %d bytes, more than %d", len(b), MaxEntrySize)
	}
	return b, nil
}

// ParseEntry decodes an entry read from a log. An entry of another format
// version is an error, not a guess.
func ParseEntry(b []byte) (*Entry, error) {
	if len(b) == 0 || len(b) > MaxEntrySize {
		return nil, ErrEntryMalformed
	}
	var e Entry
	if err := proto.Unmarshal(b, &e); err != nil {
		return nil, ErrEntryMalformed
	}
	if e.Format != EntryFormat {
		return nil, fmt.Errorf("%w: unknown format %d", ErrEntryMalformed, e.Format)
	}
	return &e, nil
}

// ErrNoDeviceSignature is the error of VerifyDevice for an entry that holds
// no device signature (any kind but RELEASE).
var ErrNoDeviceSignature = errors.New("the entry holds no device signature")

// VerifyDevice checks that the device named in a release entry signed the
// request the entry records, at the node with this peer ID (binary form).
// The device's public key is the one its peer ID embeds.
func (e *Entry) VerifyDevice(nodePeer []byte) error {
	if len(e.DeviceSignature) == 0 {
		return ErrNoDeviceSignature
	}
	id, err := peer.IDFromBytes(e.ClientPeerId)
	if err != nil {
		return fmt.Errorf("device peer ID: %w", err)
	}
	pub, err := id.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("device key: %w", err)
	}
	msg := ReleaseTranscript(nodePeer, e.ClientPeerId, e.User, e.RequestTimeUnixMs, e.RequestNonce, e.Units)
	ok, err := pub.Verify(msg, e.DeviceSignature)
	if err != nil || !ok {
		return errors.New("the device signature does not match the request")
	}
	return nil
}
