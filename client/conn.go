package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/sec"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	"google.golang.org/protobuf/proto"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/threshold"
)

// custodian is one node of the network as this client sees it.
type custodian struct {
	index  int
	name   string
	info   peer.AddrInfo
	idText string // info.ID in text, as the vault names nodes (base58 is slow to redo per unit)

	// relogins holds one login again at a time (see Client.relogin).
	relogins chan struct{}
	// lat is how fast n answered lately, for hedged requests (hedge.go).
	lat latency
	// opened is the checkpoint of n's that last opened under its pinned
	// key (Client.openCheckpoint).
	opened openedCheckpoint

	mu       sync.Mutex
	auth     threshold.NodeAuthKey // login key, from Unlock until Lock
	epoch    uint32                // the login dealing auth is of
	dropped  error                 // why n is left out until a login there verifies (ErrBadEvaluation)
	loggedIn bool
	logins   uint64        // successful logins so far
	idle     time.Duration // the node's session idle timeout
	expires  time.Time     // the session's absolute expiry
	lastUsed time.Time
	scan     *restoreScan // the last read of its log that found no restore

	// restoreMu makes one request at a time look into a log that does not
	// extend the kept checkpoint (explainFork).
	restoreMu sync.Mutex
}

// openedCheckpoint remembers one signed checkpoint that opened under its
// node's pinned key, and what it says: the same bytes open the same way
// under the same key.
type openedCheckpoint struct {
	mu     sync.Mutex
	signed []byte
	cp     api.Checkpoint
}

func (o *openedCheckpoint) get(signed []byte) (api.Checkpoint, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.signed == nil || !bytes.Equal(o.signed, signed) {
		return api.Checkpoint{}, false
	}
	return o.cp, true
}

func (o *openedCheckpoint) put(signed []byte, cp api.Checkpoint) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.signed, o.cp = bytes.Clone(signed), cp
}

// loginCount is how many logins at n succeeded so far.
func (n *custodian) loginCount() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.logins
}

// NewHost makes a libp2p host that dials custos nodes as a device does,
// with key as its identity: no listening, every transport the nodes may
// offer, and the same security and muxer choices. An auditor's tool uses it
// with the auditor key. The caller closes the host.
func NewHost(key crypto.PrivKey) (host.Host, error) { return newHost(key) }

// newHost makes the device's libp2p host (see NewHost).
func newHost(key crypto.PrivKey) (host.Host, error) {
	return libp2p.New(
		libp2p.Identity(key),
		libp2p.NoListenAddrs,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Transport(websocket.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.DisableRelay(),
		libp2p.Ping(false),
		libp2p.DisableMetrics(),
		libp2p.UserAgent("custos"),
	)
}

// connect dials the node at its pinned peer ID. The security handshake
// checks the key the node presents against the pin, so an impostor is
// refused before any request is written.
func (c *Client) connect(ctx context.Context, n *custodian) error {
	if len(c.host.Network().ConnsToPeer(n.info.ID)) > 0 {
		return nil
	}
	// Dial a pinned node whenever a request needs it. The swarm's dial
	// backoff suits peers found by discovery; here it would answer "dial
	// backoff" for seconds instead of why the last dial failed (an
	// impostor's key, say), and skip a node that has come back.
	if sw, ok := c.host.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(n.info.ID)
	}
	// The dial is part of the request Options.Timeout bounds; libp2p's own
	// dial timeout is longer, and a dead QUIC address answers nothing.
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	err := c.host.Connect(ctx, n.info)
	var mismatch sec.ErrPeerIDMismatch
	if errors.As(err, &mismatch) {
		return fmt.Errorf("%w (it is %s)", ErrImpostor, mismatch.Actual)
	}
	if err != nil {
		return fmt.Errorf("cannot reach it: %w", DialCause(err))
	}
	return nil
}

// DialCause shortens libp2p's dial errors, which list every address
// tried, to their cause.
func DialCause(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return errors.New("timed out")
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("connection refused")
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return errors.New("no route to it")
	case errors.Is(err, swarm.ErrNoAddresses):
		return errors.New("no addresses to dial")
	}
	return err
}

// call runs one request and answer on a new stream.
func (c *Client) call(ctx context.Context, n *custodian, p protocol.ID, req, resp proto.Message) error {
	if err := c.connect(ctx, n); err != nil {
		return err
	}
	s, err := c.host.NewStream(ctx, n.info.ID, p)
	if err != nil {
		c.forget(ctx, n)
		return fmt.Errorf("open %s: %w", p, DialCause(err))
	}
	deadline := time.Now().Add(c.opts.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = s.SetDeadline(deadline)
	// Exchange resets the stream when ctx ends (release stops waiting for
	// slow nodes by cancelling it), so nothing lingers.
	if err := api.Exchange(ctx, s, req, resp); err != nil {
		c.forget(ctx, n)
		return err
	}
	return nil
}

// forget closes the connections to n after a request on them failed, so
// that the next request dials again. A node that crashed leaves a QUIC
// connection that looks open until its idle timeout (nothing tells the
// client otherwise), and every request on it would wait out its deadline.
// A request that failed because ctx ended (the caller stopped waiting for a
// slow node) says nothing about the connection and keeps it.
func (c *Client) forget(ctx context.Context, n *custodian) {
	if ctx.Err() == nil {
		_ = c.host.Network().ClosePeer(n.info.ID)
	}
}

// fanOut runs fn for every node in parallel and returns each node's error,
// in network order.
func (c *Client) fanOut(ctx context.Context, nodes []*custodian, fn func(ctx context.Context, n *custodian) error) []error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(ctx, n)
		}()
	}
	wg.Wait()
	return errs
}
