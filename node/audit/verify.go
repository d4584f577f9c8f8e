package audit

import (
	"crypto/sha256"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// emptyRoot is the RFC 6962 root of the empty tree: SHA-256 of nothing.
var emptyRoot = tlog.Hash(sha256.Sum256(nil))

// maxProofLen bounds a proof's length before any hashing: a tree of at most
// MaxSize entries has an inclusion proof of at most 48 hashes and a
// consistency proof of at most about twice that.
const maxProofLen = 2 * 64

// VerifyInclusion checks that proof shows entry at index in the tree of size
// size whose root is root (from a verified checkpoint). It fails with
// ErrInvalidArgument unless 0 <= index < size <= MaxSize, and with
// ErrInvalidProof if the proof does not show it.
//
// size and root must come from the same verified checkpoint: an RFC 6962
// inclusion proof does not bind the tree size by itself (a proof for a tree
// of 3 entries also passes for size 4 against the same root).
func VerifyInclusion(proof tlog.RecordProof, size int64, root tlog.Hash, index int64, entry []byte) error {
	if size < 1 || size > MaxSize || index < 0 || index >= size {
		return fmt.Errorf("verify inclusion of entry %d in tree of size %d: %w", index, size, ErrInvalidArgument)
	}
	if len(proof) > maxProofLen {
		return fmt.Errorf("verify inclusion: proof of %d hashes: %w", len(proof), ErrInvalidProof)
	}
	if err := tlog.CheckRecord(proof, size, root, index, tlog.RecordHash(entry)); err != nil {
		return fmt.Errorf("verify inclusion of entry %d in tree of size %d: %w", index, size, ErrInvalidProof)
	}
	return nil
}

// VerifyConsistency checks that proof shows the tree of size newSize with
// root newRoot extends the tree of size oldSize with root oldRoot (both from
// verified checkpoints). It fails with ErrInvalidArgument unless
// 0 <= oldSize <= newSize <= MaxSize, and with ErrInvalidProof if the proof
// does not show it. From size 0 the proof is empty and oldRoot must be the
// empty tree's root; between equal sizes it is empty and the roots equal.
func VerifyConsistency(proof tlog.TreeProof, oldSize int64, oldRoot tlog.Hash, newSize int64, newRoot tlog.Hash) error {
	if oldSize < 0 || oldSize > newSize || newSize > MaxSize {
		return fmt.Errorf("verify consistency of sizes %d to %d: %w", oldSize, newSize, ErrInvalidArgument)
	}
	if len(proof) > maxProofLen {
		return fmt.Errorf("verify consistency: proof of %d hashes: %w", len(proof), ErrInvalidProof)
	}
	if oldSize == 0 {
		if len(proof) != 0 || oldRoot != emptyRoot || (newSize == 0 && newRoot != emptyRoot) {
			return fmt.Errorf("verify consistency of sizes 0 to %d: %w", newSize, ErrInvalidProof)
		}
		return nil
	}
	if err := tlog.CheckTree(proof, newSize, newRoot, oldSize, oldRoot); err != nil {
		return fmt.Errorf("verify consistency of sizes %d to %d: %w", oldSize, newSize, ErrInvalidProof)
	}
	return nil
}
