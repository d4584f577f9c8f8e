package node

import (
	"crypto/rand"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/node/config"
)

func nonce() []byte {
	b := make([]byte, 16)
	rand.Read(b)
	return b
}

func TestSeenRequestsForgetsOnlyWhatTheClockRefuses(t *testing.T) {
	s := newSeenRequests(maxSeenRequests, minSeenPerUser)
	now := time.Now()
	dev := peer.ID("device")
	old, recent := nonce(), nonce()
	if isNew, full := s.add("alice", dev, old, now.Add(-maxClockSkew-time.Second), now); !isNew || full {
		t.Fatal("a first request is not new")
	}
	if isNew, _ := s.add("alice", dev, recent, now, now); !isNew {
		t.Fatal("a first request is not new")
	}
	if isNew, _ := s.add("alice", dev, recent, now, now); isNew {
		t.Fatal("a request sent again is new")
	}
	if isNew, _ := s.add("alice", "other", recent, now, now); !isNew {
		t.Fatal("another device's request with the same nonce is not new")
	}
	for i := range 2000 { // past the first prunes, of alice's and of all
		s.add("alice", dev, nonce(), now, now)
		s.add("user"+strconv.Itoa(i%10), dev, nonce(), now, now)
	}
	if _, ok := s.users["alice"].seen[string(dev)+string(old)]; ok {
		t.Error("a request the clock check refuses anyway was kept past a prune")
	}
	if isNew, _ := s.add("alice", dev, recent, now, now); isNew {
		t.Error("a request within the skew was forgotten by a prune")
	}
	if s.total != count(s) {
		t.Errorf("total %d, but %d requests held", s.total, count(s))
	}
}

// count is the number of requests s holds.
func count(s *seenRequests) int {
	n := 0
	for _, u := range s.users {
		n += len(u.seen)
	}
	return n
}

// A memory full of recent requests refuses new ones, and frees itself once
// they are older than the skew: it never stays full.
func TestSeenRequestsFullRecovers(t *testing.T) {
	const total, perUser = 64, 16
	now := time.Now()
	asked := now.Add(-maxClockSkew + time.Minute)
	for _, tc := range []struct {
		name  string
		users int // filling the memory
	}{
		{"a user's share", 1},
		{"the whole memory", total / perUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSeenRequests(total, perUser)
			for i := range tc.users * perUser {
				if isNew, full := s.add("user"+strconv.Itoa(i%tc.users), "device", nonce(), asked, now); !isNew || full {
					t.Fatalf("request %d: new %v, full %v; want it taken", i, isNew, full)
				}
			}
			if _, full := s.add("user0", "device", []byte("n1"), now, now); !full {
				t.Fatal("a full memory took another request")
			}
			later := now.Add(2 * time.Minute)
			if isNew, full := s.add("user0", "device", []byte("n1"), later, later); !isNew || full {
				t.Fatalf("once its requests aged out: new %v, full %v; want a new request taken", isNew, full)
			}
		})
	}
}

// One user who fills their share of the memory leaves the others theirs.
func TestSeenRequestsShareIsPerUser(t *testing.T) {
	s := newSeenRequests(64, 4)
	now := time.Now()
	for range 4 {
		s.add("mallory", "m", nonce(), now, now)
	}
	if _, full := s.add("mallory", "m", nonce(), now, now); !full {
		t.Fatal("a user past their share was taken")
	}
	for _, user := range []string{"alice", "bob"} {
		if isNew, full := s.add(user, "d", nonce(), now, now); !isNew || full {
			t.Fatalf("%s: new %v, full %v; want taken while mallory's share is full", user, isNew, full)
		}
	}
	if len(s.users) != 3 || s.total != 6 {
		t.Errorf("%d users, %d requests held; want 3 and 6", len(s.users), s.total)
	}
}

// A full memory whose requests are all recent is not scanned again for each
// new request, only once a pruneGap has passed.
func TestSeenRequestsFullIsNotRescannedPerRequest(t *testing.T) {
	s := newSeenRequests(8, 8)
	now := time.Now()
	for range 8 {
		s.add("alice", "d", nonce(), now, now)
	}
	s.add("alice", "d", nonce(), now, now) // prunes, finds it full
	u := s.users["alice"]
	if !u.noPrune.After(now) {
		t.Fatal("a prune that left the share full did not put off the next one")
	}
	// A request that aged out just now is not looked for before the gap.
	for k := range u.seen {
		u.seen[k] = now.Add(-maxClockSkew - time.Second)
		break
	}
	if _, full := s.add("alice", "d", nonce(), now.Add(pruneGap/2), now.Add(pruneGap/2)); !full {
		t.Error("the memory was scanned again within the gap")
	}
	if isNew, _ := s.add("alice", "d", nonce(), now.Add(pruneGap), now.Add(pruneGap)); !isNew {
		t.Error("after the gap, the aged-out request's room was not found")
	}
}

func TestUserShareFollowsTheUserBudget(t *testing.T) {
	for _, tc := range []struct {
		rule string
		b    config.Bucket
		want int
	}{
		{"the default budget gets the least share", config.Default("n").Limits.UserReleases, minSeenPerUser},
		{"a budget above it gets what it allows in twice the skew", config.Bucket{Burst: 1000, Every: 100 * time.Millisecond}, 1000 + 6000 + 1},
		{"a budget above the memory gets all of it", config.Bucket{Burst: 1 << 30, Every: time.Nanosecond}, maxSeenRequests},
	} {
		if got := userShare(tc.b, maxSeenRequests); got != tc.want {
			t.Errorf("%s: userShare(%v) = %d, want %d", tc.rule, tc.b, got, tc.want)
		}
	}
}
