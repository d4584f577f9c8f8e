package threshold

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/shamir"
)

// ErrNotEnoughShares is matched (errors.Is) by the error of Combine when
// fewer than the threshold of shares passed their commitments.
var ErrNotEnoughShares = errors.New("threshold: not enough good shares")

// ErrKeyMismatch is the error of Combine when k good shares combine to a key
// other than the one committed to: the threshold given is not the one the key
// was dealt with.
var ErrKeyMismatch = errors.New("threshold: the shares combine to another key than was dealt (wrong threshold?)")

// A Slot is one custodian's place in a unit's share set: who it is, the
// commitment the client kept when it dealt the share, and the share bytes the
// custodian returned (nil when it returned none).
type Slot struct {
	Node       string // the custodian's name, for messages
	PeerID     []byte // its libp2p peer ID in binary form, bound into the commitment
	Commitment Commitment
	Share      []byte
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

// Combine rebuilds the server key of a unit version dealt with threshold k.
// slots lists every custodian the key was dealt to, each with its share
// commitment and the share it returned, if any; keyCommit is the Dealing's
// KeyCommit. Every share is checked against its slot's commitment: a share
// that fails is dropped and its custodian named in Blame.Bad, a custodian
// without a share is named in Blame.Missing. The first k good shares, in slot
// order, make the key, which must then match keyCommit.
//
// With fewer than k good shares Combine returns a *NotEnoughSharesError and
// no key: it never returns a key made from fewer than k good shares, nor one
// that does not match its commitment (ErrKeyMismatch). A slot list with an
// empty or repeated peer ID is refused. The caller wipes the key and the
// shares, and reports the blame even on success.
func Combine(k int, unit UnitID, version uint64, keyCommit Commitment, slots []Slot) (ServerKey, Blame, error) {
	if k < 2 || k > MaxShares || len(slots) > MaxShares {
		return ServerKey{}, Blame{}, fmt.Errorf("cannot combine %d of %d shares", k, len(slots))
	}
	if err := checkPeerIDs(len(slots), func(i int) []byte { return slots[i].PeerID }); err != nil {
		return ServerKey{}, Blame{}, err
	}
	var (
		blame  Blame
		parts  = make([][]byte, 0, k)
		usedXs [256]bool
	)
	for _, s := range slots {
		switch {
		case s.Share == nil:
			blame.Missing = append(blame.Missing, s.Node)
		case !s.Commitment.Verify(unit, version, s.PeerID, s.Share):
			blame.Bad = append(blame.Bad, s.Node)
		case len(parts) < k && !usedXs[s.Share[ShareSize-1]]:
			// Distinct commitments cannot hold one x twice unless they were
			// forged; such a share is not counted again.
			usedXs[s.Share[ShareSize-1]] = true
			parts = append(parts, s.Share)
		}
	}
	if len(parts) < k {
		return ServerKey{}, blame, &NotEnoughSharesError{Need: k, Have: len(parts), Blame: blame}
	}
	b, err := shamir.Combine(parts)
	if err != nil || len(b) != KeySize {
		// Unreachable: the parts are k distinct, well-formed shares.
		clear(b)
		return ServerKey{}, blame, fmt.Errorf("internal error: combine: %v", err)
	}
	key := ServerKey{adopt(b)}
	got := CommitKey(key, unit, version)
	if subtle.ConstantTimeCompare(got[:], keyCommit[:]) != 1 {
		key.Wipe()
		return ServerKey{}, blame, ErrKeyMismatch
	}
	return key, blame, nil
}
