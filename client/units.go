package client

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	pb "github.com/libp2p/go-libp2p/core/crypto/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/threshold"
)

// PutOptions tune Put.
type PutOptions struct {
	// MinAcks lowers how many nodes must store their share, to no less
	// than threshold+1; such a unit is listed as degraded. 0 means all.
	MinAcks int
}

// Unit describes a record in the vault, without its secret.
type Unit struct {
	Label     string
	ID        threshold.UnitID
	Version   uint64
	Threshold int
	Nodes     int
	Degraded  bool // stored at fewer than all of its nodes
	Created   time.Time
}

// begin admits an operation that uses the nodes or the vault's secrets,
// once the client is unlocked when unlocked is set: Close waits for the
// operations it admitted, and admits none after it began. The caller
// calls done when the operation ends.
func (c *Client) begin(unlocked bool) (done func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, ErrClosed
	case unlocked && !c.unlocked:
		return nil, ErrVaultLocked
	}
	c.ops.Add(1)
	return c.ops.Done, nil
}

// Put seals rec under a new unit and places one share of its server key at
// each node. It succeeds when every node acknowledged (or MinAcks did);
// otherwise it removes the shares it placed, leaves the vault as it was and
// returns a *QuorumError naming each node that failed.
func (c *Client) Put(ctx context.Context, label string, rec *Record, o PutOptions) error {
	done, err := c.begin(true)
	if err != nil {
		return err
	}
	defer done()
	if !vault.ValidLabel(label) {
		return fmt.Errorf("%q is not a valid label: 1 to %d printable characters, no space at either end", label, vault.MaxLabelLen)
	}
	if err := rec.Validate(); err != nil {
		return err
	}
	_, exists, err := c.vh.Describe(label)
	if err != nil {
		return err
	}
	if exists {
		return fmt.Errorf("%q: %w", label, ErrExists)
	}
	need := len(c.nodes)
	if o.MinAcks != 0 {
		if o.MinAcks < c.net.Threshold+1 || o.MinAcks > len(c.nodes) {
			return fmt.Errorf("MinAcks %d: it must be from %d (threshold+1) to %d", o.MinAcks, c.net.Threshold+1, len(c.nodes))
		}
		need = o.MinAcks
	}
	u, shares, err := c.seal(label, rec)
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range shares {
			s.Wipe()
		}
	}()
	ref := &api.UnitRef{UnitId: u.ID[:], Version: u.Version}
	errs := c.fanOut(ctx, c.nodes, func(ctx context.Context, n *custodian) error {
		return c.putAt(ctx, n, ref, shares[n.index].Bytes(), api.Operation_OPERATION_UNSPECIFIED)
	})
	if qerr := c.quorum("put "+label, need, errs); qerr != nil {
		c.undoPut(ref, errs)
		return qerr
	}
	for i, err := range errs {
		u.Nodes[i].Stored = err == nil
		u.Degraded = u.Degraded || err != nil
	}
	if err := c.vh.PutUnit(*u); err != nil {
		// The vault does not name the unit: its shares open nothing.
		c.undoPut(ref, errs)
		return fmt.Errorf("save the record in the vault: %w", err)
	}
	return nil
}

// seal makes a new unit for rec: unit ID, server key dealt among the
// network's nodes, the sealed record (see sealVersion).
func (c *Client) seal(label string, rec *Record) (*vault.Unit, []threshold.Share, error) {
	id, err := threshold.NewUnitID()
	if err != nil {
		return nil, nil, err
	}
	return c.sealVersion(label, id, 1, rec, c.nodes, c.net.Threshold)
}

// dataKey derives the data key of a unit version from the vault's master
// secret and its server key s (docs/threshold.md), wiping what it derived
// on the way. The caller wipes the key.
func (c *Client) dataKey(s threshold.ServerKey, id threshold.UnitID, version uint64) (threshold.DataKey, error) {
	m, err := threshold.MasterSecretFromBytes(c.v.MasterSecret)
	if err != nil {
		return threshold.DataKey{}, err
	}
	defer m.Wipe()
	ck, err := threshold.DeriveClientKey(m, id)
	if err != nil {
		return threshold.DataKey{}, err
	}
	defer ck.Wipe()
	return threshold.DeriveDataKey(ck, s, id, version)
}

// undoPut removes the shares that a failed put placed. A node that cannot
// be reached keeps an orphan share of a unit no vault names, which opens
// nothing without the others; it is logged at debug level.
func (c *Client) undoPut(ref *api.UnitRef, errs []error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	var placed []*custodian
	for i, err := range errs {
		if err == nil {
			placed = append(placed, c.nodes[i])
		}
	}
	c.fanOut(ctx, placed, func(ctx context.Context, n *custodian) error {
		return c.deleteAt(ctx, n, ref)
	})
}

func (c *Client) deleteAt(ctx context.Context, n *custodian, ref *api.UnitRef) error {
	return c.deleteOp(ctx, n, ref, api.Operation_OPERATION_UNSPECIFIED)
}

// List describes the vault's records whose label starts with prefix (""
// for all), in label order (byte-wise). It reads no sealed record.
func (c *Client) List(prefix string) ([]Unit, error) {
	var out []Unit
	err := c.vh.Units(prefix, func(u vault.UnitInfo) error {
		out = append(out, Unit{Label: u.Label, ID: u.ID, Version: u.Version, Threshold: u.Threshold, Nodes: u.Nodes, Degraded: u.Degraded, Created: u.Created})
		return nil
	})
	return out, err
}

// Get unlocks one record: see GetMany.
func (c *Client) Get(ctx context.Context, label string) (*Record, error) {
	recs, err := c.GetMany(ctx, []string{label})
	if err != nil {
		return nil, err
	}
	return recs[0], nil
}

// GetMany unlocks records by label with one release request per node (or
// one per api.MaxBatch records). It first checks each record's MAC in the
// vault (a damaged one is ErrDamagedRecord, and no node is asked). It asks
// the nodes it needs in parallel, the fastest lately first, and one more
// for each that fails or is slow (see release), checks each answer's
// receipt (a node whose receipt does not prove its answer is named with
// ErrBadReceipt, ErrFalseReceipt or ErrForkedLog, and none of its shares
// is used; see checkReceipt), checks each share against its commitment,
// combines the first threshold of good shares per record, opens the
// record and wipes the keys. A node whose checkpoint does not extend the one the vault keeps
// of it is not named as a fork when a restore entry in its log explains
// why: the client accepts the restore (once, with a warning), keeps the
// checkpoint it replaced in the vault (vault.Restore), and uses the node's
// answer. A node that proves it no longer holds a share it had
// acknowledged (NOT_FOUND) makes the record degraded in the vault. A record that
// fewer than its threshold of nodes gave a good share for fails the whole
// call with a *QuorumError naming each node and why. The verified receipts
// are kept in the vault (vault.MaxReceipts, the newest), also of an unlock
// that failed, and saved with it every 64 unlocks, at the first unlock a
// minute after the last save (in the background: no unlock waits for it),
// and on Close.
func (c *Client) GetMany(ctx context.Context, labels []string) ([]*Record, error) {
	done, err := c.begin(true)
	if err != nil {
		return nil, err
	}
	defer done()
	units, err := c.units(labels)
	if err != nil {
		return nil, err
	}
	got, err := c.release(ctx, units)
	if err != nil {
		return nil, err
	}
	c.markLost(got.lost)
	recs := make([]*Record, len(units))
	for i := range units {
		rec, err := c.open(&units[i], got, i)
		if err != nil {
			for _, r := range recs[:i] {
				r.Wipe()
			}
			got.wipe()
			c.keepReceipts(got)
			return nil, err
		}
		recs[i] = rec
	}
	got.wipe()
	c.keepReceipts(got)
	return recs, nil
}

// units returns copies of the vault's units with these labels, each checked
// against its MAC: a label not in the vault is ErrNotFound, a damaged unit
// ErrDamagedRecord, before any node is asked.
func (c *Client) units(labels []string) ([]vault.Unit, error) {
	units := make([]vault.Unit, len(labels))
	for i, l := range labels {
		u, ok, err := c.vh.Unit(l)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%q: %w", l, ErrNotFound)
		}
		if err := c.v.CheckUnit(u); err != nil {
			return nil, err
		}
		units[i] = *u
	}
	return units, nil
}

// Receipts are saved with the vault after receiptBatch unlocks, or at the
// first unlock receiptDelay after the last save, and when the client
// closes: a save is a transaction of the database, synced to disk, which
// an unlock does not wait for (vault.Handle.SaveInBackground; the next
// save, and Close, wait for it). A crash may lose the receipts not saved
// yet, and the newer checkpoints they brought: they are evidence that the
// nodes' logs also hold, not records acknowledged to the user. The request
// journal, not the receipts, is what an audit needs to tell this vault's
// releases from others'.
const (
	receiptBatch = 64
	receiptDelay = time.Minute
)

// keepReceipts adds the verified receipts of an unlock to the vault, and
// starts saving it when it is time to. A vault that cannot be saved is
// logged, not made the unlock's failure.
func (c *Client) keepReceipts(got *released) {
	if len(got.receipts) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.vh.AddReceipts(got.receipts...); err != nil {
		c.log.Warn("the release receipts could not be kept in the vault", zap.Error(err))
		return
	}
	if c.unsaved++; c.unsaved >= receiptBatch || time.Since(c.saved) >= receiptDelay {
		c.saveReceiptsInBackground()
	}
}

// saveReceiptsInBackground starts saving the vault for the receipts not
// saved yet, and returns once the vault has taken what to write. Close
// waits for the write (bgWait); one that fails is logged, and Close tries
// again. The caller holds c.mu.
func (c *Client) saveReceiptsInBackground() {
	c.bgWait.Add(1)
	err := c.vh.SaveInBackground(func(err error) {
		defer c.bgWait.Done()
		if err != nil {
			c.unsavedFailed.Store(true)
			c.log.Warn("the release receipts could not be kept in the vault", zap.Error(err))
		}
	})
	if err != nil {
		c.bgWait.Done()
		c.log.Warn("the release receipts could not be kept in the vault", zap.Error(err))
		return
	}
	c.unsaved, c.saved = 0, time.Now()
}

// saveReceipts saves the vault for the receipts not saved yet, and waits
// for the write. The caller holds c.mu.
func (c *Client) saveReceipts() error {
	if err := c.vh.Save(); err != nil {
		return fmt.Errorf("save the release receipts: %w", err)
	}
	c.unsaved, c.saved = 0, time.Now()
	c.unsavedFailed.Store(false)
	return nil
}

// released holds what each node answered: shares[node][unit] and the node's
// error, if its whole request failed, or per unit.
type released struct {
	shares   [][][]byte
	nodeErr  []error
	unitErr  [][]error
	asked    []askState      // per node, when the unlock stopped waiting
	receipts []vault.Receipt // verified, of every node that answered in time
	lost     []lostShare     // shares that nodes proved they no longer hold
}

// lostShare is a unit version whose share a node answered NOT_FOUND for,
// with a receipt that proves it logged that refusal.
type lostShare struct {
	node    string
	id      threshold.UnitID
	version uint64
}

// lostShares lists the units that n refused as NOT_FOUND.
func lostShares(n *custodian, units []vault.Unit, unitErrs []error) []lostShare {
	var out []lostShare
	for i, err := range unitErrs {
		if errors.Is(err, api.ErrNotFound) {
			out = append(out, lostShare{node: n.name, id: units[i].ID, version: units[i].Version})
		}
	}
	return out
}

// markLost records in the vault that the nodes of lost no longer hold
// their shares: each unit they had acknowledged is degraded (custos ls and
// status show it, and a reshare mends it), on disk at once: a node that
// lost shares (restored from an older backup, say) is rare, and the user
// should learn of it.
func (c *Client) markLost(lost []lostShare) {
	for _, l := range lost {
		ok, err := c.vh.MarkNotStored(l.id, l.version, l.node)
		if err != nil {
			c.log.Warn("a record's lost share could not be noted", zap.String("node", l.node), zap.Error(err))
			continue
		}
		if ok {
			c.log.Warn("a custodian no longer holds its share of a record: the record is degraded", zap.String("node", l.node), zap.Stringer("unit", l.id))
		}
	}
}

func (r *released) wipe() {
	for _, row := range r.shares {
		for _, s := range row {
			clear(s)
		}
	}
}

// release asks nodes for the shares of units, in batches: as many nodes
// as the units' thresholds need, and one more for each that fails, gives
// no good share of some unit, or is slow (hedge.go); it stops waiting for
// the others once every unit has its threshold of shares that pass their
// commitments: a slow or silent node does not slow an unlock that enough
// others answered.
//
// Every request of the unlock is signed with the same time, so an audit
// can tell its requests from another unlock's, and every node's request
// nonce, asked or not, is in the vault's request journal before any is
// sent: an audit can then tell this vault's releases from those of
// someone holding a copy of the device key. An unlock whose requests
// cannot be recorded is not made. An unlock of one batch uses requests
// journaled ahead, and journals the next unlock's meanwhile
// (requestJournal).
func (c *Client) release(ctx context.Context, units []vault.Unit) (*released, error) {
	batches := (len(units) + api.MaxBatch - 1) / api.MaxBatch
	j, err := c.journal.take(batches)
	if err != nil {
		return nil, err
	}
	if batches == 1 {
		c.journal.fillAhead(&c.bgWait)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	col := newCollector(units, c.nodes, cancel)
	finished := make(chan struct{})
	// Close waits for the nodes this unlock stops waiting for: their late
	// answers still reach the vault (see collector.add).
	c.bgWait.Add(1)
	go func() {
		defer c.bgWait.Done()
		c.hedge(ctx, col, func(ctx context.Context, n *custodian) *answer {
			a := c.releaseAll(ctx, n, j.asked, j.nonces[n.index], units)
			if late := col.add(n, a); late != nil {
				c.keepReceipts(late)
				c.markLost(late.lost)
			}
			return a
		})
		close(finished)
	}()
	select {
	case <-finished:
	case <-ctx.Done():
	}
	return col.close(), nil
}

// answer is what one node answered to an unlock's requests, all batches
// together.
type answer struct {
	shares   [][]byte // by unit; nil where refused or not answered
	unitErrs []error  // by unit
	receipts []vault.Receipt
	err      error // the node's whole error, if any
}

// releaseAll asks node n for its shares of units, a batch at a time, with
// the unlock's time and n's recorded nonces. A node that cannot prove it
// logged the release it answered is not trusted with any of it, earlier
// batches included: its shares are wiped.
func (c *Client) releaseAll(ctx context.Context, n *custodian, asked int64, nonces [][]byte, units []vault.Unit) *answer {
	a := &answer{shares: make([][]byte, len(units)), unitErrs: make([]error, len(units))}
	for b, start := 0, 0; start < len(units) && a.err == nil; b, start = b+1, start+api.MaxBatch {
		end := min(start+api.MaxBatch, len(units))
		var rcpt *vault.Receipt
		rcpt, a.err = c.releaseBatch(ctx, n, asked, nonces[b], units[start:end], a.shares[start:end], a.unitErrs[start:end])
		if rcpt != nil {
			a.receipts = append(a.receipts, *rcpt)
		}
	}
	if distrusted(a.err) {
		c.log.Warn("a custodian's release receipt does not prove its answer; none of its shares is used", zap.String("node", n.name), zap.Error(a.err))
		wipeShares(a.shares)
	}
	return a
}

func wipeShares(shares [][]byte) {
	for i := range shares {
		clear(shares[i])
		shares[i] = nil
	}
}

// collector gathers the nodes' answers to one unlock until every unit has
// its threshold of shares that pass their commitments, then cancels the
// requests still out. Answers that come after the unlock took what it
// needed keep no share; their receipts and lost shares still count.
//
// It also tells hedge whom to ask: a unit is short while its good shares
// and the nodes still expected to bring one (asked, holding it, neither
// answered nor past their hedge delay) do not reach its threshold.
type collector struct {
	mu      sync.Mutex
	units   []vault.Unit
	r       *released
	good    []int      // shares that pass their commitment, per unit
	enough  int        // units with good[i] >= their threshold
	holds   [][]bool   // whether node i holds unit j's share, as the vault has it
	asked   []askState // per node
	pending []int      // nodes expected to bring a share, per unit
	closed  bool       // close returned r
	cancel  context.CancelFunc
}

// askState is where one node's request of an unlock is.
type askState int

const (
	notAsked askState = iota
	awaited           // asked, and counted on
	overdue           // asked, past its hedge delay: no longer counted on
	answered
)

func newCollector(units []vault.Unit, nodes []*custodian, cancel context.CancelFunc) *collector {
	col := &collector{
		units: units, good: make([]int, len(units)), cancel: cancel,
		holds: make([][]bool, len(nodes)), asked: make([]askState, len(nodes)), pending: make([]int, len(units)),
		r: &released{shares: make([][][]byte, len(nodes)), nodeErr: make([]error, len(nodes)), unitErr: make([][]error, len(nodes))},
	}
	for _, n := range nodes {
		col.holds[n.index] = make([]bool, len(units))
		for j := range units {
			col.holds[n.index][j] = holds(&units[j], n)
		}
	}
	return col
}

// complete reports whether every unit has its threshold of good shares.
// The caller holds col.mu.
func (col *collector) complete() bool { return col.enough == len(col.units) }

// short reports whether unit j's good shares and awaited nodes fall short
// of its threshold. The caller holds col.mu.
func (col *collector) short(j int) bool {
	return col.good[j] < col.units[j].Threshold && col.good[j]+col.pending[j] < col.units[j].Threshold
}

// nextUseful returns the first node of order not asked yet that holds a
// share of a short unit, or nil: nil too once the collection is complete
// or closed.
func (col *collector) nextUseful(order []*custodian) *custodian {
	col.mu.Lock()
	defer col.mu.Unlock()
	if col.closed || col.complete() {
		return nil
	}
	for _, n := range order {
		if col.asked[n.index] != notAsked {
			continue
		}
		for j := range col.units {
			if col.holds[n.index][j] && col.short(j) {
				return n
			}
		}
	}
	return nil
}

// ask notes that n is being asked.
func (col *collector) ask(n *custodian) {
	col.mu.Lock()
	defer col.mu.Unlock()
	col.asked[n.index] = awaited
	col.count(n, 1)
}

// slow notes that n's hedge delay passed: if it has not answered, it is
// no longer counted on (its answer is still taken if it comes).
func (col *collector) slow(n *custodian) {
	col.mu.Lock()
	defer col.mu.Unlock()
	if col.asked[n.index] == awaited {
		col.asked[n.index] = overdue
		col.count(n, -1)
	}
}

// count adds d to pending of every unit n holds. The caller holds col.mu.
func (col *collector) count(n *custodian, d int) {
	for j := range col.units {
		if col.holds[n.index][j] {
			col.pending[j] += d
		}
	}
}

// outstanding is how many nodes were asked and have not answered.
func (col *collector) outstanding() int {
	col.mu.Lock()
	defer col.mu.Unlock()
	out := 0
	for _, s := range col.asked {
		if s == awaited || s == overdue {
			out++
		}
	}
	return out
}

// add takes node n's answer. Before close, it joins the result, and the
// requests still out are cancelled once the result is complete. After
// close, add returns what of the answer is still to be kept (its receipts
// and lost shares), for the caller to keep; its shares are wiped.
func (col *collector) add(n *custodian, a *answer) (late *released) {
	var lost []lostShare
	if a.err == nil {
		lost = lostShares(n, col.units, a.unitErrs)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if col.asked[n.index] == awaited {
		col.count(n, -1)
	}
	col.asked[n.index] = answered
	if col.closed {
		wipeShares(a.shares)
		return &released{receipts: a.receipts, lost: lost}
	}
	col.r.receipts = append(col.r.receipts, a.receipts...)
	col.r.lost = append(col.r.lost, lost...)
	if col.complete() {
		wipeShares(a.shares) // not needed any more
		return nil
	}
	col.r.shares[n.index], col.r.unitErr[n.index], col.r.nodeErr[n.index] = a.shares, a.unitErrs, a.err
	if a.err != nil {
		// open uses no share of a node whose request failed (a later
		// batch's, say): its earlier shares count for nothing.
		return nil
	}
	for i, u := range col.units {
		if a.shares[i] != nil && verifies(&u, n, a.shares[i]) {
			if col.good[i]++; col.good[i] == u.Threshold {
				col.enough++
			}
		}
	}
	if col.complete() {
		col.cancel()
	}
	return nil
}

// close ends the collection and returns what it gathered; later answers
// are late (see add).
func (col *collector) close() *released {
	col.mu.Lock()
	defer col.mu.Unlock()
	col.closed = true
	col.r.asked = slices.Clone(col.asked)
	return col.r
}

// holds reports whether the vault has node n storing its share of u.
func holds(u *vault.Unit, n *custodian) bool {
	for _, un := range u.Nodes {
		if un.PeerID == n.idText {
			return un.Stored
		}
	}
	return false
}

// verifies reports whether share from node n passes its commitment for u.
func verifies(u *vault.Unit, n *custodian, share []byte) bool {
	for _, un := range u.Nodes {
		if un.PeerID == n.idText {
			return un.Commitment.Verify(u.ID, u.Version, []byte(n.info.ID), share)
		}
	}
	return false
}

// releaseBatch asks node n for its shares of units, in a request with the
// time asked, the nonce the journal recorded and the size of the checkpoint
// of n the vault keeps, and returns the answer's verified receipt. An
// answer whose receipt does not prove it (checkReceipt) is dropped whole:
// no share of it is used, and the error matches ErrBadReceipt,
// ErrFalseReceipt or ErrForkedLog; a receipt that is evidence of the lie
// is returned with the error.
func (c *Client) releaseBatch(ctx context.Context, n *custodian, asked int64, nonce []byte,
	units []vault.Unit, shares [][]byte, unitErrs []error) (*vault.Receipt, error) {
	refs := make([]*api.UnitRef, len(units))
	for i, u := range units {
		refs[i] = &api.UnitRef{UnitId: append([]byte(nil), u.ID[:]...), Version: u.Version}
	}
	var receipt *vault.Receipt
	err := c.authed(ctx, n, func() error {
		// A retry after a new login sends the same request again: the
		// node did not log the one its session refused.
		kept := c.keptCheckpointOf(n)
		req := &api.ReleaseRequest{Units: refs, TimeUnixMs: uint64(asked), Nonce: nonce, KnownSize: kept.size()}
		if err := c.signRelease(n, req); err != nil {
			return err
		}
		var resp api.ReleaseResponse
		if err := c.call(ctx, n, api.ProtocolRelease, req, &resp); err != nil {
			return err
		}
		if err := api.FromProto(resp.Error); err != nil {
			wipeReleased(&resp)
			return err
		}
		if len(resp.Shares) != len(units) {
			wipeReleased(&resp)
			return fmt.Errorf("the node answered %d units for %d asked", len(resp.Shares), len(units))
		}
		var err error
		if receipt, err = c.checkReceipt(ctx, n, req, units, &resp, kept); err != nil {
			wipeReleased(&resp)
			return err
		}
		for i, s := range resp.Shares {
			if s.GetUnit().GetVersion() != units[i].Version || string(s.GetUnit().GetUnitId()) != string(units[i].ID[:]) {
				unitErrs[i] = errors.New("the node answered for another unit")
			} else {
				unitErrs[i] = api.FromProto(s.Error)
			}
			if unitErrs[i] != nil {
				clear(s.Share)
				continue
			}
			shares[i] = s.Share
		}
		return nil
	})
	return receipt, err
}

// wipeReleased clears every share of a release answer none of which is
// used.
func wipeReleased(resp *api.ReleaseResponse) {
	for _, s := range resp.Shares {
		clear(s.Share)
	}
}

// nodeKey is the Ed25519 key a node's peer ID embeds: the key that signs
// its checkpoints.
func nodeKey(id peer.ID) (ed25519.PublicKey, error) {
	pk, err := id.ExtractPublicKey()
	if err != nil {
		return nil, errors.New("the node's peer ID holds no key")
	}
	raw, err := pk.Raw()
	if err != nil || pk.Type() != pb.KeyType_Ed25519 || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("the node's key is not Ed25519")
	}
	return raw, nil
}

// open combines unit i's shares from got and opens its record.
func (c *Client) open(u *vault.Unit, got *released, i int) (*Record, error) {
	s, err := c.serverKey(u, got, i)
	if err != nil {
		return nil, err
	}
	defer s.Wipe()
	return c.openWith(u, s)
}

// openWith opens u's record with its server key s.
func (c *Client) openWith(u *vault.Unit, s threshold.ServerKey) (*Record, error) {
	k, err := c.dataKey(s, u.ID, u.Version)
	if err != nil {
		return nil, err
	}
	defer k.Wipe()
	plain, err := threshold.Open(k, c.v.User, u.ID, u.Version, u.Sealed)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u.Label, err)
	}
	defer clear(plain)
	return parseRecord(plain)
}

// serverKey combines unit i's shares from got into its server key, which
// the caller wipes.
func (c *Client) serverKey(u *vault.Unit, got *released, i int) (threshold.ServerKey, error) {
	slots := make([]threshold.Slot, len(u.Nodes))
	nodeIndex := map[string]int{}
	for j, n := range c.nodes {
		nodeIndex[n.idText] = j
	}
	reasons := map[string]error{}
	for j, un := range u.Nodes {
		k, ok := nodeIndex[un.PeerID]
		slots[j] = threshold.Slot{Node: un.Name, Commitment: un.Commitment}
		if ok {
			slots[j].PeerID = []byte(c.nodes[k].info.ID)
		} else {
			slots[j].PeerID = peerBytes(un.PeerID)
		}
		switch {
		case !ok:
			reasons[un.Name] = errors.New("not in the network file any more")
		case got.nodeErr[k] != nil:
			reasons[un.Name] = got.nodeErr[k]
		case got.asked[k] == notAsked && !un.Stored:
			reasons[un.Name] = errNotStored
		case got.asked[k] == notAsked:
			reasons[un.Name] = errNotAsked
		case got.shares[k] == nil:
			reasons[un.Name] = errors.New("no answer was waited for")
		case got.unitErr[k][i] != nil:
			reasons[un.Name] = got.unitErr[k][i]
		default:
			slots[j].Share = got.shares[k][i]
		}
	}
	s, blame, err := threshold.Combine(u.Threshold, u.ID, u.Version, u.KeyCommit, slots)
	for _, name := range blame.Bad {
		// Reported even when the record opens: the caller must learn
		// which custodian lied.
		reasons[name] = ErrBadShare
		c.log.Warn("a custodian sent a share that does not match its commitment", zap.String("node", name), zap.String("label", u.Label))
	}
	if err != nil {
		q := &QuorumError{Op: "get " + u.Label, Need: u.Threshold}
		var nes *threshold.NotEnoughSharesError
		if errors.As(err, &nes) {
			q.Have = nes.Have
		}
		names := make([]string, 0, len(reasons))
		for name := range reasons {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			q.Nodes = append(q.Nodes, &NodeError{Node: name, Err: reasons[name]})
		}
		if !errors.Is(err, threshold.ErrNotEnoughShares) {
			return threshold.ServerKey{}, fmt.Errorf("get %s: %w", u.Label, err)
		}
		return threshold.ServerKey{}, q
	}
	return s, nil
}

// Delete removes a record: its shares at every node that answers, then its
// entry in the vault. Nodes that could not be reached are kept in the vault
// and asked again on the next Unlock.
func (c *Client) Delete(ctx context.Context, label string) error {
	done, err := c.begin(true)
	if err != nil {
		return err
	}
	defer done()
	units, err := c.units([]string{label})
	if err != nil {
		return err
	}
	u := &units[0]
	ref := &api.UnitRef{UnitId: append([]byte(nil), u.ID[:]...), Version: u.Version}
	errs := c.fanOut(ctx, c.nodes, func(ctx context.Context, n *custodian) error { return c.deleteAt(ctx, n, ref) })
	var unconfirmed []string
	for i, err := range errs {
		if err != nil {
			unconfirmed = append(unconfirmed, c.nodes[i].name)
		}
	}
	_, err = c.vh.RemoveUnit(label, u.ID, unconfirmed)
	return err
}

// retryDeletes asks again the nodes that missed a deletion.
func (c *Client) retryDeletes(ctx context.Context) {
	pend, err := c.vh.PendingDeletes()
	if err != nil {
		c.log.Warn("the vault's pending deletions could not be read", zap.Error(err))
		return
	}
	// While a reshare is under way, a node this client does not know is
	// of the other network: its deletes wait for the reshare (reshare.go).
	keepUnknown := c.reshareUnderWay()
	for _, p := range pend {
		ref := &api.UnitRef{UnitId: append([]byte(nil), p.ID[:]...), Version: p.Version}
		var still []string
		for _, name := range p.Nodes {
			n := c.nodeNamed(name)
			if n == nil {
				if keepUnknown {
					still = append(still, name)
				}
				continue // the node left the network
			}
			if err := c.deleteOp(ctx, n, ref, p.Operation); err != nil {
				still = append(still, name)
			}
		}
		if len(still) == len(p.Nodes) {
			continue
		}
		p.Nodes = still
		if err := c.vh.SetPendingDelete(p); err != nil {
			c.log.Warn("the vault could not record a retried deletion", zap.Error(err))
		}
	}
}

func (c *Client) nodeNamed(name string) *custodian { return named(c.nodes, name) }

// peerBytes is the binary form of a peer ID in text, or nil.
func peerBytes(s string) []byte {
	id, err := peer.Decode(s)
	if err != nil {
		return nil
	}
	return []byte(id)
}
