package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/custos-network/custos/api"
)

// EnrollState is what Enroll found or did at one node.
type EnrollState int

const (
	// NotEnrolled: this device is not enrolled at the node; the result's
	// Err says why (ErrNoToken, ErrTokenRefused, ErrOtherDevice, an
	// unreachable node, …).
	NotEnrolled EnrollState = iota
	// AlreadyEnrolled: this device was enrolled at the node before. Err is
	// nil when the node accepted this password, else why not (ErrLocked,
	// or ErrWrongPassword: enrolled there with another password).
	AlreadyEnrolled
	// EnrolledNow: Enroll registered this device and password there.
	EnrolledNow
)

func (s EnrollState) String() string {
	switch s {
	case AlreadyEnrolled:
		return "already enrolled"
	case EnrolledNow:
		return "enrolled now"
	}
	return "not enrolled"
}

// EnrollResult is one node's part of an Enroll.
type EnrollResult struct {
	Node  string
	State EnrollState
	Err   error
}

// OK reports whether the device is enrolled at the node with this password.
func (r EnrollResult) OK() bool { return r.State != NotEnrolled && r.Err == nil }

// Enroll registers this device at the nodes not enrolled yet, each with
// its token from tokens (node name → invite token; "" asks a node with open
// enrollment to enroll without one): it sends each its share of the user's
// OPRF key and its login key, made from password (login v2,
// docs/login.md). A node with no entry in tokens is not asked to enroll.
//
// The first Enroll deals the OPRF key among every node of the network and
// keeps the key shares in the vault (saved before any is sent) until each
// node has taken its own: an enrollment may be finished by later calls,
// token by token, and until it is, the vault holds what docs/vault.md
// ("An unfinished enrollment") describes.
//
// It first logs in at every node with password (evaluating the key shares
// the vault holds as their nodes would), so that it reports each node's
// true state and never registers a password at one node that differs from
// the one enrolled at another: a node that accepts the login is
// AlreadyEnrolled; when nodes refuse the password, none accepts it and some
// node answers that this device is not enrolled there, Enroll registers
// nothing and returns an error matching ErrWrongPassword.
//
// It returns one result per node, in network order, also with that error;
// other errors (a token for a node not in the network file, a password
// change under way: ErrPasswordChangePending, a vault that cannot be saved
// with the dealing) come before any node is asked.
func (c *Client) Enroll(ctx context.Context, password []byte, tokens map[string]string) ([]EnrollResult, error) {
	if err := c.CheckTokens(tokens); err != nil {
		return nil, err
	}
	done, err := c.begin(false)
	if err != nil {
		return nil, err
	}
	defer done()
	if c.PendingPasswordChange() != nil {
		// A change needs the enrollment finished, and logins during it
		// may take another dealing than the one an enrollment sends.
		return nil, fmt.Errorf("%w: finish it (custos passwd) or abort it (custos passwd --abort) first", ErrPasswordChangePending)
	}
	if err := c.dealOnce(); err != nil {
		return nil, err
	}
	d, pwh, err := c.prepareLogin(password)
	if err != nil {
		return nil, err
	}
	defer d.wipe()
	defer pwh.Wipe()
	defer c.Lock()
	probe, _, err := c.loginV2(ctx, d, pwh, len(c.nodes), true)
	if err != nil {
		return nil, err
	}
	delivered := c.acceptedPending(d, probe)
	defer func() { c.markDelivered(delivered) }()
	p := sortProbe(probe)
	results := make([]EnrollResult, len(c.nodes))
	if p.wrongPassword() {
		for i, err := range probe {
			results[i] = EnrollResult{Node: c.nodes[i].name, State: NotEnrolled, Err: err}
			switch {
			case errors.Is(err, ErrWrongPassword):
				results[i].State, results[i].Err = AlreadyEnrolled, otherPassword(err)
			case errors.Is(err, ErrLocked):
				results[i].State = AlreadyEnrolled
			}
		}
		return results, fmt.Errorf("%w: it is not the one this device enrolled with at %s; enrolled at no other node",
			ErrWrongPassword, joinNames(c.names(p.refused)))
	}
	c.fanOut(ctx, c.nodes, func(ctx context.Context, n *custodian) error {
		state, err := c.enrollAt(ctx, n, d, probe[n.index], tokens, p.newNodes)
		results[n.index] = EnrollResult{Node: n.name, State: state, Err: err}
		return nil
	})
	for i, r := range results {
		if r.State == EnrolledNow {
			delivered = append(delivered, i)
		}
	}
	return results, nil
}

// dealOnce deals the user's OPRF key if the vault has no dealing yet.
func (c *Client) dealOnce() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.v.Login != nil {
		return nil
	}
	return c.deal()
}

// probeResult sorts the logins Enroll makes before it enrolls anywhere.
type probeResult struct {
	accepted bool  // some node took the password
	refused  []int // the nodes that refused it
	// newNodes: some node answered that this device is not enrolled there,
	// so the nodes tell that apart from a wrong password, and every
	// refusal is of a password enrolled with this device. (Nodes before
	// that answer refused an unknown device as a wrong password.)
	newNodes bool
}

func sortProbe(errs []error) probeResult {
	var p probeResult
	for i, err := range errs {
		switch {
		case err == nil:
			p.accepted = true
		case errors.Is(err, ErrWrongPassword):
			p.refused = append(p.refused, i)
		case errors.Is(err, ErrNotEnrolled):
			p.newNodes = true
		}
	}
	return p
}

// wrongPassword: nodes hold another password for this device, and none
// this one, so enrolling elsewhere would register a second password.
func (p probeResult) wrongPassword() bool {
	return len(p.refused) > 0 && !p.accepted && p.newNodes
}

// errShareGone: a node answered that this device is not enrolled there,
// though the vault no longer holds its key share (the node had it).
var errShareGone = errors.New("does not know this device, though it took its key share before (its operator may have removed the account); " +
	"the vault no longer holds that share, so only a new dealing (a password change) can enroll it again")

// enrollAt enrolls at n when the login before (probed) shows it is not
// enrolled there and tokens has an entry for it, with the key share the
// vault holds for it in d and the login key the probe made.
func (c *Client) enrollAt(ctx context.Context, n *custodian, d *dealing, probed error, tokens map[string]string, newNodes bool) (EnrollState, error) {
	refusedPassword := errors.Is(probed, ErrWrongPassword)
	switch {
	case probed == nil:
		return AlreadyEnrolled, nil
	case errors.Is(probed, ErrLocked), errors.Is(probed, ErrBadEvaluation), errors.Is(probed, errNoLoginKeys):
		// It answered with an evaluation, or locked: it has this device.
		return AlreadyEnrolled, probed
	case refusedPassword && newNodes:
		return AlreadyEnrolled, otherPassword(probed)
	case !refusedPassword && !errors.Is(probed, ErrNotEnrolled):
		return NotEnrolled, probed // unreachable, rate limited, …
	}
	token, ok := tokens[n.name]
	if !ok {
		if refusedPassword {
			return NotEnrolled, &refusal{kind: ErrNoToken, node: probed,
				msg: "refused this password (not enrolled here, or with another password); no invite token given"}
		}
		return NotEnrolled, ErrNoToken
	}
	ks := d.held[n.index]
	if ks == nil {
		return NotEnrolled, errShareGone
	}
	n.mu.Lock()
	pub := n.auth.Public()
	n.mu.Unlock()
	if pub == nil {
		// The probe made no login keys: too few nodes evaluated.
		return NotEnrolled, errNoLoginKeys
	}
	share := ks.Bytes()
	defer clear(share)
	req := &api.EnrollRequest{User: c.v.User, Token: token, AuthPublicKey: pub, Oprf: &api.OprfShare{
		Epoch: d.epoch, Index: uint32(d.pubs[n.index].Index), KeyShare: share, PublicShare: d.pubs[n.index].Element[:],
	}}
	var resp api.EnrollResponse
	err := c.call(ctx, n, api.ProtocolEnroll, req, &resp)
	if err == nil {
		err = api.FromProto(resp.Error)
	}
	switch {
	case err == nil:
		return EnrolledNow, nil
	case errors.Is(err, api.ErrAlreadyExists) && refusedPassword:
		return AlreadyEnrolled, otherPassword(probed)
	case errors.Is(err, api.ErrAlreadyExists):
		return AlreadyEnrolled, nil
	case errors.Is(err, api.ErrUnauthenticated) && token == "":
		return NotEnrolled, &refusal{kind: ErrTokenRefused, node: err, msg: "needs an invite token (it does not enroll openly)"}
	case errors.Is(err, api.ErrUnauthenticated):
		return NotEnrolled, &refusal{kind: ErrTokenRefused, node: err, msg: "invite token refused: " + err.Error()}
	case errors.Is(err, api.ErrInvalidArgument):
		// The request itself is checked before it is sent: what a node
		// refuses as invalid is this user's enrollment with another device.
		return NotEnrolled, &refusal{kind: ErrOtherDevice, node: err}
	}
	return NotEnrolled, err
}

// otherPassword is the state of a node that has this device and refused
// the password (its refusal, refused).
func otherPassword(refused error) error {
	return &refusal{kind: ErrWrongPassword, node: refused, msg: "enrolled here with another password"}
}

// CheckTokens checks that every node tokens names is in the network file,
// without asking any node.
func (c *Client) CheckTokens(tokens map[string]string) error {
	for name := range tokens {
		if c.nodeNamed(name) == nil {
			return fmt.Errorf("a token names node %q, which is not in the network file", name)
		}
	}
	return nil
}

// names are the names of the nodes at indexes.
func (c *Client) names(indexes []int) []string {
	out := make([]string, len(indexes))
	for j, i := range indexes {
		out[j] = c.nodes[i].name
	}
	return out
}
