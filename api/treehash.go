package api

import (
	"crypto/sha256"

	"golang.org/x/mod/sumdb/tlog"
)

// TreeHasher computes the RFC 6962 root of a log from its entries, given
// in order, in O(log n) memory: what an auditor does to check a checkpoint
// against the entries it read, and a node to check the hashes it stored.
// The zero value is a hasher of the empty log.
type TreeHasher struct {
	leaf leafHasher
	n    int64
	// edge[level] is the root of the last complete subtree of 2^level
	// entries that is a left child; it is pending exactly when bit level
	// of n is set, and those subtrees make up the tree.
	edge [64]tlog.Hash
	// made holds what the last Add returned.
	made [65]tlog.Hash
}

// Add hashes the next entry into the tree. It returns the hashes the entry
// completes, in the order tlog.StoredHashes gives them: its leaf hash, then
// the root of each subtree it completes, level by level. The slice is
// valid until the next Add.
func (t *TreeHasher) Add(entry []byte) []tlog.Hash {
	h := t.leaf.hash(entry)
	t.made[0] = h
	level := 0
	for ; (t.n>>level)&1 == 1; level++ {
		h = tlog.NodeHash(t.edge[level], h)
		t.made[level+1] = h
	}
	t.edge[level] = h
	t.n++
	return t.made[:level+1]
}

// Size is how many entries were added.
func (t *TreeHasher) Size() int64 { return t.n }

// Root is the root of the tree of the entries added so far; the empty
// tree's is SHA-256 of nothing.
func (t *TreeHasher) Root() tlog.Hash { return foldEdges(t.n, &t.edge) }

// foldEdges is the root of the tree of n entries whose pending left
// subtrees are edge: RFC 6962 puts the larger subtrees on the left, so it
// folds from the smallest.
func foldEdges(n int64, edge *[64]tlog.Hash) tlog.Hash {
	if n == 0 {
		return emptyRoot
	}
	var root tlog.Hash
	have := false
	for level := range 64 {
		if (n>>level)&1 == 0 {
			continue
		}
		if !have {
			root, have = edge[level], true
		} else {
			root = tlog.NodeHash(edge[level], root)
		}
	}
	return root
}

// leafHasher is tlog.RecordHash (SHA-256 of 0x00 ‖ entry) with one buffer
// kept for every entry, so a replay allocates nothing per entry once the
// buffer has grown to the largest entry.
type leafHasher struct {
	buf []byte
}

func (l *leafHasher) hash(entry []byte) tlog.Hash {
	l.buf = append(append(l.buf[:0], 0), entry...)
	return sha256.Sum256(l.buf)
}
