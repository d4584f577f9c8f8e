package auditor

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/threshold"
)

// UnitQuery says which unit ReportUnit reports on and what is known of it.
type UnitQuery struct {
	Unit threshold.UnitID
	// Threshold is how many shares make the unit's key (at least 1).
	Threshold int
	// Network is the network whose logs were read.
	Network *client.Network
	// Device is the peer ID of the user's vault's device key, or "" when
	// the report is made without the vault. Receipts are the vault's;
	// Requests and DroppedUntil are its request journal's
	// (client.Client.Requests).
	Device       peer.ID
	Receipts     []vault.Receipt
	Requests     []vault.Request
	DroppedUntil time.Time
}

// Attempt is one node's log entry of a request for the unit.
type Attempt struct {
	Node     string
	Index    uint64    // the entry's index in the node's log
	Time     time.Time // the node's clock
	Released bool
	Outcome  api.Code // why it was refused, when not Released
	Reason   string
	// Asked is true when the user's vault recorded sending this request.
	Asked bool
	// Receipt is true when the user's vault holds this entry's receipt.
	Receipt bool
	// FromReceipt is true when the node's log was not read and the
	// attempt is known from the vault's receipt alone.
	FromReceipt bool
}

// Unlock is the requests of one device for one version of the unit,
// signed with one time: the client signs every request of an unlock with
// the same time.
type Unlock struct {
	// Time is the device's own signed time of the requests.
	Time    time.Time
	Client  peer.ID // the device that asked
	User    string
	Version uint64
	// Attempts are the nodes' entries, in the network's node order.
	Attempts []Attempt
	// Silent are the nodes whose log was read and holds nothing of it,
	// NotNeeded apart.
	Silent []string
	// NotNeeded are the nodes whose log was read and holds nothing of an
	// unlock of the vault's device, to which the vault's journal holds a
	// request of it, and of which the vault holds no receipt of it: an
	// unlock journals a request to every node before it sends any, then
	// asks only the nodes it needs (its threshold first, one more for each
	// that fails or is slow), and cancels the requests still out once it
	// has its shares. These nodes were not asked, or their request was
	// cancelled before they logged it: not a finding.
	NotNeeded []string
	// Unchecked is true when the unlock is no newer than the newest
	// request the vault's journal dropped: whether the vault sent its
	// requests is not checked.
	Unchecked bool
	// Flags say what in it the logs and the vault do not explain.
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
	// Flags are what the logs show of a node itself: entries its device
	// did not sign, refusals of requests it did sign that the vault holds
	// receipts of, one request logged twice, receipts of the vault that
	// its log contradicts.
	Flags []string
	// Unread are the nodes whose logs were not read.
	Unread []string
}

// Flagged is how many unlocks and node findings are flagged.
func (r *UnitReport) Flagged() int {
	n := len(r.Flags)
	for i := range r.Unlocks {
		if len(r.Unlocks[i].Flags) > 0 {
			n++
		}
	}
	return n
}

// maxFindings caps the findings listed per node.
const maxFindings = 10

// attempt is an Attempt with what grouping needs.
type attempt struct {
	Attempt
	asked   time.Time // the device's signed time
	client  peer.ID
	user    string
	version uint64
	nonce   []byte
	order   int // the node's place in the network
}

// ReportUnit groups the release entries about q.Unit in logs (the verified
// entries of each node that was read, keyed by node name; a node read with
// no entries has a key with an empty list) into unlocks and flags what
// they do not explain:
//
//   - a release entry the device it names did not sign: the node wrote or
//     changed it; two releases for one request: the node released again to
//     a replay, or logged one release twice;
//   - an entry that refuses a request its device signed, while the vault
//     holds the receipt the node answered it with (or while the node gives
//     a bad signature as the reason): the node may have released the share
//     and logged a refusal (a refusal the device did not sign is a bad
//     request, rightly refused, and not flagged);
//   - an unlock released by fewer nodes than the threshold, even counting
//     every node not read as a release: no key can be made from it, unless
//     a node that released its share did not log it (not flagged when the
//     vault recorded every request of it: the user's own unlock failed);
//   - with the vault: a release to a device that is not the vault's, and a
//     release to the vault's device whose request is not in the vault's
//     journal (someone else holds the device key: a copy of the vault),
//     unless the unlock is no newer than what the journal dropped;
//   - with the vault: a receipt of a node that was read whose entry is not
//     in that node's log as read (the log was rolled back or rewritten).
//
// An unlock asks only the nodes it needs (client.Client.GetMany): a node
// with no entry of an unlock of the vault's device whose request the
// journal holds is NotNeeded, not Silent.
//
// Grouping is by the signed request time, which the device chose: a device
// key holder who signs a time already used lands in that unlock, where the
// vault's journal still tells its releases from the vault's own.
func ReportUnit(q UnitQuery, logs map[string][]client.LoggedEntry) *UnitReport {
	b := newUnitReport(q)
	for _, node := range b.nodes {
		entries, read := logs[node]
		b.readNode(node, entries, read)
	}
	b.groupUnlocks()
	b.finishUnlocks(logs)
	return b.rep
}

// sent is a request the vault recorded sending: to a node, with a nonce.
type sent struct{ node, nonce string }

// journaled is a request the vault recorded, without its nonce: to a node,
// signed with a time (Unix ms).
type journaled struct {
	node string
	time int64
}

// unitReport is ReportUnit at work: what it knows of the network and the
// vault, and the attempts it has read so far.
type unitReport struct {
	q        UnitQuery
	rep      *UnitReport
	nodes    []string // the network's, in order
	order    map[string]int
	peers    map[string]peer.ID
	asked    map[sent]bool
	at       map[journaled]bool                   // requests journaled, less those of a receipt
	receipts map[string]map[uint64]*vault.Receipt // by node, then index
	all      []attempt
}

func newUnitReport(q UnitQuery) *unitReport {
	b := &unitReport{q: q, rep: &UnitReport{}, order: map[string]int{}, peers: map[string]peer.ID{},
		asked: map[sent]bool{}, at: map[journaled]bool{}, receipts: map[string]map[uint64]*vault.Receipt{}}
	if q.Network != nil {
		for i, card := range q.Network.Nodes {
			b.nodes = append(b.nodes, card.Name)
			b.order[card.Name] = i
			b.peers[card.Name], _ = peer.Decode(card.PeerID)
		}
	}
	for _, r := range q.Requests {
		b.asked[sent{r.Node, string(r.Nonce)}] = true
		b.at[journaled{r.Node, r.Time.UnixMilli()}] = true
	}
	for i := range q.Receipts {
		r := &q.Receipts[i]
		if b.receipts[r.Node] == nil {
			b.receipts[r.Node] = map[uint64]*vault.Receipt{}
		}
		b.receipts[r.Node][r.Index] = r
	}
	// A request the node answered with a receipt was asked and logged:
	// a log without it is silent about it, whatever the journal says.
	for i := range q.Receipts {
		if e, err := api.ParseEntry(q.Receipts[i].Entry); err == nil {
			delete(b.at, journaled{q.Receipts[i].Node, int64(e.RequestTimeUnixMs)})
		}
	}
	return b
}

// readNode takes the attempts of one node from its entries (read says its
// log was read; otherwise its entries are those the vault's receipts
// prove) and flags what the node itself did.
func (b *unitReport) readNode(node string, entries []client.LoggedEntry, read bool) {
	receipts := b.receipts[node]
	if !read {
		b.rep.Unread = append(b.rep.Unread, node)
		// The vault's receipts of the node are entries it proved it
		// logged: they keep its releases in their unlocks.
		for _, r := range receipts {
			if e, err := api.ParseEntry(r.Entry); err == nil {
				entries = append(entries, client.LoggedEntry{Node: node, Index: r.Index, Entry: e, Raw: r.Entry})
			}
		}
		slices.SortFunc(entries, func(a, b client.LoggedEntry) int { return cmp.Compare(a.Index, b.Index) })
	}
	held := map[uint64]bool{}       // indexes whose entry is as the receipt has it
	released := map[string]uint64{} // the first release of each nonce
	var findings []string
	for _, le := range entries {
		if r := receipts[le.Index]; r != nil && bytes.Equal(r.Entry, le.Raw) {
			held[le.Index] = true
		}
		a, ok := unitAttempt(le, b.q.Unit)
		if !ok {
			continue
		}
		signed := le.Entry.VerifyDevice([]byte(b.peers[node])) == nil
		if le.Entry.Outcome == api.Code_OK && !signed {
			findings = append(findings, fmt.Sprintf("node %s: its entry %d is a release of the unit that the device it names did not sign: the node wrote or changed it", node, le.Index))
			continue
		}
		// A refusal the device did not sign is a bad request the node
		// rightly refused; one it signed may hide a release.
		if signed {
			r := receipts[le.Index]
			if why := refusalLie(le.Entry, "a request for the unit", r != nil && held[le.Index] && evidence(r), true); why != "" {
				findings = append(findings, fmt.Sprintf("node %s: its entry %d %s", node, le.Index, why))
			}
		}
		if a.Released {
			if first, twice := released[string(a.nonce)]; twice {
				findings = append(findings, fmt.Sprintf("node %s: its entries %d and %d release for one request: it released again to a replayed request, or logged one release twice", node, first, le.Index))
			} else {
				released[string(a.nonce)] = le.Index
			}
		}
		a.order, a.Receipt, a.FromReceipt = b.order[node], held[le.Index], !read
		a.Asked = b.asked[sent{node, string(a.nonce)}]
		b.all = append(b.all, a)
	}
	if read {
		for _, r := range receipts {
			if !held[r.Index] && names(r, b.q.Unit) {
				findings = append(findings, fmt.Sprintf("node %s: the vault holds a receipt of its log entry %d, which its log as read does not hold (the log was rolled back or rewritten)", node, r.Index))
			}
		}
	}
	// A node that rewrote its log wholesale would give a finding per
	// entry: the first few say what it did.
	slices.Sort(findings)
	if len(findings) > maxFindings {
		findings = append(findings[:maxFindings], fmt.Sprintf("node %s: and %d more findings", node, len(findings)-maxFindings))
	}
	b.rep.Flags = append(b.rep.Flags, findings...)
}

// groupUnlocks groups the attempts into unlocks: one device's requests for
// one version, signed with one time; each in the network's node order.
func (b *unitReport) groupUnlocks() {
	slices.SortStableFunc(b.all, func(x, y attempt) int {
		return cmp.Or(x.asked.Compare(y.asked), strings.Compare(string(x.client), string(y.client)),
			cmp.Compare(x.order, y.order), cmp.Compare(x.Index, y.Index))
	})
	type key struct {
		asked   int64
		client  peer.ID
		user    string
		version uint64
	}
	unlocks := map[key]int{} // index into rep.Unlocks
	for _, a := range b.all {
		k := key{a.asked.UnixMilli(), a.client, a.user, a.version}
		i, ok := unlocks[k]
		if !ok {
			b.rep.Unlocks = append(b.rep.Unlocks, Unlock{Time: a.asked, Client: a.client, User: a.user, Version: a.version})
			i = len(b.rep.Unlocks) - 1
			unlocks[k] = i
		}
		b.rep.Unlocks[i].Attempts = append(b.rep.Unlocks[i].Attempts, a.Attempt)
	}
}

// finishUnlocks names each unlock's silent and unneeded nodes and flags
// it.
func (b *unitReport) finishUnlocks(logs map[string][]client.LoggedEntry) {
	vaulted := b.q.Device != ""
	for i := range b.rep.Unlocks {
		u := &b.rep.Unlocks[i]
		u.Unchecked = vaulted && !b.q.DroppedUntil.IsZero() && !u.Time.After(b.q.DroppedUntil)
		own := vaulted && u.Client == b.q.Device && !u.Unchecked
		for _, n := range b.nodes {
			if _, read := logs[n]; !read || slices.ContainsFunc(u.Attempts, func(a Attempt) bool { return a.Node == n }) {
				continue
			}
			if own && b.at[journaled{n, u.Time.UnixMilli()}] {
				u.NotNeeded = append(u.NotNeeded, n)
			} else {
				u.Silent = append(u.Silent, n)
			}
		}
		u.Flags = unlockFlags(u, b.q, len(b.rep.Unread))
	}
}

// unlockFlags is what ReportUnit flags in one unlock.
func unlockFlags(u *Unlock, q UnitQuery, unread int) []string {
	released := u.Released()
	var foreign []string // nodes with a release the vault did not ask for
	for _, a := range u.Attempts {
		if a.Released && !a.Asked && !slices.Contains(foreign, a.Node) {
			foreign = append(foreign, a.Node)
		}
	}
	own := q.Device != "" && u.Client == q.Device
	checked := own && !u.Unchecked
	var flags []string
	if len(released) > 0 && len(released)+unread < q.Threshold && !(checked && len(foreign) == 0) {
		flags = append(flags, fmt.Sprintf("released by %d node(s) (%s), fewer than the threshold of %d: the unlock failed, or a node that released its share did not log it",
			len(released), strings.Join(released, ", "), q.Threshold))
	}
	switch {
	case q.Device == "" || len(released) == 0:
	case !own:
		flags = append(flags, fmt.Sprintf("released to device %s, which is not the vault's device", u.Client))
	case checked && len(foreign) > 0:
		flags = append(flags, fmt.Sprintf("released by %s to the vault's device, for a request the vault did not send: someone else holds the device key", strings.Join(foreign, ", ")))
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
	at := slices.IndexFunc(e.Units, func(u *api.UnitRef) bool { return bytes.Equal(u.GetUnitId(), unit[:]) })
	if at < 0 {
		return attempt{}, false
	}
	a := attempt{
		Attempt: Attempt{Node: le.Node, Index: le.Index, Time: time.UnixMilli(int64(e.TimeUnixMs)), Released: e.Outcome == api.Code_OK,
			Outcome: e.Outcome, Reason: e.Reason},
		asked: time.UnixMilli(int64(e.RequestTimeUnixMs)), user: e.User, version: e.Units[at].GetVersion(), nonce: e.RequestNonce,
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

// names reports whether r is of a release that asked for unit.
func names(r *vault.Receipt, unit threshold.UnitID) bool {
	return slices.ContainsFunc(r.Units, func(u vault.UnitRef) bool { return u.ID == unit })
}
