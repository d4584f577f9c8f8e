package node_test

import (
	"testing"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/nodetest"
)

// holds reports whether n holds alice's account and how many of her OPRF
// key shares (of the first two epochs) it holds.
func (c *devicesCase) holds() (bool, int) {
	c.t.Helper()
	account, keys, err := c.n.HoldsUserForTest("alice", 2)
	if err != nil {
		c.t.Fatalf("read alice's account: %v", err)
	}
	return account, keys
}

func TestAccountIsNotClosedWhileItHoldsShares(t *testing.T) {
	c := newDevicesCase(t)
	from := len(rawLog(t, c.n))
	if err := c.alice.CloseAccount(c.ctx, c.n.ID()); !nodetest.IsCode(err, api.Code_INVALID_ARGUMENT) {
		t.Fatalf("closing an account that holds a share: %v, want INVALID_ARGUMENT", err)
	}
	if account, keys := c.holds(); !account || keys != 1 {
		t.Errorf("after the refused close: account %v, %d key shares; want both kept", account, keys)
	}
	for _, e := range entries(t, c.n, from) {
		if e.Kind == api.EntryKind_ACCOUNT_CLOSE {
			t.Errorf("a refused close logged as done: %v", e)
		}
	}
	if resp, err := c.alice.Release(c.ctx, c.n.ID(), c.unit); err != nil || resp.Shares[0].Error != nil {
		t.Errorf("the release after the refused close: %v, %v", resp, err)
	}
}

func TestAccountIsClosedOnlyByItsOwnLoggedInDevice(t *testing.T) {
	c := newDevicesCase(t)
	if err := c.alice.Delete(c.ctx, c.n.ID(), c.unit); err != nil {
		t.Fatal(err)
	}
	stranger := device(t, c.n, "alice")
	if err := stranger.CloseAccount(c.ctx, c.n.ID()); !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
		t.Errorf("a stranger closes alice's account: %v, want UNAUTHENTICATED", err)
	}
	bob := loggedIn(t, c.n, "bob")
	if err := bob.CloseAccount(c.ctx, c.n.ID()); err != nil {
		t.Errorf("bob closes his own account: %v", err)
	}
	if account, keys := c.holds(); !account || keys != 1 {
		t.Errorf("alice's account after the others' closes: account %v, %d key shares; want both kept", account, keys)
	}
	if err := c.alice.Login(c.ctx, c.n.ID()); err != nil {
		t.Errorf("alice logs in after bob closed his account: %v", err)
	}
}

func TestClosedAccountLeavesOnlyTheLog(t *testing.T) {
	c := newDevicesCase(t)
	second := c.second()
	if err := c.alice.Delete(c.ctx, c.n.ID(), c.unit); err != nil {
		t.Fatal(err)
	}
	from := len(rawLog(t, c.n))
	if err := c.alice.CloseAccount(c.ctx, c.n.ID()); err != nil {
		t.Fatalf("closing an account with no share left: %v", err)
	}
	if account, keys := c.holds(); account || keys != 0 {
		t.Errorf("after the close: account %v, %d key shares; want neither", account, keys)
	}
	var closed []*api.Entry
	for _, e := range entries(t, c.n, from) {
		if e.Kind == api.EntryKind_ACCOUNT_CLOSE {
			closed = append(closed, e)
		}
	}
	if len(closed) != 1 || closed[0].User != "alice" || string(closed[0].ClientPeerId) != string(c.alice.Host.ID()) || closed[0].Outcome != api.Code_OK {
		t.Errorf("the log's closing entries: %v; want one, of alice, by the device that asked", closed)
	}
	if from == 0 || len(rawLog(t, c.n)) != from+1 {
		t.Errorf("the log has %d entries after the close, from %d; want it kept and one more", len(rawLog(t, c.n)), from)
	}
	for name, d := range map[string]*nodetest.Device{"the closing device": c.alice, "the other device": second} {
		if _, err := d.List(c.ctx, c.n.ID()); !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
			t.Errorf("%s's session after the close: %v, want UNAUTHENTICATED", name, err)
		}
		if err := d.Login(c.ctx, c.n.ID()); !nodetest.IsCode(err, api.Code_NOT_FOUND) {
			t.Errorf("%s logs in after the close: %v, want NOT_FOUND (not enrolled)", name, err)
		}
	}
}

// TestPutCheckedBeforeAClosingStoresNothing: a put whose session was
// checked before the account was closed, and that reaches the store after
// the closing, stores nothing: a closed account holds no share, which no
// one could release or delete.
func TestPutCheckedBeforeAClosingStoresNothing(t *testing.T) {
	c := newDevicesCase(t)
	if err := c.alice.Delete(c.ctx, c.n.ID(), c.unit); err != nil {
		t.Fatal(err)
	}
	if err := c.n.DropAccountForTest("alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.alice.Put(c.ctx, c.n.ID(), nodetest.Unit(), nodetest.Share()); err == nil {
		t.Error("a put for a closed account succeeded")
	}
	units, err := c.n.UnitsForTest("alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != 0 {
		t.Errorf("the closed account holds %d shares, want none", len(units))
	}
}
