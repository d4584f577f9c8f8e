package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/threshold"
	"github.com/custos-network/custos/threshold/toprf"
)

// Errors of a password change.
var (
	// ErrPasswordChangePending: the operation waits for the password
	// change under way to be finished or aborted (Enroll).
	ErrPasswordChangePending = errors.New("a password change is pending")
	// ErrNoPasswordChange: AbortPasswordChange found no change to abort.
	ErrNoPasswordChange = errors.New("no password change is pending")
	// ErrChangeCommitted: AbortPasswordChange found the change committed,
	// or being committed, at some node, which then holds only the new
	// dealing: the change can only be finished (ChangePassword).
	ErrChangeCommitted = errors.New("the new password is being committed at the nodes: the change can only be finished, not aborted")
	// ErrEnrollmentUnfinished: ChangePassword needs this device enrolled
	// at every node first.
	ErrEnrollmentUnfinished = errors.New("this device's enrollment is unfinished")
)

// PasswdStep is a step of a password change (PasswdProgress).
type PasswdStep string

const (
	StepStaged    PasswdStep = "staged"    // the new dealing is staged
	StepCommitted PasswdStep = "committed" // the new dealing is current
	StepAborted   PasswdStep = "aborted"   // the staged dealing is dropped
)

// PasswdProgress is one step of a password change, told to
// Options.PasswdProgress: a node took it (Node is its name), told as soon
// as the node answered, before the vault records it; or the change as a
// whole took it (Node ""): staged at every node, committed at every node
// (the change is done) or aborted at every node (it is dropped), told once
// the vault recorded it.
type PasswdProgress struct {
	Node  string
	Step  PasswdStep
	Epoch uint32 // the new dealing's
}

// PendingChange is a password change under way, as the vault records it
// (docs/client.md, "Changing the password").
type PendingChange struct {
	State vault.ChangeState
	Epoch uint32 // the new dealing's
	// Staged are the nodes known to hold the new dealing; while aborting,
	// those that have not confirmed the abort yet.
	Staged []string
	// Committed are the nodes known to have made it current.
	Committed []string
}

// NewPassword reports whether logins take the new password: from the
// moment every node holds the new dealing until an abort begins.
func (p *PendingChange) NewPassword() bool {
	return p.State == vault.ChangeStaged || p.State == vault.ChangeCommitting
}

// CanAbort reports whether the change can still be rolled back: no commit
// was sent to any node.
func (p *PendingChange) CanAbort() bool { return p.State != vault.ChangeCommitting }

// PendingPasswordChange describes the password change under way, or
// returns nil when there is none.
func (c *Client) PendingPasswordChange() *PendingChange {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.v.PasswordChange
	if p == nil {
		return nil
	}
	out := &PendingChange{State: p.State, Epoch: p.Epoch}
	for _, n := range p.Nodes {
		if n.Staged {
			out.Staged = append(out.Staged, n.Name)
		}
		if n.Committed {
			out.Committed = append(out.Committed, n.Name)
		}
	}
	return out
}

// ChangePassword changes the user's password from oldPassword to
// newPassword at every node, so that an interruption at any point leaves
// a state from which the next call finishes it and in which one of the two
// passwords logs in (docs/client.md, "Changing the password"):
//
//  1. it logs in with oldPassword at every node;
//  2. it deals a new OPRF key r' of the next epoch, makes the login keys
//     of newPassword from it, wipes r', and records the new dealing's
//     public shares in the vault (saved);
//  3. it stages the new dealing at each node in turn (the node keeps it
//     beside the current one), recording each in the vault, then that
//     every node staged it, and wipes the key shares;
//  4. it records that it commits, then commits at each node in turn (the
//     node makes the new dealing current and drops the old one),
//     recording each;
//  5. it makes the new dealing the vault's login dealing.
//
// Until every node staged, oldPassword logs in, and a new call starts
// again at 1 (a node replaces a staged dealing of the same epoch). From
// then on newPassword logs in, and a call finishes the change from 4,
// logging in with newPassword (oldPassword is not used and may be nil).
// Before any commit was sent the change can be rolled back instead
// (AbortPasswordChange).
//
// Every node must take part. A node that fails is named in a *QuorumError
// (Need: every node), the vault keeps the change, and a later call
// resumes it. A wrong password is refused as by Unlock. ChangePassword
// needs the enrollment finished (ErrEnrollmentUnfinished); it leaves the
// client locked.
func (c *Client) ChangePassword(ctx context.Context, oldPassword, newPassword []byte) error {
	if len(newPassword) == 0 {
		return errors.New("the new password is empty")
	}
	done, err := c.begin(false)
	if err != nil {
		return err
	}
	defer done()
	c.passwd.Lock()
	defer c.passwd.Unlock()
	defer c.Lock()
	useNew, err := c.changeAllowed()
	if err != nil {
		return err
	}
	if useNew {
		return c.finishChange(ctx, newPassword)
	}
	if len(oldPassword) == 0 {
		return errors.New("the current password is empty")
	}
	if err := c.loginEverywhere(ctx, oldPassword, false, "change the password"); err != nil {
		return err
	}
	nd, err := c.dealChange(newPassword)
	if err != nil {
		return err
	}
	defer nd.wipe()
	if err := c.stageAll(ctx, nd); err != nil {
		return err
	}
	nd.wipe()
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.commitAll(ctx, nil)
}

// CheckPasswordChange says, without asking any node, whether
// ChangePassword can run: this device is enrolled (errors match
// ErrNotEnrolled), at every node (ErrEnrollmentUnfinished), and the
// vault's record of a change under way is intact (vault.ErrDamagedLogin).
func (c *Client) CheckPasswordChange() error {
	_, err := c.changeAllowed()
	return err
}

// changeAllowed checks that the vault can change its password: it is
// enrolled at every node. It reports whether a change under way is to be
// finished with the new password.
func (c *Client) changeAllowed() (useNew bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.v.Login == nil:
		return false, &refusal{kind: ErrNotEnrolled, node: errNotDealt}
	case len(c.v.Login.Pending()) > 0:
		return false, fmt.Errorf("%w: not enrolled at %s yet; finish enrolling (custos enroll) before changing the password",
			ErrEnrollmentUnfinished, joinNames(c.v.Login.Pending()))
	}
	if err := c.v.CheckChange(); err != nil {
		return false, err
	}
	return c.v.PasswordChange.UsesNewPassword(), nil
}

// loginEverywhere logs in with password at every node, with the change's
// new dealing or the login dealing (useNew), and returns a *QuorumError
// unless every node accepted.
func (c *Client) loginEverywhere(ctx context.Context, password []byte, useNew bool, op string) error {
	errs, err := c.loginWith(ctx, password, useNew)
	if err != nil {
		return err
	}
	if q := c.quorum(op, len(c.nodes), errs); q != nil {
		return q
	}
	return nil
}

// loginWith logs in with password at every node (see loginEverywhere),
// waiting for each, and returns each node's error.
func (c *Client) loginWith(ctx context.Context, password []byte, useNew bool) ([]error, error) {
	c.mu.Lock()
	d, err := c.loadDealingOf(useNew)
	kdf := c.v.PasswordKDF
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	defer d.wipe()
	pwh, err := kdf.Derive(password)
	if err != nil {
		return nil, err
	}
	defer pwh.Wipe()
	errs, oprf, err := c.loginV2(ctx, d, pwh, len(c.nodes), false)
	if err != nil || useNew || c.quorum("log in", len(c.nodes), errs) == nil {
		return errs, err
	}
	// A change made on another device: this one follows it first.
	d, errs, _, err = c.followChange(ctx, d, pwh, len(c.nodes), errs, oprf)
	if err == nil {
		d.wipe()
	}
	return errs, err
}

// newDealing is a password change's new dealing while it is being staged:
// the key shares (secret) and, per node, the public share and the login
// public key of the new password.
type newDealing struct {
	epoch uint32
	keys  []toprf.KeyShare
	pubs  []toprf.PublicShare
	auth  [][]byte
	note  *api.DealingNote // for the user's other devices
}

func (nd *newDealing) wipe() {
	for _, k := range nd.keys {
		k.Wipe()
	}
}

// dealChange deals a new OPRF key r' of the epoch after the login
// dealing's among the network's nodes, makes the login public keys of
// password from it (rwd' = r'.Output(pwh'), as at enrollment), wipes r',
// and records the new dealing in the vault as a change being staged,
// saved before any node is sent a share. It replaces a change recorded
// before (one not staged at every node, or being aborted).
func (c *Client) dealChange(password []byte) (*newDealing, error) {
	c.mu.Lock()
	kdf, epoch := c.v.PasswordKDF, c.v.Login.Epoch+1
	m, err := threshold.MasterSecretFromBytes(c.v.MasterSecret)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	defer m.Wipe()
	if epoch == 0 {
		return nil, errors.New("the login dealing is of the last epoch there is")
	}
	pwh, err := kdf.Derive(password)
	if err != nil {
		return nil, err
	}
	defer pwh.Wipe()
	key, err := toprf.NewKey()
	if err != nil {
		return nil, err
	}
	keys, pubs, err := key.Split(c.net.Threshold, len(c.nodes))
	if err != nil {
		key.Wipe()
		return nil, fmt.Errorf("deal the new login key: %w", err)
	}
	nd := &newDealing{epoch: epoch, keys: keys, pubs: pubs}
	out, err := key.Output(pwh.Bytes())
	key.Wipe()
	if err != nil {
		nd.wipe()
		return nil, err
	}
	defer out.Wipe()
	if err := c.newLoginKeys(nd, out, m); err != nil {
		nd.wipe()
		return nil, err
	}
	if err := c.makeNote(nd); err != nil {
		nd.wipe()
		return nil, err
	}
	if err := c.recordDealing(nd); err != nil {
		nd.wipe()
		return nil, err
	}
	return nd, nil
}

// newLoginKeys sets nd's login public keys from the OPRF output.
func (c *Client) newLoginKeys(nd *newDealing, out toprf.Output, m threshold.MasterSecret) error {
	rwd, err := threshold.RandomizedPasswordFromBytes(out.Bytes())
	if err != nil {
		return err
	}
	defer rwd.Wipe()
	for _, n := range c.nodes {
		k, err := threshold.DeriveLoginKey(rwd, m, []byte(n.info.ID))
		if err != nil {
			return err
		}
		nd.auth = append(nd.auth, k.Public())
		k.Wipe()
	}
	return nil
}

// recordDealing saves the vault with nd as a change being staged at no
// node yet.
func (c *Client) recordDealing(nd *newDealing) error {
	p := &vault.PasswordChange{State: vault.ChangeStaging, Epoch: nd.epoch, Threshold: c.net.Threshold}
	for i, n := range c.nodes {
		p.Nodes = append(p.Nodes, vault.ChangeNode{Name: n.name, PeerID: n.idText, Index: nd.pubs[i].Index, PublicShare: nd.pubs[i].Element[:]})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	before := c.v.PasswordChange
	c.v.PasswordChange = p
	err := c.v.SealChange()
	if err == nil {
		err = c.vh.Save()
	}
	if err != nil {
		c.v.PasswordChange = before
		return fmt.Errorf("save the vault with the new login dealing: %w", err)
	}
	return nil
}

// recordChange applies f to the vault's password change, seals it and
// saves the vault. It checks the change's MAC first, so that it never
// seals damage.
func (c *Client) recordChange(f func(p *vault.PasswordChange)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.v.PasswordChange == nil {
		return errors.New("the vault's password change is gone")
	}
	if err := c.v.CheckChange(); err != nil {
		return err
	}
	f(c.v.PasswordChange)
	if err := c.v.SealChange(); err != nil {
		return err
	}
	if err := c.vh.Save(); err != nil {
		return fmt.Errorf("record the password change's progress in the vault: %w", err)
	}
	return nil
}

// changeSnapshot is a copy of the change's epoch, state and per-node
// progress, in network order.
type changeSnapshot struct {
	epoch     uint32
	state     vault.ChangeState
	staged    []bool
	committed []bool
}

func (c *Client) changeSnapshot() (changeSnapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.v.PasswordChange
	if p == nil {
		return changeSnapshot{}, ErrNoPasswordChange
	}
	s := changeSnapshot{epoch: p.Epoch, state: p.State}
	for _, n := range p.Nodes {
		s.staged = append(s.staged, n.Staged)
		s.committed = append(s.committed, n.Committed)
	}
	return s, nil
}

// names are the names of the nodes whose flag is set.
func (c *Client) flagged(flags []bool) []string {
	var out []string
	for i, f := range flags {
		if f {
			out = append(out, c.nodes[i].name)
		}
	}
	return out
}

func (c *Client) progress(node string, step PasswdStep, epoch uint32) {
	if c.opts.PasswdProgress != nil {
		c.opts.PasswdProgress(PasswdProgress{Node: node, Step: step, Epoch: epoch})
	}
}

// stageAll stages nd at each node in turn, recording each, and then that
// every node staged it. A node that fails does not stop the others; the
// change then stays being staged, and the error names the nodes.
func (c *Client) stageAll(ctx context.Context, nd *newDealing) error {
	err := c.eachNode("stage the new password", StepStaged, nd.epoch,
		func(int) bool { return true },
		func(i int, n *custodian) error { return c.stageAt(ctx, n, nd, i) },
		func(p *vault.PasswordChange, i int) { p.Nodes[i].Staged = true })
	if err != nil {
		return err
	}
	if err := c.recordChange(func(p *vault.PasswordChange) { p.State = vault.ChangeStaged }); err != nil {
		return err
	}
	c.progress("", StepStaged, nd.epoch)
	return nil
}

// eachNode takes one step of a password change at every node need names,
// in turn: a node whose step (at) succeeds is reported and marked in the
// vault's change at once, so that a kill loses none; one that fails does
// not stop the others and is named in the QuorumError (op) returned after
// them.
func (c *Client) eachNode(op string, step PasswdStep, epoch uint32, need func(i int) bool, at func(i int, n *custodian) error, mark func(p *vault.PasswordChange, i int)) error {
	var failed []*NodeError
	for i, n := range c.nodes {
		if !need(i) {
			continue
		}
		if err := at(i, n); err != nil {
			failed = append(failed, &NodeError{Node: n.name, Err: err})
			continue
		}
		c.progress(n.name, step, epoch)
		if err := c.recordChange(func(p *vault.PasswordChange) { mark(p, i) }); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return &QuorumError{Op: op, Need: len(c.nodes), Have: len(c.nodes) - len(failed), Nodes: failed}
	}
	return nil
}

// loggedIn is the error of the login at node i before a step, if any
// (logins nil: every node is logged in).
func loggedIn(logins []error, i int) error {
	if logins == nil {
		return nil
	}
	return logins[i]
}

// stageAt sends node i (n) its share of the new dealing and its login
// public key.
func (c *Client) stageAt(ctx context.Context, n *custodian, nd *newDealing, i int) error {
	share := nd.keys[i].Bytes()
	defer clear(share)
	req := &api.PasswdRequest{Step: &api.PasswdRequest_Stage{Stage: &api.PasswdStage{
		Oprf: &api.OprfShare{
			Epoch: nd.epoch, Index: uint32(nd.pubs[i].Index), KeyShare: share, PublicShare: nd.pubs[i].Element[:],
		},
		AuthPublicKey: nd.auth[i],
		Note:          nd.note,
	}}}
	resp, err := c.passwdStep(ctx, n, req)
	if errors.Is(err, api.ErrInvalidArgument) && resp != nil && resp.Epoch >= nd.epoch {
		// Only a change this vault does not know of (made from a copy
		// of it) moves a node to this epoch.
		return fmt.Errorf("%w (its login dealing is of epoch %d already: another copy of this vault changed the password)", err, resp.Epoch)
	}
	return err
}

// passwdStep runs one step of a password change at n, with a session.
// The answer comes back also with a refusal (it then says the node's
// epochs), nil when there was none.
func (c *Client) passwdStep(ctx context.Context, n *custodian, req *api.PasswdRequest) (*api.PasswdResponse, error) {
	var resp *api.PasswdResponse
	err := c.authed(ctx, n, func() error {
		r := &api.PasswdResponse{}
		if err := c.call(ctx, n, api.ProtocolPasswd, req, r); err != nil {
			resp = nil
			return err
		}
		resp = r
		return api.FromProto(r.Error)
	})
	return resp, err
}

// finishChange finishes a change that every node staged: it logs in with
// newPassword (the staged dealing, or the committed one where a commit went
// through) and commits at the nodes not known to have committed. The
// nodes the login fails at are named, with why, in the error; before the
// first commit, such a node stops the change before any commit.
func (c *Client) finishChange(ctx context.Context, newPassword []byte) error {
	s, err := c.changeSnapshot()
	if err != nil {
		return err
	}
	var logins []error
	if len(c.flagged(s.committed)) < len(c.nodes) {
		if logins, err = c.loginWith(ctx, newPassword, true); err != nil {
			return err
		}
		ok, left := 0, 0
		for i, err := range logins {
			if !s.committed[i] {
				left++
				if err == nil {
					ok++
				}
			}
		}
		// No commit is sent before every node can take one: until the
		// first, the change can still be rolled back.
		if ok == 0 || (s.state == vault.ChangeStaged && ok < left) {
			return c.quorum("finish the password change", len(c.nodes), logins)
		}
	}
	return c.commitAll(ctx, logins)
}

// commitAll records that the change is being committed (before the first
// commit is sent: from then on no abort), commits at each node not known
// to have committed, in turn, recording each, and, once every node has,
// makes the new dealing the vault's login dealing. logins are the errors
// of the logins before, per node (nil: every node is logged in).
func (c *Client) commitAll(ctx context.Context, logins []error) error {
	s, err := c.changeSnapshot()
	if err != nil {
		return err
	}
	if s.state != vault.ChangeCommitting {
		if err := c.recordChange(func(p *vault.PasswordChange) { p.State = vault.ChangeCommitting }); err != nil {
			return err
		}
	}
	err = c.eachNode("commit the new password", StepCommitted, s.epoch,
		func(i int) bool { return !s.committed[i] },
		func(i int, n *custodian) error {
			if err := loggedIn(logins, i); err != nil {
				return err
			}
			return c.commitAt(ctx, n, s.epoch)
		},
		func(p *vault.PasswordChange, i int) { p.Nodes[i].Committed = true })
	if err != nil {
		return err
	}
	c.mu.Lock()
	err = c.v.FinishChange()
	if err == nil {
		err = c.vh.Save()
	}
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("make the new login dealing the vault's: %w", err)
	}
	c.progress("", StepCommitted, s.epoch)
	return nil
}

// commitAt commits epoch at n. A node that answers that nothing is staged
// while epoch is its current one committed before (the answer was lost,
// or the client stopped before it recorded it).
func (c *Client) commitAt(ctx context.Context, n *custodian, epoch uint32) error {
	resp, err := c.passwdStep(ctx, n, &api.PasswdRequest{Step: &api.PasswdRequest_Commit{Commit: epoch}})
	if errors.Is(err, api.ErrNotFound) && resp != nil && resp.Epoch == epoch {
		return nil
	}
	return err
}

// AbortPasswordChange rolls back a password change that no node was asked
// to commit (else ErrChangeCommitted; ErrNoPasswordChange when none is
// pending): it logs in with oldPassword, the password being kept, at every
// node (the old dealing is current at each), records that it aborts
// (logins take oldPassword from then on), asks every node that may hold
// the new dealing to drop it, recording each, and drops the change from
// the vault. A node that fails is named in a *QuorumError and keeps its
// staged dealing (it harms nothing: logins use the old one); a later call
// finishes the abort. It leaves the client locked.
func (c *Client) AbortPasswordChange(ctx context.Context, oldPassword []byte) error {
	done, err := c.begin(false)
	if err != nil {
		return err
	}
	defer done()
	c.passwd.Lock()
	defer c.passwd.Unlock()
	defer c.Lock()
	s, err := c.changeSnapshot()
	if err != nil {
		return err
	}
	if s.state == vault.ChangeCommitting {
		if names := c.flagged(s.committed); len(names) > 0 {
			return fmt.Errorf("%w (committed at %s)", ErrChangeCommitted, joinNames(names))
		}
		return ErrChangeCommitted
	}
	if len(oldPassword) == 0 {
		return errors.New("the current password is empty")
	}
	logins, err := c.loginWith(ctx, oldPassword, false)
	if err != nil {
		return err
	}
	if !anyNil(logins) {
		return c.quorum("abort the password change", len(c.nodes), logins)
	}
	if s.state != vault.ChangeAborting {
		// Any node may hold the staged dealing, recorded or not.
		err := c.recordChange(func(p *vault.PasswordChange) {
			p.State = vault.ChangeAborting
			for i := range p.Nodes {
				p.Nodes[i].Staged = true
			}
		})
		if err != nil {
			return err
		}
		if s, err = c.changeSnapshot(); err != nil {
			return err
		}
	}
	return c.abortAll(ctx, s, logins)
}

// abortAll asks each node that has not confirmed the abort to drop the
// staged dealing, recording each, and then drops the change.
func (c *Client) abortAll(ctx context.Context, s changeSnapshot, logins []error) error {
	err := c.eachNode("abort the password change", StepAborted, s.epoch,
		func(i int) bool { return s.staged[i] },
		func(i int, n *custodian) error {
			if err := loggedIn(logins, i); err != nil {
				return err
			}
			return c.abortAt(ctx, n, s.epoch)
		},
		func(p *vault.PasswordChange, i int) { p.Nodes[i].Staged = false })
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.v.PasswordChange = nil
	err = c.vh.Save()
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("drop the password change from the vault: %w", err)
	}
	c.progress("", StepAborted, s.epoch)
	return nil
}

// abortAt drops the staged dealing of epoch at n. A node that answers that
// nothing is staged has dropped it, or never took it, unless the epoch is
// its current one: then it committed, which no abort can undo.
func (c *Client) abortAt(ctx context.Context, n *custodian, epoch uint32) error {
	resp, err := c.passwdStep(ctx, n, &api.PasswdRequest{Step: &api.PasswdRequest_Abort{Abort: epoch}})
	if errors.Is(err, api.ErrNotFound) && resp != nil {
		if resp.Epoch == epoch {
			return fmt.Errorf("%w: this node committed it already (from another copy of this vault?)", ErrChangeCommitted)
		}
		return nil
	}
	return err
}

func anyNil(errs []error) bool {
	for _, err := range errs {
		if err == nil {
			return true
		}
	}
	return false
}
