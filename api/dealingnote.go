package api

import (
	"encoding/binary"

	"google.golang.org/protobuf/proto"

	"github.com/custos-network/custos/threshold/toprf"
)

// Limits of a dealing note (docs/protocol.md, "Dealing notes").
const (
	// DealingNoteMACSize is the size of a note's HMAC-SHA256.
	DealingNoteMACSize = 32
	// maxNotePeerIDLen bounds a peer ID in a note, as threshold.MaxPeerIDLen.
	maxNotePeerIDLen = 128
	// MaxDealingNoteSize bounds an encoded note: 255 shares of the longest
	// peer ID, with room for the field tags.
	MaxDealingNoteSize = 48 << 10
)

// dealingNoteLabel opens a note's MAC input; its key has its own HKDF
// label (docs/login.md, "Devices").
const dealingNoteLabel = "custos/v2/dealing-note"

// DealingNoteTranscript is what a dealing note's MAC is computed over:
//
//	lp("custos/v2/dealing-note") ‖ lp(user) ‖ u32(epoch) ‖ u32(threshold) ‖
//	u32(share count) ‖ (lp(peer ID) ‖ u32(index) ‖ lp(public share)) for each share
//
// with lp a u32 big-endian length then the bytes, and the integers big
// endian. The user binds a note to one account; the MAC itself is not in it.
func DealingNoteTranscript(user string, n *DealingNote) []byte {
	b := appendLP(nil, []byte(dealingNoteLabel))
	b = appendLP(b, []byte(user))
	b = binary.BigEndian.AppendUint32(b, n.GetEpoch())
	b = binary.BigEndian.AppendUint32(b, n.GetThreshold())
	b = binary.BigEndian.AppendUint32(b, uint32(len(n.GetShares())))
	for _, s := range n.GetShares() {
		b = appendLP(b, s.PeerId)
		b = binary.BigEndian.AppendUint32(b, s.Index)
		b = appendLP(b, s.PublicShare)
	}
	return b
}

// Validate checks a dealing note's shape: an epoch from 2 (a password
// change's), 2 to 255 shares with ascending indexes from 1 to 255, each
// with a peer ID and a public share that is a ristretto255 element, a
// threshold from 2 to the number of shares, a MAC of 32 bytes, and the
// whole no larger than MaxDealingNoteSize. The MAC is the user's devices'
// to check: nodes cannot.
func (n *DealingNote) Validate() error {
	switch {
	case n == nil:
		return Errorf(Code_INVALID_ARGUMENT, "no dealing note")
	case proto.Size(n) > MaxDealingNoteSize:
		return Errorf(Code_INVALID_ARGUMENT, "the dealing note is over %d bytes", MaxDealingNoteSize)
	case n.Epoch < 2:
		return Errorf(Code_INVALID_ARGUMENT, "a dealing note is of an epoch from 2")
	case len(n.Shares) < 2 || len(n.Shares) > toprf.MaxShares:
		return Errorf(Code_INVALID_ARGUMENT, "a dealing note has 2 to %d shares", toprf.MaxShares)
	case n.Threshold < 2 || int(n.Threshold) > len(n.Shares):
		return Errorf(Code_INVALID_ARGUMENT, "the dealing note's threshold is not from 2 to its %d shares", len(n.Shares))
	case len(n.Mac) != DealingNoteMACSize:
		return Errorf(Code_INVALID_ARGUMENT, "the dealing note's MAC is not %d bytes", DealingNoteMACSize)
	}
	for i, s := range n.Shares {
		switch {
		case s == nil || len(s.PeerId) == 0 || len(s.PeerId) > maxNotePeerIDLen:
			return Errorf(Code_INVALID_ARGUMENT, "dealing note share %d: a peer ID is 1 to %d bytes", i, maxNotePeerIDLen)
		case s.Index < 1 || s.Index > toprf.MaxShares || (i > 0 && s.Index <= n.Shares[i-1].Index):
			return Errorf(Code_INVALID_ARGUMENT, "dealing note share %d: indexes are 1 to %d, ascending", i, toprf.MaxShares)
		}
		if _, err := toprf.ParsePublicShare(int(s.Index), s.PublicShare); err != nil {
			return Errorf(Code_INVALID_ARGUMENT, "dealing note share %d: the public share is not a ristretto255 element", i)
		}
	}
	return nil
}

// Share returns the note's share of index, or nil.
func (n *DealingNote) Share(index uint32) *DealingNoteShare {
	for _, s := range n.GetShares() {
		if s.GetIndex() == index {
			return s
		}
	}
	return nil
}

// DecodeDealingNote decodes and validates an encoded note (as a node
// stores it), refusing more than MaxDealingNoteSize bytes before it reads.
func DecodeDealingNote(b []byte) (*DealingNote, error) {
	if len(b) > MaxDealingNoteSize {
		return nil, Errorf(Code_INVALID_ARGUMENT, "the dealing note is over %d bytes", MaxDealingNoteSize)
	}
	var n DealingNote
	if err := proto.Unmarshal(b, &n); err != nil {
		return nil, Errorf(Code_INVALID_ARGUMENT, "the dealing note does not decode")
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	return &n, nil
}
