package node_test

import (
	"context"
	"crypto/rand"
	"flag"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/sec"
	tpt "github.com/libp2p/go-libp2p/core/transport"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	tptu "github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	mss "github.com/multiformats/go-multistream"

	"github.com/custos-network/custos/node/api"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// floodTime is how long TestStrangerFloodDoesNotDelayEnrolledLogin floods.
// A node that kept a table of 10,000 challenges filled it in about 12 s of
// this flood without the race detector; run with -flood=30s to see that.
var floodTime = flag.Duration("flood", 5*time.Second, "how long the flood of fresh identities runs")

// A helloFlood asks a node for login challenges from fresh device keys: each
// hello comes on a new connection with a new key, which hangs up once
// answered. It counts the answers by code.
type helloFlood struct {
	node  peer.ID
	addr  ma.Multiaddr // the node's TCP address
	users []string     // named in turn, enrolled or not
	next  atomic.Int64

	mu      sync.Mutex
	answers map[api.Code]int
	lost    int // hellos that got no answer: a dial or a stream failed
}

func newHelloFlood(t *testing.T, info peer.AddrInfo, users ...string) *helloFlood {
	t.Helper()
	f := &helloFlood{node: info.ID, users: users, answers: map[api.Code]int{}}
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

// run floods from workers goroutines until ctx ends.
func (f *helloFlood) run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				user := f.users[int(f.next.Add(1))%len(f.users)]
				code, err := f.hello(ctx, user)
				if ctx.Err() == nil {
					f.count(code, err) // else cut short by the flood's end
				}
			}
		}()
	}
	wg.Wait()
}

func (f *helloFlood) count(code api.Code, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.lost++
		return
	}
	f.answers[code]++
}

// answered returns how many hellos the node answered, with which codes, and
// how many got no answer.
func (f *helloFlood) answered() (total int, byCode map[api.Code]int, lost int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	byCode = make(map[api.Code]int, len(f.answers))
	for c, k := range f.answers {
		byCode[c] = k
		total += k
	}
	return total, byCode, f.lost
}

// hello sends one hello for user from a fresh identity and returns the code
// of the node's answer.
func (f *helloFlood) hello(ctx context.Context, user string) (api.Code, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := dialFresh(ctx, f.node, f.addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return sendHello(ctx, conn, user)
}

// dialFresh connects to the node at addr with a fresh identity. It speaks
// libp2p below the host (a bare TCP transport, Noise and Yamux): a
// fraction of the cost of a new host per identity, so that a flood comes
// as fast as the node takes it.
func dialFresh(ctx context.Context, node peer.ID, addr ma.Multiaddr) (tpt.CapableConn, error) {
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	muxers := []tptu.StreamMuxer{{ID: yamux.ID, Muxer: yamux.DefaultTransport}}
	security, err := noise.New(noise.ID, priv, muxers)
	if err != nil {
		return nil, err
	}
	up, err := tptu.New([]sec.SecureTransport{security}, muxers, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	tr, err := tcp.NewTCPTransport(up, nil, nil)
	if err != nil {
		return nil, err
	}
	return tr.Dial(ctx, addr, node)
}

// sendHello asks for a login challenge of user on a new stream of conn and
// returns the code of the node's answer.
func sendHello(ctx context.Context, conn tpt.CapableConn, user string) (api.Code, error) {
	s, err := conn.OpenStream(ctx)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if err := mss.SelectProtoOrFail(api.ProtocolLogin, s); err != nil {
		return 0, err
	}
	if err := api.Write(s, &api.LoginHello{User: user}); err != nil {
		return 0, err
	}
	var ch api.LoginChallenge
	if err := api.NewReader(s, api.MaxMessageSize).Read(&ch); err != nil {
		return 0, err
	}
	return ch.GetError().GetCode(), nil
}

// TestStrangerFloodDoesNotDelayEnrolledLogin: fresh device keys are free,
// so hellos from devices that are not enrolled, naming users who exist and
// users who do not, get no challenge and must hold nothing at the node that
// an enrolled device's login needs. The enrolled device logs in at once,
// again and again while the flood runs and right after it, and is never
// refused.
func TestStrangerFloodDoesNotDelayEnrolledLogin(t *testing.T) {
	n := nodetest.Start(t, func(c *config.Config) {
		// Were challenges kept in a table, they would outlive the test, so
		// the table could only fill up.
		c.Auth.ChallengeTTL = time.Hour
	})
	alice := loggedIn(t, n, "alice")
	ctx := t.Context()

	flood := newHelloFlood(t, n.Info(), "alice", "bob", "ghost", "alice.b", "nobody@example.org")
	floodCtx, stop := context.WithTimeout(ctx, *floodTime)
	defer stop()
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		// Fewer connections at once than the node takes from one address
		// (64), so that the flood's dials are not what it refuses.
		flood.run(floodCtx, 16)
	}()
	login := func(when string) {
		t.Helper()
		if err := alice.Login(ctx, n.ID()); err != nil {
			total, _, _ := flood.answered()
			t.Errorf("alice's login %s, after %d hellos of strangers: %v", when, total, err)
		}
	}
	// auth.logins allows alice 30 logins at once: 10 stay within it.
	tick := time.NewTicker(*floodTime / 10)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-tick.C:
			login("during the flood")
		case <-done:
			waiting = false
		}
	}
	elapsed := time.Since(start)
	login("right after the flood")

	total, byCode, lost := flood.answered()
	t.Logf("%d hellos of fresh identities answered in %v (%.0f/s), by code %v; %d without an answer",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), byCode, lost)
	// The rate depends on the machine and its load; a flood that was
	// hardly answered at all would prove nothing.
	if total < 20 {
		t.Fatalf("the flood got only %d answers: it proves nothing", total)
	}
	if byCode[api.Code_NOT_FOUND] != total {
		t.Errorf("the strangers' hellos were answered %v, want every one NOT_FOUND (no challenge)", byCode)
	}
}
