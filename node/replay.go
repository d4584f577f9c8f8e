package node

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/store"
)

// The replay memory's bounds: node-wide, and per user, so that one user's
// requests cannot fill it for the others. A request is remembered only
// once the user's budget (limits.user_releases) took it, and for at most
// twice the clock skew, so a user's share is what that budget allows in
// that time: about 200 requests at the default limits, but never less than
// minSeenPerUser, nor more than the whole memory (as under limits an
// operator lifted).
const (
	maxSeenRequests = 1 << 20
	minSeenPerUser  = 1 << 12
)

// userShare is a user's share of a replay memory of total requests, for
// users' budget b.
func userShare(b config.Bucket, total int) int {
	share := int64(minSeenPerUser)
	if b.Every > 0 {
		share = max(share, int64(b.Burst)+int64(2*maxClockSkew/b.Every)+1)
	}
	return int(min(share, int64(total)))
}

// testSeenBounds, when set, replaces the bounds of the replay memory of the
// nodes made after it. Only tests of this package set it
// (release_export_test.go).
var testSeenBounds *struct{ total, perUser int }

// replayMemory returns the replay memory of a node whose users' budget is
// b.
func replayMemory(b config.Bucket) *seenRequests {
	if tb := testSeenBounds; tb != nil {
		return newSeenRequests(tb.total, tb.perUser)
	}
	return newSeenRequests(maxSeenRequests, userShare(b, maxSeenRequests))
}

// prunes are at least this far apart in a memory that a prune left full,
// so that a flood against a full memory does not buy a scan of it per
// request.
const pruneGap = time.Second

// seenRequests remembers each release request the node took (its device
// and nonce, by user) while the request's time is within maxClockSkew of
// the node's clock, so that the same signed request is not served twice:
// someone who copied a device's key and logged in could otherwise send a
// request the device made again, and the release would look like the
// device's own. Older requests need no memory: the clock check refuses
// them. A request is remembered under the user it was signed for, so that
// is the only user it could be served for again.
type seenRequests struct {
	mu      sync.Mutex
	max     int // requests remembered node-wide
	perUser int // requests remembered for one user
	users   map[string]*userRequests
	total   int
	pruneAt int       // total at which to look for requests to forget
	noPrune time.Time // no prune of all users before this
}

// userRequests are one user's remembered requests.
type userRequests struct {
	seen    map[string]time.Time // device ‖ nonce → request time
	pruneAt int
	noPrune time.Time
}

// minPruneAt is the least number of requests a prune waits for.
const minPruneAt = 64

func newSeenRequests(max, perUser int) *seenRequests {
	return &seenRequests{max: max, perUser: perUser, users: map[string]*userRequests{}, pruneAt: 1024}
}

// add records user's request and reports whether it is new; full reports
// that the user's share of the memory, or the whole memory, is full of
// requests within the skew.
func (s *seenRequests) add(user string, device peer.ID, nonce []byte, asked, now time.Time) (isNew, full bool) {
	key := string(device) + string(nonce)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[user]
	if u != nil {
		if _, ok := u.seen[key]; ok {
			return false, false
		}
	}
	if s.total >= min(s.pruneAt, s.max) && !now.Before(s.noPrune) {
		s.pruneAll(now)
		u = s.users[user]
	}
	if u == nil {
		u = &userRequests{seen: map[string]time.Time{}, pruneAt: minPruneAt}
		s.users[user] = u
	}
	if len(u.seen) >= min(u.pruneAt, s.perUser) && !now.Before(u.noPrune) {
		s.total -= u.prune(now)
		if len(u.seen) >= s.perUser {
			u.noPrune = now.Add(pruneGap)
		}
	}
	if len(u.seen) >= s.perUser || s.total >= s.max {
		if len(u.seen) == 0 {
			delete(s.users, user)
		}
		return false, true
	}
	u.seen[key] = asked
	s.total++
	return true, false
}

// pruneAll forgets every user's requests that the clock check refuses
// anyway. s.mu must be held.
func (s *seenRequests) pruneAll(now time.Time) {
	for user, u := range s.users {
		s.total -= u.prune(now)
		if len(u.seen) == 0 {
			delete(s.users, user)
		}
	}
	s.pruneAt = max(2*s.total, 1024)
	if s.total >= s.max {
		s.noPrune = now.Add(pruneGap)
	}
}

// prune forgets the user's requests that the clock check refuses anyway,
// and returns how many it forgot.
func (u *userRequests) prune(now time.Time) int {
	n := len(u.seen)
	for k, t := range u.seen {
		if now.Sub(t) > maxClockSkew {
			delete(u.seen, k)
		}
	}
	u.pruneAt = max(2*len(u.seen), minPruneAt)
	return n - len(u.seen)
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
			n.seen.add(e.User, device, e.RequestNonce, time.UnixMilli(int64(e.RequestTimeUnixMs)), now)
		}
		return nil
	})
}

// refusedBeforeSeen reports whether e records a request refused before
// doRelease remembers it. Those are the requests refused as a whole, which
// are logged without their units (a replay among them: its first serving
// is remembered already). A log written before whole refusals dropped
// their units holds such refusals with units, for the signature
// (UNAUTHENTICATED) or the clock (INVALID_ARGUMENT); what else it holds was
// remembered then.
func refusedBeforeSeen(e *api.Entry) bool {
	return len(e.Units) == 0 || e.Outcome == api.Code_UNAUTHENTICATED || e.Outcome == api.Code_INVALID_ARGUMENT
}
