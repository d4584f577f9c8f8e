package client

import (
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/threshold/toprf"
)

// errNotDealt: the vault holds no login dealing, so this device is
// enrolled nowhere yet.
var errNotDealt = errors.New("this device is not enrolled at any node yet (custos enroll)")

// dealing is the vault's login dealing as one login uses it, by custodian
// (network order): the public share each node's evaluation is checked
// against, and the key shares the vault still holds of the nodes an
// unfinished enrollment has not reached.
type dealing struct {
	epoch uint32
	k     int
	pubs  []toprf.PublicShare
	held  []*toprf.KeyShare // nil where the node holds its share
}

// wipe overwrites the held key shares.
func (d *dealing) wipe() {
	for _, ks := range d.held {
		if ks != nil {
			ks.Wipe()
		}
	}
}

// pending reports whether the vault holds node i's key share.
func (d *dealing) pending(i int) bool { return d.held[i] != nil }

// loadDealing reads the dealing logins use (c.mu held): the vault's login
// dealing or, once every node holds a password change's new dealing and no
// abort began (vault.PasswordChange.UsesNewPassword), that one. It checks
// the MACs first (vault.ErrDamagedLogin) and that the dealing's nodes are
// the network file's, at their positions: no node is asked to evaluate a
// password against a public share the vault did not keep for it.
// errNotDealt if there is none. The caller wipes the dealing.
func (c *Client) loadDealing() (*dealing, error) {
	return c.loadDealingOf(c.v.PasswordChange.UsesNewPassword())
}

// loadDealingOf is loadDealing of the change's new dealing (useNew) or
// of the login dealing.
func (c *Client) loadDealingOf(useNew bool) (*dealing, error) {
	l := c.v.Login
	if l == nil {
		return nil, errNotDealt
	}
	if err := c.v.CheckLogin(); err != nil {
		return nil, err
	}
	if err := c.v.CheckChange(); err != nil {
		return nil, err
	}
	if p := c.v.PasswordChange; useNew && p != nil {
		nodes := make([]vault.LoginNode, len(p.Nodes))
		for i, n := range p.Nodes {
			nodes[i] = vault.LoginNode{Name: n.Name, PeerID: n.PeerID, Index: n.Index, PublicShare: n.PublicShare}
		}
		return c.dealingOf(p.Epoch, p.Threshold, nodes)
	}
	return c.dealingOf(l.Epoch, l.Threshold, l.Nodes)
}

// dealingOf checks a dealing's nodes against the network file's and reads
// their shares.
func (c *Client) dealingOf(epoch uint32, k int, nodes []vault.LoginNode) (*dealing, error) {
	mismatch := func(why string) error {
		return fmt.Errorf("%w: the vault's login dealing does not match its network file: %s", vault.ErrDamagedLogin, why)
	}
	if len(nodes) != len(c.nodes) || k != c.net.Threshold {
		return nil, mismatch("another number of nodes or threshold")
	}
	d := &dealing{epoch: epoch, k: k, pubs: make([]toprf.PublicShare, len(c.nodes)), held: make([]*toprf.KeyShare, len(c.nodes))}
	for i, n := range c.nodes {
		ln := nodes[i]
		if ln.Name != n.name || ln.PeerID != n.idText || ln.Index != i+1 {
			d.wipe()
			return nil, mismatch("node " + n.name)
		}
		pub, err := toprf.ParsePublicShare(ln.Index, ln.PublicShare)
		if err != nil {
			d.wipe()
			return nil, mismatch("the public share of " + n.name)
		}
		d.pubs[i] = pub
		if ln.KeyShare != nil {
			ks, err := toprf.KeyShareFromBytes(ln.Index, ln.KeyShare)
			if err != nil {
				d.wipe()
				return nil, mismatch("the key share of " + n.name)
			}
			d.held[i] = &ks
		}
	}
	return d, nil
}

// deal makes the user's login dealing (c.mu held): a fresh OPRF key r,
// split with the network's threshold among its nodes, node i getting
// index i+1. The vault keeps every public share and, until each node has
// taken it, every key share, and is saved before any of them is sent: a
// node never holds a share of a dealing the vault lost. r is wiped at
// once; the output for a password is combined from the key shares like
// any login's.
func (c *Client) deal() error {
	key, err := toprf.NewKey()
	if err != nil {
		return err
	}
	keys, pubs, err := key.Split(c.net.Threshold, len(c.nodes))
	key.Wipe()
	if err != nil {
		return fmt.Errorf("deal the login key: %w", err)
	}
	l := &vault.Login{Epoch: 1, Threshold: c.net.Threshold}
	for i, n := range c.nodes {
		l.Nodes = append(l.Nodes, vault.LoginNode{
			Name: n.name, PeerID: n.idText, Index: pubs[i].Index,
			PublicShare: pubs[i].Element[:], KeyShare: keys[i].Bytes(),
		})
		keys[i].Wipe()
	}
	c.v.Login = l
	if err := c.v.SealLogin(); err != nil {
		c.dropLogin()
		return err
	}
	if err := c.vh.Save(); err != nil {
		c.dropLogin()
		return fmt.Errorf("save the vault with the login dealing: %w", err)
	}
	return nil
}

// dropLogin forgets a dealing the vault could not keep (c.mu held).
func (c *Client) dropLogin() {
	for _, n := range c.v.Login.Nodes {
		clear(n.KeyShare)
	}
	c.v.Login = nil
}

// markDelivered drops from the vault the held key shares of the nodes at
// these indexes, which are now known to hold them, and saves the vault.
// A vault that cannot be saved keeps them until the next enroll or unlock
// finds the same; that is logged, not an error of the operation.
func (c *Client) markDelivered(indexes []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := false
	for _, i := range indexes {
		ok, err := c.v.MarkDelivered(c.nodes[i].name)
		if err != nil {
			c.log.Warn("the vault's login dealing could not drop a delivered key share", zap.String("node", c.nodes[i].name), zap.Error(err))
			return
		}
		changed = changed || ok
	}
	if !changed {
		return
	}
	if err := c.vh.Save(); err != nil {
		c.log.Warn("the vault could not be saved; it keeps key shares the nodes hold until the next enroll or unlock", zap.Error(err))
	}
}

// Enrollment says which nodes this device's enrollment has not reached
// yet (nil once it is enrolled at every node), and whether the vault holds
// their OPRF key shares meanwhile, as it does from the first enroll on:
// see docs/vault.md, "An unfinished enrollment", for what that allows.
func (c *Client) Enrollment() (pending []string, sharesHeld bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.v.Login == nil {
		names := make([]string, len(c.nodes))
		for i, n := range c.nodes {
			names[i] = n.name
		}
		return names, false
	}
	pending = c.v.Login.Pending()
	return pending, len(pending) > 0
}
