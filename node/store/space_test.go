//go:build unix

package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
)

// fakeDisk stands in for the file system under a spaceGuard. Its fields
// may change while the writer reads them.
type fakeDisk struct {
	avail, holes atomic.Int64
	clock        atomic.Int64 // nanoseconds
	statfsCalls  atomic.Int64
	fail         atomic.Bool
}

func (d *fakeDisk) install(g *spaceGuard) {
	g.avail = func(string) (int64, error) {
		d.statfsCalls.Add(1)
		if d.fail.Load() {
			return 0, syscall.EIO
		}
		return d.avail.Load(), nil
	}
	g.holes = func(string) (int64, error) { return d.holes.Load(), nil }
	g.now = func() time.Time { return time.Unix(0, d.clock.Load()) }
}

func (d *fakeDisk) advance(by time.Duration) { d.clock.Add(int64(by)) }

func testGuard(d *fakeDisk) *spaceGuard {
	g := &spaceGuard{dir: "/data", room: 40 << 20, budget: 4 << 20, log: zap.NewNop()}
	d.install(g)
	return g
}

func TestSpaceGuardRules(t *testing.T) {
	const room = 40 << 20
	cases := []struct {
		name string
		run  func(t *testing.T, d *fakeDisk, g *spaceGuard)
	}{
		{"less free space than holes plus room is refused", func(t *testing.T, d *fakeDisk, g *spaceGuard) {
			d.holes.Store(30 << 20)
			d.avail.Store(30<<20 + room - 1)
			if err := g.check(); !errors.Is(err, ErrDiskFull) {
				t.Errorf("check = %v, want ErrDiskFull", err)
			}
		}},
		{"exactly holes plus room is enough", func(t *testing.T, d *fakeDisk, g *spaceGuard) {
			d.holes.Store(30 << 20)
			d.avail.Store(30<<20 + room)
			if err := g.check(); err != nil {
				t.Errorf("check = %v, want nil", err)
			}
		}},
		{"a good check is trusted for a while", func(t *testing.T, d *fakeDisk, g *spaceGuard) {
			d.avail.Store(1 << 30)
			if err := g.check(); err != nil {
				t.Fatal(err)
			}
			d.avail.Store(0)
			d.advance(spaceCacheFor - time.Millisecond)
			if err := g.check(); err != nil {
				t.Errorf("check within %v of a good one = %v, want nil without a look", spaceCacheFor, err)
			}
			if n := d.statfsCalls.Load(); n != 1 {
				t.Errorf("%d statfs calls, want 1", n)
			}
			d.advance(time.Millisecond)
			if err := g.check(); !errors.Is(err, ErrDiskFull) {
				t.Errorf("check once the good one expired = %v, want ErrDiskFull", err)
			}
		}},
		{"a good check is not trusted once its budget is written", func(t *testing.T, d *fakeDisk, g *spaceGuard) {
			d.avail.Store(1 << 30)
			if err := g.check(); err != nil {
				t.Fatal(err)
			}
			d.avail.Store(0)
			g.wrote(g.budget - 1)
			if err := g.check(); err != nil {
				t.Errorf("check under the budget = %v, want nil", err)
			}
			g.wrote(1)
			if err := g.check(); !errors.Is(err, ErrDiskFull) {
				t.Errorf("check once the budget is written = %v, want ErrDiskFull", err)
			}
		}},
		{"a low check is repeated on every batch", func(t *testing.T, d *fakeDisk, g *spaceGuard) {
			for range 3 {
				if err := g.check(); !errors.Is(err, ErrDiskFull) {
					t.Errorf("check = %v, want ErrDiskFull", err)
				}
			}
			if n := d.statfsCalls.Load(); n != 3 {
				t.Errorf("%d statfs calls for 3 checks on a full disk, want 3", n)
			}
			d.avail.Store(1 << 30) // space returns: the very next check sees it
			if err := g.check(); err != nil {
				t.Errorf("check after space returned = %v, want nil", err)
			}
		}},
		{"a failed measurement refuses the write", func(t *testing.T, d *fakeDisk, g *spaceGuard) {
			d.avail.Store(1 << 30)
			d.fail.Store(true)
			if err := g.check(); !errors.Is(err, syscall.EIO) {
				t.Errorf("check = %v, want the statfs error", err)
			}
			d.fail.Store(false)
			if err := g.check(); err != nil {
				t.Errorf("check after statfs works again = %v, want nil", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := new(fakeDisk)
			d.clock.Store(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano())
			c.run(t, d, testGuard(d))
		})
	}
}

func TestErrDiskFullIsUnavailable(t *testing.T) {
	wrapped := fmt.Errorf("put share: %w", ErrDiskFull)
	if !errors.Is(wrapped, ErrDiskFull) {
		t.Error("errors.Is(wrapped ErrDiskFull, ErrDiskFull) is false")
	}
	if !errors.Is(wrapped, api.ErrUnavailable) {
		t.Error("errors.Is(wrapped ErrDiskFull, api.ErrUnavailable) is false")
	}
	var se *api.StatusError
	if !errors.As(wrapped, &se) || se.Code != api.Code_UNAVAILABLE {
		t.Errorf("errors.As gives %v, want an UNAVAILABLE StatusError", se)
	}
	if p := api.ToProto(wrapped); p.Code != api.Code_UNAVAILABLE || p.Message != ErrDiskFull.Message {
		t.Errorf("on the wire: %v %q, want UNAVAILABLE %q", p.Code, p.Message, ErrDiskFull.Message)
	}
	for _, other := range []error{api.ErrUnavailable, api.Errorf(api.Code_UNAVAILABLE, "busy"), ErrClosed} {
		if errors.Is(other, ErrDiskFull) {
			t.Errorf("errors.Is(%v, ErrDiskFull) is true", other)
		}
	}
}

// openGuarded opens a disk store whose guard sees d instead of the file
// system. The writer is idle once Open returns and reads the guard only
// after it receives the next Update, so replacing the functions is safe.
func openGuarded(t *testing.T, d *fakeDisk) *Store {
	t.Helper()
	s := openDisk(t)
	d.install(s.space)
	s.space.goodUntil = time.Time{}
	return s
}

func TestDiskFullRefusesTheBatchAndWritesNothing(t *testing.T) {
	d := new(fakeDisk)
	s := openGuarded(t, d)
	reserve, err := s.space.reserve()
	if err != nil {
		t.Fatal(err)
	}
	d.avail.Store(reserve - 1)

	var ran atomic.Int64
	var wg sync.WaitGroup
	for i := range int64(20) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(context.Background(), func(tx *Tx) error {
				ran.Add(1)
				return tx.PutLogEntry(i, []byte("entry"))
			})
			if !errors.Is(err, ErrDiskFull) {
				t.Errorf("update %d on a full disk = %v, want ErrDiskFull", i, err)
			}
		}()
	}
	wg.Wait()
	if n := ran.Load(); n != 0 {
		t.Errorf("%d update functions ran on a full disk, want none", n)
	}
	checkEntries(t, s, map[int64]bool{0: false, 7: false, 19: false})

	d.avail.Store(reserve)
	update(t, s, func(tx *Tx) error { return tx.PutLogEntry(0, []byte("entry")) })
	checkEntries(t, s, map[int64]bool{0: true})
}

func TestStatsShowsTheReserve(t *testing.T) {
	s := openDisk(t)
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// At least the next write-ahead log and the margin; the holes of the
	// current one and of the value log come on top.
	if min := int64(2*memTableSize + spaceMargin); st.ReserveBytes < min {
		t.Errorf("ReserveBytes = %d, want at least %d", st.ReserveBytes, min)
	}
	t.Logf("reserve of a new store: %.1f MiB", float64(st.ReserveBytes)/(1<<20))

	if st, err := openMemory(t).Stats(); err != nil || st.ReserveBytes != 0 {
		t.Errorf("in memory: Stats = %+v, %v; want ReserveBytes 0", st, err)
	}
}
