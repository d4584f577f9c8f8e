package node_test

import (
	"testing"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/nodetest"
	"github.com/custos-network/custos/node/store"
)

// TestStoreFailureInReleaseReturnsNoShare: a release whose log update fails
// is not logged and releases nothing; one whose receipt cannot be read is
// logged but releases nothing either (the client could not check it). The
// device gets the store's refusal, and no share bytes, in both cases.
func TestStoreFailureInReleaseReturnsNoShare(t *testing.T) {
	for _, tc := range []struct {
		step   string
		logged int // entries the failed release leaves
	}{
		{"update", 0},
		{"receipt", 1},
	} {
		t.Run("a failed "+tc.step, func(t *testing.T) {
			e := newEnv(t)
			before := len(rawLog(t, e.n))
			e.n.FailReleaseStoreForTest(t, tc.step, store.ErrDiskFull)
			resp, err := e.release(e.alice, signed(e.alice, e.n.ID(), time.Now(), e.unit))
			if resp == nil {
				t.Fatalf("no answer: %v; want the store's refusal", err)
			}
			if !nodetest.IsCode(err, api.Code_UNAVAILABLE) {
				t.Errorf("the answer is %v; want the store's UNAVAILABLE", err)
			}
			for i, sh := range resp.Shares {
				if len(sh.Share) > 0 {
					t.Errorf("the answer carries the share of unit %d", i)
				}
			}
			if resp.Receipt != nil {
				t.Error("the answer carries a receipt")
			}
			if got := len(rawLog(t, e.n)) - before; got != tc.logged {
				t.Errorf("the failed release left %d log entries, want %d", got, tc.logged)
			}
			e.n.FailReleaseStoreForTest(t, "", nil)
			e.releasable()
		})
	}
}
