package node_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// A connFlood holds connections to a node from fresh identities, one per
// worker. A worker keeps its connection busy (a login hello every period,
// so that it is never idle) until the node closes it, then dials again at
// once; a connection the node refuses, or closes within refusedWithin of
// its dial, is tried again after refusedPause. A flood that dialled again
// at once after a refusal too would measure how fast the test machine
// spins, not what the node holds: the connection rate limit per address
// that stops that in the field is lifted by go-libp2p for loopback.
type connFlood struct {
	node  peer.ID
	addr  ma.Multiaddr
	every time.Duration

	held, made, refused atomic.Int64
}

const (
	refusedWithin = 200 * time.Millisecond
	refusedPause  = 100 * time.Millisecond
)

func newConnFlood(t *testing.T, info peer.AddrInfo, every time.Duration) *connFlood {
	t.Helper()
	f := &connFlood{node: info.ID, every: every}
	for _, a := range info.Addrs {
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			f.addr = a
		}
	}
	if f.addr == nil {
		t.Fatalf("the node has no TCP address: %v", info.Addrs)
	}
	return f
}

// run floods with workers connections until ctx ends.
func (f *connFlood) run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				if err := f.hold(ctx); err != nil || time.Since(start) < refusedWithin {
					f.refused.Add(1)
					select {
					case <-ctx.Done():
					case <-time.After(refusedPause):
					}
				}
			}
		})
	}
	wg.Wait()
}

// hold makes one connection and keeps it busy until the node closes it or
// ctx ends. A connection counts as held once the node has answered on it.
func (f *connFlood) hold(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := dialFresh(dctx, f.node, f.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := sendHello(dctx, conn, "ghost"); err != nil {
		return err // refused once its peer ID was known
	}
	f.made.Add(1)
	f.held.Add(1)
	defer f.held.Add(-1)
	t := time.NewTicker(f.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := sendHello(ctx, conn, "ghost"); err != nil {
				return nil // the node closed it
			}
		}
	}
}

// TestStrangerConnectionsDoNotLockOutEnrolledDevices: strangers (fresh
// device keys, not enrolled) that hold as many connections as the node
// takes, and keep them busy, cannot take the slots kept for enrolled
// devices: an enrolled device that was not connected logs in, and a
// logged-in device's connection is kept and serves its next request.
//
// On loopback every connection comes from one address, to which the
// resource manager's caps per address and subnet do not apply (the
// node gives loopback max_connections): the test shows the share of
// slots kept for enrolled devices and the protection of logged-in ones,
// not those caps.
func TestStrangerConnectionsDoNotLockOutEnrolledDevices(t *testing.T) {
	const maxConns = 16
	const idle = time.Second
	n := nodetest.Start(t, func(c *config.Config) {
		c.Limits.MaxConnections = maxConns
		c.Limits.ConnIdleTimeout = idle
	})
	ctx := t.Context()
	alice := loggedIn(t, n, "alice")
	aliceConns := alice.Host.Network().ConnsToPeer(n.ID())
	if len(aliceConns) != 1 {
		t.Fatalf("alice has %d connections to the node, want 1", len(aliceConns))
	}
	bob := device(t, n, "bob")
	if err := bob.Enroll(ctx, n.ID(), ""); err != nil {
		t.Fatal(err)
	}
	if err := bob.Host.Network().ClosePeer(n.ID()); err != nil {
		t.Fatal(err)
	}

	// The strangers' connections as the node sees them, at their most.
	var strangersPeak atomic.Int64
	sample := func() {
		count := int64(0)
		for _, c := range n.HostForTest().Network().Conns() {
			if p := c.RemotePeer(); p != alice.Host.ID() && p != bob.Host.ID() {
				count++
			}
		}
		for peak := strangersPeak.Load(); count > peak && !strangersPeak.CompareAndSwap(peak, count); peak = strangersPeak.Load() {
		}
	}

	flood := newConnFlood(t, n.Info(), idle/3)
	floodCtx, stop := context.WithCancel(ctx)
	var done sync.WaitGroup
	done.Go(func() { flood.run(floodCtx, maxConns) })
	done.Go(func() {
		for floodCtx.Err() == nil {
			sample()
			time.Sleep(10 * time.Millisecond)
		}
	})
	defer func() { stop(); done.Wait() }()
	waitFor(t, "the strangers to hold their share of the slots", func() bool { return flood.held.Load() >= maxConns*3/4 })
	// Long enough for the connection manager to trim, several times over,
	// what is past its grace period.
	time.Sleep(5 * idle)

	if _, err := alice.List(ctx, n.ID()); err != nil {
		t.Errorf("alice's next request during the flood: %v", err)
	}
	if aliceConns[0].IsClosed() {
		t.Error("the node closed the connection of alice, who is logged in")
	}
	start := time.Now()
	var err error
	for deadline := start.Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		dctx := network.WithForceDirectDial(ctx, "retry through the flood")
		if err = bob.Connect(dctx, n.Info()); err == nil {
			if err = bob.Login(ctx, n.ID()); err == nil {
				break
			}
		}
	}
	if err != nil {
		t.Errorf("bob, enrolled, could not log in within 30s of the flood: %v", err)
	} else {
		t.Logf("bob logged in %v into the flood", time.Since(start).Round(time.Millisecond))
	}
	t.Logf("strangers made %d connections, of which the node held at most %d at once; %d were refused or closed at once",
		flood.made.Load(), strangersPeak.Load(), flood.refused.Load())
	if peak := strangersPeak.Load(); peak > maxConns*3/4 {
		t.Errorf("strangers held %d connections at once; want at most %d, three quarters of max_connections", peak, maxConns*3/4)
	}
}

// TestIdleConnectionsAreClosedUnlessLoggedIn: a connection with no request
// open and no logged-in device is closed after limits.conn_idle_timeout,
// so a stranger holds a slot only as long as it keeps asking; a
// logged-in device's connection is kept however idle.
func TestIdleConnectionsAreClosedUnlessLoggedIn(t *testing.T) {
	const idle = 500 * time.Millisecond
	n := nodetest.Start(t, func(c *config.Config) { c.Limits.ConnIdleTimeout = idle })
	alice := loggedIn(t, n, "alice")
	stranger := device(t, n, "stranger")
	start := time.Now()
	conn := func(d *nodetest.Device) network.Conn {
		cs := d.Host.Network().ConnsToPeer(n.ID())
		if len(cs) != 1 {
			t.Fatalf("%s has %d connections to the node, want 1", d.User, len(cs))
		}
		return cs[0]
	}
	aliceConn, strangerConn := conn(alice), conn(stranger)
	waitFor(t, "the node to close the stranger's idle connection", strangerConn.IsClosed)
	if d := time.Since(start); d < idle {
		t.Errorf("the stranger's connection was closed after %v, before conn_idle_timeout (%v)", d, idle)
	}
	time.Sleep(3 * idle)
	if aliceConn.IsClosed() {
		t.Error("the node closed the idle connection of alice, who is logged in")
	}
	if _, err := alice.List(t.Context(), n.ID()); err != nil {
		t.Error(err)
	}
	if conn(alice) != aliceConn {
		t.Error("alice's request did not go on her connection")
	}
}
