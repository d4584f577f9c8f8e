package auth

import (
	"context"
	"strings"
	"testing"

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
