package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// holdWriter queues an Update whose function blocks the writer goroutine
// until release is called, so that the test can line up a batch behind it.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	started, unblock := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(context.Background(), func(*Tx) error {
			close(started)
			<-unblock
			return nil
		})
	}()
	<-started
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(unblock)
			if err := <-done; err != nil {
				t.Errorf("holding update: %v", err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

// waitQueued waits until n updates wait in the queue.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d updates queued, want %d", len(s.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// goUpdate starts an Update and returns where its result arrives.
func goUpdate(s *Store, ctx context.Context, fn func(*Tx) error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- s.Update(ctx, fn) }()
	return ch
}

func putEntry(i int64) func(*Tx) error {
	return func(tx *Tx) error { return tx.PutLogEntry(i, []byte(fmt.Sprint(i))) }
}

func checkEntries(t *testing.T, s *Store, want map[int64]bool) {
	t.Helper()
	view(t, s, func(tx *Tx) error {
		for i, present := range want {
			_, err := tx.LogEntry(i)
			if present && err != nil {
				t.Errorf("entry %d: %v", i, err)
			}
			if !present && !errors.Is(err, ErrNotFound) {
				t.Errorf("entry %d: %v, want ErrNotFound", i, err)
			}
		}
		return nil
	})
}

func TestConcurrentUpdatesShareCommits(t *testing.T) {
	s := openDisk(t)
	before := s.commits.Load()
	const n = 64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.Update(context.Background(), putEntry(int64(i)))
		})
	}
	close(start)
	wg.Wait()
	want := map[int64]bool{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("update %d: %v", i, err)
		}
		want[int64(i)] = true
	}
	checkEntries(t, s, want)
	commits := s.commits.Load() - before
	t.Logf("%d concurrent updates in %d commits", n, commits)
	if commits >= n {
		t.Errorf("%d updates took %d commits; want batches", n, commits)
	}
}

func TestBatchRules(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, s *Store)
	}{
		{"updates queued behind a slow one commit together", func(t *testing.T, s *Store) {
			release := holdWriter(t, s)
			var results []<-chan error
			for i := range int64(64) {
				results = append(results, goUpdate(s, context.Background(), putEntry(i)))
			}
			waitQueued(t, s, 64)
			before := s.commits.Load()
			release()
			want := map[int64]bool{}
			for i, ch := range results {
				if err := <-ch; err != nil {
					t.Errorf("update %d: %v", i, err)
				}
				want[int64(i)] = true
			}
			// One commit for the holding update's own batch, one for the 64.
			if c := s.commits.Load() - before; c != 2 {
				t.Errorf("64 queued updates took %d commits, want 1", c-1)
			}
			checkEntries(t, s, want)
		}},
		{"a failing function in a batch does not affect the others", func(t *testing.T, s *Store) {
			release := holdWriter(t, s)
			var results []<-chan error
			for i := range int64(8) {
				fn := putEntry(i)
				if i == 3 {
					fn = func(tx *Tx) error {
						if err := tx.PutLogEntry(3, []byte("no")); err != nil {
							return err
						}
						return errBoom
					}
				}
				results = append(results, goUpdate(s, context.Background(), fn))
				waitQueued(t, s, int(i)+1) // keep the order
			}
			before := s.commits.Load()
			release()
			want := map[int64]bool{}
			for i, ch := range results {
				err := <-ch
				if i == 3 {
					if !errors.Is(err, errBoom) {
						t.Errorf("failing update: %v, want its own error", err)
					}
					want[3] = false
					continue
				}
				if err != nil {
					t.Errorf("update %d: %v", i, err)
				}
				want[int64(i)] = true
			}
			if c := s.commits.Load() - before; c != 2 {
				t.Errorf("batch took %d commits, want 1", c-1)
			}
			checkEntries(t, s, want)
		}},
		{"a panicking function in a batch does not affect the others", func(t *testing.T, s *Store) {
			release := holdWriter(t, s)
			first := goUpdate(s, context.Background(), putEntry(1))
			waitQueued(t, s, 1)
			bad := goUpdate(s, context.Background(), func(tx *Tx) error {
				_ = tx.PutLogEntry(2, nil)
				panic("secret-looking panic value")
			})
			waitQueued(t, s, 2)
			last := goUpdate(s, context.Background(), putEntry(3))
			waitQueued(t, s, 3)
			release()
			if err := <-first; err != nil {
				t.Errorf("first: %v", err)
			}
			err := <-bad
			if err == nil || !strings.Contains(err.Error(), "panicked") || strings.Contains(err.Error(), "secret") {
				t.Errorf("panicking update: %v; want a panic error without the panic value", err)
			}
			if err := <-last; err != nil {
				t.Errorf("last: %v", err)
			}
			checkEntries(t, s, map[int64]bool{1: true, 2: false, 3: true})
		}},
		{"a later function in a batch sees what an earlier one wrote", func(t *testing.T, s *Store) {
			release := holdWriter(t, s)
			w := goUpdate(s, context.Background(), func(tx *Tx) error { return tx.SetLogSize(7) })
			waitQueued(t, s, 1)
			var seen int64
			r := goUpdate(s, context.Background(), func(tx *Tx) error {
				n, err := tx.LogSize()
				seen = n
				return err
			})
			waitQueued(t, s, 2)
			release()
			if err := <-w; err != nil {
				t.Fatal(err)
			}
			if err := <-r; err != nil || seen != 7 {
				t.Errorf("later function read log size %d (%v), want 7", seen, err)
			}
		}},
		{"an update whose context ends while queued is not run", func(t *testing.T, s *Store) {
			release := holdWriter(t, s)
			ctx, cancel := context.WithCancel(context.Background())
			var ran atomic.Bool
			ch := goUpdate(s, ctx, func(tx *Tx) error { ran.Store(true); return tx.SetLogSize(1) })
			waitQueued(t, s, 1)
			cancel()
			if err := <-ch; !errors.Is(err, context.Canceled) {
				t.Errorf("Update = %v, want context.Canceled", err)
			}
			release()
			update(t, s, func(*Tx) error { return nil }) // the writer has passed it
			if ran.Load() {
				t.Error("the function of a cancelled update ran")
			}
		}},
		{"an update whose function has started waits for its commit", func(t *testing.T, s *Store) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			err := s.Update(ctx, func(tx *Tx) error {
				cancel()
				return tx.SetLogSize(2)
			})
			if err != nil {
				t.Fatalf("Update = %v, want nil: its function ran", err)
			}
			view(t, s, func(tx *Tx) error {
				if n, _ := tx.LogSize(); n != 2 {
					t.Errorf("log size %d, want 2", n)
				}
				return nil
			})
		}},
		{"close answers every queued update before it closes", func(t *testing.T, s *Store) {
			release := holdWriter(t, s)
			var results []<-chan error
			for i := range int64(10) {
				results = append(results, goUpdate(s, context.Background(), putEntry(i)))
			}
			waitQueued(t, s, 10)
			closed := make(chan error, 1)
			go func() { closed <- s.Close() }()
			for !s.closing.Load() {
				time.Sleep(time.Millisecond)
			}
			release()
			for i, ch := range results {
				if err := <-ch; err != nil {
					t.Errorf("queued update %d: %v", i, err)
				}
			}
			if err := <-closed; err != nil {
				t.Errorf("Close: %v", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, openDisk(t)) })
	}
}

// openSmall opens a disk store whose Badger transactions hold about 150 KB,
// so that ordinary batches overflow them.
func openSmall(t *testing.T) *Store {
	t.Helper()
	s, err := open(t.TempDir(), testKey, testLogger(t), func(o badger.Options) badger.Options {
		return o.WithMemTableSize(1 << 20).WithValueThreshold(1 << 10)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestBatchLargerThanATransactionIsSplit(t *testing.T) {
	s := openSmall(t)
	release := holdWriter(t, s)
	const fns, perFn = 24, 40 // about 24 × 40 × 600 bytes: several transactions
	entry := make([]byte, 512)
	var results []<-chan error
	for f := range fns {
		results = append(results, goUpdate(s, context.Background(), func(tx *Tx) error {
			for j := range perFn {
				if err := tx.PutLogEntry(int64(f*perFn+j), entry); err != nil {
					return err
				}
			}
			return tx.SetMeta(fmt.Sprint("fn", f), []byte{1})
		}))
	}
	// One function alone is too big for any transaction.
	huge := goUpdate(s, context.Background(), func(tx *Tx) error {
		for j := range 2000 {
			if err := tx.PutLogEntry(int64(100000+j), entry); err != nil {
				return err
			}
		}
		return nil
	})
	waitQueued(t, s, fns+1)
	before := s.commits.Load()
	release()
	for i, ch := range results {
		if err := <-ch; err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
	if err := <-huge; !errors.Is(err, ErrTooBig) {
		t.Errorf("huge update: %v, want ErrTooBig", err)
	}
	commits := s.commits.Load() - before
	t.Logf("%d updates took %d commits", fns, commits)
	if commits < 2 {
		t.Errorf("%d commits; the batch should not have fitted one transaction", commits)
	}
	view(t, s, func(tx *Tx) error {
		for f := range fns {
			if _, err := tx.Meta(fmt.Sprint("fn", f)); err != nil {
				t.Errorf("update %d's marker: %v", f, err)
			}
		}
		for i := range int64(fns * perFn) {
			if _, err := tx.LogEntry(i); err != nil {
				t.Fatalf("entry %d: %v", i, err)
			}
		}
		if _, err := tx.LogEntry(100000); !errors.Is(err, ErrNotFound) {
			t.Errorf("the too-big update left a write: %v", err)
		}
		return nil
	})
}
