package node_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/multiformats/go-varint"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// heapInUse is the Go heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestStalledStreamsHoldLittleMemory: streams that each claim the largest
// message (a logged-in device's release request, here under a cap of 1
// MiB) and then send nothing make the node hold memory for what they sent,
// not for what they claimed (480 streams claiming 1 MiB each would
// otherwise hold 480 MiB until their deadline). It measures the Go heap,
// not the RSS: pages fresh from the OS stay untouched until written, but a
// running node reuses freed ones, which Go zeroes (a custosd reading 1 MiB
// in full per such stream reached 511 MiB RSS by the third wave of 480).
func TestStalledStreamsHoldLittleMemory(t *testing.T) {
	const peers, perPeer = 8, 60 // within limits.max_streams_per_peer (64)
	const bound = 64 << 20       // the devices' side of the streams is in this process too
	n := nodetest.Start(t, func(c *config.Config) {
		c.HTTP = ""
		c.Limits.RequestTimeout = 2 * time.Minute // no deadline ends a stream during the test
		c.Limits.MaxMessageBytes = 1 << 20
	})
	claim := varint.ToUvarint(uint64(n.Config.Limits.MaxMessageBytes))
	devices := make([]*nodetest.Device, peers)
	for i := range devices {
		devices[i] = loggedIn(t, n, fmt.Sprintf("staller%d", i))
	}
	before := heapInUse()

	var streams []network.Stream
	t.Cleanup(func() {
		for _, s := range streams {
			_ = s.Reset()
		}
	})
	for _, d := range devices {
		for range perPeer {
			s, err := d.Host.NewStream(t.Context(), n.ID(), api.ProtocolRelease)
			if err != nil {
				t.Fatal(err)
			}
			streams = append(streams, s)
			if _, err := s.Write(claim); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "a handler reading each stream", func() bool { return handlersRunning() == peers*perPeer })
	// Each handler reads the prefix, which came with the stream, as soon as
	// it starts; give the last ones time to get there.
	time.Sleep(500 * time.Millisecond)
	after := heapInUse()

	growth := int64(after) - int64(before)
	t.Logf("%d streams claiming %d bytes each and stalled: heap in use grew by %.1f MiB (%.1f KiB a stream, both sides)",
		len(streams), n.Config.Limits.MaxMessageBytes, float64(growth)/(1<<20), float64(growth)/1024/float64(len(streams)))
	if growth > bound {
		t.Errorf("the heap grew by %d MiB under %d stalled streams; want at most %d MiB", growth>>20, len(streams), bound>>20)
	}
	if got := handlersRunning(); got != peers*perPeer {
		t.Errorf("%d handlers still reading, want %d: a stream ended early", got, peers*perPeer)
	}
}
