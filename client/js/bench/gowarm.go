//go:build ignore

// gowarm measures the Go client's warm get, for the JS SDK's bench
// (bench/warmget.ts), which runs it on the same nodes with
//
//	go run ./client/js/bench/gowarm.go -vault V -password-file P -label L -n N
//
// It opens the vault, unlocks once, gets the record once to warm up, then N
// times, and prints the p50 and mean latency in milliseconds as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/custos-network/custos/client"
)

func main() {
	vault := flag.String("vault", "", "the Go user's vault")
	pwFile := flag.String("password-file", "", "a file holding the password")
	label := flag.String("label", "", "the record to get")
	n := flag.Int("n", 100, "gets to time")
	flag.Parse()
	if err := run(*vault, *pwFile, *label, *n); err != nil {
		fmt.Fprintln(os.Stderr, "gowarm:", err)
		os.Exit(1)
	}
}

func run(vault, pwFile, label string, n int) error {
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		return err
	}
	ctx := context.Background()
	c, err := client.Open(vault, client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Unlock(ctx, pw); err != nil {
		return err
	}
	if _, err := c.Get(ctx, label); err != nil {
		return err
	}
	times := make([]time.Duration, 0, n)
	var total time.Duration
	for range n {
		start := time.Now()
		rec, err := c.Get(ctx, label)
		if err != nil {
			return err
		}
		rec.Wipe()
		d := time.Since(start)
		times = append(times, d)
		total += d
	}
	slices.Sort(times)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return json.NewEncoder(os.Stdout).Encode(map[string]float64{"p50_ms": ms(times[n/2]), "mean_ms": ms(total / time.Duration(n))})
}
