package audit

import (
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestReceiptProofsOfACommittedViewComeFromMemory: once a committed view
// has read the hashes a receipt needs, the same checkpoint and proofs are
// made again without reading the store, and they are the same.
func TestReceiptProofsOfACommittedViewComeFromMemory(t *testing.T) {
	l, _ := newTestLog(t)
	tx := appendN(t, l, 300)
	view := tx.clone()
	view.committed = true
	type answer struct {
		root        tlog.Hash
		inclusion   tlog.RecordProof
		consistency tlog.TreeProof
	}
	receipt := func(tx Tx) (a answer, err error) {
		if a.root, err = l.TreeHash(tx, 300); err != nil {
			return a, err
		}
		if a.inclusion, err = l.InclusionProof(tx, 299, 300); err != nil {
			return a, err
		}
		a.consistency, err = l.ConsistencyProof(tx, 123, 300)
		return a, err
	}
	first, err := receipt(view)
	if err != nil {
		t.Fatal(err)
	}
	view.failOn = "LogHash" // any read of a hash from the store now fails
	again, err := receipt(view)
	if err != nil {
		t.Fatalf("a second receipt read the store: %v", err)
	}
	if again.root != first.root || !equalHashes(again.inclusion, first.inclusion) || !equalHashes(again.consistency, first.consistency) {
		t.Fatal("the receipt made from memory differs")
	}
}

// TestHashesOfATransactionThatMayFailAreNotKept: what an update read,
// hashes it wrote itself among them, is not kept, so a log whose next
// entry commits differently has the root of what committed.
func TestHashesOfATransactionThatMayFailAreNotKept(t *testing.T) {
	l, _ := newTestLog(t)
	tx := appendN(t, l, 40)
	aborted := tx.clone()
	if _, err := l.Append(aborted, []byte("never committed")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.TreeHash(aborted, 41); err != nil {
		t.Fatal(err)
	}
	committed := tx.clone()
	if _, err := l.Append(committed, []byte("committed")); err != nil {
		t.Fatal(err)
	}
	committed.committed = true
	got, err := l.TreeHash(committed, 41)
	if err != nil {
		t.Fatal(err)
	}
	leaves := make([][32]byte, 41)
	for i := range int64(40) {
		leaves[i] = refLeaf(testEntry(i))
	}
	leaves[40] = refLeaf([]byte("committed"))
	if got != refRoot(leaves) {
		t.Fatal("the root is made of hashes that never committed")
	}
	committed.failOn = "LogHash"
	if _, err := l.TreeHash(committed, 41); err != nil {
		t.Fatalf("the committed view's hashes were not kept: %v", err)
	}
}

// TestCachedProofsMatchTlogPastTheCacheSize checks proofs made through a
// committed view of a log with more stored hashes than the cache holds,
// each asked twice (the second from memory where the first left it),
// against tlog's over the hashes alone.
func TestCachedProofsMatchTlogPastTheCacheSize(t *testing.T) {
	if testing.Short() {
		t.Skip("a log of 40,000 entries")
	}
	l, _ := newTestLog(t)
	const n = 40_000 // about 80,000 stored hashes, over hashCacheSlots
	tx := appendN(t, l, n)
	tx.committed = true
	ref := tlogMemHashes(tx.hashes)
	for _, size := range []int64{1, 2, 3, 1000, 16384, 16385, 32767, n - 1, n} {
		for _, index := range []int64{0, size / 3, size - 1} {
			for range 2 {
				got, err := l.InclusionProof(tx, index, size)
				if err != nil {
					t.Fatal(err)
				}
				want, err := tlog.ProveRecord(size, index, ref)
				if err != nil {
					t.Fatal(err)
				}
				if !equalHashes(got, want) {
					t.Fatalf("inclusion proof of %d in %d differs from tlog's", index, size)
				}
				root, err := l.TreeHash(tx, size)
				if err != nil {
					t.Fatal(err)
				}
				if want, _ := tlog.TreeHash(size, ref); root != want {
					t.Fatalf("root of %d differs from tlog's", size)
				}
				gotTree, err := l.ConsistencyProof(tx, max(1, index), size)
				if err != nil {
					t.Fatal(err)
				}
				wantTree, err := tlog.ProveTree(size, max(1, index), ref)
				if err != nil {
					t.Fatal(err)
				}
				if !equalHashes(gotTree, wantTree) {
					t.Fatalf("consistency proof of %d to %d differs from tlog's", index, size)
				}
			}
		}
	}
}

func equalHashes[P ~[]tlog.Hash](a, b P) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
