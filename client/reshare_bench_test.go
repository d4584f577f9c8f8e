package client_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// reshareRecordsEnv sets how many records BenchmarkReshare moves (default
// 10000); fewer make a quick run: CUSTOS_BENCH_RESHARE_RECORDS=500 make bench.
const reshareRecordsEnv = "CUSTOS_BENCH_RESHARE_RECORDS"

// manyWrites lets the benchmark's user put and delete as fast as it can.
func manyWrites(c *config.Config) {
	c.Limits.UserWrites = config.Bucket{Burst: 1 << 30, Every: time.Millisecond}
}

// BenchmarkReshare moves a vault's records between two networks of five
// real custosd processes each, threshold 3 (n1..n5 to n6..n10): one
// Reshare of all of them (reshare), against what it is made of (baseline):
// one batch unlock of all the records (GetMany) and one put per record,
// 16 at a time, in the same run. ns/op is for all the records of one run;
// ns/record is per record.
func BenchmarkReshare(b *testing.B) {
	records := 10000
	if s := os.Getenv(reshareRecordsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a number of records", reshareRecordsEnv, s)
		}
		records = n
	}
	tn := startNet(b, 10, 3, func(int) ([]string, []nodetest.Option) { return nil, []nodetest.Option{manyWrites} })
	newFile := tn.subnet(b, 3, 5, 6, 7, 8, 9)
	ctx := context.Background()
	users := 0
	// vaultWith makes a vault on the old network holding records.
	vaultWith := func(b *testing.B) (*client.Client, string, []string) {
		users++
		user := fmt.Sprintf("bench%d", users)
		path := tn.vaultOn(b, user, 3, 0, 1, 2, 3, 4)
		c := open(b, path, client.Options{Timeout: time.Minute})
		if err := c.Unlock(ctx, password); err != nil {
			b.Fatal(err)
		}
		labels := make([]string, records)
		for i := range labels {
			labels[i] = fmt.Sprintf("vendor-%05d", i)
		}
		putAll(b, c, labels)
		return c, user, labels
	}

	b.Run("baseline", func(b *testing.B) {
		c, _, labels := vaultWith(b)
		more := make([]string, records)
		runs := 0
		var took time.Duration
		for b.Loop() {
			for i := range more {
				more[i] = fmt.Sprintf("more-%d-%05d", runs, i)
			}
			start := time.Now()
			recs, err := c.GetMany(ctx, labels)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range recs {
				r.Wipe()
			}
			putAll(b, c, more)
			took += time.Since(start)
			runs++
		}
		b.ReportMetric(float64(took.Nanoseconds())/float64(runs*records), "ns/record")
	})
	b.Run("reshare", func(b *testing.B) {
		runs := 0
		var took time.Duration
		for b.Loop() {
			b.StopTimer()
			c, user, _ := vaultWith(b)
			tokens := tn.tokensAt(b, user, 5, 6, 7, 8, 9)
			b.StartTimer()
			t0 := time.Now()
			res, err := c.Reshare(ctx, newFile, password, tokens, client.ChangeOptions{})
			if err != nil {
				b.Fatal(err)
			}
			took += time.Since(t0)
			if res.Moved != records {
				b.Fatalf("moved %d records of %d", res.Moved, records)
			}
			runs++
		}
		b.ReportMetric(float64(took.Nanoseconds())/float64(runs*records), "ns/record")
	})
}

// putAll puts a record under each label, 16 at a time.
func putAll(b *testing.B, c *client.Client, labels []string) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(labels))
	sem := make(chan struct{}, 16)
	for i := range labels {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = c.Put(context.Background(), labels[i], acme, client.PutOptions{})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}
