package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkDurableUpdate measures one small durable Update (a 64-byte log
// entry) on a store on disk. baseline runs them one at a time from one
// goroutine, so each pays its own fsync; group64 runs them from 64
// goroutines, so they share commits. make bench prints group64 as a ratio
// to baseline: below 1 is what group commit buys per update.
func BenchmarkDurableUpdate(b *testing.B) {
	entry := make([]byte, 64)
	write := func(s *Store, i int64) error {
		return s.Update(context.Background(), func(tx *Tx) error { return tx.PutLogEntry(i, entry) })
	}
	b.Run("baseline", func(b *testing.B) {
		s := openDisk(b)
		var i int64
		for b.Loop() {
			if err := write(s, i); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("group64", func(b *testing.B) {
		s := openDisk(b)
		before := s.commits.Load()
		var next atomic.Int64
		b.ResetTimer()
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				for {
					i := next.Add(1) - 1
					if i >= int64(b.N) {
						return
					}
					if err := write(s, i); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		if b.N > 0 {
			b.ReportMetric(float64(b.N)/float64(s.commits.Load()-before), "updates/commit")
		}
	})
}
