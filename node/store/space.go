package store

import (
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
)

// ErrDiskFull: the file system holding the store has too little free space
// for the writes Badger may make, so the Update was refused and wrote
// nothing. It is a StatusError, so a node answers it as UNAVAILABLE with a
// message fit for the user.
var ErrDiskFull = &api.StatusError{Code: api.Code_UNAVAILABLE, Message: "the node's disk is full; try another node or later"}

// Free-space guard. Badger makes its write-ahead logs (.mem, sized at twice
// MemTableSize up front), value log files and tables as sparse files and
// writes them through mmap, so a write into a hole on a full file system is
// a SIGBUS that kills the process, not an error. The writer therefore
// refuses a batch unless the file system has room for every hole already
// there, for one memtable rotation and for a margin.
//
// This stops the node from filling its disk itself and refuses writes once
// something else has filled it. It cannot stop another process from taking
// the reserved space between a check and a write.
const (
	// spaceMargin covers what is written outside the logs: memtable
	// flushes and compactions of a small data set, MANIFEST and KEYREGISTRY.
	spaceMargin = 8 << 20
	// spaceCacheFor is how long a good check is trusted, so that the
	// common case costs nothing.
	spaceCacheFor = 250 * time.Millisecond
)

// spaceGuard decides whether the writer may write. Tests replace its
// function fields to stand in for the file system. check and wrote are for
// the writer goroutine only; reserve may be called from anywhere.
type spaceGuard struct {
	dir string
	// room is the free space kept beyond the holes: the next write-ahead
	// log of a rotation and the margin.
	room int64
	// budget is how many bytes may be committed on one good check. It is
	// well below MemTableSize, so at most one rotation (the one room is
	// kept for) falls between two checks.
	budget int64
	log    *zap.Logger

	avail func(dir string) (int64, error) // free bytes for an unprivileged user
	holes func(dir string) (int64, error) // bytes files claim but do not hold
	now   func() time.Time

	// Writer goroutine only.
	goodUntil time.Time // the last check was good and is trusted until then
	written   int64     // bytes committed since the last check
	low       bool      // the last check refused
}

// newSpaceGuard returns the guard for a store with opts, or nil for one in
// memory or on a system where free space cannot be measured.
func newSpaceGuard(opts badger.Options, log *zap.Logger) *spaceGuard {
	if opts.InMemory || !canMeasureSpace {
		return nil
	}
	return &spaceGuard{
		dir:    opts.Dir,
		room:   2*opts.MemTableSize + spaceMargin,
		budget: opts.MemTableSize / 4,
		log:    log,
		avail:  diskAvail,
		holes:  sparseBytes,
		now:    time.Now,
	}
}

// reserve is the free space the store needs now before it takes a write.
func (g *spaceGuard) reserve() (int64, error) {
	if g == nil {
		return 0, nil
	}
	h, err := g.holes(g.dir)
	if err != nil {
		return 0, fmt.Errorf("measure sparse files: %w", err)
	}
	return h + g.room, nil
}

// measure returns the free space and the space needed.
func (g *spaceGuard) measure() (avail, needed int64, err error) {
	if needed, err = g.reserve(); err != nil {
		return 0, 0, err
	}
	if avail, err = g.avail(g.dir); err != nil {
		return 0, 0, fmt.Errorf("measure free space: %w", err)
	}
	return avail, needed, nil
}

// check returns nil if a write may go ahead, ErrDiskFull if the file system
// is too full, or the error that kept it from finding out (and then the
// write must not go ahead either).
func (g *spaceGuard) check() error {
	if g == nil {
		return nil
	}
	now := g.now()
	if !g.low && now.Before(g.goodUntil) && g.written < g.budget {
		return nil
	}
	g.goodUntil, g.written = time.Time{}, 0
	avail, needed, err := g.measure()
	if err != nil {
		return err
	}
	if avail < needed {
		if !g.low {
			g.log.Warn("disk full: refusing writes", zap.String("dir", g.dir), zap.Int64("free", avail), zap.Int64("needed", needed))
		}
		g.low = true
		return ErrDiskFull
	}
	if g.low {
		g.log.Info("disk space is back: taking writes again", zap.String("dir", g.dir), zap.Int64("free", avail), zap.Int64("needed", needed))
	}
	g.low = false
	g.goodUntil = now.Add(spaceCacheFor)
	return nil
}

// wrote counts n bytes committed against the budget of the last check.
func (g *spaceGuard) wrote(n int64) {
	if g != nil {
		g.written += n
	}
}

// checkOpen returns ErrDiskFull if the file system of dir has too little
// free space for Badger to open a store with opts: opening makes a new
// write-ahead log and a new value log file, both sparse and written through
// mmap.
func checkOpen(opts badger.Options) error {
	g := newSpaceGuard(opts, zap.NewNop())
	if g == nil {
		return nil
	}
	g.room += 2 * opts.ValueLogFileSize
	avail, needed, err := g.measure()
	if err != nil {
		return err
	}
	if avail < needed {
		return fmt.Errorf("%w (%d MiB free, %d MiB needed)", ErrDiskFull, avail>>20, (needed+1<<20-1)>>20)
	}
	return nil
}

// overlaySize estimates the bytes an overlay adds to the write-ahead log:
// keys and values plus a generous allowance for each entry's header,
// version and checksum.
func overlaySize(overlay map[string]staged) int64 {
	const perEntry = 64
	var n int64
	for k, e := range overlay {
		n += int64(len(k)+len(e.value)) + perEntry
	}
	return n
}
