package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/threshold"
	"github.com/custos-network/custos/threshold/toprf"
)

// ErrReshareUnderWay: a reshare is under way in the vault, and must be
// finished first: before a reshare to another network file, a replace or a
// rotation.
var ErrReshareUnderWay = errors.New("a reshare is under way")

// ResharePlan is what a reshare to a network file would do (PlanReshare).
type ResharePlan struct {
	OldThreshold, NewThreshold int
	Stay, Join, Leave          []string // node names (new names for Stay)
	Records                    int      // records to move or mend
	Degraded                   int      // of which degraded
	MissingTokens              []string // joining nodes with no token that still need one
	UnderWay                   vault.ReshareStage
}

// ReshareResult is what a finished reshare reports.
type ReshareResult struct {
	Moved int
	// Unreached are the nodes that left and did not confirm deleting every
	// share of the user's, or closing the user's account after: their
	// operators should be asked to.
	Unreached []string
}

// PlanReshare says, without asking any node, what Reshare of file with
// tokens (node name → invite token, for the nodes that join) would do.
func (c *Client) PlanReshare(file []byte, tokens map[string]string) (*ResharePlan, error) {
	nw, st, err := c.reshareTarget(file)
	if err != nil {
		return nil, err
	}
	if err := c.checkReshareTokens(nw, tokens); err != nil {
		return nil, err
	}
	p := &ResharePlan{OldThreshold: c.net.Threshold, NewThreshold: nw.Threshold}
	old := map[string]bool{}
	for _, n := range c.net.Nodes {
		old[n.PeerID] = true
	}
	held := map[string]bool{}
	if st != nil {
		p.UnderWay = st.Stage
		for _, n := range st.Login.Pending() {
			held[n] = true
		}
	}
	for _, n := range nw.Nodes {
		switch {
		case old[n.PeerID]:
			p.Stay = append(p.Stay, n.Name)
		default:
			p.Join = append(p.Join, n.Name)
			if _, ok := tokens[n.Name]; !ok && (st == nil || held[n.Name]) {
				p.MissingTokens = append(p.MissingTokens, n.Name)
			}
		}
	}
	for _, n := range c.net.Nodes {
		if !slices.ContainsFunc(nw.Nodes, func(m api.Card) bool { return m.PeerID == n.PeerID }) {
			p.Leave = append(p.Leave, n.Name)
		}
	}
	labels, err := c.labels()
	if err != nil {
		return nil, err
	}
	for _, l := range labels {
		d, ok, err := c.vh.Describe(l)
		if err != nil {
			return nil, err
		}
		if ok && (!onNetwork(d, nw) || d.Degraded) {
			p.Records++
			if d.Degraded {
				p.Degraded++
			}
		}
	}
	return p, nil
}

// onNetwork reports whether u is dealt to exactly nw's nodes, in its order,
// with its threshold.
func onNetwork(u *vault.Unit, nw *Network) bool {
	if u.Threshold != nw.Threshold || len(u.Nodes) != len(nw.Nodes) {
		return false
	}
	for i, n := range u.Nodes {
		if n.PeerID != nw.Nodes[i].PeerID {
			return false
		}
	}
	return true
}

// reshareTarget parses file and returns the reshare under way to it, if
// any; a reshare under way to another file is ErrReshareUnderWay.
func (c *Client) reshareTarget(file []byte) (*Network, *vault.Reshare, error) {
	nw, err := ParseNetwork(file)
	if err != nil {
		return nil, nil, err
	}
	st, err := c.vh.Reshare()
	if err != nil {
		return nil, nil, err
	}
	if st != nil && !bytes.Equal(st.Network, file) {
		return nil, nil, fmt.Errorf("%w, to another network file (%s); finish it with that file first", ErrReshareUnderWay, st.Stage)
	}
	return nw, st, nil
}

// checkReshareTokens checks that tokens name nodes that join nw.
func (c *Client) checkReshareTokens(nw *Network, tokens map[string]string) error {
	for name := range tokens {
		i := slices.IndexFunc(nw.Nodes, func(n api.Card) bool { return n.Name == name })
		if i < 0 {
			return fmt.Errorf("a token names node %q, which is not in the new network file", name)
		}
		if slices.ContainsFunc(c.net.Nodes, func(n api.Card) bool { return n.PeerID == nw.Nodes[i].PeerID }) {
			return fmt.Errorf("a token names node %q, which is in the network already: only nodes that join need one", name)
		}
	}
	return nil
}

// Reshare moves every record and the login to the network file file
// (docs/client.md, "Moving to another network"): custodians added,
// removed or replaced, the threshold changed. It
//
//  1. deals a new OPRF key over the new network (the key shares kept in
//     the vault, with the new file, until each new node holds its own);
//  2. logs in at the old network with password, stages the new dealing at
//     the nodes that stay and enrolls at the nodes that join (with their
//     tokens, at the new dealing's epoch);
//  3. moves every record that is not dealt to the new network, and every
//     degraded one, as a change (see Replace): released from the nodes
//     that hold it, its new version placed at every new node (or
//     o.MinAcks of them), the old version then deleted at its nodes;
//  4. commits the new dealing at the nodes that stay and makes the new
//     network file and dealing the vault's.
//
// Each step is recorded in the vault before the next; a call interrupted
// at any point is finished by a call with the same file (a reshare to
// another file is refused meanwhile: ErrReshareUnderWay). Every record
// opens throughout, with the old network or the new one. A node that
// joins without a token is named (ErrNoToken), and the reshare waits at
// step 2 for a call that gives it. Nodes that left and did not confirm
// every delete are listed in the result. The client is locked and its
// network is the old one when Reshare returns: open the vault again to use
// the new network.
func (c *Client) Reshare(ctx context.Context, file, password []byte, tokens map[string]string, o ChangeOptions) (*ReshareResult, error) {
	done, err := c.begin(false)
	if err != nil {
		return nil, err
	}
	defer done()
	c.passwd.Lock()
	defer c.passwd.Unlock()
	defer c.Lock()
	nw, st, err := c.reshareTarget(file)
	if err != nil {
		return nil, err
	}
	if err := c.checkReshareTokens(nw, tokens); err != nil {
		return nil, err
	}
	if _, err := c.changeAllowed(); err != nil {
		return nil, err
	}
	if c.PendingPasswordChange() != nil {
		return nil, fmt.Errorf("%w: finish it (custos passwd) or abort it (custos passwd --abort) first", ErrPasswordChangePending)
	}
	if st == nil && sameCustodians(c.net, nw) == nil {
		return c.mend(ctx, file, password, o)
	}
	if st == nil {
		if st, err = c.dealReshare(nw, file); err != nil {
			return nil, err
		}
	}
	r := &resharing{c: c, nw: nw, st: st, tokens: tokens, opts: o}
	defer r.close()
	return r.run(ctx, password)
}

// mend is Reshare to the network the vault is on: it moves the degraded
// records to every node again. A file with other addresses or names of
// the same nodes is for UpdateNetwork.
func (c *Client) mend(ctx context.Context, file, password []byte, o ChangeOptions) (*ReshareResult, error) {
	if !bytes.Equal(file, c.v.Network) {
		return nil, errors.New("the new network file lists the vault's custodians and threshold, with other addresses or names: adopt it with custos network update")
	}
	if err := c.Unlock(ctx, password); err != nil {
		return nil, err
	}
	var degraded []string
	err := c.vh.Units("", func(u vault.UnitInfo) error {
		if u.Degraded {
			degraded = append(degraded, u.Label)
		}
		return nil
	})
	if err != nil || len(degraded) == 0 {
		return &ReshareResult{}, err
	}
	units, err := c.units(degraded)
	if err != nil {
		return nil, err
	}
	redo, err := c.changesOf(units)
	if err != nil {
		return nil, err
	}
	need, err := c.needAcks(o.MinAcks)
	if err != nil {
		return nil, err
	}
	job := &changeJob{op: vault.ChangeReshare, wire: api.Operation_OPERATION_RESHARE, target: c.nodes, k: c.net.Threshold,
		need: need, progress: o.Progress, total: len(units)}
	err = c.rewrite(ctx, job, units, nil, redo)
	return &ReshareResult{Moved: job.done}, err
}

// resharing is one call of Reshare: the old network's client c, and a view
// of the vault on the new network (next) that logs in with the new dealing.
type resharing struct {
	c      *Client
	next   *Client
	nw     *Network
	st     *vault.Reshare
	tokens map[string]string
	opts   ChangeOptions
	result ReshareResult
	probe  []error // the login at each new node (loginNext), in its network order
}

func (r *resharing) close() {
	if r.next != nil {
		r.next.Lock()
		r.next.bgWait.Wait()
	}
}

func (r *resharing) run(ctx context.Context, password []byte) (*ReshareResult, error) {
	c := r.c
	if r.st.Stage < vault.ReshareCommitting {
		if err := c.Unlock(ctx, password); err != nil {
			return nil, err
		}
	}
	var err error
	if r.next, err = c.view(r.nw, r.st); err != nil {
		return nil, err
	}
	if err := r.loginNext(ctx, password); err != nil {
		return nil, err
	}
	steps := []struct {
		stage vault.ReshareStage
		do    func(context.Context) error
		fault string // the test hook's step once it is done
	}{
		{vault.ReshareDealing, r.deliver, "reshare delivered"},
		{vault.ReshareMoving, r.move, "reshare moved"},
		{vault.ReshareCommitting, r.commit, "reshare finished"},
	}
	for _, s := range steps {
		if r.st.Stage != s.stage {
			continue
		}
		if err := s.do(ctx); err != nil {
			return nil, err
		}
		if s.stage < vault.ReshareCommitting {
			if err := r.setStage(s.stage + 1); err != nil {
				return nil, err
			}
		}
		if err := c.fault(s.fault); err != nil {
			return nil, err
		}
	}
	return &r.result, nil
}

// setStage records that the reshare got to stage.
func (r *resharing) setStage(stage vault.ReshareStage) error {
	r.st.Stage = stage
	return r.r().SetReshare(r.st)
}

func (r *resharing) r() *vault.Handle { return r.c.vh }

// dealReshare deals a new OPRF key, of the epoch after the login
// dealing's, among nw's nodes, and records it, all key shares held, as a
// reshare to file being dealt.
func (c *Client) dealReshare(nw *Network, file []byte) (*vault.Reshare, error) {
	c.mu.Lock()
	epoch := c.v.Login.Epoch + 1
	c.mu.Unlock()
	if epoch == 0 {
		return nil, errors.New("the login dealing is of the last epoch there is")
	}
	key, err := toprf.NewKey()
	if err != nil {
		return nil, err
	}
	keys, pubs, err := key.Split(nw.Threshold, len(nw.Nodes))
	key.Wipe()
	if err != nil {
		return nil, fmt.Errorf("deal the new login key: %w", err)
	}
	l := &vault.Login{Epoch: epoch, Threshold: nw.Threshold}
	for i, n := range nw.Nodes {
		l.Nodes = append(l.Nodes, vault.LoginNode{Name: n.Name, PeerID: n.PeerID, Index: pubs[i].Index, PublicShare: pubs[i].Element[:], KeyShare: keys[i].Bytes()})
		keys[i].Wipe()
	}
	st := &vault.Reshare{Network: bytes.Clone(file), Stage: vault.ReshareDealing, Login: l}
	c.mu.Lock()
	err = c.v.SealReshare(st)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := c.vh.SetReshare(st); err != nil {
		return nil, err
	}
	return st, nil
}

// view is a client of the same vault, device and host on the network nw,
// whose login dealing is st's: it places and releases shares at nw's nodes.
// It shares c's vault handle, host and background context; it must not be
// closed, only locked.
func (c *Client) view(nw *Network, st *vault.Reshare) (*Client, error) {
	c.mu.Lock()
	v := *c.v
	c.mu.Unlock()
	v.Network, v.Login, v.PasswordChange = st.Network, st.Login, nil
	v.Checkpoints, v.Restores = slices.Clone(v.Checkpoints), slices.Clone(v.Restores)
	nodes, err := custodians(nw)
	if err != nil {
		return nil, err
	}
	return &Client{opts: c.opts, log: c.log, vh: c.vh, v: &v, net: nw, host: c.host, nodes: nodes,
		journal: newRequestJournal(c.vh, nodes), changeFault: c.changeFault, bg: c.bg, bgCancel: func() {}}, nil
}

// loginNext makes the login keys of the new dealing, with the key shares
// the vault still holds evaluated here as their nodes would, and logs in
// at the new nodes that hold theirs (no other is asked: a login there
// would count as a failed one).
func (r *resharing) loginNext(ctx context.Context, password []byte) error {
	n := r.next
	d, err := n.loadDealingOf(false)
	if err != nil {
		return err
	}
	defer d.wipe()
	pwh, err := n.v.PasswordKDF.Derive(password)
	if err != nil {
		return err
	}
	defer pwh.Wipe()
	var holding []*custodian
	r.probe = make([]error, len(n.nodes))
	for i, nn := range n.nodes {
		if d.held[i] == nil {
			holding = append(holding, nn)
		} else {
			r.probe[i] = &refusal{kind: ErrNotEnrolled, node: errNotDealt, msg: "does not hold the new login key yet"}
		}
	}
	m, err := threshold.MasterSecretFromBytes(n.v.MasterSecret)
	if err != nil {
		return err
	}
	round, err := newLoginRound(d, pwh, m, len(holding), func(out toprf.Output, m threshold.MasterSecret) error {
		return n.deriveLoginKeys(out, m, d.epoch)
	})
	if err != nil {
		return err
	}
	defer round.close()
	round.evaluateHeld()
	errs := n.loginAll(ctx, holding, len(holding), round)
	for j, nn := range holding {
		r.probe[nn.index] = errs[j]
	}
	// The puts that follow need their nodes (or MinAcks of them); a
	// login needs the threshold.
	if q := n.quorum("log in at the new network", min(len(holding), n.net.Threshold), r.probe); len(holding) > 0 && q != nil {
		return q
	}
	if !round.ok() {
		return n.quorum("log in at the new network", n.net.Threshold, r.probe)
	}
	n.mu.Lock()
	n.unlocked = true
	n.mu.Unlock()
	return nil
}

// deliver stages the new dealing at each new node that stays and enrolls
// at each that joins, for the nodes whose key share the vault still holds,
// recording each.
func (r *resharing) deliver(ctx context.Context) error {
	c, n := r.c, r.next
	d, err := n.loadDealingOf(false)
	if err != nil {
		return err
	}
	defer d.wipe()
	var failed []*NodeError
	for i, nn := range n.nodes {
		if d.held[i] == nil {
			continue
		}
		var err error
		if old := c.nodeByPeer(nn.idText); old != nil {
			err = r.stage(ctx, old, nn, d, i)
		} else {
			var state EnrollState
			state, err = n.enrollAt(ctx, nn, d, r.probe[i], r.tokens, true)
			if err == nil && state == NotEnrolled {
				err = ErrNotEnrolled
			}
		}
		if err == nil {
			err = r.delivered(nn.name)
		}
		if err != nil {
			failed = append(failed, &NodeError{Node: nn.name, Err: err})
		}
	}
	if len(failed) > 0 {
		return &QuorumError{Op: "give the new network's nodes the new login key", Need: len(n.nodes), Have: len(n.nodes) - len(failed), Nodes: failed}
	}
	// Sessions at the nodes that just took the dealing.
	errs := n.loginAll(ctx, n.nodes, len(n.nodes), nil)
	return n.quorum("log in at the new network", len(n.nodes), errs)
}

// stage stages the new dealing's share of node i at old, the same node of
// the old network (its session is the old login's), with the login key
// the new dealing makes for it (nn's).
func (r *resharing) stage(ctx context.Context, old, nn *custodian, d *dealing, i int) error {
	nn.mu.Lock()
	pub := nn.auth.Public()
	nn.mu.Unlock()
	if pub == nil {
		return errNoLoginKeys
	}
	ks := *d.held[i]
	nd := &newDealing{epoch: d.epoch, keys: []toprf.KeyShare{ks}, pubs: []toprf.PublicShare{d.pubs[i]}, auth: [][]byte{pub}}
	return r.c.stageAt(ctx, old, nd, 0)
}

// delivered drops node's key share from the reshare's dealing.
func (r *resharing) delivered(node string) error {
	for i := range r.st.Login.Nodes {
		if n := &r.st.Login.Nodes[i]; n.Name == node {
			clear(n.KeyShare)
			n.KeyShare = nil
		}
	}
	r.c.mu.Lock()
	err := r.c.v.SealReshare(r.st)
	r.c.mu.Unlock()
	if err != nil {
		return err
	}
	return r.r().SetReshare(r.st)
}

// PendingReshare says how far a reshare under way got, or 0 when none is.
func (c *Client) PendingReshare() vault.ReshareStage {
	st, err := c.vh.Reshare()
	if err != nil || st == nil {
		return 0
	}
	return st.Stage
}

// noReshare refuses an operation while a reshare is under way.
func (c *Client) noReshare() error {
	if c.reshareUnderWay() {
		return fmt.Errorf("%w: finish it (custos reshare --network FILE, with its file) first", ErrReshareUnderWay)
	}
	return nil
}

// reshareUnderWay reports whether the vault records a reshare under way
// (an unreadable record counts as one: nothing is dropped for it).
func (c *Client) reshareUnderWay() bool {
	st, err := c.vh.Reshare()
	return st != nil || err != nil
}

// nodeByPeer is the node of c's network with this peer ID, or nil.
func (c *Client) nodeByPeer(id string) *custodian {
	for _, n := range c.nodes {
		if n.idText == id {
			return n
		}
	}
	return nil
}

// move moves the records not dealt to the new network from the old one,
// and mends the degraded records of the new one.
func (r *resharing) move(ctx context.Context) error {
	c, n := r.c, r.next
	var fromOld, mend []vault.Unit
	labels, err := c.labels()
	if err != nil {
		return err
	}
	for _, l := range labels {
		unit, ok, err := c.vh.Unit(l)
		switch {
		case err != nil:
			return err
		case !ok:
		case !onNetwork(unit, r.nw):
			fromOld = append(fromOld, *unit)
		case unit.Degraded:
			mend = append(mend, *unit)
		}
	}
	for _, u := range append(slices.Clone(fromOld), mend...) {
		if err := c.v.CheckUnit(&u); err != nil {
			return err
		}
	}
	need := len(n.nodes)
	if m := r.opts.MinAcks; m != 0 {
		if m < r.nw.Threshold+1 || m > len(n.nodes) {
			return fmt.Errorf("MinAcks %d: it must be from %d (threshold+1) to %d", m, r.nw.Threshold+1, len(n.nodes))
		}
		need = m
	}
	job := &changeJob{op: vault.ChangeReshare, wire: api.Operation_OPERATION_RESHARE, target: n.nodes, k: r.nw.Threshold,
		need: need, progress: r.opts.Progress, total: len(fromOld) + len(mend)}
	for _, part := range []struct {
		from  *Client
		units []vault.Unit
	}{{c, fromOld}, {n, mend}} {
		if len(part.units) == 0 {
			continue
		}
		redo, err := part.from.changesOf(part.units)
		if err != nil {
			return err
		}
		if err := part.from.rewrite(ctx, job, part.units, nil, redo); err != nil {
			return err
		}
	}
	r.result.Moved = job.done
	// The deletes at the new nodes of new versions given up.
	n.retryDeletes(ctx)
	// The nodes that left are asked now, while the old login's sessions
	// are good (after the commit they may not be).
	r.result.Unreached, err = r.closeLeft(ctx, r.leftBehind(ctx))
	return err
}

// closeLeft closes the user's account at each node that left and
// confirmed every delete (not in unreached), so that it holds nothing of
// the user's but its log, and records each closed one in the vault (a
// resumed reshare does not ask it again: it no longer knows the user). It
// returns unreached with the nodes that did not confirm the closing, best
// effort as the deletes are; its error is only the test hook's.
func (r *resharing) closeLeft(ctx context.Context, unreached []string) ([]string, error) {
	c := r.c
	closed, err := c.vh.ClosedAccounts()
	if err != nil {
		c.log.Warn("the vault's closed accounts could not be read", zap.Error(err))
	}
	out := slices.Clone(unreached)
	for _, n := range c.nodes {
		if r.next.nodeByPeer(n.idText) != nil || slices.Contains(unreached, n.name) || slices.Contains(closed, n.name) {
			continue
		}
		if err := c.closeAccountAt(ctx, n); err != nil {
			c.log.Warn("a node that left did not close the user's account", zap.String("node", n.name), zap.Error(err))
			out = append(out, n.name)
			continue
		}
		if err := c.vh.AddClosedAccount(n.name); err != nil {
			c.log.Warn("the vault could not record a closed account", zap.String("node", n.name), zap.Error(err))
		}
		if err := c.fault("closed " + n.name); err != nil {
			return nil, err
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// closeAccountAt closes the user's account at n (logged in), which holds
// none of the user's shares: n refuses otherwise.
func (c *Client) closeAccountAt(ctx context.Context, n *custodian) error {
	req := &api.AccountRequest{Op: &api.AccountRequest_Close{Close: &api.AccountClose{}}}
	return c.authed(ctx, n, func() error {
		var resp api.AccountResponse
		if err := c.call(ctx, n, api.ProtocolAccount, req, &resp); err != nil {
			return err
		}
		return api.FromProto(resp.Error)
	})
}

// commit commits the new dealing at the nodes that stay, and makes the new
// network file and dealing the vault's.
func (r *resharing) commit(ctx context.Context) error {
	c, n := r.c, r.next
	var failed []*NodeError
	for _, nn := range n.nodes {
		if c.nodeByPeer(nn.idText) == nil {
			continue // it joined with the new dealing current
		}
		if err := n.commitAt(ctx, nn, r.st.Login.Epoch); err != nil {
			failed = append(failed, &NodeError{Node: nn.name, Err: err})
		}
	}
	if len(failed) > 0 {
		return &QuorumError{Op: "commit the new login key", Need: len(n.nodes), Have: len(n.nodes) - len(failed), Nodes: failed}
	}
	if err := c.fault("reshare commit"); err != nil {
		return err
	}
	c.mu.Lock()
	err := c.vh.FinishReshare(r.st)
	c.mu.Unlock()
	return err
}

// leftBehind asks the nodes that left again for the deletes they have not
// confirmed, drops them from the pending deletes (the vault no longer
// knows these nodes), and names those that still have not.
func (r *resharing) leftBehind(ctx context.Context) []string {
	c := r.c
	c.retryDeletes(ctx)
	pend, err := c.vh.PendingDeletes()
	if err != nil {
		c.log.Warn("the vault's pending deletions could not be read", zap.Error(err))
		return nil
	}
	inNew := map[string]bool{}
	for _, n := range r.nw.Nodes {
		inNew[n.Name] = true
	}
	unreached := map[string]bool{}
	var keep []vault.PendingDelete
	for _, p := range pend {
		var still []string
		for _, name := range p.Nodes {
			if inNew[name] {
				still = append(still, name)
			} else {
				unreached[name] = true
			}
		}
		if len(still) != len(p.Nodes) {
			p.Nodes = still
			keep = append(keep, p)
		}
	}
	if err := c.vh.SetPendingDeletes(keep); err != nil {
		c.log.Warn("the vault could not drop the deletes of nodes that left", zap.Error(err))
	}
	var out []string
	for name := range unreached {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
