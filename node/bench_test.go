package node_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/custos-network/custos/api"
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
	unit  *api.UnitRef
	share []byte
}

func newClient(b *testing.B, n *nodetest.InProcess, user string) client {
	b.Helper()
	d := loggedIn(b, n, user)
	units, shares := putUnits(b, n, d, 1)
	return client{d: d, unit: units[0], share: shares[0]}
}

// release releases c's unit and checks the share.
func (c client) release(b *testing.B, n *nodetest.InProcess) bool {
	resp, err := c.d.Release(context.Background(), n.ID(), c.unit)
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

// BenchmarkDurableRelease measures what group commit buys: baseline is one
// fsync of the disk the node is on, from one writer; clients64 is one
// release, durably logged, while 64 logged-in devices release their own
// unit in a loop. Every release waits for its log entry's fsync, so without
// group commit clients64 could be no faster than baseline; the aim is at
// most 0.1x baseline.
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

	n := nodetest.Start(b, unlimited)
	clients := make([]client, 64)
	for i := range clients {
		clients[i] = newClient(b, n, "user"+string(rune('a'+i/26))+string(rune('a'+i%26)))
	}
	b.Run("clients64", func(b *testing.B) {
		before, err := n.StoreStatsForTest()
		if err != nil {
			b.Fatal(err)
		}
		var next atomic.Int64
		var wg sync.WaitGroup
		cpu := processCPU()
		b.ResetTimer()
		for _, c := range clients {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					if !c.release(b, n) {
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		// The CPU time of the node and all 64 devices, per release: with
		// GOMAXPROCS cores, ns/op cannot go below this divided by them.
		if used := processCPU() - cpu; used > 0 {
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
		defer s.Close()
		var m api.Error
		if err := api.NewReader(s, api.MaxMessageSize).Read(&m); err != nil {
			s.Reset()
			return
		}
		if err := api.Write(s, &m); err != nil {
			s.Reset()
		}
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
			if !c.release(b, n) {
				b.FailNow()
			}
		}
		b.ReportMetric(fsyncNs(b, b.TempDir(), 200), "fsync-ns")
	})
}
