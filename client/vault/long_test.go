//go:build vaultlong

package vault

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// TestVaultHoldsAMillionRecords fills a vault with 1,000,000 records and
// checks that every operation still works on it, and logs what each
// costs there and in a vault of 10 records. It takes minutes and about a
// gigabyte of disk, so it is not part of make test:
//
//	go test -tags vaultlong -run Million -v -timeout 60m ./client/vault/
func TestVaultHoldsAMillionRecords(t *testing.T) {
	const records = 1_000_000
	small, smallPath := openNew(t) // 2 records
	large, largePath := openNew(t)
	start := time.Now()
	const batch = 10_000
	for from := 0; from < records; from += batch {
		us := make([]Unit, 0, batch)
		for n := from; n < from+batch; n++ {
			us = append(us, crashUnit(n))
		}
		if err := large.PutUnits(us...); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("filled with %d records in %v", records, time.Since(start).Round(time.Second))
	if info, err := os.Stat(largePath); err == nil {
		t.Logf("file: %.0f MB", float64(info.Size())/1e6)
	}

	const ops = 200
	for _, tc := range []struct {
		name string
		h    *Handle
	}{{"10 records", small}, {"1,000,000 records", large}} {
		var put, get, rm []time.Duration
		for i := range ops {
			u := crashUnit(records + 10 + i)
			put = append(put, timed(t, func() error { return tc.h.PutUnit(u) }))
			get = append(get, timed(t, func() error {
				got, ok, err := tc.h.Unit(u.Label)
				if err == nil && !ok {
					err = fmt.Errorf("%s is not there", u.Label)
				}
				if err == nil {
					err = tc.h.Vault().CheckUnit(got)
				}
				return err
			}))
			rm = append(rm, timed(t, func() error {
				_, err := tc.h.RemoveUnit(u.Label, u.ID, nil)
				return err
			}))
		}
		t.Logf("%s: put p50 %v, get p50 %v, rm p50 %v", tc.name, p50(put), p50(get), p50(rm))
	}

	var listed int
	took := timed(t, func() error {
		return large.Units("", func(UnitInfo) error { listed++; return nil })
	})
	if listed != records+2 {
		t.Fatalf("listed %d units, want %d", listed, records+2)
	}
	t.Logf("listing all %d: %v", listed, took)
	matched := 0
	took = timed(t, func() error {
		return large.Units("crash-0999", func(UnitInfo) error { matched++; return nil })
	})
	t.Logf("listing the %d labels that start with crash-0999: %v", matched, took)
	for _, p := range []string{smallPath, largePath} {
		h := map[string]*Handle{smallPath: small, largePath: large}[p]
		h.Close()
		took := timed(t, func() error {
			h, err := Open(p)
			if err == nil {
				err = h.Close()
			}
			return err
		})
		t.Logf("open %s: %v", map[string]string{smallPath: "at 10", largePath: "at 1,000,000"}[p], took)
	}
	large = mustOpen(t, largePath)
	took = timed(t, large.Verify)
	t.Logf("verify at 1,000,000: %v", took)
}

func timed(t *testing.T, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	if err := f(); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

func p50(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
