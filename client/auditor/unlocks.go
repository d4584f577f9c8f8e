package auditor

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/node/api"
	"github.com/custos-network/custos/threshold"
)

// DefaultWindow is how far apart in the device's own clock the requests
// of one unlock may be. A client asks every node at once; a retry after a
// new login comes within a call's timeout.
const DefaultWindow = time.Minute

// UnitQuery says which unit ReportUnit reports on and what is known of it.
type UnitQuery struct {
	Unit threshold.UnitID
	// Threshold is how many shares make the unit's key (at least 1).
	Threshold int
	// Nodes are the names of every node of the network, in its order.
	Nodes []string
	// Device is the peer ID of the user's vault's device key, or "" when
	// the report is made without the vault; Receipts are the vault's
	// receipts, and ReceiptsPruned says the vault may have dropped older
	// ones (client.Client.Receipts).
	Device         peer.ID
	Receipts       []vault.Receipt
	ReceiptsPruned bool
	// Window is DefaultWindow when 0.
	Window time.Duration
}

// Attempt is one node's log entry of a request for the unit.
type Attempt struct {
	Node     string
	Index    uint64    // the entry's index in the node's log
	Time     time.Time // the node's clock
	Released bool
	Outcome  api.Code // why it was refused, when not Released
	Reason   string
	// Receipt is true when the user's vault holds this entry's receipt.
	Receipt bool
	// FromReceipt is true when the node's log was not read and the
	// attempt is known from the vault's receipt alone.
	FromReceipt bool
}

// Unlock is the requests of one device for one version of the unit, close
// together in time, and what each node did.
type Unlock struct {
	// Time is the device's own (signed) time of its first request.
	Time    time.Time
	Client  peer.ID // the device that asked
	User    string
	Version uint64
	// Attempts are the nodes' entries, in the network's node order.
	Attempts []Attempt
	// Silent are the nodes whose log was read and holds nothing of it.
	Silent []string
	// Unchecked is true when the unlock is older than the vault's oldest
	// receipt and the vault may have dropped its receipts.
	Unchecked bool
	// Flags say what in it the log and the vault do not explain.
	Flags []string
}

// Released returns the names of the nodes that released their share.
func (u *Unlock) Released() []string {
	var out []string
	for _, a := range u.Attempts {
		if a.Released && !slices.Contains(out, a.Node) {
			out = append(out, a.Node)
		}
	}
	return out
}

// UnitReport is every unlock of a unit that the nodes logged.
type UnitReport struct {
	Unlocks []Unlock // oldest first
	// Flags are receipts of the vault that the nodes' logs contradict.
	Flags []string
}

// Flagged is how many unlocks and receipts are flagged.
func (r *UnitReport) Flagged() int {
	n := len(r.Flags)
	for i := range r.Unlocks {
		if len(r.Unlocks[i].Flags) > 0 {
			n++
		}
	}
	return n
}

// attempt is an Attempt with what grouping needs.
type attempt struct {
	Attempt
	asked   time.Time // the device's signed time, else the node's
	client  peer.ID
	user    string
	version uint64
	order   int // the node's place in the network
}

// ReportUnit groups the release entries about q.Unit in logs (the verified
// entries of each node that was read, keyed by node name; a node read with
// no entries has a key with an empty list) into unlocks and
// flags what they do not explain:
//
//   - an unlock released by fewer nodes than the threshold: no key can be
//     made from it, unless a node that released its share did not log it
//     (not flagged when the vault holds the receipts of all its releases:
//     that is the user's own unlock that failed);
//   - with the vault: a release to a device that is not the vault's, and a
//     release of the vault's device without a receipt in the vault, unless
//     the unlock has receipts from at least the threshold of nodes (the
//     client stops waiting for the others once it can make the key);
//   - with the vault: a receipt of a node that was read whose entry is not
//     in that node's log as read (the log was rolled back or rewritten).
func ReportUnit(q UnitQuery, logs map[string][]client.LoggedEntry) *UnitReport {
	window := q.Window
	if window <= 0 {
		window = DefaultWindow
	}
	order := map[string]int{}
	for i, n := range q.Nodes {
		order[n] = i
	}
	receipts := map[string]map[uint64]*vault.Receipt{}
	var oldest time.Time // the request time of the vault's oldest receipt
	for i := range q.Receipts {
		r := &q.Receipts[i]
		if receipts[r.Node] == nil {
			receipts[r.Node] = map[uint64]*vault.Receipt{}
		}
		receipts[r.Node][r.Index] = r
		if e, err := api.ParseEntry(r.Entry); err == nil {
			if t := askedAt(e); oldest.IsZero() || t.Before(oldest) {
				oldest = t
			}
		}
	}

	rep := &UnitReport{}
	var all []attempt
	for _, node := range q.Nodes {
		held := map[uint64]bool{} // indexes whose entry is as the receipt has it
		for _, le := range logs[node] {
			if r := receipts[node][le.Index]; r != nil && bytes.Equal(r.Entry, le.Raw) {
				held[le.Index] = true
			}
			if a, ok := unitAttempt(le, q.Unit); ok {
				a.order, a.Receipt = order[node], held[le.Index]
				all = append(all, a)
			}
		}
		if _, read := logs[node]; !read {
			// The node's log was not read, but the vault's receipts of it
			// are entries it proved it logged: they keep its releases in
			// their unlocks.
			for _, r := range receipts[node] {
				e, err := api.ParseEntry(r.Entry)
				if err != nil {
					continue
				}
				if a, ok := unitAttempt(client.LoggedEntry{Node: node, Index: r.Index, Entry: e, Raw: r.Entry}, q.Unit); ok {
					a.order, a.Receipt, a.FromReceipt = order[node], true, true
					all = append(all, a)
				}
			}
			continue
		}
		for _, r := range receipts[node] {
			if !held[r.Index] && names(r, q.Unit) {
				rep.Flags = append(rep.Flags, fmt.Sprintf("node %s: the vault holds a receipt of its log entry %d, which its log as read does not hold (the log was rolled back or rewritten)", node, r.Index))
			}
		}
	}
	slices.Sort(rep.Flags)
	slices.SortStableFunc(all, func(a, b attempt) int {
		if c := a.asked.Compare(b.asked); c != 0 {
			return c
		}
		if a.order != b.order {
			return a.order - b.order
		}
		return int(a.Index) - int(b.Index)
	})

	type key struct {
		client  peer.ID
		user    string
		version uint64
	}
	open := map[key]int{} // the open unlock of each key, by index into rep.Unlocks
	for _, a := range all {
		k := key{a.client, a.user, a.version}
		i, ok := open[k]
		if ok {
			u := &rep.Unlocks[i]
			if a.asked.Sub(u.Time) > window || (a.Released && slices.Contains(u.Released(), a.Node)) {
				ok = false
			}
		}
		if !ok {
			rep.Unlocks = append(rep.Unlocks, Unlock{Time: a.asked, Client: a.client, User: a.user, Version: a.version})
			i = len(rep.Unlocks) - 1
			open[k] = i
		}
		rep.Unlocks[i].Attempts = append(rep.Unlocks[i].Attempts, a.Attempt)
	}
	for i := range rep.Unlocks {
		u := &rep.Unlocks[i]
		slices.SortStableFunc(u.Attempts, func(a, b Attempt) int { return order[a.Node] - order[b.Node] })
		for _, n := range q.Nodes {
			if _, read := logs[n]; read && !slices.ContainsFunc(u.Attempts, func(a Attempt) bool { return a.Node == n }) {
				u.Silent = append(u.Silent, n)
			}
		}
		u.Unchecked = q.Device != "" && q.ReceiptsPruned && (oldest.IsZero() || u.Time.Before(oldest))
		u.Flags = unlockFlags(u, q)
	}
	return rep
}

// unlockFlags is what ReportUnit flags in one unlock.
func unlockFlags(u *Unlock, q UnitQuery) []string {
	released := u.Released()
	var receipted, missing []string
	for _, n := range released {
		if slices.ContainsFunc(u.Attempts, func(a Attempt) bool { return a.Node == n && a.Released && a.Receipt }) {
			receipted = append(receipted, n)
		} else {
			missing = append(missing, n)
		}
	}
	var flags []string
	own := q.Device != "" && u.Client == q.Device
	if len(released) > 0 && len(released) < q.Threshold && !(own && len(missing) == 0) {
		flags = append(flags, fmt.Sprintf("released by %d node(s) (%s), fewer than the threshold of %d: the unlock failed, or a node that released its share did not log it",
			len(released), strings.Join(released, ", "), q.Threshold))
	}
	switch {
	case q.Device == "" || len(released) == 0 || u.Unchecked:
	case !own:
		flags = append(flags, fmt.Sprintf("released to device %s, which is not the vault's device", u.Client))
	case len(missing) > 0 && len(receipted) < q.Threshold:
		flags = append(flags, fmt.Sprintf("released by %s with no receipt in the vault: this vault did not ask for it", strings.Join(missing, ", ")))
	}
	return flags
}

// unitAttempt is le as an attempt to get unit, if it is a release entry
// that names unit.
func unitAttempt(le client.LoggedEntry, unit threshold.UnitID) (attempt, bool) {
	e := le.Entry
	if e == nil || e.Kind != api.EntryKind_RELEASE {
		return attempt{}, false
	}
	at := -1
	for i, u := range e.Units {
		if bytes.Equal(u.GetUnitId(), unit[:]) {
			at = i
			break
		}
	}
	if at < 0 {
		return attempt{}, false
	}
	a := attempt{
		Attempt: Attempt{Node: le.Node, Index: le.Index, Time: time.UnixMilli(int64(e.TimeUnixMs)), Released: e.Outcome == api.Code_OK,
			Outcome: e.Outcome, Reason: e.Reason},
		asked: askedAt(e), user: e.User, version: e.Units[at].GetVersion(),
	}
	if id, err := peer.IDFromBytes(e.ClientPeerId); err == nil {
		a.client = id
	}
	for _, r := range e.Refusals {
		if int(r.GetUnitIndex()) == at {
			a.Released, a.Outcome = false, r.GetCode()
		}
	}
	return a, true
}

// askedAt is the device's signed time of a release request, or the node's
// time for an entry without one.
func askedAt(e *api.Entry) time.Time {
	if e.RequestTimeUnixMs != 0 {
		return time.UnixMilli(int64(e.RequestTimeUnixMs))
	}
	return time.UnixMilli(int64(e.TimeUnixMs))
}

// names reports whether r is of a release that asked for unit.
func names(r *vault.Receipt, unit threshold.UnitID) bool {
	return slices.ContainsFunc(r.Units, func(u vault.UnitRef) bool { return u.ID == unit })
}
