//go:build ignore

// gowarm times the Go client's warm get, for the JS SDK's bench
// (bench/warmget.ts), which runs it on the same nodes as
//
//	go run ./client/js/bench/gowarm.go -vault V -password-file P -label L
//
// It opens the vault, unlocks, prints "ready", then reads a number N per
// line on standard input: it gets the record N times and prints the
// latency of each, in milliseconds, as one JSON array per line. The bench
// so interleaves blocks of Go gets with blocks of JS gets, and neither
// client meets the nodes in a state that the other left (a log grown by
// the first client's releases, compactions it set off). It ends at the
// end of its input.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/custos-network/custos/client"
)

func main() {
	vault := flag.String("vault", "", "the Go user's vault")
	pwFile := flag.String("password-file", "", "a file holding the password")
	label := flag.String("label", "", "the record to get")
	flag.Parse()
	if err := run(*vault, *pwFile, *label); err != nil {
		fmt.Fprintln(os.Stderr, "gowarm:", err)
		os.Exit(1)
	}
}

func run(vault, pwFile, label string) error {
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
	fmt.Println("ready")
	out := json.NewEncoder(os.Stdout)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, err := strconv.Atoi(strings.TrimSpace(in.Text()))
		if err != nil || n < 1 || n > 100_000 {
			return fmt.Errorf("want a number of gets, got %q", in.Text())
		}
		times := make([]float64, 0, n)
		for range n {
			start := time.Now()
			rec, err := c.Get(ctx, label)
			if err != nil {
				return err
			}
			rec.Wipe()
			times = append(times, float64(time.Since(start))/float64(time.Millisecond))
		}
		if err := out.Encode(times); err != nil {
			return err
		}
	}
	return in.Err()
}
