package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/threshold"
)

// A change makes a new version of existing units: a replace (a new record),
// a rotation (a new server key) or a reshare (another network's nodes).
// Every change goes the same way (docs/client.md, "Changing records"):
//
//  1. release the units' current versions and combine their server keys;
//  2. record the change of each unit in the vault (StageChanges), with,
//     for a replace, the new record sealed under a key only the old
//     version's server key gives;
//  3. deal each new version's server key among the target nodes and put
//     every share;
//  4. make each new version that enough nodes stored the unit's, its old
//     version a pending delete, in one transaction (CommitChanges); give up
//     the others (their placed shares deleted, AbandonChanges);
//  5. delete the old versions at their nodes, and record the nodes that
//     did not confirm (retried at the next unlock).
//
// Until 4 the unit is its old version, which opens; from 4 on it is the
// new one, which opens. A change interrupted before 4 is found in the
// vault by the next unlock, given up and made again (resumeChanges).

// changeBatch is how many units one round of a change releases and
// places: one release request per node, and a bounded amount of work
// lost to an interruption.
const changeBatch = 256

// placeWorkers is how many units' shares are placed at once.
const placeWorkers = 16

// errChangeFault is what a test's fault hook returns to stop a change as a
// kill would: at once, with nothing cleaned up.
var errChangeFault = errors.New("change stopped by a fault hook")

// ChangeProgress is told how many units of a change are done, of how
// many: once before the first, and after each round.
type ChangeProgress func(done, total int)

// changeJob is what a change makes of each unit, and where.
type changeJob struct {
	op       vault.ChangeOp
	wire     api.Operation
	target   []*custodian // the nodes of the new versions, in dealing order
	k        int          // the new versions' threshold
	need     int          // puts that must succeed for a unit to change
	progress ChangeProgress
	total    int
	done     int
}

// changePlan is one unit's change in a round.
type changePlan struct {
	old     vault.Unit
	rec     *Record
	change  vault.Change
	redo    *vault.Change // the change this one makes again, if any
	unit    *vault.Unit   // the new version, once sealed
	errs    []error       // each target node's put
	failure error
}

// fault runs the test hook of a change step, if any.
func (c *Client) fault(step string) error {
	if c.changeFault == nil {
		return nil
	}
	return c.changeFault(step)
}

// rewrite changes units in rounds of changeBatch. recs, for a replace, are
// the new records by label; redo are changes under way that these units'
// changes make again, by unit ID.
func (c *Client) rewrite(ctx context.Context, job *changeJob, units []vault.Unit, recs map[string]*Record, redo map[threshold.UnitID]*vault.Change) error {
	if job.progress != nil {
		job.progress(job.done, job.total)
	}
	for start := 0; start < len(units); start += changeBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(start+changeBatch, len(units))
		if err := c.rewriteRound(ctx, job, units[start:end], recs, redo); err != nil {
			return err
		}
	}
	return nil
}

// rewriteRound is one round of rewrite.
func (c *Client) rewriteRound(ctx context.Context, job *changeJob, units []vault.Unit, recs map[string]*Record, redo map[threshold.UnitID]*vault.Change) error {
	plans, abandoned, err := c.planChanges(ctx, job, units, recs, redo)
	defer func() {
		for _, p := range plans {
			if p.rec != nil && recs[p.old.Label] != p.rec {
				p.rec.Wipe()
			}
		}
	}()
	if err != nil {
		return err
	}
	changes := make([]vault.Change, len(plans))
	for i, p := range plans {
		changes[i] = p.change
	}
	if err := c.vh.StageChanges(changes, abandoned); err != nil {
		return err
	}
	if err := c.fault("staged"); err != nil {
		return err
	}
	if err := c.placeAll(ctx, job, plans); err != nil {
		return err
	}
	if err := c.fault("placed"); err != nil {
		return err
	}
	return c.settle(ctx, job, plans)
}

// planChanges releases the units' current versions and makes each unit's
// change: its record (recs, a redone replace's, or its own) and its new
// version. It returns the changes under way that the plans give up.
func (c *Client) planChanges(ctx context.Context, job *changeJob, units []vault.Unit, recs map[string]*Record, redo map[threshold.UnitID]*vault.Change) ([]*changePlan, []vault.PendingDelete, error) {
	got, err := c.release(ctx, units)
	if err != nil {
		return nil, nil, err
	}
	defer c.keepReceipts(got)
	defer got.wipe()
	c.markLost(got.lost)
	plans := make([]*changePlan, 0, len(units))
	var abandoned []vault.PendingDelete
	for i := range units {
		p := &changePlan{old: units[i], redo: redo[units[i].ID]}
		plans = append(plans, p)
		if err := c.planOne(job, p, got, i, recs[units[i].Label]); err != nil {
			return plans, nil, err
		}
		if p.redo != nil {
			abandoned = append(abandoned, vault.PendingDelete{ID: p.redo.ID, Version: p.redo.To, Nodes: p.redo.Nodes, Operation: api.Operation_OPERATION_UNDO})
		}
	}
	return plans, abandoned, nil
}

// planOne makes p's record and change from unit i's shares in got.
func (c *Client) planOne(job *changeJob, p *changePlan, got *released, i int, rec *Record) error {
	u := &p.old
	s, err := c.serverKey(u, got, i)
	if err != nil {
		return err
	}
	defer s.Wipe()
	k, err := c.dataKey(s, u.ID, u.Version)
	if err != nil {
		return err
	}
	defer k.Wipe()
	to, err := c.nextVersion(u, p.redo)
	if err != nil {
		return err
	}
	op := job.op
	switch {
	case rec != nil:
		p.rec = rec
	case p.redo != nil && p.redo.Op == vault.ChangeReplace && p.redo.From == u.Version:
		// A replace made again: its new record, which only this unit's
		// current server key opens.
		plain, err := threshold.Open(k, c.v.User, u.ID, p.redo.To, p.redo.Content)
		if err != nil {
			return fmt.Errorf("the new record of the interrupted replace of %s: %w", u.Label, err)
		}
		p.rec, err = parseRecord(plain)
		clear(plain)
		if err != nil {
			return err
		}
		op = vault.ChangeReplace
	default:
		if p.rec, err = c.openWith(u, s); err != nil {
			return err
		}
	}
	p.change = vault.Change{Op: op, Label: u.Label, ID: u.ID, From: u.Version, To: to, Started: time.Now()}
	for _, n := range job.target {
		p.change.Nodes = append(p.change.Nodes, n.name)
	}
	if op == vault.ChangeReplace {
		plain, err := p.rec.marshal()
		if err != nil {
			return err
		}
		defer clear(plain)
		// Sealed under the old version's data key with the new version
		// in its associated data: nothing else is sealed so, and only a
		// release of the old version opens it.
		if p.change.Content, err = threshold.Seal(k, c.v.User, u.ID, to, plain); err != nil {
			return err
		}
	}
	return nil
}

// nextVersion is the version u's change makes: after u's, after the one of
// the change it makes again, and after any version waiting to be deleted.
func (c *Client) nextVersion(u *vault.Unit, redo *vault.Change) (uint64, error) {
	to := u.Version + 1
	if redo != nil {
		to = max(to, redo.To+1)
	}
	for {
		pending, err := c.vh.HasPendingDelete(u.ID, to)
		if err != nil {
			return 0, err
		}
		if !pending {
			return to, nil
		}
		to++
	}
}

// placeAll seals each plan's new version and puts its shares at the
// target nodes, placeWorkers units at a time.
func (c *Client) placeAll(ctx context.Context, job *changeJob, plans []*changePlan) error {
	work := make(chan *changePlan)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var stop error
	for range min(placeWorkers, len(plans)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				if err := c.placeOne(ctx, job, p); err != nil {
					mu.Lock()
					stop = err
					mu.Unlock()
				}
			}
		}()
	}
	for _, p := range plans {
		work <- p
	}
	close(work)
	wg.Wait()
	return stop
}

// placeOne seals p's new version and puts its shares. It returns an error
// only for a fault that stops the whole change; a node's failure is in
// p.errs.
func (c *Client) placeOne(ctx context.Context, job *changeJob, p *changePlan) error {
	u, shares, err := c.sealVersion(p.old.Label, p.old.ID, p.change.To, p.rec, job.target, job.k)
	if err != nil {
		p.failure = err
		return nil
	}
	defer func() {
		for _, s := range shares {
			s.Wipe()
		}
	}()
	u.Created = p.old.Created
	p.unit = u
	ref := &api.UnitRef{UnitId: u.ID[:], Version: u.Version}
	p.errs = c.fanOut(ctx, job.target, func(ctx context.Context, n *custodian) error {
		if err := c.fault("put " + n.name); err != nil {
			return err
		}
		return c.putAt(ctx, n, ref, shares[targetIndex(job.target, n)].Bytes(), job.wire)
	})
	for _, err := range p.errs {
		if errors.Is(err, errChangeFault) {
			return err
		}
	}
	for i, err := range p.errs {
		u.Nodes[i].Stored = err == nil
		u.Degraded = u.Degraded || err != nil
	}
	return nil
}

// targetIndex is n's place among target.
func targetIndex(target []*custodian, n *custodian) int {
	for i, t := range target {
		if t == n {
			return i
		}
	}
	panic("client: internal error: a node not among the change's targets")
}

// settle commits the plans whose new version enough nodes stored, gives
// up the others, and deletes the versions they replace.
func (c *Client) settle(ctx context.Context, job *changeJob, plans []*changePlan) error {
	var commits []vault.Commit
	var failed []*changePlan
	var firstErr error
	for _, p := range plans {
		if p.failure == nil {
			p.failure = c.quorumOf(job, "change "+p.old.Label, p.errs)
		}
		if p.failure != nil {
			failed = append(failed, p)
			if firstErr == nil {
				firstErr = p.failure
			}
			continue
		}
		commits = append(commits, vault.Commit{Unit: *p.unit, Old: vault.PendingDelete{ID: p.old.ID, Version: p.old.Version, Nodes: storedAt(&p.old), Operation: job.wire}})
	}
	if err := c.vh.CommitChanges(commits); err != nil {
		return err
	}
	if err := c.fault("committed"); err != nil {
		return err
	}
	if err := c.undoPlaced(ctx, job.target, failed); err != nil {
		return err
	}
	if err := c.deleteOld(ctx, job.wire, commits); err != nil {
		return err
	}
	job.done += len(commits)
	if job.progress != nil {
		job.progress(job.done, job.total)
	}
	return firstErr
}

// quorumOf is quorum for a change's puts at its target nodes.
func (c *Client) quorumOf(job *changeJob, op string, errs []error) error {
	q := &QuorumError{Op: op, Need: job.need}
	for i, err := range errs {
		if err == nil {
			q.Have++
			continue
		}
		q.Nodes = append(q.Nodes, &NodeError{Node: job.target[i].name, Err: err})
	}
	if q.Have >= job.need {
		return nil
	}
	q.Have = min(q.Have, job.need-1)
	return q
}

// storedAt names the nodes that hold u's shares.
func storedAt(u *vault.Unit) []string {
	var out []string
	for _, n := range u.Nodes {
		if n.Stored {
			out = append(out, n.Name)
		}
	}
	return out
}

// undoPlaced gives up the changes of failed plans: the shares of their new
// versions are deleted where they were placed, and the nodes that do not
// confirm are recorded with the change's end.
func (c *Client) undoPlaced(ctx context.Context, target []*custodian, failed []*changePlan) error {
	var give []vault.PendingDelete
	for _, p := range failed {
		ref := &api.UnitRef{UnitId: p.old.ID[:], Version: p.change.To}
		give = append(give, vault.PendingDelete{ID: p.old.ID, Version: p.change.To, Nodes: c.deleteEach(ctx, target, p.change.Nodes, ref, api.Operation_OPERATION_UNDO), Operation: api.Operation_OPERATION_UNDO})
	}
	return c.vh.AbandonChanges(give)
}

// deleteOld deletes the versions that commits replaced at the nodes that
// held them, and records the nodes that did not confirm.
func (c *Client) deleteOld(ctx context.Context, op api.Operation, commits []vault.Commit) error {
	left := make([]vault.PendingDelete, len(commits))
	var wg sync.WaitGroup
	sem := make(chan struct{}, placeWorkers)
	for i, cm := range commits {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			old := cm.Old
			ref := &api.UnitRef{UnitId: old.ID[:], Version: old.Version}
			left[i] = vault.PendingDelete{ID: old.ID, Version: old.Version, Nodes: c.deleteEach(ctx, c.nodes, old.Nodes, ref, op), Operation: op}
		}()
	}
	wg.Wait()
	if err := c.fault("deleted"); err != nil {
		return err
	}
	return c.vh.SetPendingDeletes(left)
}

// deleteEach deletes ref at the nodes of among named names, in parallel,
// and returns those that did not confirm (a name not among them too).
func (c *Client) deleteEach(ctx context.Context, among []*custodian, names []string, ref *api.UnitRef, op api.Operation) []string {
	var nodes []*custodian
	var left []string
	for _, name := range names {
		if n := named(among, name); n != nil {
			nodes = append(nodes, n)
		} else {
			left = append(left, name)
		}
	}
	errs := c.fanOut(ctx, nodes, func(ctx context.Context, n *custodian) error { return c.deleteOp(ctx, n, ref, op) })
	for i, err := range errs {
		if err != nil {
			c.log.Debug("a delete was not confirmed", zap.String("node", nodes[i].name), zap.Error(err))
			left = append(left, nodes[i].name)
		}
	}
	return left
}

// named is the node named name among nodes, or nil.
func named(nodes []*custodian, name string) *custodian {
	for _, n := range nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// putAt puts one share at n, as part of op.
func (c *Client) putAt(ctx context.Context, n *custodian, ref *api.UnitRef, share []byte, op api.Operation) error {
	return c.authed(ctx, n, func() error {
		var resp api.PutResponse
		if err := c.call(ctx, n, api.ProtocolPut, &api.PutRequest{Unit: ref, Share: share, Operation: op}, &resp); err != nil {
			return err
		}
		return api.FromProto(resp.Error)
	})
}

// deleteOp deletes one unit version's share at n, as part of op; a share
// the node does not hold is deleted already.
func (c *Client) deleteOp(ctx context.Context, n *custodian, ref *api.UnitRef, op api.Operation) error {
	return c.authed(ctx, n, func() error {
		var resp api.DeleteResponse
		if err := c.call(ctx, n, api.ProtocolDelete, &api.DeleteRequest{Unit: ref, Operation: op}, &resp); err != nil {
			return err
		}
		err := api.FromProto(resp.Error)
		if errors.Is(err, api.ErrNotFound) {
			return nil
		}
		return err
	})
}

// sealVersion makes version of unit id for rec: a new server key dealt
// among nodes with threshold k, the sealed record. The server key and the
// other keys are wiped before it returns; the shares are the caller's to
// wipe.
func (c *Client) sealVersion(label string, id threshold.UnitID, version uint64, rec *Record, nodes []*custodian, k int) (*vault.Unit, []threshold.Share, error) {
	s, err := threshold.NewServerKey()
	if err != nil {
		return nil, nil, err
	}
	defer s.Wipe()
	peers := make([][]byte, len(nodes))
	for i, n := range nodes {
		peers[i] = []byte(n.info.ID)
	}
	dealt, err := threshold.Deal(s, id, version, k, peers)
	if err != nil {
		return nil, nil, err
	}
	dk, err := c.dataKey(s, id, version)
	if err != nil {
		return nil, nil, err
	}
	defer dk.Wipe()
	plain, err := rec.marshal()
	if err != nil {
		return nil, nil, err
	}
	defer clear(plain)
	sealed, err := threshold.Seal(dk, c.v.User, id, version, plain)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now().UTC()
	u := &vault.Unit{Label: label, ID: id, Version: version, Threshold: k, KeyCommit: dealt.KeyCommit, Sealed: sealed, Created: now, Updated: now}
	for i, n := range nodes {
		u.Nodes = append(u.Nodes, vault.UnitNode{Name: n.name, PeerID: n.idText, Commitment: dealt.Commitments[i]})
	}
	return u, dealt.Shares, nil
}
