package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
)

// Group commit. Update queues its function; one writer goroutine takes up
// to maxBatch queued functions, runs each against its own staging overlay
// on top of one Badger transaction, moves the overlays of those that
// succeeded into the transaction, and commits it with SyncWrites: one fsync
// for the whole batch. Every caller is answered only after the commit that
// holds its writes. Before a batch runs, and before a commit once enough
// has been written since the last look, the free-space guard (space.go)
// must agree; if it does not, the requests fail and nothing is written.
const (
	maxBatch = 256
	queueLen = 1024 // bounds the memory queued Updates can take
)

const (
	stateQueued int32 = iota
	stateRunning
	stateAbandoned // the caller's ctx ended first; never run
)

type request struct {
	ctx     context.Context
	fn      func(*Tx) error
	state   atomic.Int32
	overlay map[string]staged
	err     error
	done    chan struct{}
}

func (r *request) finish(err error) {
	r.overlay = nil
	r.err = err
	close(r.done)
}

func (s *Store) writer() {
	defer close(s.writerDone)
	batch := make([]*request, 0, maxBatch)
	for r := range s.queue {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.runBatch(batch)
		clear(batch)
	}
}

func (s *Store) runBatch(batch []*request) {
	if err := s.space.check(); err != nil {
		for _, r := range batch {
			if r.state.CompareAndSwap(stateQueued, stateRunning) {
				r.finish(err)
			}
		}
		return
	}
	txn := s.db.NewTransaction(true)
	var held []*request // requests whose overlays are in txn
	for _, r := range batch {
		if !r.state.CompareAndSwap(stateQueued, stateRunning) {
			continue
		}
		if err := r.ctx.Err(); err != nil {
			r.finish(err)
			continue
		}
		overlay, err := s.run(txn, r.fn)
		if err != nil {
			r.finish(err)
			continue
		}
		r.overlay = overlay
		if err := apply(txn, overlay); err == nil {
			held = append(held, r)
			continue
		}
		// txn now holds part of r's writes, which must not be committed
		// without the rest: commit the earlier overlays on their own, then
		// give r a transaction of its own. Overlays are blind writes, so
		// replaying them into a new transaction changes nothing r read.
		txn.Discard()
		s.commit(held)
		held = held[:0]
		txn = s.db.NewTransaction(true)
		if err := apply(txn, overlay); err != nil {
			txn.Discard()
			txn = s.db.NewTransaction(true)
			if errors.Is(err, badger.ErrTxnTooBig) {
				err = ErrTooBig
			}
			r.finish(fmt.Errorf("update: %w", err))
			continue
		}
		held = append(held, r)
	}
	s.commitTxn(txn, held)
}

// run calls fn with a fresh overlay on txn and returns the overlay if fn
// succeeded. A panic in fn becomes its error: one bad request must not take
// the node down.
func (s *Store) run(txn *badger.Txn, fn func(*Tx) error) (overlay map[string]staged, err error) {
	tx := &Tx{s: s, txn: txn, overlay: make(map[string]staged)}
	defer func() {
		tx.done = true
		if p := recover(); p != nil {
			// The panic value could hold anything the function had, so only
			// a runtime error's own message is repeated.
			what := fmt.Sprintf("%T", p)
			if re, ok := p.(runtime.Error); ok {
				what = re.Error()
			}
			s.log.Error("update function panicked", zap.String("panic", what), zap.Stack("stack"))
			overlay, err = nil, fmt.Errorf("update function panicked: %s", what)
		}
	}()
	if err := fn(tx); err != nil {
		return nil, err
	}
	return tx.overlay, nil
}

func apply(txn *badger.Txn, overlay map[string]staged) error {
	for k, e := range overlay {
		var err error
		if e.deleted {
			err = txn.Delete([]byte(k))
		} else {
			err = txn.Set([]byte(k), e.value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// commit writes the overlays of reqs in a new transaction and answers them.
func (s *Store) commit(reqs []*request) {
	if len(reqs) == 0 {
		return
	}
	txn := s.db.NewTransaction(true)
	for _, r := range reqs {
		if err := apply(txn, r.overlay); err != nil {
			// They fitted in one transaction a moment ago.
			txn.Discard()
			for _, r := range reqs {
				r.finish(fmt.Errorf("update: replay batch: %w", err))
			}
			return
		}
	}
	s.commitTxn(txn, reqs)
}

// commitTxn commits txn, which holds the writes of reqs, and answers them.
func (s *Store) commitTxn(txn *badger.Txn, reqs []*request) {
	if len(reqs) == 0 {
		txn.Discard()
		return
	}
	// A batch split into several commits may write more than one check
	// allows for; the guard looks again when it has.
	if err := s.space.check(); err != nil {
		txn.Discard()
		for _, r := range reqs {
			r.finish(err)
		}
		return
	}
	var size int64
	for _, r := range reqs {
		size += overlaySize(r.overlay)
	}
	err := txn.Commit()
	s.space.wrote(size)
	if err != nil {
		s.log.Error("commit failed", zap.Int("updates", len(reqs)), zap.Error(err))
		err = fmt.Errorf("commit: %w", err)
	} else {
		s.commits.Add(1)
		s.updates.Add(int64(len(reqs)))
	}
	for _, r := range reqs {
		r.finish(err)
	}
}
