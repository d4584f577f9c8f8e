package limits

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custos-network/custos/node/config"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// unitReleases is the default per-(user, unit) bucket: 10 at once, one a minute.
var unitReleases = config.Bucket{Burst: 10, Every: time.Minute}

type step struct {
	advance time.Duration
	n       int
	ok      bool
	retry   time.Duration
}

func TestBucket(t *testing.T) {
	for _, tc := range []struct {
		rule  string
		steps []step
	}{
		{"exactly burst requests are allowed at once", []step{
			{0, 10, true, 0}, {0, 1, false, time.Minute},
		}},
		{"one by one, the burst is allowed and no more", []step{
			{0, 1, true, 0}, {0, 1, true, 0}, {0, 1, true, 0}, {0, 1, true, 0}, {0, 1, true, 0},
			{0, 1, true, 0}, {0, 1, true, 0}, {0, 1, true, 0}, {0, 1, true, 0}, {0, 1, true, 0},
			{0, 1, false, time.Minute},
		}},
		{"one token comes back per period", []step{
			{0, 10, true, 0}, {59 * time.Second, 1, false, time.Second},
			{time.Second, 1, true, 0}, {0, 1, false, time.Minute},
		}},
		{"retryAfter counts down to the token", []step{
			{0, 10, true, 0}, {10 * time.Second, 1, false, 50 * time.Second},
			{49 * time.Second, 1, false, time.Second}, {time.Second, 1, true, 0},
		}},
		{"AllowN takes all or nothing", []step{
			{0, 7, true, 0}, {0, 4, false, time.Minute}, {0, 3, true, 0}, {0, 1, false, time.Minute},
		}},
		{"AllowN's retryAfter is until n tokens are back", []step{
			{0, 10, true, 0}, {0, 3, false, 3 * time.Minute}, {90 * time.Second, 3, false, 90 * time.Second},
			{90 * time.Second, 3, true, 0},
		}},
		{"a refused request takes nothing", []step{
			{0, 10, true, 0}, {0, 5, false, 5 * time.Minute}, {0, 1, false, time.Minute},
			{time.Minute, 1, true, 0},
		}},
		{"an idle bucket fills up to the burst and no further", []step{
			{0, 10, true, 0}, {24 * time.Hour, 10, true, 0}, {0, 1, false, time.Minute},
		}},
		{"a partial period leaves a partial token", []step{
			{0, 10, true, 0}, {90 * time.Second, 1, true, 0}, {0, 1, false, 30 * time.Second},
		}},
		{"n above the burst is never allowed", []step{
			{0, 11, false, 0}, {0, 10, true, 0},
		}},
		{"n of 0 is always allowed", []step{
			{0, 10, true, 0}, {0, 0, true, 0},
		}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			clock := newClock()
			l := New(unitReleases, 10, clock.now)
			for i, s := range tc.steps {
				clock.advance(s.advance)
				ok, retry := l.AllowN("alice/unit", s.n)
				if ok != s.ok || retry != s.retry {
					t.Fatalf("step %d (after %v, n=%d): got %v, %v; want %v, %v", i, s.advance, s.n, ok, retry, s.ok, s.retry)
				}
			}
		})
	}
}

func TestKeysHaveTheirOwnBuckets(t *testing.T) {
	l := New(config.Bucket{Burst: 1, Every: time.Hour}, 10, newClock().now)
	if ok, _ := l.Allow("alice"); !ok {
		t.Fatal("alice refused")
	}
	if ok, _ := l.Allow("bob"); !ok {
		t.Fatal("bob refused after alice emptied her bucket")
	}
	if ok, _ := l.Allow("alice"); ok {
		t.Fatal("alice allowed twice")
	}
}

func TestConcurrentRequestsTakeExactlyTheBurst(t *testing.T) {
	l := New(unitReleases, 10, newClock().now)
	var allowed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Go(func() {
			<-start
			if ok, _ := l.Allow("hot"); ok {
				allowed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := allowed.Load(); n != 10 {
		t.Fatalf("%d of 100 racing requests allowed, want exactly 10", n)
	}
}

func TestMemoryIsBounded(t *testing.T) {
	for _, maxKeys := range []int{1, 1000, 100_000} {
		t.Run(strconv.Itoa(maxKeys), func(t *testing.T) {
			clock := newClock()
			l := New(unitReleases, maxKeys, clock.now)
			allowed := 0
			for i := range 200_000 {
				if ok, _ := l.Allow(strconv.Itoa(i)); ok {
					allowed++
				}
				if i%997 == 0 {
					clock.advance(time.Millisecond) // buckets never refill in this test
				}
			}
			if n := l.Len(); n > maxKeys {
				t.Fatalf("%d buckets held, want at most %d", n, maxKeys)
			}
			if allowed > maxKeys {
				t.Fatalf("%d new keys allowed, want at most %d", allowed, maxKeys)
			}
			// With hashing into shards, nearly the whole table is used.
			if allowed < maxKeys*9/10 {
				t.Errorf("only %d of %d buckets used", allowed, maxKeys)
			}
		})
	}
}

func TestFloodOfNewKeysDoesNotRefillAPartlyUsedBucket(t *testing.T) {
	clock := newClock()
	l := New(unitReleases, 1000, clock.now)
	if ok, _ := l.AllowN("honest", 10); !ok {
		t.Fatal("honest user refused")
	}
	var refusedRetry time.Duration
	for i := range 5000 {
		if ok, retry := l.Allow(fmt.Sprintf("attacker-%d", i)); !ok {
			if retry <= 0 {
				t.Fatalf("a refused new key got retryAfter %v, want > 0", retry)
			}
			refusedRetry = retry
		}
	}
	if refusedRetry == 0 {
		t.Fatal("the table never filled up")
	}
	if ok, retry := l.Allow("honest"); ok || retry != time.Minute {
		t.Fatalf("honest bucket after the flood: %v, %v; want false, 1m (still empty, not evicted)", ok, retry)
	}
}

func TestIdleBucketsMakeRoomForNewKeys(t *testing.T) {
	clock := newClock()
	l := New(config.Bucket{Burst: 2, Every: time.Second}, 1000, clock.now)
	for i := range 1000 {
		l.Allow(fmt.Sprintf("old-%d", i))
	}
	if ok, retry := l.Allow("new"); ok || retry != time.Second {
		t.Fatalf("new key with a full table of used buckets: %v, %v; want false, 1s", ok, retry)
	}
	clock.advance(time.Second) // every old bucket is full again
	if ok, _ := l.Allow("new"); !ok {
		t.Fatal("new key refused though every bucket had filled up again")
	}
	if n := l.Len(); n != 1 {
		t.Errorf("%d buckets after the sweep, want 1 (only the new key)", n)
	}
}

func TestSweepsAreRateLimited(t *testing.T) {
	clock := newClock()
	l := New(config.Bucket{Burst: 1, Every: time.Minute}, 2, clock.now)
	l.Allow("a")
	clock.advance(500 * time.Millisecond)
	l.Allow("b")
	clock.advance(59500 * time.Millisecond) // a is full again, b is not
	if ok, _ := l.Allow("c"); !ok {
		t.Fatal("c refused though a's bucket was full again")
	}
	clock.advance(500 * time.Millisecond) // b is full again, but a sweep just ran
	if ok, retry := l.Allow("d"); ok || retry != 500*time.Millisecond {
		t.Fatalf("d half a second after a sweep: %v, %v; want false, 500ms (until the next sweep)", ok, retry)
	}
	clock.advance(500 * time.Millisecond)
	if ok, _ := l.Allow("d"); !ok {
		t.Fatal("d refused a second after the last sweep, with b's bucket full again")
	}
}

func TestSaturatedBucketsDoNotOverflow(t *testing.T) {
	clock := newClock()
	l := New(config.Bucket{Burst: math.MaxInt, Every: time.Duration(math.MaxInt64)}, 10, clock.now)
	if ok, _ := l.AllowN("k", math.MaxInt); !ok {
		t.Fatal("refused the burst")
	}
	if ok, _ := l.Allow("k"); !ok {
		// The window saturates at the largest duration, so the bucket
		// cannot be emptied; what matters is that nothing wrapped negative.
		t.Fatal("a saturated bucket refused")
	}
}

func TestNewPanicsOnABucketThatAllowsNothing(t *testing.T) {
	for _, tc := range []struct {
		b       config.Bucket
		maxKeys int
	}{{config.Bucket{Burst: 0, Every: time.Second}, 1}, {config.Bucket{Burst: 1, Every: 0}, 1}, {unitReleases, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v, %d) did not panic", tc.b, tc.maxKeys)
				}
			}()
			New(tc.b, tc.maxKeys, nil)
		}()
	}
}

func TestBackoff(t *testing.T) {
	const base, ceiling = time.Second, 5 * time.Minute
	for _, tc := range []struct {
		rule     string
		failures int
		want     time.Duration
	}{
		{"no failure, no wait", 0, 0},
		{"a negative count is no failure", -3, 0},
		{"the first failure waits base", 1, time.Second},
		{"the second doubles it", 2, 2 * time.Second},
		{"the ninth is base times 256", 9, 256 * time.Second},
		{"the tenth is capped", 10, ceiling},
		{"64 failures do not overflow", 64, ceiling},
		{"the largest int does not overflow", math.MaxInt, ceiling},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			if got := Backoff(tc.failures, base, ceiling); got != tc.want {
				t.Errorf("Backoff(%d, 1s, 5m) = %v, want %v", tc.failures, got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		rule                string
		failures            int
		base, ceiling, want time.Duration
	}{
		{"a base above the ceiling is capped", 1, time.Hour, time.Minute, time.Minute},
		{"a huge ceiling does not overflow", math.MaxInt, 1, math.MaxInt64, math.MaxInt64},
		{"just below a huge ceiling", 63, 1, math.MaxInt64, 1 << 62},
		{"a zero base gives no wait", 5, 0, time.Minute, 0},
		{"a zero ceiling gives no wait", 5, time.Second, 0, 0},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			if got := Backoff(tc.failures, tc.base, tc.ceiling); got != tc.want {
				t.Errorf("Backoff(%d, %v, %v) = %v, want %v", tc.failures, tc.base, tc.ceiling, got, tc.want)
			}
		})
	}
}

func BenchmarkAllow(b *testing.B) {
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d/unit-%d", i%97, i)
	}
	b.Run("onekey", func(b *testing.B) {
		l := New(config.Bucket{Burst: 100, Every: time.Nanosecond}, 100_000, nil)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Allow("hot")
			}
		})
	})
	b.Run("manykeys", func(b *testing.B) {
		l := New(config.Bucket{Burst: 100, Every: time.Nanosecond}, 100_000, nil)
		var next atomic.Uint32
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1)) * 7919
			for pb.Next() {
				l.Allow(keys[i%len(keys)])
				i++
			}
		})
	})
}
