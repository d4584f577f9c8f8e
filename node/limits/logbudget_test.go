package limits

import (
	"testing"
	"time"

	"github.com/custos-network/custos/node/config"
)

func TestLogBudget(t *testing.T) {
	clock := newClock()
	l := NewLogBudget(config.Bucket{Burst: 2, Every: time.Minute}, 2, clock.now)
	type try struct {
		advance time.Duration
		key     string
		ok      bool
		before  int64
	}
	for i, s := range []try{
		{0, "alice", true, 0}, // the burst is logged
		{0, "alice", true, 0},
		{0, "alice", false, 0}, // past it, counted
		{0, "alice", false, 0},
		{0, "alice", false, 0},
		{0, "bob", true, 0},             // another key has its own budget
		{time.Minute, "alice", true, 3}, // the next logged one reports the unlogged
		{0, "alice", false, 0},
		{time.Minute, "alice", true, 1}, // and each count is reported once
		{time.Hour, "alice", true, 0},
	} {
		clock.advance(s.advance)
		ok, before := l.Log(s.key)
		if ok != s.ok || before != s.before {
			t.Fatalf("step %d (%s): Log = %v, %d; want %v, %d", i, s.key, ok, before, s.ok, s.before)
		}
	}
}

// The counts of unlogged refusals are bounded like the buckets: a key that
// finds the table full is refused its count, not given room by dropping
// another key's.
func TestLogBudgetCountsAreBounded(t *testing.T) {
	clock := newClock()
	l := NewLogBudget(config.Bucket{Burst: 1, Every: time.Minute}, 2, clock.now)
	for _, k := range []string{"a", "b"} {
		l.Log(k)
		l.Log(k) // unlogged, counted
	}
	if ok, _ := l.Log("c"); ok {
		t.Fatal("a third key was logged with a full table of buckets in use")
	}
	if len(l.unlogged) != 2 {
		t.Fatalf("%d counts held, want at most 2", len(l.unlogged))
	}
	clock.advance(time.Minute)
	if ok, before := l.Log("a"); !ok || before != 1 {
		t.Fatalf("a's next logged refusal: %v, %d; want it to report 1", ok, before)
	}
}
