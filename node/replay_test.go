package node

import (
	"crypto/rand"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestSeenRequestsForgetsOnlyWhatTheClockRefuses(t *testing.T) {
	s := newSeenRequests()
	now := time.Now()
	dev := peer.ID("device")
	nonce := func() []byte {
		b := make([]byte, 16)
		rand.Read(b)
		return b
	}
	old, recent := nonce(), nonce()
	if isNew, full := s.add(dev, old, now.Add(-maxClockSkew-time.Second), now); !isNew || full {
		t.Fatal("a first request is not new")
	}
	if isNew, _ := s.add(dev, recent, now, now); !isNew {
		t.Fatal("a first request is not new")
	}
	if isNew, _ := s.add(dev, recent, now, now); isNew {
		t.Fatal("a request sent again is new")
	}
	if isNew, _ := s.add("other", recent, now, now); !isNew {
		t.Fatal("another device's request with the same nonce is not new")
	}
	for range 2000 { // past the first prune
		s.add(dev, nonce(), now, now)
	}
	if _, ok := s.seen[string(dev)+string(old)]; ok {
		t.Error("a request the clock check refuses anyway was kept past a prune")
	}
	if isNew, _ := s.add(dev, recent, now, now); isNew {
		t.Error("a request within the skew was forgotten by a prune")
	}
}

// A memory full of recent requests refuses new ones, and frees itself once
// they are older than the skew: it never stays full.
func TestSeenRequestsFullRecovers(t *testing.T) {
	s := newSeenRequests()
	now := time.Now()
	asked := now.Add(-maxClockSkew + time.Minute)
	for i := range maxSeenRequests {
		s.seen[strconv.Itoa(i)] = asked
	}
	s.pruneAt = 2 * maxSeenRequests // as a prune with most kept leaves it
	if _, full := s.add("device", []byte("n1"), now, now); !full {
		t.Fatal("a full memory took another request")
	}
	later := now.Add(2 * time.Minute)
	if isNew, full := s.add("device", []byte("n1"), later, later); !isNew || full {
		t.Fatalf("once its requests aged out: new %v, full %v; want a new request taken", isNew, full)
	}
}
