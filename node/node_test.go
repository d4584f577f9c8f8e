package node_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// leakIgnores are the goroutines that libraries start once per process and
// never stop. None is needed: go-libp2p, quic-go, Badger, ristretto and zap
// stop every goroutine they start once the node and the devices are closed.
// An entry added here must name the library and why it never stops.
var leakIgnores []goleak.Option

// TestMain also removes the custosd that the benchmarks of real processes
// build.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, append(leakIgnores, goleak.Cleanup(func(code int) {
		nodetest.RemoveBinary()
		os.Exit(code)
	}))...)
}

// device makes a device of user connected to n.
func device(t testing.TB, n *nodetest.InProcess, user string) *nodetest.Device {
	t.Helper()
	d := nodetest.NewDevice(t, user)
	if err := d.Connect(context.Background(), n.Info()); err != nil {
		t.Fatal(err)
	}
	return d
}

// loggedIn makes a device of user that has enrolled at n (with an invite
// token when the node wants one) and logged in.
func loggedIn(t testing.TB, n *nodetest.InProcess, user string) *nodetest.Device {
	t.Helper()
	ctx := context.Background()
	d := device(t, n, user)
	token := ""
	if n.Config.Enrollment == "invite" {
		var err error
		if token, _, err = n.Invite(ctx, user, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Enroll(ctx, n.ID(), token); err != nil {
		t.Fatalf("enroll %s: %v", user, err)
	}
	if err := d.Login(ctx, n.ID()); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return d
}

// putUnits puts count fresh units for d and returns them with their shares.
func putUnits(t testing.TB, n *nodetest.InProcess, d *nodetest.Device, count int) ([]*api.UnitRef, [][]byte) {
	t.Helper()
	units, shares := make([]*api.UnitRef, count), make([][]byte, count)
	for i := range units {
		units[i], shares[i] = nodetest.Unit(), nodetest.Share()
		if _, err := d.Put(context.Background(), n.ID(), units[i], shares[i]); err != nil {
			t.Fatalf("put: %v", err)
		}
	}
	return units, shares
}

// rawLog returns n's audit log as stored; reading it replays its Merkle tree.
func rawLog(t testing.TB, n *nodetest.InProcess) [][]byte {
	t.Helper()
	raw, err := n.LogForTest()
	if err != nil {
		t.Fatalf("read the audit log: %v", err)
	}
	return raw
}

// entries returns n's audit log entries from index from on.
func entries(t testing.TB, n *nodetest.InProcess, from int) []*api.Entry {
	t.Helper()
	raw := rawLog(t, n)
	var out []*api.Entry
	for i, b := range raw[from:] {
		e, err := api.ParseEntry(b)
		if err != nil {
			t.Fatalf("log entry %d: %v", from+i, err)
		}
		out = append(out, e)
	}
	return out
}

// lastEntry returns n's newest audit log entry.
func lastEntry(t testing.TB, n *nodetest.InProcess) *api.Entry {
	t.Helper()
	raw := rawLog(t, n)
	if len(raw) == 0 {
		t.Fatal("the audit log is empty")
	}
	return entries(t, n, len(raw)-1)[0]
}

// want is what one audit log entry should say.
type want struct {
	kind    api.EntryKind
	user    string
	outcome api.Code
}

// expectEntries checks that the entries appended since *seen are exactly
// those of wants, and moves *seen past them.
func expectEntries(t testing.TB, n *nodetest.InProcess, seen *int, wants ...want) []*api.Entry {
	t.Helper()
	got := entries(t, n, *seen)
	*seen += len(got)
	if len(got) != len(wants) {
		var kinds []string
		for _, e := range got {
			kinds = append(kinds, e.Kind.String()+"/"+e.Outcome.String())
		}
		t.Fatalf("%d new log entries %v, want %d", len(got), kinds, len(wants))
	}
	for i, w := range wants {
		e := got[i]
		if e.Kind != w.kind || e.User != w.user || e.Outcome != w.outcome {
			t.Errorf("entry %d is %s of %q with outcome %s, want %s of %q with %s", i, e.Kind, e.User, e.Outcome, w.kind, w.user, w.outcome)
		}
		if e.TimeUnixMs == 0 {
			t.Errorf("entry %d has no time", i)
		}
	}
	return got
}

func unitKey(u *api.UnitRef) string { return fmt.Sprintf("%x/%d", u.UnitId, u.Version) }

// TestJourney runs each protocol's happy path, in order, at one node, and
// checks what each step appends to the audit log.
func TestJourney(t *testing.T) {
	ctx := t.Context()
	bigBatch := func(c *config.Config) { c.Limits.UserReleases.Burst = 1000 }
	n := nodetest.Start(t, bigBatch)
	var seen int
	alice := device(t, n, "alice")
	var units []*api.UnitRef
	var shares [][]byte

	t.Run("open enrollment admits a new user and logs ENROLL of epoch 1", func(t *testing.T) {
		if err := alice.Enroll(ctx, n.ID(), ""); err != nil {
			t.Fatal(err)
		}
		e := expectEntries(t, n, &seen, want{api.EntryKind_ENROLL, "alice", api.Code_OK})
		if !bytes.Equal(e[0].ClientPeerId, []byte(alice.Host.ID())) || e[0].Epoch != 1 {
			t.Errorf("the ENROLL entry names device %x and epoch %d, want alice's and 1", e[0].ClientPeerId, e[0].Epoch)
		}
	})
	t.Run("login counts an EVALUATION, opens a session and logs LOGIN", func(t *testing.T) {
		if err := alice.Login(ctx, n.ID()); err != nil {
			t.Fatal(err)
		}
		e := expectEntries(t, n, &seen, want{api.EntryKind_EVALUATION, "alice", api.Code_OK}, want{api.EntryKind_LOGIN, "alice", api.Code_OK})
		for _, en := range e {
			if !bytes.Equal(en.ClientPeerId, []byte(alice.Host.ID())) || en.Epoch != 1 {
				t.Errorf("the %s entry names device %x and epoch %d, want alice's and 1", en.Kind, en.ClientPeerId, en.Epoch)
			}
		}
	})
	t.Run("put stores a share and logs PUT with the log index it answers", func(t *testing.T) {
		for range 5 {
			u, s := nodetest.Unit(), nodetest.Share()
			idx, err := alice.Put(ctx, n.ID(), u, s)
			if err != nil {
				t.Fatal(err)
			}
			if int(idx) != seen {
				t.Fatalf("put answered log index %d, want %d", idx, seen)
			}
			e := expectEntries(t, n, &seen, want{api.EntryKind_PUT, "alice", api.Code_OK})
			if len(e[0].Units) != 1 || !bytes.Equal(e[0].Units[0].UnitId, u.UnitId) || e[0].Units[0].Version != u.Version {
				t.Fatal("the PUT entry does not name the unit put")
			}
			units, shares = append(units, u), append(shares, s)
		}
	})
	t.Run("concurrent puts each store their share and log one PUT each", func(t *testing.T) {
		const count = 295
		more, moreShares := make([]*api.UnitRef, count), make([][]byte, count)
		var wg sync.WaitGroup
		// The node resets streams over limits.max_streams_per_peer (64).
		sem := make(chan struct{}, 32)
		for i := range more {
			more[i], moreShares[i] = nodetest.Unit(), nodetest.Share()
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				if _, err := alice.Put(ctx, n.ID(), more[i], moreShares[i]); err != nil {
					t.Errorf("put %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		wants := make([]want, count)
		for i := range wants {
			wants[i] = want{api.EntryKind_PUT, "alice", api.Code_OK}
		}
		expectEntries(t, n, &seen, wants...)
		units, shares = append(units, more...), append(shares, moreShares...)
	})
	t.Run("release of one unit returns the share put and logs a device-signed RELEASE", func(t *testing.T) {
		resp, err := alice.Release(ctx, n.ID(), units[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Shares) != 1 || !bytes.Equal(resp.Shares[0].Share, shares[0]) || resp.Shares[0].Error != nil {
			t.Fatal("the release did not return the share that was put")
		}
		if int(resp.LogIndex) != seen {
			t.Errorf("release answered log index %d, want %d", resp.LogIndex, seen)
		}
		e := expectEntries(t, n, &seen, want{api.EntryKind_RELEASE, "alice", api.Code_OK})
		if err := e[0].VerifyDevice([]byte(n.ID())); err != nil {
			t.Errorf("the RELEASE entry does not verify: %v", err)
		}
	})
	t.Run("a batch release of 300 units returns each unit's own share, in order", func(t *testing.T) {
		resp, err := alice.Release(ctx, n.ID(), units...)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Shares) != len(units) {
			t.Fatalf("%d shares released, want %d", len(resp.Shares), len(units))
		}
		for i, sh := range resp.Shares {
			if sh.Error != nil || !bytes.Equal(sh.Unit.UnitId, units[i].UnitId) || !bytes.Equal(sh.Share, shares[i]) {
				t.Fatalf("share %d is not the one put for its unit (refusal: %v)", i, sh.Error)
			}
		}
		e := expectEntries(t, n, &seen, want{api.EntryKind_RELEASE, "alice", api.Code_OK})
		if len(e[0].Units) != len(units) || len(e[0].Refusals) != 0 {
			t.Errorf("the RELEASE entry names %d units and %d refusals, want %d and 0", len(e[0].Units), len(e[0].Refusals), len(units))
		}
		if err := e[0].VerifyDevice([]byte(n.ID())); err != nil {
			t.Errorf("the RELEASE entry does not verify: %v", err)
		}
		if err := e[0].VerifyDevice([]byte(alice.Host.ID())); err == nil {
			t.Error("the RELEASE entry verifies for another node")
		}
	})
	t.Run("list names every unit version of the user and logs nothing", func(t *testing.T) {
		bob := loggedIn(t, n, "bob")
		putUnits(t, n, bob, 2)
		seen = len(rawLog(t, n))
		got, err := alice.List(ctx, n.ID())
		if err != nil {
			t.Fatal(err)
		}
		var gotKeys, wantKeys []string
		for _, u := range got {
			gotKeys = append(gotKeys, unitKey(u))
		}
		for _, u := range units {
			wantKeys = append(wantKeys, unitKey(u))
		}
		slices.Sort(gotKeys)
		slices.Sort(wantKeys)
		if !slices.Equal(gotKeys, wantKeys) {
			t.Errorf("list named %d units, want alice's %d", len(got), len(units))
		}
		expectEntries(t, n, &seen)
	})
	t.Run("delete removes the unit version and logs DELETE", func(t *testing.T) {
		if err := alice.Delete(ctx, n.ID(), units[0]); err != nil {
			t.Fatal(err)
		}
		expectEntries(t, n, &seen, want{api.EntryKind_DELETE, "alice", api.Code_OK})
		got, err := alice.List(ctx, n.ID())
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range got {
			if bytes.Equal(u.UnitId, units[0].UnitId) {
				t.Fatal("the deleted unit is still listed")
			}
		}
		resp, err := alice.Release(ctx, n.ID(), units[0])
		if err != nil {
			t.Fatal(err)
		}
		if resp.Shares[0].Share != nil || resp.Shares[0].Error.GetCode() != api.Code_NOT_FOUND {
			t.Fatal("a deleted unit was released")
		}
		seen = len(rawLog(t, n))
	})
	t.Run("an invited user enrolls with the node's token, which is then used up", func(t *testing.T) {
		inv := nodetest.Start(t, nodetest.Invite)
		token, expires, err := inv.Invite(ctx, "carol", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if time.Until(expires) < 59*time.Minute {
			t.Errorf("the invite expires at %v, want in an hour", expires)
		}
		carol := device(t, inv, "carol")
		if err := carol.Enroll(ctx, inv.ID(), token); err != nil {
			t.Fatal(err)
		}
		if err := carol.Login(ctx, inv.ID()); err != nil {
			t.Fatal(err)
		}
		var seenInv int
		expectEntries(t, inv, &seenInv,
			want{api.EntryKind_INVITE, "carol", api.Code_OK},
			want{api.EntryKind_ENROLL, "carol", api.Code_OK},
			want{api.EntryKind_EVALUATION, "carol", api.Code_OK},
			want{api.EntryKind_LOGIN, "carol", api.Code_OK})
		for i, raw := range rawLog(t, inv) {
			if bytes.Contains(raw, []byte(token)) || bytes.Contains(raw, []byte(strings.TrimPrefix(token, "custos-invite-"))) {
				t.Errorf("log entry %d holds the invite token", i)
			}
		}
	})
	t.Run("no log entry holds a share", func(t *testing.T) {
		for i, raw := range rawLog(t, n) {
			for _, s := range shares {
				if bytes.Contains(raw, s) {
					t.Fatalf("log entry %d holds a secret", i)
				}
			}
		}
	})
}

// TestDataDirOfAnotherNode checks that a node refuses to start on a data
// directory that another identity made.
func TestDataDirOfAnotherNode(t *testing.T) {
	root := t.TempDir()
	var cfgs [2]*config.Config
	var ids [2]peer.ID
	for i, name := range []string{"a", "b"} {
		path, id, err := node.Init(node.InitOptions{Dir: filepath.Join(root, name), Name: "node-" + name,
			Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Enrollment: "open"})
		if err != nil {
			t.Fatal(err)
		}
		if cfgs[i], err = config.Load(path); err != nil {
			t.Fatal(err)
		}
		cfgs[i].HTTP = ""
		ids[i] = id
		// The first start claims the data directory for the identity.
		n, err := node.New(cfgs[i], zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)))
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Swap the identity keys; each stays mode 0600, so only the data
	// directory's claim can refuse it.
	ka, kb := cfgs[0].Path(cfgs[0].IdentityKey), cfgs[1].Path(cfgs[1].IdentityKey)
	tmp := ka + ".swap"
	for _, mv := range [][2]string{{ka, tmp}, {kb, ka}, {tmp, kb}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{ka, kb} {
		if info, err := os.Stat(k); err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v; want 0600", k, info.Mode().Perm(), err)
		}
	}
	for i, cfg := range cfgs {
		n, err := node.New(cfg, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)))
		if err == nil {
			n.Close()
			t.Fatalf("node %d started on the data directory of node %d", 1-i, i)
		}
		msg := err.Error()
		if !strings.Contains(msg, "belongs to node "+ids[i].String()) || !strings.Contains(msg, ids[1-i].String()) {
			t.Errorf("the error does not name both identities: %v", err)
		}
	}
	// With the keys back in place both nodes start again.
	for _, mv := range [][2]string{{ka, tmp}, {kb, ka}, {tmp, kb}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, cfg := range cfgs {
		n, err := node.New(cfg, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)))
		if err != nil {
			t.Fatalf("a node does not start on its own directory: %v", err)
		}
		n.Close()
	}
}

// TestNoGoroutineLeft checks that a node and its streams, once stopped and
// closed, leave no goroutine behind, also after a stream reset mid-request.
func TestNoGoroutineLeft(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, n *nodetest.InProcess, d *nodetest.Device)
	}{
		{"a stopped node and closed streams leave nothing", func(t *testing.T, n *nodetest.InProcess, d *nodetest.Device) {
			units, _ := putUnits(t, n, d, 3)
			if _, err := d.Release(t.Context(), n.ID(), units...); err != nil {
				t.Fatal(err)
			}
			if _, err := d.List(t.Context(), n.ID()); err != nil {
				t.Fatal(err)
			}
		}},
		{"a stream reset mid-request is abandoned and the next request is served", func(t *testing.T, n *nodetest.InProcess, d *nodetest.Device) {
			units, shares := putUnits(t, n, d, 1)
			for _, cut := range []int{1, 5, 40} {
				s, err := d.Host.NewStream(t.Context(), n.ID(), api.ProtocolRelease)
				if err != nil {
					t.Fatal(err)
				}
				frame := releaseFrame(t, d.ReleaseRequest(n.ID(), units...))
				if _, err := s.Write(frame[:cut]); err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond) // let the node start reading
				if err := s.Reset(); err != nil {
					t.Fatal(err)
				}
				resp, err := d.Release(t.Context(), n.ID(), units...)
				if err != nil || !bytes.Equal(resp.Shares[0].Share, shares[0]) {
					t.Fatalf("the release after a reset failed: %v", err)
				}
			}
			// A reset after the whole request leaves the node to answer no one.
			s, err := d.Host.NewStream(t.Context(), n.ID(), api.ProtocolRelease)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write(releaseFrame(t, d.ReleaseRequest(n.ID(), units...))); err != nil {
				t.Fatal(err)
			}
			_ = s.Reset()
			if _, err := d.List(t.Context(), n.ID()); err != nil {
				t.Fatal(err)
			}
			// While the node runs, no handler is left behind by a reset.
			waitFor(t, "the node's stream handlers to end", func() bool { return handlersRunning() == 0 })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			t.Run("run", func(t *testing.T) {
				n := nodetest.Start(t, func(c *config.Config) { c.HTTP = "" })
				tt.run(t, n, loggedIn(t, n, "alice"))
			})
			// The subtest's cleanups stopped the node and closed the device.
			if err := goleak.Find(append([]goleak.Option{before}, leakIgnores...)...); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestGracefulShutdown checks that requests in flight when Close starts are
// answered, and that nothing panics or hangs.
func TestGracefulShutdown(t *testing.T) {
	t.Run("20 releases in flight when Close starts are all answered", func(t *testing.T) {
		n := nodetest.Start(t)
		d := loggedIn(t, n, "alice")
		units, shares := putUnits(t, n, d, 20)
		// Each stream sends all of its request but the last byte, so that
		// its handler has started and waits to read it.
		streams := make([]network.Stream, len(units))
		frames := make([][]byte, len(units))
		for i, u := range units {
			s, err := d.Host.NewStream(t.Context(), n.ID(), api.ProtocolRelease)
			if err != nil {
				t.Fatal(err)
			}
			_ = s.SetDeadline(time.Now().Add(10 * time.Second))
			frames[i] = releaseFrame(t, d.ReleaseRequest(n.ID(), u))
			if _, err := s.Write(frames[i][:len(frames[i])-1]); err != nil {
				t.Fatal(err)
			}
			streams[i] = s
		}
		waitFor(t, "20 handlers at the node", func() bool { return handlersRunning() == len(units) })
		time.Sleep(20 * time.Millisecond) // from the handler's start to its admission
		closed := make(chan error, 1)
		go func() { closed <- n.Close() }()
		waitFor(t, "the node to start closing", n.ClosingForTest)
		if _, err := d.List(t.Context(), n.ID()); err == nil {
			t.Error("a request that arrived after Close started was served")
		}
		select {
		case err := <-closed:
			t.Fatalf("Close returned while requests were in flight: %v", err)
		default:
		}
		var wg sync.WaitGroup
		for i, s := range streams {
			wg.Go(func() {
				if _, err := s.Write(frames[i][len(frames[i])-1:]); err != nil {
					t.Errorf("stream %d: %v", i, err)
					return
				}
				var resp api.ReleaseResponse
				err := api.NewReader(s, api.MaxMessageSize).Read(&resp)
				s.Close() // as a client does once it has its answer
				if err != nil {
					t.Errorf("stream %d: no answer: %v", i, err)
					return
				}
				if err := api.FromProto(resp.Error); err != nil || len(resp.Shares) != 1 || !bytes.Equal(resp.Shares[0].Share, shares[i]) {
					t.Errorf("stream %d: not the share put (%v)", i, err)
				}
			})
		}
		wg.Wait()
		select {
		case err := <-closed:
			if err != nil {
				t.Errorf("Close: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Close did not return")
		}
	})
	t.Run("releases racing with Close are answered or cleanly refused", func(t *testing.T) {
		n := nodetest.Start(t)
		d := loggedIn(t, n, "alice")
		units, shares := putUnits(t, n, d, 20)
		var wg sync.WaitGroup
		var answered, refused atomic.Int64
		first := make(chan struct{}, len(units))
		for i, u := range units {
			wg.Go(func() {
				for range 5 {
					resp, err := d.Release(t.Context(), n.ID(), u)
					switch {
					case err == nil && len(resp.Shares) == 1 && bytes.Equal(resp.Shares[0].Share, shares[i]):
						answered.Add(1)
						first <- struct{}{}
					case err == nil:
						t.Errorf("release %d: not the share put", i)
					case nodetest.IsCode(err, api.Code_INTERNAL):
						t.Errorf("release %d: %v", i, err)
					default:
						refused.Add(1)
						return
					}
				}
			})
		}
		<-first
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		wg.Wait()
		if answered.Load() == 0 || refused.Load() == 0 {
			t.Logf("the race was not close: %d answered, %d refused", answered.Load(), refused.Load())
		}
	})
}

// handlersRunning counts the goroutines in a node's stream handler.
func handlersRunning() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "custos/node.(*Node).handle.func1(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// releaseFrame encodes a release request as it goes on the wire.
func releaseFrame(t testing.TB, req *api.ReleaseRequest) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := api.Write(&buf, req); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// waitFor waits up to 10s for cond.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
