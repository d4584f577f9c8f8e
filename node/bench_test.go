package node_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/internal/cputime"
	"github.com/custos-network/custos/node/admin"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// unlimited lifts the release and write rate limits, so that a benchmark measures the
// work of a release and not a refusal.
func unlimited(c *config.Config) {
	lots := config.Bucket{Burst: 1 << 30, Every: time.Nanosecond}
	c.Limits.UnitReleases, c.Limits.UserReleases, c.Limits.UserWrites = lots, lots, lots
	c.HTTP = ""
}

// fsyncNs returns the mean time of count 64-byte appends each followed by
// an fsync, in a fresh file under dir.
func fsyncNs(b *testing.B, dir string, count int) float64 {
	b.Helper()
	f, err := os.Create(filepath.Join(dir, "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64)
	start := time.Now()
	for range count {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(count)
}

// client is a logged-in device with one unit of its own.
type client struct {
	d     *nodetest.Device
	node  peer.ID
	unit  *api.UnitRef
	share []byte
}

func newClient(b *testing.B, n *nodetest.InProcess, user string) client {
	b.Helper()
	d := loggedIn(b, n, user)
	units, shares := putUnits(b, n, d, 1)
	return client{d: d, node: n.ID(), unit: units[0], share: shares[0]}
}

// newClients makes count devices, each enrolled and logged in at the node
// at info (open enrollment) with one unit of its own.
func newClients(b *testing.B, info peer.AddrInfo, count int) []client {
	b.Helper()
	ctx := context.Background()
	out := make([]client, count)
	for i := range out {
		d := nodetest.NewDevice(b, fmt.Sprintf("user%02d", i))
		if err := d.Connect(ctx, info); err != nil {
			b.Fatal(err)
		}
		if err := d.Enroll(ctx, info.ID, ""); err != nil {
			b.Fatal(err)
		}
		if err := d.Login(ctx, info.ID); err != nil {
			b.Fatal(err)
		}
		c := client{d: d, node: info.ID, unit: nodetest.Unit(), share: nodetest.Share()}
		if _, err := d.Put(ctx, info.ID, c.unit, c.share); err != nil {
			b.Fatal(err)
		}
		out[i] = c
	}
	return out
}

// release releases c's unit and checks the share.
func (c client) release(b *testing.B) bool {
	resp, err := c.d.Release(context.Background(), c.node, c.unit)
	if err != nil {
		b.Error(err)
		return false
	}
	if len(resp.Shares) != 1 || !bytes.Equal(resp.Shares[0].Share, c.share) {
		b.Error("not the share put")
		return false
	}
	return true
}

// releaseLoop makes b.N releases, the clients each releasing their own
// unit in a loop, all at once.
func releaseLoop(b *testing.B, clients []client) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if !c.release(b) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkDurableRelease measures the node's side of a release under
// load: 64 logged-in devices release their own unit in a loop, and every
// release waits for its log entry's fsync.
//
//   - baseline: one fsync of the disk the node is on, from one writer.
//   - clients64: one release of the 64 devices', against a custosd
//     process, so that what the node spends is told from what the devices
//     spend: node-cpu-ns is the node process's CPU time (user and system,
//     to 10 ms over the run; Linux) per release, releases/fsync how many
//     releases one durable commit carried (the node's custosd status).
//     Without group commit, ns/op could be no less than baseline; the aim
//     is at most 0.1x baseline.
//   - inprocess64: the same with the node in the benchmark's process, for
//     CPU profiles: the node's goroutines carry the pprof label
//     custos=node (go tool pprof -tagfocus custos=node). cpu-ns is the
//     whole process's CPU time per release, the 64 devices' included.
func BenchmarkDurableRelease(b *testing.B) {
	b.Run("baseline", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 64)
		for b.Loop() {
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	})

	p := nodetest.StartProcess(b, "n1", unlimited)
	clients := newClients(b, p.Info(b), 64)
	b.Run("clients64", func(b *testing.B) {
		b.StopTimer()
		before := processStatus(b, p)
		cpu, _ := p.CPU()
		b.StartTimer()
		releaseLoop(b, clients)
		b.StopTimer()
		if used, ok := p.CPU(); ok {
			b.ReportMetric(float64((used-cpu).Nanoseconds())/float64(b.N), "node-cpu-ns/op")
		}
		after := processStatus(b, p)
		if commits := after.Commits - before.Commits; commits > 0 {
			b.ReportMetric(float64(after.Updates-before.Updates)/float64(commits), "releases/fsync")
		}
	})

	n := nodetest.Start(b, unlimited)
	inProcess := newClients(b, n.Info(), 64)
	b.Run("inprocess64", func(b *testing.B) {
		b.StopTimer()
		before, err := n.StoreStatsForTest()
		if err != nil {
			b.Fatal(err)
		}
		cpu := cputime.Self()
		b.StartTimer()
		releaseLoop(b, inProcess)
		b.StopTimer()
		if used := cputime.Self() - cpu; used > 0 {
			b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
		after, err := n.StoreStatsForTest()
		if err != nil {
			b.Fatal(err)
		}
		if commits := after.Commits - before.Commits; commits > 0 {
			b.ReportMetric(float64(after.Updates-before.Updates)/float64(commits), "releases/fsync")
		}
	})
}

// processStatus is the status of the node process p.
func processStatus(b *testing.B, p *nodetest.Process) *admin.Status {
	b.Helper()
	st, err := p.Admin().Status(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// echoProtocol is a protocol the benchmark adds to the node's host: it
// reads one framed message and writes it back.
const echoProtocol protocol.ID = "/custos-bench/echo/1.0.0"

// BenchmarkWarmRelease measures one release on a warm session against a
// bare request and answer on the same connection: baseline opens a stream
// to an echo protocol on the node's host, writes a small framed message and
// reads it back; release is one release of one unit, which adds the
// session and signature checks, the store and one durable log entry. The
// aim is release <= 1.5x baseline + one fsync, whose time on the same disk
// is reported as fsync-ns.
func BenchmarkWarmRelease(b *testing.B) {
	n := nodetest.Start(b, unlimited)
	c := newClient(b, n, "alice")
	h := n.HostForTest()
	h.SetStreamHandler(echoProtocol, func(s network.Stream) {
		var m api.Error
		if err := api.NewReader(s, api.MaxMessageSize).Read(&m); err != nil {
			s.Reset()
			return
		}
		if err := api.Write(s, &m); err != nil {
			s.Reset()
			return
		}
		// As the node ends a stream: its side closed, then the peer's
		// close awaited, so the answer is not cut off by a reset.
		if err := s.CloseWrite(); err != nil {
			s.Reset()
			return
		}
		_, _ = io.Copy(io.Discard, s)
		s.Close()
	})
	defer h.RemoveStreamHandler(echoProtocol)
	ping := &api.Error{Message: "ping"}

	b.Run("baseline", func(b *testing.B) {
		var pong api.Error
		for b.Loop() {
			if err := c.d.Call(context.Background(), n.ID(), echoProtocol, ping, &pong); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("release", func(b *testing.B) {
		for b.Loop() {
			if !c.release(b) {
				b.FailNow()
			}
		}
		b.ReportMetric(fsyncNs(b, b.TempDir(), 200), "fsync-ns")
	})
}
