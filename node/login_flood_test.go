package node_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"maps"
	"slices"
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

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// floodTime is how long TestStrangerFloodDoesNotDelayEnrolledLogin floods.
// A node that kept a table of 10,000 challenges filled it in about 12 s of
// this flood without the race detector; run with -flood=30s to see that.
var floodTime = flag.Duration("flood", 5*time.Second, "how long the flood of fresh identities runs")

// A strangerFlood sends requests to a node from fresh device keys, login
// hellos and enrollments with an invite token that is not valid in turn:
// each comes on a new connection with a new key, which hangs up once
// answered. It counts the answers by request and code.
type strangerFlood struct {
	node  peer.ID
	addr  ma.Multiaddr // the node's TCP address
	users []string     // named in turn, enrolled or not
	next  atomic.Int64

	mu      sync.Mutex
	answers map[string]map[api.Code]int // by request: "hello" or "enroll"
	lost    int                         // requests that got no answer: a dial or a stream failed
}

func newStrangerFlood(t *testing.T, info peer.AddrInfo, users ...string) *strangerFlood {
	t.Helper()
	f := &strangerFlood{node: info.ID, users: users, answers: map[string]map[api.Code]int{"hello": {}, "enroll": {}}}
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
func (f *strangerFlood) run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(f.next.Add(1))
				request, user := "hello", f.users[(i/2)%len(f.users)]
				if i%2 == 1 {
					request = "enroll"
				}
				code, err := f.send(ctx, request, user)
				if ctx.Err() == nil {
					f.count(request, code, err) // else cut short by the flood's end
				}
			}
		})
	}
	wg.Wait()
}

func (f *strangerFlood) count(request string, code api.Code, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.lost++
		return
	}
	f.answers[request][code]++
}

// answered returns how many requests of each kind the node answered, with
// which codes, and how many got no answer.
func (f *strangerFlood) answered() (total int, byCode map[string]map[api.Code]int, lost int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	byCode = map[string]map[api.Code]int{}
	for request, codes := range f.answers {
		byCode[request] = maps.Clone(codes)
		for _, k := range codes {
			total += k
		}
	}
	return total, byCode, f.lost
}

// send sends one request for user from a fresh identity and returns the
// code of the node's answer.
func (f *strangerFlood) send(ctx context.Context, request, user string) (api.Code, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := dialFresh(ctx, f.node, f.addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if request == "enroll" {
		return sendEnroll(ctx, conn, user)
	}
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

// floodOprf is the OPRF share of every enrollment of the flood: each is
// refused for its token, after the share is checked.
var floodOprf = nodetest.OprfShare(1, 1)

// sendEnroll asks to enroll a fresh login key for user with an invite
// token that is not valid, on a new stream of conn, and returns the code of
// the node's answer.
func sendEnroll(ctx context.Context, conn tpt.CapableConn, user string) (api.Code, error) {
	s, err := conn.OpenStream(ctx)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if err := mss.SelectProtoOrFail(api.ProtocolEnroll, s); err != nil {
		return 0, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	req := &api.EnrollRequest{User: user, Token: "custos-invite-" + hex.EncodeToString(key), AuthPublicKey: key, Oprf: floodOprf}
	if err := api.Write(s, req); err != nil {
		return 0, err
	}
	var resp api.EnrollResponse
	if err := api.NewReader(s, api.MaxMessageSize).Read(&resp); err != nil {
		return 0, err
	}
	return resp.GetError().GetCode(), nil
}

// TestStrangerFloodDoesNotDelayEnrolledLogin: fresh device keys are free,
// so hellos from devices that are not enrolled, naming users who exist and
// users who do not, and enrollments with invite tokens that are not valid
// (each one a trip through the store's single writer) get nothing and must
// hold nothing at the node that an enrolled device's login needs. The
// enrolled device logs in again and again while the flood runs and right
// after it, is never refused, and each login takes at most a generous
// multiple of one measured before the flood (the flood runs in this
// process too, so some slowdown is the test's own CPU load).
func TestStrangerFloodDoesNotDelayEnrolledLogin(t *testing.T) {
	n := nodetest.Start(t, nodetest.Invite, func(c *config.Config) {
		// Were challenges kept in a table, they would outlive the test, so
		// the table could only fill up.
		c.Auth.ChallengeTTL = time.Hour
	})
	alice := loggedIn(t, n, "alice")
	ctx := t.Context()

	// auth.logins allows alice 30 logins at once: 5 before the flood, 10
	// during it and one after stay within it.
	timed := func() (time.Duration, error) {
		start := time.Now()
		err := alice.Login(ctx, n.ID())
		return time.Since(start), err
	}
	var before []time.Duration
	for range 5 {
		d, err := timed()
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, d)
	}
	slices.Sort(before)
	baseline := before[len(before)/2]
	bound := max(floodSlowdown*baseline, minLoginBound)

	flood := newStrangerFlood(t, n.Info(), "alice", "bob", "ghost", "alice.b", "nobody@example.org")
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
	var during []time.Duration
	login := func(when string) {
		t.Helper()
		d, err := timed()
		during = append(during, d)
		total, _, _ := flood.answered()
		switch {
		case err != nil:
			t.Errorf("alice's login %s, after %d requests of strangers: %v", when, total, err)
		case d > bound:
			t.Errorf("alice's login %s, after %d requests of strangers, took %v; want at most %v (%v before the flood)",
				when, total, d.Round(time.Millisecond), bound, baseline.Round(time.Microsecond))
		}
	}
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
	slices.Sort(during)
	t.Logf("%d requests of fresh identities answered in %v (%.0f/s), by code %v; %d without an answer",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), byCode, lost)
	t.Logf("alice's logins: %v before the flood (median), %v median and %v at most during it (bound %v)",
		baseline.Round(time.Microsecond), during[len(during)/2].Round(time.Microsecond), during[len(during)-1].Round(time.Microsecond), bound)
	// The rate depends on the machine and its load; a flood that was
	// hardly answered at all would prove nothing.
	if total < 20 {
		t.Fatalf("the flood got only %d answers: it proves nothing", total)
	}
	if hellos := byCode["hello"]; hellos[api.Code_NOT_FOUND] == 0 || len(hellos) != 1 {
		t.Errorf("the strangers' hellos were answered %v, want every one NOT_FOUND (no challenge)", hellos)
	}
	if enrolls := byCode["enroll"]; enrolls[api.Code_UNAUTHENTICATED] == 0 || len(enrolls) != 1 {
		t.Errorf("the strangers' enrollments were answered %v, want every one UNAUTHENTICATED (no valid token)", enrolls)
	}
}

// A login during the flood may take floodSlowdown times one before it, or
// minLoginBound, whichever is longer: the flood's own work on this machine
// slows the node, but a login that waited for what strangers hold would
// wait for seconds, or time out.
const (
	floodSlowdown = 25
	minLoginBound = 2 * time.Second
)
