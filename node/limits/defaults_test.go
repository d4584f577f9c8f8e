package limits_test

import (
	"testing"
	"time"

	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/limits"
)

// clock is a test's time, moved by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// allowed counts how many of the requests, one every gap for d, a bucket
// of b allows (from a full bucket).
func allowed(b config.Bucket, gap, d time.Duration) (ok, refused int) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := limits.New(b, 16, c.now)
	for end := c.t.Add(d); c.t.Before(end); c.t = c.t.Add(gap) {
		if yes, _ := l.Allow("alice\x00unit"); yes {
			ok++
		} else {
			refused++
		}
	}
	return ok, refused
}

func TestDefaultLimitsServeAutomation(t *testing.T) {
	lim := config.Default("n").Limits
	for _, tc := range []struct {
		rule   string
		bucket config.Bucket
		gap    time.Duration
	}{
		{"a process that uses a record every minute is never refused", lim.UnitReleases, time.Minute},
		{"a script that uses a record four times a minute is never refused", lim.UnitReleases, 15 * time.Second},
		{"a user whose processes ask 20 times a minute is never refused", lim.UserReleases, 3 * time.Second},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			if _, refused := allowed(tc.bucket, tc.gap, 24*time.Hour); refused > 0 {
				t.Fatalf("%v: %d requests refused in a day of one every %s", tc.bucket, refused, tc.gap)
			}
		})
	}
}

func TestDefaultLimitsBoundAFlood(t *testing.T) {
	// Whoever holds an unlocked session and asks as fast as it can gets a
	// record released at most burst + one per every: its log entries, and
	// the work of the nodes, stay bounded.
	lim := config.Default("n").Limits
	b := lim.UnitReleases
	ok, _ := allowed(b, time.Millisecond, time.Hour)
	if most := b.Burst + int(time.Hour/b.Every); ok > most || most > 300 {
		t.Fatalf("a flood for an hour got %d releases of a record (bound %d), want at most 300", ok, most)
	}
}
