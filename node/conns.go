package node

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Connection slots are few (limits.max_connections) and fresh device keys
// are free, so strangers could hold every slot and stop enrolled devices
// from logging in. A connGuard keeps them from it, on top of the resource
// manager's caps per address and subnet (host.go):
//
//   - peers that are not enrolled here hold at most strangerShare of the
//     slots; the rest are kept for enrolled devices (a gater refuses a
//     stranger's connection past it, once its peer ID is known);
//   - a connection whose device is not logged in (nor an auditor's) is
//     closed once it has had no request open for limits.conn_idle_timeout,
//     so holding a slot costs a stranger a request now and then;
//   - a logged-in device's connection is protected in the connection
//     manager, which trims the others when the node nears its limit.
//
// All connections of a test come from one address, so tests can show the
// first and last of these, not the caps per address.
type connGuard struct {
	strangerMax int           // connections peers not enrolled here may hold
	idle        time.Duration // limits.conn_idle_timeout
	enrolled    func(peer.ID) bool
	kept        func(peer.ID) bool // logged in, or an auditor: never closed for idleness
	protector   protector

	mu        sync.Mutex
	strangers map[network.Conn]struct{}  // connections counted against strangerMax
	lastUsed  map[network.Conn]time.Time // when a request on the connection last ended
	protected map[peer.ID]struct{}
}

// protector is the part of the connection manager that connGuard uses.
type protector interface {
	Protect(id peer.ID, tag string)
	Unprotect(id peer.ID, tag string) bool
}

// sessionTag marks the peers the connection manager must not trim.
const sessionTag = "custos-session"

// strangerShare is the share of limits.max_connections that peers not
// enrolled here may hold, in quarters.
const strangerShare = 3

func newConnGuard(maxConns int, idle time.Duration, enrolled, kept func(peer.ID) bool) *connGuard {
	return &connGuard{
		strangerMax: max(1, maxConns*strangerShare/4),
		idle:        idle,
		enrolled:    enrolled,
		kept:        kept,
		strangers:   map[network.Conn]struct{}{},
		lastUsed:    map[network.Conn]time.Time{},
		protected:   map[peer.ID]struct{}{},
	}
}

// The gater: every step is allowed but the last, which counts strangers.

func (g *connGuard) InterceptPeerDial(peer.ID) bool               { return true }
func (g *connGuard) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }
func (g *connGuard) InterceptAccept(network.ConnMultiaddrs) bool  { return true }
func (g *connGuard) InterceptSecured(network.Direction, peer.ID, network.ConnMultiaddrs) bool {
	return true
}

// InterceptUpgraded admits c unless its peer is a stranger and strangers
// hold their share of the slots already.
func (g *connGuard) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	if g.enrolled(c.RemotePeer()) {
		return true, 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.strangers) >= g.strangerMax {
		return false, 0
	}
	g.strangers[c] = struct{}{}
	return true, 0
}

// The notifiee: a connection that closed is forgotten.

func (g *connGuard) Listen(network.Network, ma.Multiaddr)      {}
func (g *connGuard) ListenClose(network.Network, ma.Multiaddr) {}
func (g *connGuard) Connected(network.Network, network.Conn)   {}
func (g *connGuard) Disconnected(_ network.Network, c network.Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.strangers, c)
	delete(g.lastUsed, c)
}

// used notes that a request on c ended now.
func (g *connGuard) used(c network.Conn, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !c.IsClosed() {
		g.lastUsed[c] = now
	}
}

// loggedIn protects the connections of a device that logged in.
func (g *connGuard) loggedIn(p peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.protected[p]; !ok && g.protector != nil {
		g.protector.Protect(p, sessionTag)
		g.protected[p] = struct{}{}
	}
}

// sweep closes the connections among conns that are idle, as of now, and
// unprotects devices whose session ended. A stranger that has enrolled
// since it connected stops counting as one.
func (g *connGuard) sweep(conns []network.Conn, now time.Time) (closed int) {
	var idle []network.Conn
	g.mu.Lock()
	// Connections the swarm never took, or that closed as a request on
	// them ended, get no Disconnected.
	for c := range g.strangers {
		if c.IsClosed() {
			delete(g.strangers, c)
		}
	}
	for c := range g.lastUsed {
		if c.IsClosed() {
			delete(g.lastUsed, c)
		}
	}
	for p := range g.protected {
		if !g.kept(p) {
			g.protector.Unprotect(p, sessionTag)
			delete(g.protected, p)
		}
	}
	for _, c := range conns {
		p := c.RemotePeer()
		if _, ok := g.strangers[c]; ok && g.enrolled(p) {
			delete(g.strangers, c)
		}
		if g.kept(p) || c.Stat().NumStreams > 0 {
			continue
		}
		last := c.Stat().Opened
		if t, ok := g.lastUsed[c]; ok && t.After(last) {
			last = t
		}
		if now.Sub(last) >= g.idle {
			idle = append(idle, c)
		}
	}
	g.mu.Unlock()
	for _, c := range idle {
		_ = c.Close()
	}
	return len(idle)
}

// sweepPeriod is how often idle connections are looked for: often enough
// that one outlives limits.conn_idle_timeout by a fraction of it.
func (g *connGuard) sweepPeriod() time.Duration {
	return min(max(g.idle/4, 100*time.Millisecond), 5*time.Second)
}
