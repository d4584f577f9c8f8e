package api

import (
	"crypto/rand"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestTreeHasher checks the streaming root against x/mod's tlog, which
// computes it from the stored hashes, at every size up to 300 and at a few
// sizes around powers of two.
func TestTreeHasher(t *testing.T) {
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			out[i] = stored[x]
		}
		return out, nil
	})
	var th TreeHasher
	if th.Root() != emptyRoot || th.Size() != 0 {
		t.Fatal("the zero TreeHasher is not the empty tree")
	}
	check := map[int64]bool{511: true, 512: true, 513: true, 1023: true, 1024: true, 1025: true, 2047: true}
	for n := int64(0); n < 2048; n++ {
		entry := make([]byte, 1+n%300)
		rand.Read(entry)
		hs, err := tlog.StoredHashes(n, entry, reader)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
		th.Add(entry)
		if size := n + 1; size <= 300 || check[size] {
			want, err := tlog.TreeHash(size, reader)
			if err != nil {
				t.Fatal(err)
			}
			if th.Root() != want || th.Size() != size {
				t.Fatalf("size %d: root differs from tlog.TreeHash", size)
			}
		}
	}
}
