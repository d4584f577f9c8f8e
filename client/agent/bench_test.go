package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/agent"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// unlimited lifts the nodes' release limits, so that the benchmark
// measures the agent, not the nodes' policy.
func unlimited(c *config.Config) {
	c.Limits.UnitReleases = config.Bucket{Burst: 1 << 30, Every: time.Millisecond}
	c.Limits.UserReleases = config.Bucket{Burst: 1 << 30, Every: time.Millisecond}
	c.Limits.MaxStreamsPerPeer = 1024
}

// BenchmarkAgentGet20 is 20 processes' gets of one record against 5 real
// custosd: through an agent (agent), and, for the baseline, straight from
// one unlocked client in the same process (no socket, no frames), which no
// separate process could share.
func BenchmarkAgentGet20(b *testing.B) {
	dir := b.TempDir()
	b.Setenv("XDG_RUNTIME_DIR", dir)
	nodes, nw := network(b, 5, 3, nodetest.Invite, unlimited)
	path := enrolled(b, nodes, nw, "bench", "acme")
	ctx := context.Background()
	b.Run("baseline", func(b *testing.B) {
		c, err := client.Open(path, client.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if err := c.Unlock(ctx, password); err != nil {
			b.Fatal(err)
		}
		b.SetParallelism(20)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.GetMany(ctx, []string{"acme"}); err != nil {
					b.Error(err)
				}
			}
		})
	})
	b.Run("agent", func(b *testing.B) {
		s, err := agent.Listen(agent.Config{Vault: path})
		if err != nil {
			b.Fatal(err)
		}
		ended := make(chan string)
		go func() { ended <- s.Serve() }()
		defer func() { s.Stop(agent.EndStopped); <-ended }()
		a, _, err := agent.Dial(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.Unlock(ctx, password); err != nil {
			b.Fatal(err)
		}
		b.SetParallelism(20)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := a.GetMany(ctx, []string{"acme"}); err != nil {
					b.Error(err)
				}
			}
		})
	})
}
