package client_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/threshold"
)

// scaleRecords is the size of the large vault of BenchmarkVaultScale.
const scaleRecords = 100_000

// BenchmarkVaultScale compares the record operations of the library on a
// vault of 10 records (baseline) and of 100,000, against five real
// custosd processes, threshold 3: put, get and rm are Client.Put, Get and
// Delete; open is vault.Open and Close of the vault alone; ls is the
// custos binary's ls of the whole vault, its ns/op the command's wall
// time. Aim: put, get and rm at most 1.2 times their baseline.
//
// rss-MB is the peak resident memory of a client process that lists the
// vault (under ls), or that unlocks it and gets a record (under get, its
// Argon2id hash of the password, 64 MiB, included); file-rss-MB is how
// much of it is, at the end, pages of mapped files (the vault's, which
// bbolt maps, and the binary's), which the system can drop and read again.
//
// The large vault is filled with records written through the vault's API
// (their shares are at no node); the records put, got and removed are
// real. Run it alone:
//
//	go test -run '^$' -bench VaultScale ./client/
func BenchmarkVaultScale(b *testing.B) {
	tn := startNet(b, 5, 3, nil)
	paths := map[string]string{
		"baseline":                         scaleVault(b, tn, "small", 10),
		fmt.Sprintf("at-%d", scaleRecords): scaleVault(b, tn, "large", scaleRecords),
	}
	sizes := []string{"baseline", fmt.Sprintf("at-%d", scaleRecords)}
	ops := []struct {
		name string
		run  func(b *testing.B, path string)
	}{
		{"put", benchPut}, {"get", benchGet}, {"rm", benchRm}, {"open", benchOpen}, {"ls", benchLs},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			for _, size := range sizes {
				b.Run(size, func(b *testing.B) { op.run(b, paths[size]) })
			}
		})
	}
}

// scaleVault makes an enrolled vault of records in all: records-10 filler
// records written through the vault's API, then 10 real ones ("real-0" to
// "real-9") put through the client.
func scaleVault(b *testing.B, tn *testNet, user string, records int) string {
	b.Helper()
	path := tn.vault(b, user)
	nw, err := client.ParseNetwork(tn.network)
	if err != nil {
		b.Fatal(err)
	}
	h, err := vault.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 5000
	for start := 0; start < records-10; start += batch {
		var us []vault.Unit
		for i := start; i < min(start+batch, records-10); i++ {
			us = append(us, fillerUnit(b, nw, fmt.Sprintf("filler-%07d", i)))
		}
		if err := h.PutUnits(us...); err != nil {
			b.Fatal(err)
		}
	}
	h.Vault().Wipe()
	if err := h.Close(); err != nil {
		b.Fatal(err)
	}
	c := open(b, path, client.Options{Timeout: 30 * time.Second})
	if err := c.Unlock(context.Background(), password); err != nil {
		b.Fatal(err)
	}
	for i := range 10 {
		if err := c.Put(context.Background(), fmt.Sprintf("real-%d", i), acme, client.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// fillerUnit is a record of the shape Put makes, with random contents.
func fillerUnit(b *testing.B, nw *client.Network, label string) vault.Unit {
	now := time.Now().UTC()
	u := vault.Unit{Label: label, Version: 1, Threshold: nw.Threshold, Sealed: make([]byte, 120), Created: now, Updated: now}
	rand.Read(u.ID[:])
	rand.Read(u.KeyCommit[:])
	rand.Read(u.Sealed)
	u.Sealed[0] = 1
	for _, n := range nw.Nodes {
		var c threshold.Commitment
		rand.Read(c[:])
		u.Nodes = append(u.Nodes, vault.UnitNode{Name: n.Name, PeerID: n.PeerID, Commitment: c, Stored: true})
	}
	return u
}

// unlockedAt opens and unlocks the vault at path for one sub-benchmark.
func unlockedAt(b *testing.B, path string) *client.Client {
	b.Helper()
	c := open(b, path, client.Options{Timeout: 30 * time.Second})
	if err := c.Unlock(context.Background(), password); err != nil {
		b.Fatal(err)
	}
	return c
}

var benchLabels int // labels put by benchmarks, across runs

func benchPut(b *testing.B, path string) {
	c := unlockedAt(b, path)
	var lat latencies
	b.ResetTimer()
	for range b.N {
		benchLabels++
		lat.time(func() {
			if err := c.Put(context.Background(), fmt.Sprintf("bench-%d", benchLabels), acme, client.PutOptions{}); err != nil {
				b.Fatal(err)
			}
		})
	}
	lat.report(b)
}

func benchGet(b *testing.B, path string) {
	c := unlockedAt(b, path)
	var lat latencies
	b.ResetTimer()
	for i := range b.N {
		lat.time(func() {
			rec, err := c.Get(context.Background(), fmt.Sprintf("real-%d", i%10))
			if err != nil {
				b.Fatal(err)
			}
			rec.Wipe()
		})
	}
	lat.report(b)
	b.StopTimer()
	c.Close() // the vault is the child's now
	reportRSS(b, "get", path)
}

func benchRm(b *testing.B, path string) {
	c := unlockedAt(b, path)
	var lat latencies
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		benchLabels++
		label := fmt.Sprintf("bench-%d", benchLabels)
		if err := c.Put(context.Background(), label, acme, client.PutOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		lat.time(func() {
			if err := c.Delete(context.Background(), label); err != nil {
				b.Fatal(err)
			}
		})
	}
	lat.report(b)
}

func benchOpen(b *testing.B, path string) {
	for range b.N {
		h, err := vault.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		h.Vault().Wipe()
		if err := h.Close(); err != nil {
			b.Fatal(err)
		}
	}
	if info, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(info.Size())/(1<<20), "file-MB")
	}
}

// benchLs runs custos ls on the vault, as a user would, and reports the
// peak memory of a client that lists the whole vault (rssChild).
func benchLs(b *testing.B, path string) {
	bin := custosBinary(b)
	b.ResetTimer()
	for range b.N {
		if out, err := exec.Command(bin, "ls", "--vault", path).CombinedOutput(); err != nil {
			b.Fatalf("custos ls: %v\n%.2000s", err, out)
		}
	}
	b.StopTimer()
	reportRSS(b, "ls", path)
}

// rssEnv asks the test binary to be a client whose peak resident memory is
// measured: "ls PATH" lists the vault at PATH, "get PATH" unlocks it and
// gets real-0. Measured in a process of its own, so that nothing of the
// benchmark's is counted (a child's ru_maxrss would count the memory of
// the process it was started from).
const rssEnv = "CUSTOS_BENCH_RSS"

// reportRSS runs the rssChild op on path and reports its peak memory.
func reportRSS(b *testing.B, op, path string) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), rssEnv+"="+op+" "+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s in a child: %v\n%s", op, err, out)
	}
	var peak, file float64
	if _, err := fmt.Sscanf(string(out), "VmHWM %f RssFile %f", &peak, &file); err != nil {
		b.Fatalf("%s in a child: %q", op, out)
	}
	b.ReportMetric(peak/1024, "rss-MB")
	b.ReportMetric(file/1024, "file-rss-MB")
}

// rssChild does the op of spec (see rssEnv) and prints its VmHWM in KiB.
func rssChild(spec string) int {
	op, path, _ := strings.Cut(spec, " ")
	c, err := client.Open(path, client.Options{Timeout: 30 * time.Second})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer c.Close()
	switch op {
	case "ls":
		_, err = c.List("")
	case "get":
		if err = c.Unlock(context.Background(), password); err == nil {
			var rec *client.Record
			if rec, err = c.Get(context.Background(), "real-0"); err == nil {
				rec.Wipe()
			}
		}
	}
	if err != nil {
		fmt.Println(err)
		return 1
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	kib := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			kib[k] = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
		}
	}
	fmt.Printf("VmHWM %s RssFile %s\n", kib["VmHWM"], kib["RssFile"])
	return 0
}

var custosBin string

func removeCustosBinary() {
	if custosBin != "" {
		os.RemoveAll(filepath.Dir(custosBin))
	}
}

// custosBinary builds the custos command once per test binary.
func custosBinary(b *testing.B) string {
	b.Helper()
	if custosBin != "" {
		return custosBin
	}
	dir, err := os.MkdirTemp("", "custos-bin-")
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "custos")
	if out, err := exec.Command("go", "build", "-o", path, "github.com/custos-network/custos/client/cmd/custos").CombinedOutput(); err != nil {
		b.Fatalf("go build custos: %v\n%s", err, out)
	}
	custosBin = path
	return path
}
