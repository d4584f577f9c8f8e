package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
)

func BenchmarkAppend(b *testing.B) {
	l, _ := newTestLog(b)
	tx := newMemTx()
	entry := make([]byte, 200)
	b.SetBytes(int64(len(entry)))
	for b.Loop() {
		if _, err := l.Append(tx, entry); err != nil {
			b.Fatal(err)
		}
	}
}

// bench1M is a log of 1,000,000 entries with only its stored hashes (built
// straight from synthetic record hashes with tlog.StoredHashesForRecordHash,
// which is what Append stores), made once per test binary.
var bench1M = sync.OnceValues(func() (*memTx, error) {
	const n = 1_000_000
	tx := newMemTx()
	tx.hashes = make([]tlog.Hash, 0, tlog.StoredHashCount(n))
	tx.has = make([]bool, 0, tlog.StoredHashCount(n))
	r := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, idx := range indexes {
			out[i] = tx.hashes[idx]
		}
		return out, nil
	})
	var buf [8]byte
	for i := range int64(n) {
		binary.BigEndian.PutUint64(buf[:], uint64(i))
		hs, err := tlog.StoredHashesForRecordHash(i, sha256.Sum256(buf[:]), r)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			tx.hashes = append(tx.hashes, h)
			tx.has = append(tx.has, true)
		}
	}
	tx.size = n
	return tx, nil
})

func BenchmarkConsistencyProof1M(b *testing.B) {
	const oldSize, newSize = 500_000, 1_000_000
	tx, err := bench1M()
	if err != nil {
		b.Fatal(err)
	}
	l, _ := newTestLog(b)
	oldRoot, err := l.TreeHash(tx, oldSize)
	if err != nil {
		b.Fatal(err)
	}
	newRoot, err := l.TreeHash(tx, newSize)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		p, err := l.ConsistencyProof(tx, oldSize, newSize)
		if err != nil {
			b.Fatal(err)
		}
		if err := api.VerifyConsistency(p, oldSize, oldRoot, newSize, newRoot); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplay compares a full replay of 10,000 entries of 200 bytes
// with bare SHA-256 over the same bytes (the baseline); make bench prints
// each as a ratio to it. "full" is what an auditor's audit verify --full
// does with the entries it read: recompute the root (TreeHasher). "store"
// is the node's Replay, which also checks every stored tree hash, here
// over the in-memory stand-in for the store.
func BenchmarkReplay(b *testing.B) {
	const n, size = 10_000, 200
	l, _ := newTestLog(b)
	tx := newMemTx()
	entries := make([][]byte, n)
	for i := range entries {
		entries[i] = make([]byte, size)
		binary.BigEndian.PutUint64(entries[i], uint64(i))
		if _, err := l.Append(tx, entries[i]); err != nil {
			b.Fatal(err)
		}
	}
	want, err := l.TreeHash(tx, n)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(n * size)
		for b.Loop() {
			for _, e := range entries {
				sha256.Sum256(e)
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		b.SetBytes(n * size)
		for b.Loop() {
			var t api.TreeHasher
			for _, e := range entries {
				t.Add(e)
			}
			if t.Root() != want {
				b.Fatal("wrong root")
			}
		}
	})
	b.Run("store", func(b *testing.B) {
		b.SetBytes(n * size)
		for b.Loop() {
			if got, root, err := l.Replay(tx); err != nil || got != n || root != want {
				b.Fatal(got, err)
			}
		}
	})
}
