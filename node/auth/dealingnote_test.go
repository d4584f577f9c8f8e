package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/custos-network/custos/api"
)

// withNote gives a stage request (stageRequest: index 1 of 2-of-3) a
// dealing note naming node at index 1, with the stage's public share, and
// other peers at 2 and 3. The MAC is random: the node cannot check it.
func withNote(t *testing.T, req *api.PasswdRequest, node []byte) *api.DealingNote {
	t.Helper()
	st := req.GetStage()
	note := &api.DealingNote{Epoch: st.Oprf.Epoch, Threshold: 2, Mac: make([]byte, api.DealingNoteMACSize)}
	if _, err := rand.Read(note.Mac); err != nil {
		t.Fatal(err)
	}
	for i := uint32(1); i <= 3; i++ {
		s := &api.DealingNoteShare{PeerId: []byte(newPeer(t)), Index: i, PublicShare: st.Oprf.PublicShare}
		if i == 1 {
			s.PeerId = node
		}
		note.Shares = append(note.Shares, s)
	}
	st.Note = note
	return note
}

// TestOlderEpochLoginGetsTheCommittedNoteOnlyFromTheAccountsDevices holds
// what a node hands out of a password change's dealing note: nothing while
// the change is only staged; the committed dealing's note (not that of a
// change staged after it) to a device of the account whose hello names an
// older epoch, refused NOT_FOUND and uncounted; nothing to a stranger,
// nor to a device that holds only a new-device invite, nothing under the
// current epoch, and nothing for a dealing staged without a note. A stage
// whose note names another node at its index is refused.
func TestOlderEpochLoginGetsTheCommittedNoteOnlyFromTheAccountsDevices(t *testing.T) {
	n, sess := loggedIn(t)
	alice := sess.Peer
	ctx := context.Background()
	passwd := func(req *api.PasswdRequest) {
		t.Helper()
		if _, err := n.svc.Passwd(ctx, sess, req); err != nil {
			t.Fatalf("passwd: %v", err)
		}
	}
	hello := func(device peer.ID, epoch uint32) error {
		t.Helper()
		_, err := n.svc.Hello(ctx, device, &api.LoginHello{User: "alice", Epoch: epoch})
		return err
	}
	noteOf := func(err error) *api.DealingNote {
		t.Helper()
		var oe *OutdatedEpochError
		if !errors.As(err, &oe) {
			return nil
		}
		if code(err) != api.Code_NOT_FOUND {
			t.Errorf("a refusal with a note is %s, want NOT_FOUND", code(err))
		}
		note, derr := api.DecodeDealingNote(oe.Note)
		if derr != nil {
			t.Fatalf("the note handed out does not decode: %v", derr)
		}
		return note
	}

	lying, _ := stageRequest(t, 2)
	withNote(t, lying, []byte(newPeer(t)))
	if _, err := n.svc.Passwd(ctx, sess, lying); code(err) != api.Code_INVALID_ARGUMENT {
		t.Errorf("a note naming another node at the stage's index: %v, want INVALID_ARGUMENT", err)
	}

	stage2, _ := stageRequest(t, 2)
	note2 := withNote(t, stage2, []byte(n.id))
	passwd(stage2)
	if err := hello(alice, 1); err != nil {
		t.Fatalf("a hello under the current epoch while 2 is staged: %v", err)
	}
	passwd(commitRequest(2))
	stage3, _ := stageRequest(t, 3)
	withNote(t, stage3, []byte(n.id))
	passwd(stage3) // staged, never committed
	failures := n.account("alice").Failures

	got := noteOf(hello(alice, 1))
	if got == nil || !proto.Equal(got, note2) {
		t.Errorf("the account's device under epoch 1 got note %v, want the committed epoch 2's", got)
	}
	if last := n.lastEntries(1)[0]; !strings.HasSuffix(last.Reason, "handed the dealing note of epoch 2") {
		t.Errorf("the refusal is logged as %q, want it to say it handed the note of epoch 2", last.Reason)
	}
	if a := n.account("alice"); a.Failures != failures {
		t.Errorf("the refused hello counted an attempt: %d failures, want %d", a.Failures, failures)
	}
	if err := hello(newPeer(t), 1); code(err) != api.Code_NOT_FOUND || noteOf(err) != nil {
		t.Errorf("a stranger under epoch 1: %v; want NOT_FOUND and no note", err)
	}
	token, _, err := n.svc.Invite(ctx, "alice", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.svc.Hello(ctx, newPeer(t), &api.LoginHello{User: "alice", Epoch: 1, DeviceToken: token})
	if code(err) != api.Code_NOT_FOUND || noteOf(err) != nil {
		t.Errorf("a device with a new-device invite alone, under epoch 1: %v; want NOT_FOUND and no note", err)
	}
	n.clock.Advance(time.Hour) // the backoff of the hello under epoch 1
	if err := hello(alice, 2); err != nil || noteOf(err) != nil {
		t.Errorf("a hello under the current epoch: %v, want a challenge", err)
	}

	passwd(abortRequest(3))
	bare, _ := stageRequest(t, 3)
	passwd(bare)
	passwd(commitRequest(3))
	if err := hello(alice, 2); code(err) != api.Code_NOT_FOUND || noteOf(err) != nil {
		t.Errorf("an older epoch after a change staged without a note: %v; want NOT_FOUND and no note", err)
	}
}
