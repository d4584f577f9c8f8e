package node

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/node/api"
	"github.com/custos-network/custos/node/store"
)

// maxSeenRequests bounds the release requests remembered for replay
// checks: requests within the clock skew, which the rate limits bound far
// below this.
const maxSeenRequests = 1 << 20

// seenRequests remembers each release request the node took (its device
// and nonce) while the request's time is within maxClockSkew of the node's
// clock, so that the same signed request is not served twice: someone who
// copied a device's key and logged in could otherwise send a request the
// device made again, and the release would look like the device's own.
// Older requests need no memory: the clock check refuses them.
type seenRequests struct {
	mu      sync.Mutex
	seen    map[string]time.Time // device ‖ nonce → request time
	pruneAt int
}

func newSeenRequests() *seenRequests {
	return &seenRequests{seen: map[string]time.Time{}, pruneAt: 1024}
}

// add records a request and reports whether it is new; full reports that
// the memory is full of requests within the skew.
func (s *seenRequests) add(device peer.ID, nonce []byte, asked, now time.Time) (isNew, full bool) {
	key := string(device) + string(nonce)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[key]; ok {
		return false, false
	}
	if len(s.seen) >= min(s.pruneAt, maxSeenRequests) {
		for k, t := range s.seen {
			if now.Sub(t) > maxClockSkew {
				delete(s.seen, k)
			}
		}
		s.pruneAt = max(2*len(s.seen), 1024)
	}
	if len(s.seen) >= maxSeenRequests {
		return false, true
	}
	s.seen[key] = asked
	return true, false
}

// seedSeenRequests fills n.seen from the end of the log, so that a restart
// does not forget the requests still within the clock skew. The log is in
// the node's time order, give or take a clock step: it reads back until an
// entry is twice the skew old.
func (n *Node) seedSeenRequests() error {
	now := n.now()
	return n.store.View(func(tx *store.Tx) error {
		size, err := tx.LogSize()
		if err != nil {
			return err
		}
		for i := size - 1; i >= 0; i-- {
			b, err := tx.LogEntry(i)
			if err != nil {
				return err
			}
			e, err := api.ParseEntry(b)
			if err != nil {
				continue // audit verify names it; it is no request to remember
			}
			if now.Sub(time.UnixMilli(int64(e.TimeUnixMs))) > 2*maxClockSkew {
				return nil
			}
			device, err := peer.IDFromBytes(e.ClientPeerId)
			if e.Kind != api.EntryKind_RELEASE || err != nil || refusedBeforeSeen(e) {
				continue
			}
			n.seen.add(device, e.RequestNonce, time.UnixMilli(int64(e.RequestTimeUnixMs)), now)
		}
		return nil
	})
}

// refusedBeforeSeen reports whether e records a request refused before
// doRelease remembers it: for its signature (UNAUTHENTICATED) or its clock
// (INVALID_ARGUMENT; a replay, refused with that code too, is remembered
// already).
func refusedBeforeSeen(e *api.Entry) bool {
	return e.Outcome == api.Code_UNAUTHENTICATED || e.Outcome == api.Code_INVALID_ARGUMENT
}
