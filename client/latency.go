package client

import (
	"sync"
	"time"
)

// How long an unlock waits for a node it asked before it asks one more
// (see hedge.go): the node's smoothed release round trip plus four times
// its mean deviation, as TCP derives its retransmission timeout (RFC 6298),
// within these bounds.
const (
	hedgeMin = time.Millisecond
	hedgeMax = time.Second
	// hedgeUnmeasured is the delay for a node the client has timed no
	// request of: no release, and no login this run.
	hedgeUnmeasured = 100 * time.Millisecond
	// failCooldown is how long a node whose request failed is asked
	// only after the others.
	failCooldown = 30 * time.Second
)

// latency is what the client measured of one node's answers: the round
// trip of its releases, smoothed, and when a request to it last failed.
// A login's last round trip (the node checks a signature and logs durably,
// as for a release) stands in until a release is timed.
type latency struct {
	mu       sync.Mutex
	releases int           // release round trips timed
	srtt     time.Duration // smoothed round trip; 0: none timed
	rttvar   time.Duration // its mean deviation
	failed   time.Time     // the last failed request; zero when the last one answered
}

// observe takes the round trip d of a release that node answered (or a
// lower bound of it: how long it had not answered a request the unlock
// stopped waiting for).
func (l *latency) observe(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.releases == 0 {
		l.srtt, l.rttvar = d, d/2
	} else {
		l.rttvar = (3*l.rttvar + (l.srtt - d).Abs()) / 4
		l.srtt = (7*l.srtt + d) / 8
	}
	l.releases++
	l.failed = time.Time{}
}

// seed takes the round trip d of a login's last exchange, when no release
// has been timed yet.
func (l *latency) seed(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.releases == 0 {
		l.srtt, l.rttvar = d, d/2
	}
}

// fail notes that a request to the node failed at now.
func (l *latency) fail(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failed = now
}

// hedgeAfter is how long to wait for the node's answer before asking
// another node too.
func (l *latency) hedgeAfter() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.srtt == 0 {
		return hedgeUnmeasured
	}
	return min(max(l.srtt+4*l.rttvar, hedgeMin), hedgeMax)
}

// rank is where the node goes in the order an unlock asks nodes in.
type rank struct {
	failed   bool          // a request failed within failCooldown
	measured bool          // a release round trip was timed
	srtt     time.Duration // the smoothed round trip
}

// before reports whether a node of rank r is asked before one of rank o:
// nodes that did not fail lately first; of those, a node whose releases
// were never timed first (so that every node is tried and timed), then
// the fastest.
func (r rank) before(o rank) bool {
	switch {
	case r.failed != o.failed:
		return !r.failed
	case r.measured != o.measured:
		return !r.measured
	}
	return r.srtt < o.srtt
}

func (l *latency) rank(now time.Time) rank {
	l.mu.Lock()
	defer l.mu.Unlock()
	return rank{
		failed:   !l.failed.IsZero() && now.Sub(l.failed) < failCooldown,
		measured: l.releases > 0,
		srtt:     l.srtt,
	}
}
