package audit

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
)

// fuzzLogSize is the size of the real log the fuzz targets check against:
// big enough for proofs of several hashes, small enough to build per run.
const fuzzLogSize = 23

// hashesOf cuts b into 32-byte hashes, dropping a short tail.
func hashesOf(b []byte) []tlog.Hash {
	out := make([]tlog.Hash, len(b)/tlog.HashSize)
	for i := range out {
		copy(out[i][:], b[i*tlog.HashSize:])
	}
	return out
}

func bytesOf(hs []tlog.Hash) []byte {
	var b []byte
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

// fuzzLog builds the real log and the roots of all its sizes.
func fuzzLog(f *testing.F) (*Log, *memTx, []tlog.Hash) {
	l, _ := newTestLog(f)
	tx := appendN(f, l, fuzzLogSize)
	roots := make([]tlog.Hash, fuzzLogSize+1)
	for size := range int64(fuzzLogSize + 1) {
		var err error
		if roots[size], err = l.TreeHash(tx, size); err != nil {
			f.Fatal(err)
		}
	}
	return l, tx, roots
}

// FuzzVerifyInclusion feeds arbitrary proofs, sizes and indexes. It must
// never panic or hang, must fail only with its two sentinels, and may accept
// only the one true proof of a true entry of the real log.
func FuzzVerifyInclusion(f *testing.F) {
	l, tx, roots := fuzzLog(f)
	for _, c := range [][2]int64{{0, 1}, {5, 6}, {13, 23}, {22, 23}, {7, 16}} {
		p, err := l.InclusionProof(tx, c[0], c[1])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytesOf(p), c[1], c[0], testEntry(c[0]))
	}
	f.Add([]byte{}, int64(1<<62+1), int64(3), []byte("x"))
	f.Add(bytes.Repeat([]byte{7}, 32*70), int64(MaxSize), int64(MaxSize-1), []byte("x"))
	f.Fuzz(func(t *testing.T, proof []byte, size, index int64, entry []byte) {
		p := hashesOf(proof)
		root := tlog.RecordHash(entry) // some root, for sizes beyond the real log
		if size >= 0 && size <= fuzzLogSize {
			root = roots[size]
		}
		err := api.VerifyInclusion(p, size, root, index, entry)
		if err != nil {
			if !errors.Is(err, api.ErrInvalidProof) && !errors.Is(err, api.ErrLogRange) {
				t.Fatalf("error matches neither sentinel: %v", err)
			}
			return
		}
		if size < 1 || size > fuzzLogSize || index < 0 || index >= size || !bytes.Equal(entry, testEntry(index)) {
			t.Fatalf("accepted entry %q at %d in a tree of size %d", entry, index, size)
		}
		want, err := l.InclusionProof(tx, index, size)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p, want) {
			t.Fatalf("accepted a proof other than the true one")
		}
	})
}

// FuzzVerifyConsistency is FuzzVerifyInclusion's counterpart for
// consistency proofs.
func FuzzVerifyConsistency(f *testing.F) {
	l, tx, roots := fuzzLog(f)
	for _, c := range [][2]int64{{0, 0}, {0, 5}, {1, 1}, {3, 7}, {8, 16}, {13, 23}, {22, 23}} {
		p, err := l.ConsistencyProof(tx, c[0], c[1])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytesOf(p), c[0], c[1], false)
	}
	f.Add([]byte{}, int64(3), int64(1<<62+1), false)
	f.Add(bytes.Repeat([]byte{7}, 32*200), int64(1), int64(MaxSize), true)
	f.Fuzz(func(t *testing.T, proof []byte, oldSize, newSize int64, swapRoots bool) {
		p := hashesOf(proof)
		rootOf := func(size int64) tlog.Hash {
			if size >= 0 && size <= fuzzLogSize {
				return roots[size]
			}
			return tlog.RecordHash(proof) // some root, for sizes beyond the real log
		}
		oldRoot, newRoot := rootOf(oldSize), rootOf(newSize)
		if swapRoots {
			oldRoot, newRoot = newRoot, oldRoot
		}
		err := api.VerifyConsistency(p, oldSize, oldRoot, newSize, newRoot)
		if err != nil {
			if !errors.Is(err, api.ErrInvalidProof) && !errors.Is(err, api.ErrLogRange) {
				t.Fatalf("error matches neither sentinel: %v", err)
			}
			return
		}
		if len(p) == 0 && (oldSize == 0 || oldSize == newSize && oldRoot == newRoot) {
			return // every tree extends the empty tree and itself, whatever its size
		}
		if oldSize < 0 || newSize > fuzzLogSize || oldSize > newSize || (swapRoots && oldRoot != newRoot) {
			t.Fatalf("accepted sizes %d to %d (roots swapped: %v)", oldSize, newSize, swapRoots)
		}
		want, err := l.ConsistencyProof(tx, oldSize, newSize)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p, want) {
			t.Fatalf("accepted a proof other than the true one")
		}
	})
}
