package client

import (
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/vault"
)

// spareFresh is how long the requests journaled ahead for the next unlock
// are used: their signed time is when they were journaled, and a node
// refuses a time more than 5 minutes off its clock.
const spareFresh = time.Minute

// journaled is one unlock's release requests as the vault's journal
// recorded them: the time every request signs, and a nonce per node (in
// network order) and batch. Every one is in the journal, durably, before
// any is sent; the unlock may then send only some of them (see hedge.go).
type journaled struct {
	asked  int64 // Unix milliseconds
	nonces [][][]byte
}

// requestJournal records release requests in the vault's request journal
// before they are sent, and keeps the requests of one unlock of one batch
// journaled ahead (a spare): an unlock that takes it sends its first
// request without waiting for the journal's fsync, which the next spare
// then takes in parallel with the unlock's requests. The rule stays: no
// request is sent before the journal holds it durably.
//
// It, not Client.mu, holds the journal, so that a spare's fsync does not
// hold up what the unlock needs of the vault meanwhile.
type requestJournal struct {
	vh    *vault.Handle
	nodes []string // node names, in network order

	appendMu sync.Mutex // one append to, or read of, the journal at a time

	mu      sync.Mutex
	last    int64         // the newest signed time given out, Unix ms
	spare   *journaled    // journaled for the next unlock of one batch; nil when none
	filling chan struct{} // closed when the spare being journaled is in; nil when none is
}

func newRequestJournal(vh *vault.Handle, nodes []*custodian) *requestJournal {
	j := &requestJournal{vh: vh}
	for _, n := range nodes {
		j.nodes = append(j.nodes, n.name)
	}
	return j
}

// take returns journaled requests for an unlock of batches batches: the
// spare, when it is fresh and the unlock has one batch (or the spare
// being journaled, once it is in), else requests journaled now. An error
// means nothing may be sent.
func (j *requestJournal) take(batches int) (*journaled, error) {
	if batches == 1 {
		if s := j.takeSpare(); s != nil {
			return s, nil
		}
	}
	return j.record(batches)
}

// takeSpare returns the spare if it is fresh, waiting for one that is
// being journaled; nil when there is none.
func (j *requestJournal) takeSpare() *journaled {
	j.mu.Lock()
	if filling := j.filling; filling != nil && j.spare == nil {
		j.mu.Unlock()
		<-filling
		j.mu.Lock()
	}
	defer j.mu.Unlock()
	s := j.spare
	j.spare = nil
	if s == nil || time.Since(time.UnixMilli(s.asked)) > spareFresh {
		return nil // a stale spare's requests stay in the journal, unsent
	}
	return s
}

// fillAhead journals a spare in the background, unless one is there or
// on its way. bg counts the goroutine, so that Close waits for it.
func (j *requestJournal) fillAhead(bg *sync.WaitGroup) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.filling != nil || (j.spare != nil && time.Since(time.UnixMilli(j.spare.asked)) < spareFresh/2) {
		return
	}
	filling := make(chan struct{})
	j.filling = filling
	bg.Add(1)
	go func() {
		defer bg.Done()
		s, err := j.record(1)
		j.mu.Lock()
		defer j.mu.Unlock()
		if err == nil {
			j.spare = s
		}
		j.filling = nil
		close(filling)
	}()
}

// record makes fresh requests for an unlock of batches batches and
// appends them to the journal, synced.
func (j *requestJournal) record(batches int) (*journaled, error) {
	s := &journaled{asked: j.nextTime(), nonces: make([][][]byte, len(j.nodes))}
	var rs []vault.Request
	for i, node := range j.nodes {
		for range batches {
			nonce := make([]byte, api.RequestNonceSize)
			if _, err := rand.Read(nonce); err != nil {
				return nil, err
			}
			s.nonces[i] = append(s.nonces[i], nonce)
			rs = append(rs, vault.Request{Node: node, Time: time.UnixMilli(s.asked), Nonce: nonce})
		}
	}
	j.appendMu.Lock()
	defer j.appendMu.Unlock()
	if err := j.vh.AppendRequests(rs...); err != nil {
		return nil, fmt.Errorf("record the release requests in the vault's journal: %w", err)
	}
	return s, nil
}

// nextTime is the time for the next unlock's requests to sign: now, or
// just after the last one given out, so that no two unlocks of this
// client sign one time (an audit groups an unlock's requests by it).
func (j *requestJournal) nextTime() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.last = max(time.Now().UnixMilli(), j.last+1)
	return j.last
}

// requests reads the journal, the spare being journaled included: see
// Client.Requests.
func (j *requestJournal) requests() ([]vault.Request, time.Time, error) {
	j.mu.Lock()
	filling := j.filling
	j.mu.Unlock()
	if filling != nil {
		<-filling
	}
	j.appendMu.Lock()
	defer j.appendMu.Unlock()
	return j.vh.Requests()
}
