package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/store"
	"github.com/custos-network/custos/threshold/toprf"
)

// stageRequest is a stage of a fresh dealing of epoch (index 1 of 2-of-3)
// with a fresh login key, and that dealing's key share, for the test to
// compare with what the node stored.
func stageRequest(t *testing.T, epoch uint32) (*api.PasswdRequest, toprf.KeyShare) {
	t.Helper()
	r, err := toprf.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Wipe()
	shares, pubs, err := r.Split(2, 3)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	stage := &api.PasswdStage{
		Oprf:          &api.OprfShare{Epoch: epoch, Index: 1, KeyShare: shares[0].Bytes(), PublicShare: pubs[0].Element[:]},
		AuthPublicKey: pub,
	}
	return &api.PasswdRequest{Step: &api.PasswdRequest_Stage{Stage: stage}}, shares[0]
}

// loggedIn is a node where alice is enrolled and logged in, and her session.
func loggedIn(t *testing.T) (*testNode, *Session) {
	t.Helper()
	n := newTestNode(t, config.Default("n1").Auth)
	alice := n.enroll("alice")
	if err := n.login(alice); err != nil {
		t.Fatal(err)
	}
	return n, &Session{User: "alice", Peer: alice.id}
}

func commitRequest(epoch uint32) *api.PasswdRequest {
	return &api.PasswdRequest{Step: &api.PasswdRequest_Commit{Commit: epoch}}
}

func abortRequest(epoch uint32) *api.PasswdRequest {
	return &api.PasswdRequest{Step: &api.PasswdRequest_Abort{Abort: epoch}}
}

// keyShare reads user's OPRF key share of epoch as the node stores it.
func (n *testNode) keyShare(user string, epoch uint32) ([]byte, error) {
	var b []byte
	err := n.store.View(func(tx *store.Tx) (err error) {
		b, err = tx.OprfKeyShare(user, epoch)
		return err
	})
	return b, err
}

// TestPasswordChangeKeepsOneDealingUntilTheOtherIsConfirmed holds the rules
// of a password change at one node: a stage of epoch current+1 is kept
// beside the current dealing (a new stage of that epoch replaces it), a
// commit makes it current and drops the old one with its key share, an
// abort drops it; a commit or abort of an epoch not staged is NOT_FOUND,
// and a stage of another epoch INVALID_ARGUMENT. Every step, done or
// refused, is a PASSWORD entry naming its epoch, and the answer says the
// node's epochs after it.
func TestPasswordChangeKeepsOneDealingUntilTheOtherIsConfirmed(t *testing.T) {
	n, sess := loggedIn(t)
	ctx := context.Background()
	step := func(req *api.PasswdRequest, wantCode api.Code, want Epochs, entryEpoch uint32) {
		t.Helper()
		got, err := n.svc.Passwd(ctx, sess, req)
		if code(err) != wantCode || got != want {
			t.Fatalf("got %+v, %v; want %+v, %s", got, err, want, wantCode)
		}
		last := n.lastEntries(1)[0]
		if last.Kind != api.EntryKind_PASSWORD || last.Outcome != wantCode || last.Epoch != entryEpoch || last.User != "alice" {
			t.Errorf("the log ends with %s/%s of epoch %d, want PASSWORD/%s of epoch %d", last.Kind, last.Outcome, last.Epoch, wantCode, entryEpoch)
		}
	}
	storedIs := func(epoch uint32, want *toprf.KeyShare) {
		t.Helper()
		b, err := n.keyShare("alice", epoch)
		defer clear(b)
		switch {
		case want == nil && !errors.Is(err, store.ErrNotFound):
			t.Errorf("the key share of epoch %d: %v, want none", epoch, err)
		case want != nil && (err != nil || !bytes.Equal(b, want.Bytes())):
			t.Errorf("the key share of epoch %d is not the one dealt (%v)", epoch, err)
		}
	}
	enrolled, err := n.keyShare("alice", 1)
	if err != nil {
		t.Fatalf("the key share of enrollment: %v", err)
	}
	clear(enrolled)

	step(commitRequest(2), api.Code_NOT_FOUND, Epochs{1, 0}, 2)
	bad, _ := stageRequest(t, 3)
	step(bad, api.Code_INVALID_ARGUMENT, Epochs{1, 0}, 3)

	first, firstShare := stageRequest(t, 2)
	step(first, api.Code_OK, Epochs{1, 2}, 2)
	storedIs(2, &firstShare)
	again, againShare := stageRequest(t, 2)
	step(again, api.Code_OK, Epochs{1, 2}, 2)
	storedIs(2, &againShare)
	if a := n.account("alice"); !bytes.Equal(a.Staged.LoginPublicKey, again.GetStage().AuthPublicKey) {
		t.Error("a new stage of the staged epoch did not replace its login key")
	}

	step(abortRequest(3), api.Code_NOT_FOUND, Epochs{1, 2}, 3)
	step(commitRequest(2), api.Code_OK, Epochs{2, 0}, 2)
	storedIs(1, nil)
	storedIs(2, &againShare)
	if a := n.account("alice"); a.Current.Epoch != 2 || a.Staged != nil || !bytes.Equal(a.Current.LoginPublicKey, again.GetStage().AuthPublicKey) {
		t.Errorf("after the commit the account holds %+v and staged %+v", a.Current, a.Staged)
	}
	step(commitRequest(2), api.Code_NOT_FOUND, Epochs{2, 0}, 2)

	third, thirdShare := stageRequest(t, 3)
	step(third, api.Code_OK, Epochs{2, 3}, 3)
	storedIs(3, &thirdShare)
	step(abortRequest(3), api.Code_OK, Epochs{2, 0}, 3)
	storedIs(3, nil)
	storedIs(2, &againShare)
}
