package threshold

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/hashicorp/vault/shamir"
)

// ShareSize is the size in bytes of one share: one byte of the polynomials'
// values for each byte of the server key, then the x coordinate (vault/shamir
// appends it).
const ShareSize = KeySize + 1

// MaxShares is the largest number of custodians a key can be split among: the
// field GF(2^8) has 255 non-zero x coordinates.
const MaxShares = 255

// Share is one custodian's share of a server key. Fewer than the threshold of
// shares say nothing about the key, but a share is still handled as a secret.
type Share struct{ secret }

var errShare = errors.New("threshold: malformed share")

// ParseShare checks and copies a share received from a custodian or a store;
// the caller still owns b. It checks the form only: whether the share is the
// one that was dealt is for Combine to tell, from its commitment.
func ParseShare(b []byte) (Share, error) {
	// x = 0 is the point where the polynomials hold the secret itself:
	// vault/shamir never deals it, and no share may claim it.
	if len(b) != ShareSize || b[ShareSize-1] == 0 {
		return Share{}, errShare
	}
	return Share{secretFrom(b)}, nil
}

// Split splits the server key into n shares, any k of which rebuild it, with
// 2 ≤ k ≤ n ≤ 255. Share i is meant for custodian i. Most callers want Deal,
// which also makes the commitments. The caller wipes the key and, once they
// are sent, the shares.
func Split(key ServerKey, n, k int) ([]Share, error) {
	if err := CheckThreshold(k, n); err != nil {
		return nil, err
	}
	b, err := key.usable(KeySize)
	if err != nil {
		return nil, err
	}
	parts, err := shamir.Split(b, n, k)
	if err != nil {
		return nil, fmt.Errorf("split: %w", err)
	}
	shares := make([]Share, n)
	for i, p := range parts {
		shares[i] = Share{adopt(p)}
	}
	return shares, nil
}

// A Dealing is a server key split among custodians, with what the client
// keeps to check the shares that come back.
type Dealing struct {
	Shares      []Share      // Shares[i] goes to custodian i; wipe once sent
	Commitments []Commitment // Commitments[i] checks custodian i's share
	KeyCommit   Commitment   // checks the key that the shares combine to
}

// Deal splits the server key of one unit version among the custodians with
// these peer IDs (binary form, distinct), any k of whom can give it back, and
// commits to every share and to the key. The caller keeps the commitments,
// sends the shares and wipes them and the key.
func Deal(key ServerKey, unit UnitID, version uint64, k int, peerIDs [][]byte) (*Dealing, error) {
	if err := checkPeerIDs(len(peerIDs), func(i int) []byte { return peerIDs[i] }); err != nil {
		return nil, err
	}
	shares, err := Split(key, len(peerIDs), k)
	if err != nil {
		return nil, err
	}
	d := &Dealing{Shares: shares, KeyCommit: CommitKey(key, unit, version)}
	for i, s := range shares {
		d.Commitments = append(d.Commitments, Commit(unit, version, peerIDs[i], s.Bytes()))
	}
	return d, nil
}

// checkPeerIDs refuses an empty, over-long or repeated peer ID: a custodian
// listed twice could hold two shares, or hide another's blame.
func checkPeerIDs(n int, peerID func(int) []byte) error {
	seen := make(map[string]bool, n)
	for i := range n {
		p := peerID(i)
		if err := checkPeerID(p); err != nil {
			return err
		}
		if seen[string(p)] {
			return errors.New("a custodian is listed twice")
		}
		seen[string(p)] = true
	}
	return nil
}

// CheckThreshold checks a dealing of n custodians with threshold k: at
// least 2, at most n, and n at most MaxShares. The threshold OPRF of login
// (package toprf) deals under the same rule.
func CheckThreshold(k, n int) error {
	switch {
	case k < 2:
		return fmt.Errorf("the threshold is %d, and must be at least 2", k)
	case n > MaxShares:
		return fmt.Errorf("%d custodians, and there can be at most %d", n, MaxShares)
	case k > n:
		return fmt.Errorf("the threshold %d is more than the %d custodians", k, n)
	}
	return nil
}

// CommitmentSize is the size in bytes of a share commitment.
const CommitmentSize = sha256.Size

// Commitment binds one share to its unit, version and custodian. The client
// keeps it in its vault when it deals the share, and checks the share that
// the custodian returns against it. It is not secret.
type Commitment [CommitmentSize]byte

const commitLabel = "custos/v1/share"

// Commit returns SHA-256("custos/v1/share" ‖ unit ‖ version ‖ peerID ‖ share),
// encoded as docs/threshold.md says. peerID is the custodian's libp2p peer ID
// in its binary form (the bytes of a peer.ID); share is as dealt or received.
func Commit(unit UnitID, version uint64, peerID []byte, share []byte) Commitment {
	b := make([]byte, 0, 4+len(commitLabel)+UnitIDSize+8+4+len(peerID)+ShareSize)
	b = appendString(b, commitLabel)
	b = append(b, unit[:]...)
	b = appendVersion(b, version)
	b = appendVar(b, peerID)
	b = append(b, share...)
	c := Commitment(sha256.Sum256(b))
	clear(b)
	return c
}

// Verify reports, in constant time, whether share is the one that c commits
// to for this unit, version and custodian. A malformed share is not.
func (c Commitment) Verify(unit UnitID, version uint64, peerID []byte, share []byte) bool {
	if len(share) != ShareSize || share[ShareSize-1] == 0 {
		return false
	}
	want := Commit(unit, version, peerID, share)
	return subtle.ConstantTimeCompare(c[:], want[:]) == 1
}

const keyCommitLabel = "custos/v1/key"

// CommitKey returns SHA-256("custos/v1/key" ‖ unit ‖ version ‖ key). Kept
// beside the share commitments, it tells a key combined with the wrong
// threshold from the right one. The key is 32 uniformly random bytes, so its
// hash gives nothing to guess from.
func CommitKey(key ServerKey, unit UnitID, version uint64) Commitment {
	b := make([]byte, 0, 4+len(keyCommitLabel)+UnitIDSize+8+KeySize)
	b = appendString(b, keyCommitLabel)
	b = append(b, unit[:]...)
	b = appendVersion(b, version)
	b = append(b, key.Bytes()...)
	c := Commitment(sha256.Sum256(b))
	clear(b)
	return c
}

// String returns the commitment as 64 lower-case hexadecimal digits.
func (c Commitment) String() string { return hex.EncodeToString(c[:]) }

// MarshalText encodes the commitment as String does.
func (c Commitment) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText decodes what MarshalText wrote.
func (c *Commitment) UnmarshalText(b []byte) error {
	if len(b) != 2*CommitmentSize {
		return errors.New("a commitment is 64 hexadecimal digits")
	}
	if _, err := hex.Decode(c[:], b); err != nil {
		return errors.New("a commitment is 64 hexadecimal digits")
	}
	return nil
}
