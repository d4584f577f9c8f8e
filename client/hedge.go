package client

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Hedged requests. An unlock asks only as many nodes as its records need
// (their threshold, k), the ones that answered fastest lately first, and
// one more node each time one of them fails, answers without a good share
// of some record, or has not answered within its hedge delay: its smoothed
// round trip plus four deviations (latency.hedgeAfter). A slow node then
// costs an unlock that delay, and a node that fails costs nothing more
// than its failure. Every node's request, hedged or not, was journaled
// before the first one was sent (requestJournal), so asking one more never
// waits for the journal.

// What a failed unlock names a node it did not ask with.
var (
	errNotStored = errors.New("not asked: the vault has no share of this record stored there")
	errNotAsked  = errors.New("not asked")
)

// hedgeEvent is what an unlock's requests tell hedge: node n answered, or
// its hedge delay passed.
type hedgeEvent struct {
	n    *custodian
	slow bool
}

// hedge asks nodes for their answers to col's unlock with ask, in the
// order rankNodes gives, as many at once as col needs (collector.short),
// until col has what it needs or no node it could use is left; then it
// waits for the requests still out (col cancels them once complete). Each
// answer is timed for the node's latency.
func (c *Client) hedge(ctx context.Context, col *collector, ask func(ctx context.Context, n *custodian) *answer) {
	order := c.rankNodes(time.Now())
	events := make(chan hedgeEvent, 2*len(order)) // an answer and a delay per node at most
	var timers []*time.Timer
	var running sync.WaitGroup
	defer func() {
		for _, t := range timers {
			t.Stop()
		}
		running.Wait()
	}()
	for {
		for ctx.Err() == nil {
			n := col.nextUseful(order)
			if n == nil {
				break
			}
			col.ask(n)
			delay := n.lat.hedgeAfter()
			timers = append(timers, time.AfterFunc(delay, func() { events <- hedgeEvent{n: n, slow: true} }))
			running.Add(1)
			go func() {
				defer running.Done()
				start := time.Now()
				a := ask(ctx, n)
				c.timed(ctx, n, a, time.Since(start), delay)
				events <- hedgeEvent{n: n}
			}()
		}
		if col.outstanding() == 0 {
			return
		}
		if ev := <-events; ev.slow {
			col.slow(ev.n)
		}
	}
}

// timed notes what node n's answer a, after d, says of its latency: an
// answer that verified is a round trip; a request cancelled past its hedge
// delay (the unlock took what it needed elsewhere) is at least d; any
// other failure puts the node after the others for a while.
func (c *Client) timed(ctx context.Context, n *custodian, a *answer, d, delay time.Duration) {
	switch {
	case a.err == nil:
		n.lat.observe(d)
	case ctx.Err() != nil:
		if d >= delay {
			n.lat.observe(d)
		}
	default:
		n.lat.fail(time.Now())
	}
}

// rankNodes orders the nodes as an unlock asks them (see rank.before).
func (c *Client) rankNodes(now time.Time) []*custodian {
	type ranked struct {
		n *custodian
		r rank
	}
	rs := make([]ranked, len(c.nodes))
	for i, n := range c.nodes {
		rs[i] = ranked{n, n.lat.rank(now)}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int {
		switch {
		case a.r.before(b.r):
			return -1
		case b.r.before(a.r):
			return 1
		}
		return 0
	})
	out := make([]*custodian, len(rs))
	for i, r := range rs {
		out[i] = r.n
	}
	return out
}
