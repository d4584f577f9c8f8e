package client

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/threshold"
)

// ChangeOptions tune Rotate and Reshare.
type ChangeOptions struct {
	// MinAcks lowers how many nodes must store a new version's share, to
	// no less than threshold+1; such a unit is listed as degraded. 0
	// means all.
	MinAcks int
	// Progress, when set, is told after each round of units how many are
	// done, from the goroutine of the call.
	Progress ChangeProgress
}

// Replace makes a new version of the record labelled label holding rec,
// under a new server key (docs/client.md, "Replacing a record"): it
// releases the current version (its server key seals the new record in the
// vault while the change is under way), places the new version's shares
// at every node (or at MinAcks), makes it the record's, and only then
// deletes the old version at its nodes. If too few nodes store the new
// version, it is given up, the record stays as it was and the error is a
// *QuorumError naming each node that failed. A Replace that is interrupted
// leaves the old version, which opens, and the next Unlock makes it again.
// Each put and delete is logged by the nodes as part of a replace. It is
// refused while a reshare is under way (ErrReshareUnderWay).
func (c *Client) Replace(ctx context.Context, label string, rec *Record, o PutOptions) error {
	done, err := c.begin(true)
	if err != nil {
		return err
	}
	defer done()
	if err := rec.Validate(); err != nil {
		return err
	}
	if err := c.noReshare(); err != nil {
		return err
	}
	need, err := c.needAcks(o.MinAcks)
	if err != nil {
		return err
	}
	units, err := c.units([]string{label})
	if err != nil {
		return err
	}
	redo, err := c.changesOf(units)
	if err != nil {
		return err
	}
	job := &changeJob{op: vault.ChangeReplace, wire: api.Operation_OPERATION_REPLACE, target: c.nodes, k: c.net.Threshold, need: need, total: 1}
	return c.rewrite(ctx, job, units, map[string]*Record{label: rec}, redo)
}

// Rotate gives the records labelled labels (every record when labels is
// empty) new server keys, their contents unchanged: a replace of each with
// its own record, released in batches (one request per node for up to 256
// records). It stops at the first record that too few nodes store the new
// version of (a *QuorumError); the records done before it keep their new
// versions. Each put and delete is logged by the nodes as part of a
// rotation. It is refused while a reshare is under way (ErrReshareUnderWay).
func (c *Client) Rotate(ctx context.Context, labels []string, o ChangeOptions) error {
	done, err := c.begin(true)
	if err != nil {
		return err
	}
	defer done()
	if err := c.noReshare(); err != nil {
		return err
	}
	need, err := c.needAcks(o.MinAcks)
	if err != nil {
		return err
	}
	if len(labels) == 0 {
		if labels, err = c.labels(); err != nil {
			return err
		}
	}
	units, err := c.units(labels)
	if err != nil {
		return err
	}
	redo, err := c.changesOf(units)
	if err != nil {
		return err
	}
	job := &changeJob{op: vault.ChangeRotate, wire: api.Operation_OPERATION_ROTATE, target: c.nodes, k: c.net.Threshold,
		need: need, progress: o.Progress, total: len(units)}
	return c.rewrite(ctx, job, units, nil, redo)
}

// needAcks is how many nodes must store a new version: all, or minAcks
// (from threshold+1 to all).
func (c *Client) needAcks(minAcks int) (int, error) {
	if minAcks == 0 {
		return len(c.nodes), nil
	}
	if minAcks < c.net.Threshold+1 || minAcks > len(c.nodes) {
		return 0, fmt.Errorf("MinAcks %d: it must be from %d (threshold+1) to %d", minAcks, c.net.Threshold+1, len(c.nodes))
	}
	return minAcks, nil
}

// labels are the labels of every record in the vault.
func (c *Client) labels() ([]string, error) {
	var out []string
	err := c.vh.Units("", func(u vault.UnitInfo) error {
		out = append(out, u.Label)
		return nil
	})
	return out, err
}

// changesOf returns the changes under way of units, by unit ID: a new
// change of such a unit gives the old one up.
func (c *Client) changesOf(units []vault.Unit) (map[threshold.UnitID]*vault.Change, error) {
	all, err := c.vh.Changes()
	if err != nil || len(all) == 0 {
		return nil, err
	}
	byID := make(map[threshold.UnitID]*vault.Change, len(all))
	for i := range all {
		byID[all[i].ID] = &all[i]
	}
	out := map[threshold.UnitID]*vault.Change{}
	for _, u := range units {
		if ch, ok := byID[u.ID]; ok {
			out[u.ID] = ch
		}
	}
	return out, nil
}

// PendingChanges lists the changes of records under way in the vault: those
// an interrupted run left, which the next Unlock (or Reshare) makes again.
func (c *Client) PendingChanges() ([]vault.Change, error) { return c.vh.Changes() }

// resumeChanges makes again the replaces and rotations that an earlier run
// left under way, and gives up the changes whose unit moved on (removed,
// or at another version): their new versions' shares become pending
// deletes. Reshares are left to Reshare, which knows the new network. What
// fails is logged at warn level: the records still open at their old
// versions.
func (c *Client) resumeChanges(ctx context.Context) {
	if c.fault("resume") != nil {
		return
	}
	all, err := c.vh.Changes()
	if err != nil {
		c.log.Warn("the vault's changes under way could not be read", zap.Error(err))
		return
	}
	var stale []vault.PendingDelete
	byOp := map[vault.ChangeOp][]vault.Unit{}
	redo := map[threshold.UnitID]*vault.Change{}
	for i := range all {
		ch := &all[i]
		u, ok, err := c.vh.Unit(ch.Label)
		switch {
		case err != nil:
			c.log.Warn("a record with a change under way could not be read", zap.String("label", ch.Label), zap.Error(err))
			continue
		case !ok || u.ID != ch.ID || u.Version != ch.From:
			stale = append(stale, vault.PendingDelete{ID: ch.ID, Version: ch.To, Nodes: ch.Nodes, Operation: api.Operation_OPERATION_UNDO})
			continue
		case ch.Op == vault.ChangeReshare:
			continue
		}
		if err := c.v.CheckUnit(u); err != nil {
			c.log.Warn("a record with a change under way is damaged", zap.String("label", ch.Label), zap.Error(err))
			continue
		}
		byOp[ch.Op] = append(byOp[ch.Op], *u)
		redo[ch.ID] = ch
	}
	if err := c.vh.AbandonChanges(stale); err != nil {
		c.log.Warn("the vault could not give up stale changes", zap.Error(err))
	}
	for op, units := range byOp {
		job := &changeJob{op: op, wire: wireOp(op), target: c.nodes, k: c.net.Threshold, need: len(c.nodes), total: len(units)}
		if err := c.rewrite(ctx, job, units, nil, redo); err != nil {
			c.log.Warn(fmt.Sprintf("an interrupted %s could not be finished; the records still open at their old versions, and the next unlock tries again", op), zap.Error(err))
		}
	}
}

// wireOp is the Operation the nodes log for a change.
func wireOp(op vault.ChangeOp) api.Operation {
	switch op {
	case vault.ChangeReplace:
		return api.Operation_OPERATION_REPLACE
	case vault.ChangeRotate:
		return api.Operation_OPERATION_ROTATE
	case vault.ChangeReshare:
		return api.Operation_OPERATION_RESHARE
	}
	panic(errors.New("client: internal error: unknown change " + op.String()))
}
