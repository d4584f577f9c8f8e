package threshold

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/shamir"
)

// ErrNotEnoughShares is matched (errors.Is) by the error of Combine when
// fewer than the threshold of shares passed their commitments.
var ErrNotEnoughShares = errors.New("threshold: not enough good shares")

// A Slot is one custodian's place in a unit's share set: who it is, the
// commitment the client kept when it dealt the share, and the share the
// custodian returned (the zero Share when it returned none).
type Slot struct {
	Node       string // the custodian's name, for messages
	PeerID     []byte // its libp2p peer ID in binary form, bound into the commitment
	Commitment Commitment
	Share      Share
}

// Blame names the custodians that did not contribute a good share.
type Blame struct {
	Bad     []string // sent a share that fails its commitment
	Missing []string // sent no share
}

// NotEnoughSharesError is the error of Combine when fewer than Need shares
// passed their commitments. It matches ErrNotEnoughShares.
type NotEnoughSharesError struct {
	Need, Have int
	Blame
}

func (e *NotEnoughSharesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "threshold: not enough good shares: need %d, have %d", e.Need, e.Have)
	if len(e.Bad) > 0 {
		fmt.Fprintf(&b, "; bad share from %s", strings.Join(e.Bad, ", "))
	}
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, "; no share from %s", strings.Join(e.Missing, ", "))
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotEnoughShares) true.
func (e *NotEnoughSharesError) Is(target error) bool { return target == ErrNotEnoughShares }

// Combine rebuilds the server key of a unit version dealt with threshold k
// from the slots of its custodians. Every share is checked against its
// slot's commitment; a share that fails is dropped and its custodian named in
// Blame.Bad, a custodian without a share is named in Blame.Missing. A slot
// whose peer ID already came earlier, or whose share has the x coordinate of
// a share already taken, does not count again. The first k good shares, in
// slot order, make the key.
//
// With fewer than k good shares Combine returns a *NotEnoughSharesError and
// no key: it never returns a key made from fewer than k good shares. The
// caller wipes the key, and keeps the blame to report even on success.
func Combine(k int, unit UnitID, version uint64, slots []Slot) (ServerKey, Blame, error) {
	if err := checkThreshold(len(slots), k); err != nil {
		return ServerKey{}, Blame{}, err
	}
	var (
		blame  Blame
		parts  = make([][]byte, 0, k)
		peers  = make(map[string]bool, len(slots))
		usedXs [256]bool
	)
	for _, s := range slots {
		if peers[string(s.PeerID)] {
			continue
		}
		peers[string(s.PeerID)] = true
		switch {
		case s.Share.IsZero():
			blame.Missing = append(blame.Missing, s.Node)
		case !s.Commitment.Verify(unit, version, s.PeerID, s.Share):
			blame.Bad = append(blame.Bad, s.Node)
		case len(parts) < k && !usedXs[s.Share.x()]:
			usedXs[s.Share.x()] = true
			parts = append(parts, s.Share.Bytes())
		}
	}
	if len(parts) < k {
		return ServerKey{}, blame, &NotEnoughSharesError{Need: k, Have: len(parts), Blame: blame}
	}
	b, err := shamir.Combine(parts)
	if err != nil || len(b) != KeySize {
		// Unreachable: the parts are k distinct, well-formed shares.
		clear(b)
		return ServerKey{}, blame, fmt.Errorf("threshold: internal error: combine: %v", err)
	}
	return ServerKey{secret{p: &b}}, blame, nil
}
