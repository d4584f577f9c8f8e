package client_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/internal/cputime"
	"github.com/custos-network/custos/node/nodetest"
	"github.com/custos-network/custos/threshold/toprf"
)

// The benchmarks run against five real custosd processes, threshold 3, with
// rate limits raised so that nothing is refused. Run them one at a time:
//
//	go test -run '^$' -bench WarmUnlock -benchtime 200x ./client/
//	go test -run '^$' -bench ColdUnlock -benchtime 20x ./client/
//	go test -run '^$' -bench BatchUnlock -benchtime 3x ./client/

// latencies records each iteration's latency and reports its p50 and p99.
type latencies []time.Duration

func (l *latencies) time(fn func()) {
	start := time.Now()
	fn()
	*l = append(*l, time.Since(start))
}

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	p50, p99 := l.percentiles()
	b.ReportMetric(float64(p50), "p50-ns")
	b.ReportMetric(float64(p99), "p99-ns")
}

// percentiles are l's p50 and p99; l is not empty.
func (l latencies) percentiles() (p50, p99 time.Duration) {
	s := slices.Clone(l)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return at(0.50), at(0.99)
}

// warmSizes are the vaults BenchmarkWarmUnlock gets a record from: of 10
// records, and of 100,000 (filled through the vault's API, as
// BenchmarkVaultScale's large vault is).
var warmSizes = []int{10, scaleRecords}

// BenchmarkWarmUnlock compares a Get on a warm session with its floor, B:
// one bare request and answer to each of k (3) of the 5 nodes in parallel
// on open connections (an enrollment without a user, which a node refuses
// before touching its store), then one fsync of a small file on the same
// disk, as a node makes its log entry durable before it releases a share.
// The get runs on a vault of 10 records (get-10) and of 100,000
// (get-100000), each on its own session; p50-xB and p99-xB are its
// latencies over B's of the same run, and p50-save-ns the p50 of every
// 64th get, the one at which the session saves its receipts. release-k is
// what the nodes alone take of a get: one release of one unit, signed as a
// device signs it, to each of k nodes in parallel, and nothing of the
// client library (no journal, no receipt or share checks). Each reports
// the CPU time it used per iteration (cpuMark.report). Aims: p50 at most
// 1.5 times B's, p99 at most 3 times B's, at 100,000 records.
func BenchmarkWarmUnlock(b *testing.B) {
	tn := startNet(b, 5, 3, nil)
	ctx := context.Background()
	paths := map[int]string{}
	for _, size := range warmSizes {
		paths[size] = scaleVault(b, tn, fmt.Sprintf("warm%d", size), size)
	}
	var floor latencies // B's, from the baseline of this run

	b.Run("baseline", func(b *testing.B) {
		dev := nodetest.NewDevice(b, "bench")
		var infos []nodeInfo
		for _, p := range tn.nodes[:tn.k] {
			info := p.Info(b)
			if err := dev.Connect(ctx, info); err != nil {
				b.Fatal(err)
			}
			infos = append(infos, nodeInfo{id: info.ID})
		}
		f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		entry := make([]byte, 512) // about one log entry
		var lat latencies
		b.ResetTimer()
		cpu := tn.cpu()
		for b.Loop() {
			lat.time(func() {
				var wg sync.WaitGroup
				errs := make([]error, len(infos))
				for i, n := range infos {
					wg.Go(func() {
						var resp api.EnrollResponse
						errs[i] = dev.Call(ctx, n.id, api.ProtocolEnroll, &api.EnrollRequest{}, &resp)
						if errs[i] == nil && !nodetest.IsCode(api.FromProto(resp.Error), api.Code_INVALID_ARGUMENT) {
							errs[i] = fmt.Errorf("the node answered %v, want INVALID_ARGUMENT", resp.Error)
						}
					})
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				if _, err := f.WriteAt(entry, 0); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			})
		}
		cpu.report(b)
		lat.report(b)
		floor = lat
	})

	b.Run("release-k", func(b *testing.B) {
		dev := nodetest.NewDevice(b, "benchrelease")
		var ids []peer.ID
		unit := nodetest.Unit()
		for _, p := range tn.nodes[:tn.k] {
			info := p.Info(b)
			inv, err := p.Admin().Invite(ctx, dev.User, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := dev.Connect(ctx, info); err != nil {
				b.Fatal(err)
			}
			if err := dev.Enroll(ctx, info.ID, inv.Token); err != nil {
				b.Fatal(err)
			}
			if err := dev.Login(ctx, info.ID); err != nil {
				b.Fatal(err)
			}
			if _, err := dev.Put(ctx, info.ID, unit, nodetest.Share()); err != nil {
				b.Fatal(err)
			}
			ids = append(ids, info.ID)
		}
		var lat latencies
		b.ResetTimer()
		cpu := tn.cpu()
		for b.Loop() {
			lat.time(func() {
				var wg sync.WaitGroup
				errs := make([]error, len(ids))
				for i, id := range ids {
					wg.Go(func() { _, errs[i] = dev.Release(ctx, id, unit) })
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		cpu.report(b)
		lat.report(b)
		lat.reportOver(b, floor, "xB")
	})

	for _, size := range warmSizes {
		b.Run(fmt.Sprintf("get-%d", size), func(b *testing.B) {
			c := unlockedAt(b, paths[size])
			defer c.Close()
			var lat latencies
			b.ResetTimer()
			cpu := tn.cpu()
			for i := 0; b.Loop(); i++ {
				lat.time(func() {
					rec, err := c.Get(ctx, fmt.Sprintf("real-%d", i%10))
					if err != nil {
						b.Fatal(err)
					}
					rec.Wipe()
				})
			}
			cpu.report(b)
			lat.report(b)
			lat.reportOver(b, floor, "xB")
			lat.reportEvery(b, 64, "save")
		})
	}
}

// reportEvery reports the p50 of every nth of l's latencies (the nth, the
// 2nth, …) as p50-SUFFIX-ns: a get's session saves its receipts at every
// 64th get, and this is what those gets take. Nothing when l has fewer
// than n.
func (l latencies) reportEvery(b *testing.B, n int, suffix string) {
	var every latencies
	for i := n - 1; i < len(l); i += n {
		every = append(every, l[i])
	}
	if len(every) == 0 {
		return
	}
	p50, _ := every.percentiles()
	b.ReportMetric(float64(p50), "p50-"+suffix+"-ns")
}

// cpuMark is where the CPU time of the benchmark's process (the client's
// side) and of the network's nodes stood when a benchmark started.
type cpuMark struct {
	tn           *testNet
	client, node time.Duration
	nodeOK       bool
}

// cpu marks the CPU time used so far, for report.
func (tn *testNet) cpu() cpuMark {
	node, ok := tn.nodeCPU()
	return cpuMark{tn: tn, client: cputime.Self(), node: node, nodeOK: ok}
}

// nodeCPU is the CPU time all of tn's node processes have used so far.
func (tn *testNet) nodeCPU() (time.Duration, bool) {
	var sum time.Duration
	for _, p := range tn.nodes {
		d, ok := p.CPU()
		if !ok {
			return 0, false
		}
		sum += d
	}
	return sum, true
}

// report reports the CPU time used since m per iteration: client-cpu-ns,
// the benchmark's process (the client library, or the bare device of
// release-k), and node-cpu-ns, all the nodes together (to their clock
// tick, 10 ms over the run; Linux).
func (m cpuMark) report(b *testing.B) {
	if used := cputime.Self() - m.client; used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "client-cpu-ns/op")
	}
	if used, ok := m.tn.nodeCPU(); ok && m.nodeOK {
		b.ReportMetric(float64((used-m.node).Nanoseconds())/float64(b.N), "node-cpu-ns/op")
	}
}

// reportOver reports l's p50 and p99 over base's, as p50-SUFFIX and
// p99-SUFFIX; nothing when base is empty (its benchmark did not run).
func (l latencies) reportOver(b *testing.B, base latencies, suffix string) {
	if len(l) == 0 || len(base) == 0 {
		return
	}
	lp50, lp99 := l.percentiles()
	bp50, bp99 := base.percentiles()
	b.ReportMetric(float64(lp50)/float64(bp50), "p50-"+suffix)
	b.ReportMetric(float64(lp99)/float64(bp99), "p99-"+suffix)
}

type nodeInfo struct{ id peer.ID }

// BenchmarkColdUnlock times one cold unlock: Open, Unlock and the first
// Get of a vault (and its Close), and reports its parts: connect-ns,
// dialling all 5 nodes in parallel (done first, so that the logins reuse
// the connections); argon2-ns, the password hash at the vault's
// parameters; login-ns, login v2 at all 5 nodes in parallel; release-ns,
// the first Get. The last three are what Unlock reports at debug level and
// what the Get takes.
//
// The OPRF's own share of it is reported apart: oprf-client-ns, the
// client's blind, proof checks and combination (Unlock's debug line; the
// checks run in parallel, so this is CPU time, more than they add to the
// wall clock), and oprf-node-ns, one evaluation with its proof as a node
// makes it (the nodes evaluate in parallel, so one is on the critical
// path), timed in the same run; oprf-pct is their sum as a percentage of
// the cold unlock (connect + argon2 + login + release). Issue 10 aims at
// 10% at most.
//
// A node answers at most 10 login challenges a minute per device, so the
// benchmark moves to a new vault (a new device) every 8 unlocks.
func BenchmarkColdUnlock(b *testing.B) {
	tn := startNet(b, 5, 3, nil)
	ctx := context.Background()
	users := 0 // across runs of the sub-benchmark (-count)
	share, blinded := nodeKeyShare(b)
	b.Run("cold", func(b *testing.B) {
		core, logs := observer.New(zapcore.DebugLevel)
		log := zap.New(core)
		var path string
		uses, iters := 8, 0
		var connect, argon, login, release, oprfClient, oprfNode time.Duration
		for b.Loop() {
			if uses == 8 {
				b.StopTimer()
				users++
				path, uses = tn.vault(b, fmt.Sprintf("bench%d", users)), 0
				c, err := client.Open(path, client.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Unlock(ctx, password); err != nil {
					b.Fatal(err)
				}
				if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
					b.Fatal(err)
				}
				if err := c.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			uses++
			iters++
			c, err := client.Open(path, client.Options{Logger: log})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			for _, err := range c.ConnectAll(ctx) {
				if err != nil {
					b.Fatal(err)
				}
			}
			connect += time.Since(start)
			if err := c.Unlock(ctx, password); err != nil {
				b.Fatal(err)
			}
			start = time.Now()
			rec, err := c.Get(ctx, "acme-portal")
			if err != nil {
				b.Fatal(err)
			}
			release += time.Since(start)
			rec.Wipe()
			if err := c.Close(); err != nil {
				b.Fatal(err)
			}
			var got []observer.LoggedEntry
			for _, e := range logs.TakeAll() {
				if e.Message == "unlock" {
					got = append(got, e)
				}
			}
			if len(got) != 1 {
				b.Fatalf("Unlock logged %d debug lines, want 1", len(got))
			}
			fields := got[0].ContextMap()
			argon += fields["password_hash"].(time.Duration)
			login += fields["logins"].(time.Duration)
			oprfClient += fields["oprf_client"].(time.Duration)
			start = time.Now()
			if _, _, err := share.Evaluate(blinded); err != nil {
				b.Fatal(err)
			}
			oprfNode += time.Since(start)
		}
		n := float64(iters)
		b.ReportMetric(float64(connect)/n, "connect-ns")
		b.ReportMetric(float64(argon)/n, "argon2-ns")
		b.ReportMetric(float64(login)/n, "login-ns")
		b.ReportMetric(float64(release)/n, "release-ns")
		b.ReportMetric(float64(oprfClient)/n, "oprf-client-ns")
		b.ReportMetric(float64(oprfNode)/n, "oprf-node-ns")
		if cold := connect + argon + login + release; cold > 0 {
			b.ReportMetric(100*float64(oprfClient+oprfNode)/float64(cold), "oprf-pct")
		}
	})
}

// nodeKeyShare is an OPRF key share and a blinded element, for timing a
// node's evaluation in the benchmark's own process.
func nodeKeyShare(b *testing.B) (toprf.KeyShare, []byte) {
	b.Helper()
	key, err := toprf.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	defer key.Wipe()
	keys, _, err := key.Split(3, 5)
	if err != nil {
		b.Fatal(err)
	}
	req, err := toprf.Blind(password)
	if err != nil {
		b.Fatal(err)
	}
	defer req.Wipe()
	blinded := req.Blinded()
	return keys[0], blinded[:]
}

// BenchmarkBatchUnlock opens 1000 records: one Get each (baseline), or one
// GetMany of all (batch). ns/op is for the whole 1000.
func BenchmarkBatchUnlock(b *testing.B) {
	const records = 1000
	tn := startNet(b, 5, 3, nil)
	ctx := context.Background()
	c, _ := tn.unlocked(b, "alice", client.Options{Timeout: 30 * time.Second})
	labels := make([]string, records)
	var wg sync.WaitGroup
	errs := make([]error, records)
	sem := make(chan struct{}, 16)
	for i := range labels {
		labels[i] = fmt.Sprintf("vendor-%04d", i)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = c.Put(ctx, labels[i], acme, client.PutOptions{})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}

	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			for _, l := range labels {
				rec, err := c.Get(ctx, l)
				if err != nil {
					b.Fatal(err)
				}
				rec.Wipe()
			}
		}
	})
	b.Run("batch", func(b *testing.B) {
		for b.Loop() {
			recs, err := c.GetMany(ctx, labels)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range recs {
				r.Wipe()
			}
		}
	})
}
