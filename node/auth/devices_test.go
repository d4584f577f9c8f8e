package auth

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/config"
)

// TestHelloWithABadInviteTellsNothingOfWhetherTheUserExists: a stranger's
// hello that carries a new-device token it made up is refused alike for
// an enrolled user and for a name no one enrolled, so that sending any
// token does not tell it which users exist here.
func TestHelloWithABadInviteTellsNothingOfWhetherTheUserExists(t *testing.T) {
	n := newTestNode(t, config.Default("n1").Auth)
	n.enroll("alice")
	ctx := context.Background()
	bogus := "custos-invite-" + strings.Repeat("a", 52)
	hello := func(user string) error {
		t.Helper()
		_, err := n.svc.Hello(ctx, newPeer(t), &api.LoginHello{User: user, Epoch: 1, DeviceToken: bogus})
		if err == nil {
			t.Fatalf("a hello for %s with a made-up token got a challenge", user)
		}
		return err
	}
	known, unknown := hello("alice"), hello("bob")
	if code(known) != code(unknown) || strings.ReplaceAll(unknown.Error(), "bob", "alice") != known.Error() {
		t.Errorf("a made-up token for an enrolled user: %s %q; for no user: %s %q; want the same answer",
			code(known), known, code(unknown), unknown)
	}
	if code(known) != api.Code_UNAUTHENTICATED {
		t.Errorf("a made-up token: %s, want UNAUTHENTICATED (the invite's refusal)", code(known))
	}
}

// TestRevokeDuringALoginLeavesTheRevokedDeviceNoSession: a device revoked
// while its login is being settled (after the node recorded the login's
// success, before it opened the session) gets no session and no
// connection room: the revocation wins whenever it commits.
func TestRevokeDuringALoginLeavesTheRevokedDeviceNoSession(t *testing.T) {
	n := newTestNode(t, config.Default("n1").Auth)
	alice := n.enroll("alice")
	if err := n.login(alice); err != nil {
		t.Fatal(err)
	}
	sess := &Session{User: "alice", Peer: alice.id}
	ctx := context.Background()
	token, _, err := n.svc.Invite(ctx, "alice", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	bob := &testDevice{user: "alice", id: newPeer(t), share: alice.share, key: alice.key}
	n.svc.settled = func() {
		n.svc.settled = nil
		if _, err := n.svc.Revoke(ctx, sess, bob.id); err != nil {
			t.Errorf("revoke the device logging in: %v", err)
		}
	}
	c, err := n.svc.Hello(ctx, bob.id, &api.LoginHello{User: "alice", Epoch: 1, DeviceToken: token})
	if err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(bob.key, api.LoginTranscript([]byte(n.id), []byte(bob.id), "alice", c.Nonce()))
	if _, err := n.svc.Login(ctx, c, sig); code(err) != api.Code_UNAUTHENTICATED {
		t.Errorf("a login whose device was revoked before its session opened: %v, want UNAUTHENTICATED", err)
	}
	if _, err := n.svc.Session(bob.id); err == nil {
		t.Error("the revoked device has a session")
	}
	if n.svc.Enrolled(bob.id) {
		t.Error("the revoked device keeps the connection room of an enrolled one")
	}
}

// TestNewDeviceInviteDiesWithTheAccountItWasMadeFor: a new-device invite
// made for an account that was closed since does not add a device to the
// account enrolled later under the same name (someone else's, perhaps).
func TestNewDeviceInviteDiesWithTheAccountItWasMadeFor(t *testing.T) {
	n := newTestNode(t, config.Default("n1").Auth)
	ctx := context.Background()
	first := n.enroll("alice")
	if err := n.login(first); err != nil {
		t.Fatal(err)
	}
	token, _, err := n.svc.Invite(ctx, "alice", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(time.Minute)
	if err := n.svc.Close(ctx, &Session{User: "alice", Peer: first.id}); err != nil {
		t.Fatalf("close the first account: %v", err)
	}
	n.clock.Advance(time.Minute)
	n.enroll("alice")
	_, err = n.svc.Hello(ctx, newPeer(t), &api.LoginHello{User: "alice", Epoch: 1, DeviceToken: token})
	if code(err) != api.Code_UNAUTHENTICATED {
		t.Errorf("a hello with a new-device invite of the closed account: %v, want UNAUTHENTICATED (a bad invite)", err)
	}
}
