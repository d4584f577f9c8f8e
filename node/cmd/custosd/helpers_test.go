package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node"
	"github.com/custos-network/custos/node/audit"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
	"github.com/custos-network/custos/node/store"
)

// Options for test nodes.

// fastBackoff makes failed logins wait a millisecond or two, not seconds.
func fastBackoff(c *config.Config) {
	c.Auth.BackoffBase = time.Millisecond
	c.Auth.BackoffMax = 2 * time.Millisecond
}

// noReleaseLimits lets one device ask for many shares quickly.
func noReleaseLimits(c *config.Config) {
	c.Limits.UnitReleases = config.Bucket{Burst: 1 << 20, Every: time.Millisecond}
	c.Limits.UserReleases = config.Bucket{Burst: 1 << 20, Every: time.Millisecond}
	c.Limits.MaxStreamsPerPeer = 256
}

// stop stops p with SIGTERM and fails the test unless it exits 0.
func stop(t testing.TB, p *nodetest.Process) {
	t.Helper()
	if err := p.Terminate(t); err != nil {
		t.Fatalf("custosd exited with %v after SIGTERM, want exit code 0\n%s", err, p.Log())
	}
}

// tcpInfo is how a device dials p, over TCP only: a killed node's TCP
// connections end at once, where a QUIC one would linger until it times out.
func tcpInfo(t testing.TB, p *nodetest.Process) peer.AddrInfo {
	t.Helper()
	info := p.Info(t)
	var addrs []ma.Multiaddr
	for _, a := range info.Addrs {
		if _, err := a.ValueForProtocol(ma.P_TCP); err != nil {
			continue
		}
		if _, err := a.ValueForProtocol(ma.P_WS); err == nil {
			continue
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		t.Fatalf("the node listens on no TCP address: %v", info.Addrs)
	}
	info.Addrs = addrs
	return info
}

// connect (re)connects d to p, dropping what d knew of an earlier run of p.
func connect(t testing.TB, d *nodetest.Device, p *nodetest.Process) peer.ID {
	t.Helper()
	info := tcpInfo(t, p)
	_ = d.Host.Network().ClosePeer(info.ID)
	d.Host.Peerstore().ClearAddrs(info.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Connect(ctx, info); err != nil {
		t.Fatalf("connect to the node: %v", err)
	}
	return info.ID
}

// enroll makes a device for user and enrolls it at p (open enrollment).
func enroll(t testing.TB, p *nodetest.Process, user string) (*nodetest.Device, peer.ID) {
	t.Helper()
	d := nodetest.NewDevice(t, user)
	id := connect(t, d, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Enroll(ctx, id, ""); err != nil {
		t.Fatalf("enroll: %v", err)
	}
	return d, id
}

// login logs d in, waiting out backoff and the hello limit as a client
// would.
func login(t testing.TB, d *nodetest.Device, id peer.ID) {
	t.Helper()
	if err := loginWith(d, id, d.AuthKey(id)); err != nil {
		t.Fatalf("login: %v", err)
	}
}

func loginWith(d *nodetest.Device, id peer.ID, key ed25519.PrivateKey) error {
	for range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := d.LoginWith(ctx, id, key)
		cancel()
		var se *api.StatusError
		if errors.As(err, &se) && se.Code == api.Code_RATE_LIMITED {
			time.Sleep(min(max(se.RetryAfter, time.Millisecond), 2*time.Second))
			continue
		}
		return err
	}
	return errors.New("login: still rate limited after 50 tries")
}

// wrongKey is a login key that is not the device's.
func wrongKey() ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// release asks for the shares of units with a request the caller keeps, so
// that it can find the request's log entry later.
func release(ctx context.Context, d *nodetest.Device, id peer.ID, units ...*api.UnitRef) (*api.ReleaseRequest, *api.ReleaseResponse, error) {
	req := d.ReleaseRequest(id, units...)
	var resp api.ReleaseResponse
	if err := d.Call(ctx, id, api.ProtocolRelease, req, &resp); err != nil {
		return req, nil, err
	}
	return req, &resp, nil
}

// put stores a fresh unit at the node and returns it with its share.
func put(t testing.TB, d *nodetest.Device, id peer.ID) (*api.UnitRef, []byte) {
	t.Helper()
	u, sh := nodetest.Unit(), nodetest.Share()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.Put(ctx, id, u, sh); err != nil {
		t.Fatalf("put: %v", err)
	}
	return u, sh
}

// checkShares releases every unit of want (in batches) and checks that the
// node returns the very share that was put.
func checkShares(t testing.TB, d *nodetest.Device, id peer.ID, want map[string]held) {
	t.Helper()
	var units []*api.UnitRef
	for _, h := range want {
		units = append(units, h.unit)
	}
	for len(units) > 0 {
		batch := units[:min(len(units), 512)]
		units = units[len(batch):]
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, resp, err := release(ctx, d, id, batch...)
		cancel()
		if err == nil {
			err = api.FromProto(resp.Error)
		}
		if err != nil {
			t.Fatalf("release %d acknowledged units: %v", len(batch), err)
		}
		if len(resp.Shares) != len(batch) {
			t.Fatalf("release of %d units answered %d", len(batch), len(resp.Shares))
		}
		for _, s := range resp.Shares {
			h := want[string(s.Unit.GetUnitId())]
			if err := api.FromProto(s.Error); err != nil {
				t.Errorf("acknowledged unit %x is not released: %v", s.Unit.GetUnitId(), err)
				continue
			}
			if !bytes.Equal(s.Share, h.share) {
				t.Errorf("acknowledged unit %x: the node returns another share than was put", s.Unit.GetUnitId())
			}
		}
	}
}

// held is a unit the node acknowledged, with its share.
type held struct {
	unit  *api.UnitRef
	share []byte
	index uint64 // the put's log index
}

// offline is a stopped node's store, opened by the test as an auditor with
// the operator's keys would.
type offline struct {
	store  *store.Store
	log    *audit.Log
	origin string
	pub    ed25519.PublicKey
	peerID peer.ID
}

// openOffline opens the store of the stopped node p; it is closed when the
// test ends.
func openOffline(t testing.TB, p *nodetest.Process) *offline {
	t.Helper()
	cfg := p.Config
	priv, err := node.LoadIdentity(cfg.Path(cfg.IdentityKey))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := priv.Raw()
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	s := p.OpenStore(t)
	t.Cleanup(func() { s.Close() })
	origin := api.LogOrigin(cfg.Name)
	l, err := audit.New(origin, ed25519.PrivateKey(raw))
	if err != nil {
		t.Fatal(err)
	}
	return &offline{store: s, log: l, origin: origin, pub: ed25519.PrivateKey(raw).Public().(ed25519.PublicKey), peerID: id}
}

// entries reads and parses the whole log.
func (o *offline) entries(t testing.TB) []*api.Entry {
	t.Helper()
	var out []*api.Entry
	err := o.store.View(func(tx *store.Tx) error {
		n, err := tx.LogSize()
		if err != nil {
			return err
		}
		for i := range n {
			b, err := tx.LogEntry(i)
			if err != nil {
				return err
			}
			e, err := api.ParseEntry(b)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read the log: %v", err)
	}
	return out
}

// checkLog replays the whole log and checks that it is consistent with
// every signed checkpoint in cps.
func (o *offline) checkLog(t testing.TB, cps []string) {
	t.Helper()
	err := o.store.View(func(tx *store.Tx) error {
		n, root, err := o.log.Replay(tx)
		if err != nil {
			t.Errorf("replay the log: %v", err)
			return nil
		}
		if h, err := o.log.TreeHash(tx, n); err != nil || h != root {
			t.Errorf("tree hash of the whole log %v, replayed root differs (%v)", h, err)
		}
		for _, signed := range cps {
			cp, err := api.OpenCheckpoint([]byte(signed), o.origin, o.pub)
			if err != nil {
				t.Errorf("open checkpoint signed before the crash: %v", err)
				continue
			}
			if cp.Size > n {
				t.Errorf("a checkpoint of size %d was signed, but the log now has %d entries: acknowledged entries are lost", cp.Size, n)
				continue
			}
			old, err := o.log.TreeHash(tx, cp.Size)
			if err != nil || old != cp.Root {
				t.Errorf("the tree of the checkpoint's size %d has another root now (%v): the log was rewritten", cp.Size, err)
				continue
			}
			proof, err := o.log.ConsistencyProof(tx, cp.Size, n)
			if err != nil {
				t.Errorf("consistency proof %d to %d: %v", cp.Size, n, err)
				continue
			}
			if err := api.VerifyConsistency(proof, cp.Size, cp.Root, n, root); err != nil {
				t.Errorf("consistency of the checkpoint of size %d with the log of size %d: %v", cp.Size, n, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sameUnits reports whether two lists name the same unit versions.
func sameUnits(a, b []*api.UnitRef) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].UnitId, b[i].UnitId) || a[i].Version != b[i].Version {
			return false
		}
	}
	return true
}

// runCustosd runs the custosd binary with args and returns its output and
// exit code; it fails the test if it does not end within a minute.
func runCustosd(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodetest.Binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		code = ee.ExitCode()
	default:
		t.Fatalf("custosd %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), errb.String(), code
}

// errorLines returns the lines of a custosd's stderr that are not JSON log
// records.
func errorLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if l != "" && !strings.HasPrefix(l, "{") {
			out = append(out, l)
		}
	}
	return out
}

// stream is a load of puts and releases from several devices' goroutines,
// recording everything the node acknowledged.
type stream struct {
	d  *nodetest.Device
	id peer.ID

	mu       sync.Mutex
	puts     map[string]held
	order    []string // keys of puts, for picking one to release
	releases []answered
	failed   int // requests that got no answer (the node went away)

	inflight atomic.Int64 // requests sent and not yet answered
}

// answered is a release request the node answered, with its log index.
type answered struct {
	req   *api.ReleaseRequest
	resp  *api.ReleaseResponse
	index uint64
}

func newStream(d *nodetest.Device, id peer.ID) *stream {
	return &stream{d: d, id: id, puts: map[string]held{}}
}

// run runs workers goroutines of puts and releases until ctx ends.
func (s *stream) run(ctx context.Context, workers int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if (i+w)%2 == 0 {
					s.putOne(ctx)
				} else {
					s.releaseSome(ctx)
				}
			}
		})
	}
	return &wg
}

func (s *stream) putOne(ctx context.Context) {
	u, sh := nodetest.Unit(), nodetest.Share()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s.inflight.Add(1)
	index, err := s.d.Put(cctx, s.id, u, sh)
	s.inflight.Add(-1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed++
		return
	}
	s.puts[string(u.UnitId)] = held{unit: u, share: sh, index: index}
	s.order = append(s.order, string(u.UnitId))
}

func (s *stream) releaseSome(ctx context.Context) {
	s.mu.Lock()
	var units []*api.UnitRef
	for i := 0; i < 3 && len(s.order) > 0; i++ {
		k := s.order[(len(s.order)*7+i*13+len(s.releases))%len(s.order)]
		units = append(units, s.puts[k].unit)
	}
	s.mu.Unlock()
	if len(units) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s.inflight.Add(1)
	req, resp, err := release(cctx, s.d, s.id, dedupe(units)...)
	s.inflight.Add(-1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || resp.Error != nil {
		s.failed++
		return
	}
	s.releases = append(s.releases, answered{req: req, resp: resp, index: resp.LogIndex})
}

// waitInFlight waits (at most a second) until a request is in flight.
func (s *stream) waitInFlight() {
	for deadline := time.Now().Add(time.Second); s.inflight.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
	}
}

func dedupe(units []*api.UnitRef) []*api.UnitRef {
	seen := map[string]bool{}
	var out []*api.UnitRef
	for _, u := range units {
		if !seen[string(u.UnitId)] {
			seen[string(u.UnitId)] = true
			out = append(out, u)
		}
	}
	return out
}

// checkEntries checks, in the stopped node's log, the entry of every
// acknowledged put and every answered release.
func (s *stream) checkEntries(t testing.TB, entries []*api.Entry, nodeID peer.ID) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.puts {
		if h.index >= uint64(len(entries)) {
			t.Errorf("the entry %d of an acknowledged put is beyond the log (%d entries)", h.index, len(entries))
			continue
		}
		e := entries[h.index]
		if e.Kind != api.EntryKind_PUT || !sameUnits(e.Units, []*api.UnitRef{h.unit}) {
			t.Errorf("entry %d of an acknowledged put is %v of %d units", h.index, e.Kind, len(e.Units))
		}
	}
	for _, a := range s.releases {
		if a.index >= uint64(len(entries)) {
			t.Errorf("the entry %d of an answered release is beyond the log (%d entries)", a.index, len(entries))
			continue
		}
		e := entries[a.index]
		if e.Kind != api.EntryKind_RELEASE || !sameUnits(e.Units, a.req.Units) || !bytes.Equal(e.RequestNonce, a.req.Nonce) {
			t.Errorf("entry %d of an answered release is %v of %d units, not the release asked for", a.index, e.Kind, len(e.Units))
			continue
		}
		if err := e.VerifyDevice([]byte(nodeID)); err != nil {
			t.Errorf("entry %d: %v", a.index, err)
		}
	}
}

// checkpoints fetches the node's signed checkpoint every few milliseconds
// until ctx ends, and returns the last one it got.
func checkpoints(ctx context.Context, p *nodetest.Process) func() string {
	var mu sync.Mutex
	var last string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, err := p.Admin().Status(cctx)
			cancel()
			if err == nil && st.Checkpoint != "" {
				mu.Lock()
				last = st.Checkpoint
				mu.Unlock()
			}
			time.Sleep(15 * time.Millisecond)
		}
	}()
	return func() string {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}
