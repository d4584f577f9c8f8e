package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/threshold"
	"github.com/custos-network/custos/threshold/toprf"
)

// errNoLoginKeys is the error of a node whose evaluation verified when too
// few others did for the login keys to be made: the node is not at fault.
var errNoLoginKeys = errors.New("evaluated the password, but too few custodians did to make the login keys")

// loginRound is one login v2 (docs/login.md) at several nodes: the
// password hash blinded once, each node's evaluation checked against the
// public share the vault kept as it arrives, and, once k of them verified,
// the OPRF output combined and every node's login key derived from it.
// The logins at the nodes wait on it for their keys (wait), so that no
// node is sent a signature before the keys exist, and a node whose
// evaluation does not verify is sent none.
type loginRound struct {
	d      *dealing
	derive func(toprf.Output, threshold.MasterSecret) error // makes the login keys
	m      threshold.MasterSecret                           // a copy; wiped by close

	// reqMu lets evaluations be verified in parallel, and Finalize and
	// Wipe run alone (as toprf.Request asks).
	reqMu sync.RWMutex
	req   *toprf.Request

	mu      sync.Mutex
	evals   []toprf.Evaluation
	seen    map[int]bool
	waiting int           // nodes whose evaluation has not come or failed
	ready   chan struct{} // closed once the keys exist or never will
	err     error         // why there are no keys, once ready is closed
	cpu     time.Duration // the client's OPRF work: blind, checks, combination
}

// newLoginRound blinds pwh for a login at the nodes of d, of which nodes
// will answer (their logins report to verify or fail). derive is called
// once, with the combined output and m, neither of which it may keep. The
// round takes m over; the caller closes the round.
func newLoginRound(d *dealing, pwh threshold.PasswordKey, m threshold.MasterSecret, nodes int,
	derive func(toprf.Output, threshold.MasterSecret) error) (*loginRound, error) {
	start := time.Now()
	req, err := toprf.Blind(pwh.Bytes())
	if err != nil {
		m.Wipe()
		return nil, fmt.Errorf("blind the password: %w", err)
	}
	return &loginRound{d: d, derive: derive, m: m, req: req, seen: map[int]bool{}, waiting: nodes,
		ready: make(chan struct{}), cpu: time.Since(start)}, nil
}

// blinded is B, the element every node is sent.
func (r *loginRound) blinded() []byte {
	b := r.req.Blinded()
	return b[:]
}

// evaluateHeld evaluates the password with the key shares the vault still
// holds (an unfinished enrollment), as those nodes would: a second enroll
// needs the output before the nodes it has not reached hold their shares.
// They count toward k; waiting does not include them.
func (r *loginRound) evaluateHeld() {
	for i, ks := range r.d.held {
		if ks == nil {
			continue
		}
		z, proof, err := ks.Evaluate(r.blinded())
		if err != nil {
			panic("client: internal error: a held key share does not evaluate: " + err.Error())
		}
		r.waiting++ // verify counts it off again
		if err := r.verify(i, z[:], proof[:]); err != nil {
			panic("client: internal error: a held key share's evaluation does not verify")
		}
	}
}

// verify checks node i's evaluation against its public share and, when it
// is the k-th, combines. It returns ErrBadEvaluation for an answer that
// does not verify (the caller names the node and sends it nothing more).
func (r *loginRound) verify(i int, evaluated, proof []byte) error {
	start := time.Now()
	r.reqMu.RLock()
	ev, err := r.req.Verify(r.d.pubs[i], evaluated, proof)
	r.reqMu.RUnlock()
	took := time.Since(start)
	if errors.Is(err, toprf.ErrProof) {
		r.fail()
		return ErrBadEvaluation
	}
	if err != nil {
		// The public share was checked when the dealing was loaded.
		panic("client: internal error: verify an evaluation: " + err.Error())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cpu += took
	r.waiting--
	if r.seen[i] || r.closed() {
		return nil // its key is made, or never will be
	}
	r.seen[i] = true
	r.evals = append(r.evals, ev)
	if len(r.evals) == r.d.k {
		r.finish(r.combine())
	}
	return nil
}

// fail records a node that gave no evaluation that verifies.
func (r *loginRound) fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waiting--
	if !r.closed() && len(r.evals)+r.waiting < r.d.k {
		r.finish(errNoLoginKeys)
	}
}

// combine makes the OPRF output of the k evaluations and the login keys
// from it (r.mu held). It wipes the blind: later evaluations are still
// verified, against the blinded element, which is not secret.
func (r *loginRound) combine() error {
	start := time.Now()
	r.reqMu.Lock()
	defer r.reqMu.Unlock()
	defer r.req.Wipe()
	out, err := r.req.Finalize(r.d.k, r.evals)
	if err != nil {
		return fmt.Errorf("combine the evaluations: %w", err)
	}
	defer out.Wipe()
	r.cpu += time.Since(start)
	return r.derive(out, r.m)
}

// finish ends the round with err (nil: the keys exist), once (r.mu held).
func (r *loginRound) finish(err error) {
	r.err = err
	close(r.ready)
}

func (r *loginRound) closed() bool {
	select {
	case <-r.ready:
		return true
	default:
		return false
	}
}

// wait waits until the login keys exist (nil) or never will. A node that
// waits until ctx ends did its part: the others did not answer in time,
// so its error is errNoLoginKeys too.
func (r *loginRound) wait(ctx context.Context) error {
	select {
	case <-r.ready:
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("%w (%w)", errNoLoginKeys, ctx.Err())
	}
}

// ok reports whether the round made the login keys.
func (r *loginRound) ok() bool { return r.closed() && r.err == nil }

// clientCPU is the time the client spent on the OPRF so far.
func (r *loginRound) clientCPU() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cpu
}

// close wipes the blind, the input and the master secret, so that an
// evaluation that comes later makes no keys (logins still running then
// use the keys the round made, if it did).
func (r *loginRound) close() {
	r.reqMu.Lock()
	defer r.reqMu.Unlock()
	r.req.Wipe()
	r.m.Wipe()
}

// deriveLoginKeys makes every node's login key from the OPRF output and
// the master secret m, and gives each node its key for the dealing's
// epoch. It wipes rwd; the keys stay until Lock.
func (c *Client) deriveLoginKeys(out toprf.Output, m threshold.MasterSecret, epoch uint32) error {
	rwd, err := threshold.RandomizedPasswordFromBytes(out.Bytes())
	if err != nil {
		return err
	}
	defer rwd.Wipe()
	keys := make([]threshold.NodeAuthKey, len(c.nodes))
	for i, n := range c.nodes {
		if keys[i], err = threshold.DeriveLoginKey(rwd, m, []byte(n.info.ID)); err != nil {
			for _, k := range keys[:i] {
				k.Wipe()
			}
			return err
		}
	}
	for i, n := range c.nodes {
		n.mu.Lock()
		n.auth.Wipe()
		n.auth, n.epoch, n.loggedIn = keys[i], epoch, false
		n.mu.Unlock()
	}
	return nil
}

// login logs in at n on one stream. With a round it is a full login v2:
// the hello carries the blinded password, the node's evaluation is
// checked (ErrBadEvaluation if it does not verify: n is sent nothing
// more), and the challenge is signed once the round made the login keys.
// Without one (round nil) it logs in again with the login key kept since
// Unlock: the hello carries no blinded element. A node's answer that this
// device is not enrolled there (or holds no dealing of this epoch) matches
// ErrNotEnrolled; its refusal of the signature is a *WrongPasswordError.
func (c *Client) login(ctx context.Context, n *custodian, round *loginRound) (err error) {
	told := false // whether round heard from n
	defer func() {
		if round != nil && !told {
			round.fail()
		}
	}()
	hello := &api.LoginHello{User: c.v.User, DeviceToken: c.deviceToken(n)}
	if round != nil {
		hello.Epoch, hello.Blinded = round.d.epoch, round.blinded()
	} else {
		n.mu.Lock()
		hello.Epoch = n.epoch
		n.mu.Unlock()
	}
	if err := c.connect(ctx, n); err != nil {
		return err
	}
	s, err := c.host.NewStream(ctx, n.info.ID, api.ProtocolLogin)
	if err != nil {
		c.forget(ctx, n)
		return fmt.Errorf("open login: %w", DialCause(err))
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(c.opts.Timeout))
	defer context.AfterFunc(ctx, func() { s.Reset() })()
	r := api.NewReader(s, api.MaxMessageSize)
	if err := api.Write(s, hello); err != nil {
		c.forget(ctx, n)
		return err
	}
	var ch api.LoginChallenge
	if err := r.Read(&ch); err != nil {
		c.forget(ctx, n)
		return fmt.Errorf("read challenge: %w", err)
	}
	if err := api.FromProto(ch.Error); err != nil {
		if errors.Is(err, api.ErrNotFound) {
			r := refusal{kind: ErrNotEnrolled, node: err, msg: ErrNotEnrolled.Error()}
			if ch.DealingNote != nil {
				return &staleDealing{refusal: r, note: ch.DealingNote}
			}
			return &r
		}
		return helloRefusal(hello, err)
	}
	if len(ch.Nonce) != api.NonceSize {
		return errors.New("the node sent a malformed challenge")
	}
	if round != nil {
		told = true
		if err := round.verify(n.index, ch.Evaluated, ch.Proof); err != nil {
			s.Reset()
			c.drop(n, err)
			return err
		}
		if err := round.wait(ctx); err != nil {
			return err
		}
	}
	if err := c.signChallenge(ctx, n, s, r, ch.Nonce); err != nil {
		return err
	}
	if round != nil {
		c.drop(n, nil) // its evaluation verified
	}
	return nil
}

// staleDealing is a node's refusal of a login under a dealing it holds no
// more, with the note of its current dealing, made by a password change on
// another device of the user (followNote). It matches ErrNotEnrolled.
type staleDealing struct {
	refusal
	note *api.DealingNote
}

// drop leaves n out of the requests of this unlock for err (nil: takes it
// back), and names it at warn level: when the unlock succeeds anyway, that
// is the only place a user sees it.
func (c *Client) drop(n *custodian, err error) {
	n.mu.Lock()
	n.dropped = err
	n.mu.Unlock()
	if err != nil {
		c.log.Warn("a custodian sent a password evaluation that does not verify against its public share (faulty or lying); it is left out",
			zap.String("node", n.name))
	}
}

// signChallenge signs the login challenge nonce with n's login key and reads the
// node's verdict.
func (c *Client) signChallenge(ctx context.Context, n *custodian, s io.Writer, r *api.Reader, nonce []byte) error {
	n.mu.Lock()
	sig, err := n.auth.Sign(api.LoginTranscript([]byte(n.info.ID), []byte(c.host.ID()), c.v.User, nonce))
	n.mu.Unlock()
	if err != nil {
		return ErrVaultLocked
	}
	start := time.Now()
	if err := api.Write(s, &api.LoginProof{Signature: sig}); err != nil {
		return err
	}
	var res api.LoginResult
	if err := r.Read(&res); err != nil {
		c.forget(ctx, n)
		return fmt.Errorf("read login result: %w", err)
	}
	n.lat.seed(time.Since(start)) // a signature check and a durable log entry, as a release
	if err := api.FromProto(res.Error); err != nil {
		if errors.Is(err, api.ErrUnauthenticated) {
			return &WrongPasswordError{AttemptsLeft: int(res.AttemptsLeft), Err: err}
		}
		return err
	}
	n.mu.Lock()
	n.loggedIn, n.lastUsed = true, time.Now()
	n.logins++
	n.idle = time.Duration(res.IdleTimeoutMs) * time.Millisecond
	n.expires = time.UnixMilli(int64(res.ExpiresUnixMs))
	n.mu.Unlock()
	return nil
}
