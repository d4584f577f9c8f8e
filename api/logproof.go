package api

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// The log's proof checks, for clients, auditors and nodes alike: a log is
// an RFC 6962 Merkle tree of its entries (golang.org/x/mod/sumdb/tlog),
// and a checkpoint (checkpoint.go) signs its size and root.

// MaxLogSize caps every tree size and index a proof check takes or a
// request names, and every log a node keeps: far beyond any real log, and
// low enough that no size from a peer reaches the int64 range where tlog's
// index arithmetic fails.
const MaxLogSize = 1 << 48

// Errors of the proof checks, to match with errors.Is.
var (
	// ErrLogRange: a tree size or index out of range.
	ErrLogRange = errors.New("api: tree size or index out of range")
	// ErrInvalidProof: the proof does not show what it claims.
	ErrInvalidProof = errors.New("api: the proof does not verify")
)

// emptyRoot is the RFC 6962 root of the empty tree: SHA-256 of nothing.
var emptyRoot = tlog.Hash(sha256.Sum256(nil))

// maxProofLen bounds a proof's length before any hashing: a tree of at most
// MaxLogSize entries has an inclusion proof of at most 48 hashes and a
// consistency proof of at most about twice that.
const maxProofLen = 2 * 64

// VerifyInclusion checks that proof shows entry at index in the tree of size
// size whose root is root (from a verified checkpoint). It fails with
// ErrLogRange unless 0 <= index < size <= MaxLogSize, and with
// ErrInvalidProof if the proof does not show it.
//
// size and root must come from the same verified checkpoint: an RFC 6962
// inclusion proof does not bind the tree size by itself (a proof for a tree
// of 3 entries also passes for size 4 against the same root).
func VerifyInclusion(proof tlog.RecordProof, size int64, root tlog.Hash, index int64, entry []byte) error {
	if size < 1 || size > MaxLogSize || index < 0 || index >= size {
		return fmt.Errorf("verify inclusion of entry %d in tree of size %d: %w", index, size, ErrLogRange)
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
// verified checkpoints). It fails with ErrLogRange unless
// 0 <= oldSize <= newSize <= MaxLogSize, and with ErrInvalidProof if the proof
// does not show it. From size 0 the proof is empty and oldRoot must be the
// empty tree's root; between equal sizes it is empty and the roots equal.
func VerifyConsistency(proof tlog.TreeProof, oldSize int64, oldRoot tlog.Hash, newSize int64, newRoot tlog.Hash) error {
	if oldSize < 0 || oldSize > newSize || newSize > MaxLogSize {
		return fmt.Errorf("verify consistency of sizes %d to %d: %w", oldSize, newSize, ErrLogRange)
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

// ProofHashes converts a proof as it travels (Receipt.proof, the proofs of
// the audit protocols) into hashes; every hash must be 32 bytes.
func ProofHashes(b [][]byte) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(b))
	for i, h := range b {
		if len(h) != tlog.HashSize {
			return nil, fmt.Errorf("a proof hash is %d bytes, not %d", len(h), tlog.HashSize)
		}
		out[i] = tlog.Hash(h)
	}
	return out, nil
}

// ProofBytes converts proof hashes into the form they travel in.
func ProofBytes(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}
