package client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/threshold"
	"github.com/custos-network/custos/threshold/toprf"
)

// Options tune a Client. The zero value takes the defaults.
type Options struct {
	// Timeout bounds one request to one node (default 10 s).
	Timeout time.Duration
	// Logger receives debug detail and warnings (a wait for a node's login
	// backoff, say); the library logs nothing by default.
	Logger *zap.Logger
	// MaxLoginWait bounds the login backoff Unlock waits out itself: after
	// a failed login a node refuses the next one for a while (a second at
	// first, doubling), and a wait up to this long is logged at warn level
	// and waited, so that a typo does not refuse the right password that
	// follows. Default 5 s; negative: never wait.
	MaxLoginWait time.Duration
	// PasswdProgress, when set, is told of each step a password change
	// takes (ChangePassword, AbortPasswordChange), as it is taken, from
	// the goroutine of the call.
	PasswdProgress func(PasswdProgress)
}

// defaultMaxLoginWait covers a node's first three backoffs with its
// default settings (1 s, 2 s, 4 s).
const defaultMaxLoginWait = 5 * time.Second

// Client is one user's view of a custos network: their local vault, their
// device's libp2p host, and, once unlocked, their sessions at the nodes.
// Its methods are safe for concurrent use.
type Client struct {
	opts  Options
	log   *zap.Logger
	vh    *vault.Handle
	v     *vault.Vault
	net   *Network
	host  host.Host
	nodes []*custodian
	// journal records release requests before they are sent; it holds
	// the vault's request journal, apart from mu.
	journal *requestJournal

	passwd sync.Mutex // one password change, or abort, at a time

	// tokens are the new-device invite tokens of an AddDevice under way,
	// by node name (guarded by mu); logins send each to its node.
	tokens      map[string]string
	changeFault func(step string) error // a test's hook at each step of a change (change.go)

	mu       sync.Mutex // guards the vault's contents, unlocked and closed
	unlocked bool
	closed   bool           // Close began
	ops      sync.WaitGroup // operations admitted by begin
	unsaved  int            // unlocks whose receipts are not saved yet
	saved    time.Time      // when receipts were last saved
	// unsavedFailed says a save in the background failed: Close saves
	// again.
	unsavedFailed atomic.Bool

	// Logins that an Unlock stopped waiting for go on under bg, until
	// Close cancels it and waits for them.
	bg       context.Context
	bgCancel context.CancelFunc
	bgWait   sync.WaitGroup
}

// loginGrace is how long Unlock still waits for the other nodes once the
// threshold of them accepted.
const loginGrace = 250 * time.Millisecond

// errPending is the error of a node whose login had not ended when Unlock
// returned.
var errPending = errors.New("no answer yet")

// Init makes a new vault at path for user on the network described by
// networkFile: a fresh device key, master secret and password salt. It
// refuses to overwrite a vault. Nothing leaves the device.
func Init(path string, networkFile []byte, user string) error {
	if !api.ValidUser(user) {
		return fmt.Errorf("%q is not a valid user name: use 1 to %d letters, digits and . _ @ + -", user, api.MaxUserLen)
	}
	if _, err := ParseNetwork(networkFile); err != nil {
		return err
	}
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return err
	}
	rawKey, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return err
	}
	m, err := threshold.NewMasterSecret()
	if err != nil {
		return err
	}
	defer m.Wipe()
	kdf, err := threshold.NewPasswordKDF()
	if err != nil {
		return err
	}
	v := &vault.Vault{
		User: user, Network: networkFile, DeviceKey: rawKey,
		MasterSecret: append([]byte(nil), m.Bytes()...), PasswordKDF: kdf,
	}
	defer v.Wipe()
	return vault.Create(path, v)
}

// Open opens the vault at path (holding it against other writers until
// Close) and starts the device's host. It does not log in; see Unlock.
func Open(path string, opts Options) (*Client, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.MaxLoginWait == 0 {
		opts.MaxLoginWait = defaultMaxLoginWait
	}
	vh, err := vault.Open(path)
	if err != nil {
		return nil, err
	}
	c := &Client{opts: opts, log: opts.Logger, vh: vh, v: vh.Vault(), saved: time.Now()}
	c.bg, c.bgCancel = context.WithCancel(context.Background())
	if err := c.start(); err != nil {
		vh.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) start() error {
	var err error
	if c.net, err = ParseNetwork(c.v.Network); err != nil {
		return fmt.Errorf("the vault's copy of the network file: %w", err)
	}
	key, err := crypto.UnmarshalPrivateKey(c.v.DeviceKey)
	if err != nil {
		return fmt.Errorf("the vault's device key: %w", err)
	}
	if c.host, err = newHost(key); err != nil {
		return fmt.Errorf("start the device's host: %w", err)
	}
	if c.nodes, err = custodians(c.net); err != nil {
		return err
	}
	c.journal = newRequestJournal(c.vh, c.nodes)
	return nil
}

// custodians makes the custodians of net, in network order.
func custodians(net *Network) ([]*custodian, error) {
	var out []*custodian
	for i := range net.Nodes {
		info, err := net.node(i).AddrInfo()
		if err != nil {
			return nil, err
		}
		out = append(out, &custodian{index: i, name: net.Nodes[i].Name, info: info, idText: info.ID.String(), relogins: make(chan struct{}, 1)})
	}
	return out, nil
}

// User is the vault's user.
func (c *Client) User() string { return c.v.User }

// Network is the network the vault belongs to.
func (c *Client) Network() *Network { return c.net }

// Device is the peer ID of the vault's device key: the client peer ID the
// nodes log for this device's requests.
func (c *Client) Device() peer.ID { return c.host.ID() }

// Receipts returns copies of the release receipts the vault keeps, oldest
// first (see GetMany), those not saved yet included.
func (c *Client) Receipts() ([]vault.Receipt, error) { return c.vh.Receipts() }

// Requests returns the release requests in the vault's journal, in the
// order they were recorded (see GetMany), and the newest time of any
// request the journal dropped (zero if none): see vault.Handle.Requests.
// The journal holds every request sent, and some that were not: an unlock
// records a request for every node and asks only those it needs, and the
// requests of the next unlock are recorded ahead of it.
func (c *Client) Requests() (rs []vault.Request, droppedUntil time.Time, err error) {
	return c.journal.requests()
}

// Close saves the receipts not saved yet (see GetMany), locks the client,
// stops its host and releases the vault.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.ops.Wait() // no operation starts now (begin)
	c.bgCancel()
	c.bgWait.Wait()
	var errs []error
	c.mu.Lock()
	if c.unsaved > 0 || c.unsavedFailed.Load() {
		errs = append(errs, c.saveReceipts())
	}
	c.mu.Unlock()
	c.Lock()
	if c.host != nil {
		errs = append(errs, c.host.Close())
	}
	c.mu.Lock()
	c.v.Wipe()
	c.mu.Unlock()
	errs = append(errs, c.vh.Close())
	return errors.Join(errs...)
}

// Lock forgets every login key, and ends the sessions on this side.
// Wiping is best effort (see package threshold).
func (c *Client) Lock() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unlocked = false
	for _, n := range c.nodes {
		n.mu.Lock()
		n.auth.Wipe()
		n.auth, n.loggedIn, n.dropped = threshold.NodeAuthKey{}, false, nil
		n.mu.Unlock()
	}
}

// Unlock logs in at every node in parallel with login v2 (docs/login.md):
// it hashes the password once, blinds it, checks each node's evaluation
// against the public share the vault kept as it arrives, makes every
// node's login key from the first threshold of good ones, and signs each
// node's challenge. It succeeds when at least the threshold of nodes
// accept; otherwise it returns a *QuorumError naming every node and its
// reason (see its Reason: ErrWrongPassword, with the attempts each node
// has left; ErrLocked, ErrNotEnrolled, …). A node whose evaluation does
// not verify is named with ErrBadEvaluation (and at warn level when the
// unlock succeeds anyway) and sent no signature. A node's login backoff up
// to Options.MaxLoginWait is waited out once (see there). Changes of
// records that an earlier run left unfinished are made again (see
// Replace), and deletions it left pending are retried.
func (c *Client) Unlock(ctx context.Context, password []byte) error {
	_, err := c.unlock(ctx, password, c.net.Threshold)
	return err
}

// unlock is Unlock that waits for wait nodes to accept (or fail) rather
// than the threshold, and returns each node's error, in network order.
func (c *Client) unlock(ctx context.Context, password []byte, wait int) ([]error, error) {
	done, err := c.begin(false)
	if err != nil {
		return nil, err
	}
	defer done()
	start := time.Now()
	d, pwh, err := c.prepareLogin(password)
	if errors.Is(err, errNotDealt) {
		return nil, c.notEnrolled("unlock")
	}
	if err != nil {
		return nil, err
	}
	defer d.wipe()
	defer pwh.Wipe()
	hashed := time.Now()
	errs, oprf, err := c.loginV2(ctx, d, pwh, wait, false)
	if err != nil {
		return nil, err
	}
	qerr := c.quorum("unlock", c.net.Threshold, errs)
	if qerr != nil {
		if d, errs, oprf, err = c.followChange(ctx, d, pwh, wait, errs, oprf); err != nil {
			return nil, err
		}
		defer d.wipe()
		qerr = c.quorum("unlock", c.net.Threshold, errs)
	}
	c.log.Debug("unlock", zap.Duration("password_hash", hashed.Sub(start)), zap.Duration("logins", time.Since(hashed)),
		zap.Duration("oprf_client", oprf), zap.Bool("ok", qerr == nil))
	c.markDelivered(c.acceptedPending(d, errs))
	if qerr != nil {
		c.Lock()
		return errs, qerr
	}
	c.mu.Lock()
	c.unlocked = true
	c.mu.Unlock()
	c.journal.fillAhead(&c.bgWait) // the first unlock's requests
	c.resumeChanges(ctx)
	c.retryDeletes(ctx)
	return errs, nil
}

// followChange logs in again, under the dealing another device's password
// change made, when the logins under d (errs) handed out its note and the
// vault took it (followNote). Otherwise it returns d, errs and oprf as
// they are. The caller wipes the dealing returned, as d.
func (c *Client) followChange(ctx context.Context, d *dealing, pwh threshold.PasswordKey, wait int, errs []error, oprf time.Duration) (*dealing, []error, time.Duration, error) {
	adopted, err := c.followNote(d, errs)
	if err != nil || !adopted {
		return d, errs, oprf, err
	}
	c.mu.Lock()
	nd, err := c.loadDealing()
	c.mu.Unlock()
	if err != nil {
		return d, errs, oprf, err
	}
	errs, more, err := c.loginV2(ctx, nd, pwh, wait, false)
	if err != nil {
		nd.wipe()
		return d, nil, oprf, err
	}
	return nd, errs, oprf + more, nil
}

// prepareLogin loads the vault's login dealing and hashes the password
// with the vault's Argon2id parameters. The caller wipes both.
func (c *Client) prepareLogin(password []byte) (*dealing, threshold.PasswordKey, error) {
	c.mu.Lock()
	d, err := c.loadDealing()
	kdf := c.v.PasswordKDF
	c.mu.Unlock()
	if err != nil {
		return nil, threshold.PasswordKey{}, err
	}
	pwh, err := kdf.Derive(password)
	if err != nil {
		d.wipe()
		return nil, threshold.PasswordKey{}, err
	}
	return d, pwh, nil
}

// notEnrolled is the error of an operation that needs a login before the
// vault has a dealing: every node, unasked, is one this device is not
// enrolled at.
func (c *Client) notEnrolled(op string) error {
	errs := make([]error, len(c.nodes))
	for i := range errs {
		errs[i] = &refusal{kind: ErrNotEnrolled, node: errNotDealt, msg: ErrNotEnrolled.Error()}
	}
	return c.quorum(op, c.net.Threshold, errs)
}

// loginV2 logs in at every node with the password hash pwh and the
// dealing d (see Unlock), until need of them accepted (see loginAll), and
// waits out a short backoff once (waitBackoff). withHeld also evaluates
// with the key shares the vault holds (Enroll). It returns each node's
// error, in network order, and the time the client spent on the OPRF.
func (c *Client) loginV2(ctx context.Context, d *dealing, pwh threshold.PasswordKey, need int, withHeld bool) ([]error, time.Duration, error) {
	var oprf time.Duration
	var made bool // some round made the login keys
	run := func(nodes []*custodian, need int) ([]error, error) {
		if made {
			return c.loginAll(ctx, nodes, need, nil), nil
		}
		c.mu.Lock()
		m, err := threshold.MasterSecretFromBytes(c.v.MasterSecret)
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		round, err := newLoginRound(d, pwh, m, len(nodes), func(out toprf.Output, m threshold.MasterSecret) error {
			return c.deriveLoginKeys(out, m, d.epoch)
		})
		if err != nil {
			return nil, err
		}
		defer round.close()
		if withHeld {
			round.evaluateHeld()
		}
		errs := c.loginAll(ctx, nodes, need, round)
		oprf += round.clientCPU()
		made = round.ok()
		return errs, nil
	}
	errs, err := run(c.nodes, need)
	if err != nil {
		return nil, 0, err
	}
	errs, err = c.waitBackoff(ctx, errs, need, run)
	return errs, oprf, err
}

// acceptedPending are the nodes whose key share d still held and that took
// a login: they hold their shares (an enrollment whose answer was lost).
func (c *Client) acceptedPending(d *dealing, errs []error) []int {
	var out []int
	for i, err := range errs {
		if err == nil && d.pending(i) {
			out = append(out, i)
		}
	}
	return out
}

// loginAll logs in at nodes in parallel, each with round (see login), and
// returns each one's error, in the order of nodes. It returns when every
// login ended, or loginGrace after need of them succeeded: a node that is
// down does not hold up an unlock that enough others accepted. Logins
// still running then go on in the background, and a success still opens
// its session; their errors here are errPending.
func (c *Client) loginAll(ctx context.Context, nodes []*custodian, need int, round *loginRound) []error {
	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(nodes))
	lctx, cancel := context.WithTimeout(c.bg, c.opts.Timeout)
	var running sync.WaitGroup
	for i, n := range nodes {
		running.Add(1)
		go func() {
			defer running.Done()
			results <- result{i, c.login(lctx, n, round)}
		}()
	}
	c.bgWait.Add(1)
	go func() {
		defer c.bgWait.Done()
		running.Wait()
		cancel()
	}()
	errs := make([]error, len(nodes))
	for i := range errs {
		errs[i] = errPending
	}
	var grace <-chan time.Time
	ok := 0
	for range nodes {
		select {
		case r := <-results:
			errs[r.i] = r.err
			if r.err == nil {
				if ok++; ok == need {
					grace = time.After(loginGrace)
				}
			}
			continue
		case <-grace:
		case <-ctx.Done():
		}
		break
	}
	return errs
}

// backoffSlack is added to a node's retry-after: the node rounds it down
// to the millisecond, and a retry a moment early is refused again.
const backoffSlack = 50 * time.Millisecond

// waitBackoff waits out, once, the login backoff of the nodes that asked
// to wait (RATE_LIMITED at login) when that is what keeps the logins in
// errs (one per node, in network order) from need successes and every such
// wait is within Options.MaxLoginWait; it says so at warn level and logs in
// at those nodes again with login. It returns errs with their new
// outcomes.
func (c *Client) waitBackoff(ctx context.Context, errs []error, need int, login func([]*custodian, int) ([]error, error)) ([]error, error) {
	var again []*custodian
	var names []string
	var wait time.Duration
	ok := 0
	for i, err := range errs {
		var se *api.StatusError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &se) && se.Code == api.Code_RATE_LIMITED && se.RetryAfter > 0 && se.RetryAfter <= c.opts.MaxLoginWait:
			again = append(again, c.nodes[i])
			names = append(names, c.nodes[i].name)
			wait = max(wait, se.RetryAfter)
		}
	}
	if ok >= need || len(again) == 0 || ok+len(again) < need {
		return errs, nil
	}
	wait += backoffSlack
	c.log.Warn(fmt.Sprintf("%s asked to wait before the next login (after a failed one, say): waiting %s", joinNames(names), wait.Round(time.Millisecond)))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return errs, nil
	}
	retried, err := login(again, need-ok)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(errs)
	for j, err := range retried {
		out[again[j].index] = err
	}
	return out, nil
}

// quorum returns a *QuorumError when fewer than need of errs are nil. A
// node whose evaluation of the password verified, when too few others did
// for the login keys to be made (errNoLoginKeys), counts among those that
// agreed: it did its part, and the error names the nodes that did not.
func (c *Client) quorum(op string, need int, errs []error) error {
	q := &QuorumError{Op: op, Need: need}
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			q.Have++
		case errors.Is(err, errNoLoginKeys):
			q.Have++
		default:
			q.Nodes = append(q.Nodes, &NodeError{Node: c.nodes[i].name, Err: err})
		}
	}
	if ok >= need {
		return nil
	}
	q.Have = min(q.Have, need-1)
	return q
}

// session makes sure the client has a live session at n, logging in again
// when the last one is idle or expired (the login key stays in memory
// while unlocked). A node whose evaluation did not verify at the last
// unlock is left out (its ErrBadEvaluation) until a full login there
// verifies: it is not logged in again with a challenge alone.
func (c *Client) session(ctx context.Context, n *custodian) error {
	n.mu.Lock()
	now := time.Now()
	live := n.loggedIn && now.Sub(n.lastUsed) < n.idle-time.Second && now.Before(n.expires.Add(-time.Second))
	haveKey := !n.auth.IsZero()
	dropped := n.dropped
	if live {
		n.lastUsed = now
	}
	n.mu.Unlock()
	if dropped != nil {
		return dropped
	}
	if live {
		return nil
	}
	if !haveKey {
		return ErrVaultLocked
	}
	return c.relogin(ctx, n)
}

// relogin logs in at n again for a request. The login is not cancelled
// with ctx: an unlock that took enough shares elsewhere stops waiting for
// n, and the login it started still opens a session for the next request
// (a node that restarted would otherwise be left behind by every warm
// unlock). It ends with the client (Close) or after the request timeout.
//
// Requests that find the session gone at once share one login: each
// attempt counts at the node and sets its backoff, which would refuse the
// others' logins.
func (c *Client) relogin(ctx context.Context, n *custodian) error {
	before := n.loginCount()
	select {
	case n.relogins <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-n.relogins }()
	if n.loginCount() != before {
		return nil // another request logged in while this one waited
	}
	lctx, cancel := context.WithTimeout(c.bg, c.opts.Timeout)
	defer cancel()
	err := c.login(lctx, n, nil)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// authed runs a request that needs a session at n, logging in again once
// if the node says the session is gone (it may have restarted).
func (c *Client) authed(ctx context.Context, n *custodian, req func() error) error {
	if err := c.session(ctx, n); err != nil {
		return err
	}
	err := req()
	if errors.Is(err, api.ErrUnauthenticated) {
		n.mu.Lock()
		n.loggedIn = false
		n.mu.Unlock()
		if err := c.relogin(ctx, n); err != nil {
			return err
		}
		err = req()
	}
	return err
}

// signRelease signs a release request with the device key.
func (c *Client) signRelease(n *custodian, req *api.ReleaseRequest) error {
	msg := api.ReleaseTranscript([]byte(n.info.ID), []byte(c.host.ID()), c.v.User, req.TimeUnixMs, req.Nonce, req.Units)
	sig, err := c.host.Peerstore().PrivKey(c.host.ID()).Sign(msg)
	if err != nil {
		return err
	}
	req.DeviceSignature = sig
	return nil
}
