package node_test

import (
	"context"
	"strings"
	"testing"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/nodetest"
)

// enrollCase is a node at which alice has enrolled one device. Under
// invite enrollment, spare is a second invite for alice, made before she
// enrolled, so still valid; fresh is an invite for bob, who has not
// enrolled.
type enrollCase struct {
	t     *testing.T
	ctx   context.Context
	n     *nodetest.InProcess
	alice *nodetest.Device
	spare string
	fresh string
}

func newEnrollCase(t *testing.T, opts ...nodetest.Option) *enrollCase {
	t.Helper()
	c := &enrollCase{t: t, ctx: t.Context(), n: nodetest.Start(t, opts...)}
	c.alice = device(t, c.n, "alice")
	token := ""
	if c.n.Config.Enrollment == "invite" {
		token, c.spare = c.invite("alice"), c.invite("alice")
		c.fresh = c.invite("bob")
	}
	if err := c.alice.Enroll(c.ctx, c.n.ID(), token); err != nil {
		t.Fatalf("alice enrolls: %v", err)
	}
	return c
}

func (c *enrollCase) invite(user string) string {
	c.t.Helper()
	token, _, err := c.n.Invite(c.ctx, user, 0, false)
	if err != nil {
		c.t.Fatal(err)
	}
	return token
}

// stillGood checks that the spare invite was not used up: another device
// presenting it is told that alice has a device, not that the token is
// not valid (which is what a used token gets).
func (c *enrollCase) stillGood() {
	c.t.Helper()
	err := device(c.t, c.n, "alice").Enroll(c.ctx, c.n.ID(), c.spare)
	if !nodetest.IsCode(err, api.Code_INVALID_ARGUMENT) {
		c.t.Errorf("alice's spare invite after the refusal: %v; want it still valid (INVALID_ARGUMENT)", err)
	}
}

// TestEnrollOutcomes: a node answers an enrollment so that a client can
// report truthfully what is the case at that node: this device is enrolled
// already, it is enrolled now, its token was refused, or the user is
// enrolled with another device. No refusal uses up a token.
func TestEnrollOutcomes(t *testing.T) {
	const garbage = "custos-invite-notatoken"
	rules := []struct {
		name  string
		opts  []nodetest.Option
		run   func(c *enrollCase) error
		code  api.Code
		msg   string
		after func(c *enrollCase)
	}{
		{
			name: "a device enrolled already is ALREADY_EXISTS, and a valid token stays unused",
			opts: []nodetest.Option{nodetest.Invite},
			run:  func(c *enrollCase) error { return c.alice.Enroll(c.ctx, c.n.ID(), c.spare) },
			code: api.Code_ALREADY_EXISTS, msg: "this device is enrolled already",
			after: func(c *enrollCase) { c.stillGood() },
		},
		{
			name: "a device enrolled already is ALREADY_EXISTS before its token is looked at",
			opts: []nodetest.Option{nodetest.Invite},
			run:  func(c *enrollCase) error { return c.alice.Enroll(c.ctx, c.n.ID(), garbage) },
			code: api.Code_ALREADY_EXISTS, msg: "this device is enrolled already",
		},
		{
			name: "a device enrolled already is ALREADY_EXISTS under open enrollment",
			run:  func(c *enrollCase) error { return c.alice.Enroll(c.ctx, c.n.ID(), "") },
			code: api.Code_ALREADY_EXISTS, msg: "this device is enrolled already",
		},
		{
			name: "a token that is not an invite is UNAUTHENTICATED",
			opts: []nodetest.Option{nodetest.Invite},
			run:  func(c *enrollCase) error { return device(c.t, c.n, "bob").Enroll(c.ctx, c.n.ID(), garbage) },
			code: api.Code_UNAUTHENTICATED, msg: "invite token is not valid",
		},
		{
			name: "a used token is UNAUTHENTICATED",
			opts: []nodetest.Option{nodetest.Invite},
			run: func(c *enrollCase) error {
				if err := device(c.t, c.n, "bob").Enroll(c.ctx, c.n.ID(), c.fresh); err != nil {
					c.t.Fatalf("bob's first enrollment: %v", err)
				}
				return device(c.t, c.n, "bob").Enroll(c.ctx, c.n.ID(), c.fresh)
			},
			code: api.Code_UNAUTHENTICATED, msg: "invite token is not valid",
		},
		{
			name: "another user's token is UNAUTHENTICATED, even for a user enrolled with another device",
			opts: []nodetest.Option{nodetest.Invite},
			run:  func(c *enrollCase) error { return device(c.t, c.n, "alice").Enroll(c.ctx, c.n.ID(), c.fresh) },
			code: api.Code_UNAUTHENTICATED, msg: "invite token is not valid",
		},
		{
			name: "a valid token for a user enrolled with another device is INVALID_ARGUMENT, and stays unused",
			opts: []nodetest.Option{nodetest.Invite},
			run:  func(c *enrollCase) error { return device(c.t, c.n, "alice").Enroll(c.ctx, c.n.ID(), c.spare) },
			code: api.Code_INVALID_ARGUMENT, msg: "the user alice is enrolled at this node with another device",
			after: func(c *enrollCase) { c.stillGood() },
		},
		{
			name: "a user enrolled with another device is INVALID_ARGUMENT under open enrollment",
			run:  func(c *enrollCase) error { return device(c.t, c.n, "alice").Enroll(c.ctx, c.n.ID(), "") },
			code: api.Code_INVALID_ARGUMENT, msg: "the user alice is enrolled at this node with another device",
		},
		{
			name: "a new device with a valid token is enrolled now, and can log in",
			opts: []nodetest.Option{nodetest.Invite},
			run: func(c *enrollCase) error {
				bob := device(c.t, c.n, "bob")
				if err := bob.Enroll(c.ctx, c.n.ID(), c.fresh); err != nil {
					return err
				}
				return bob.Login(c.ctx, c.n.ID())
			},
			code: api.Code_OK,
		},
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			c := newEnrollCase(t, r.opts...)
			err := r.run(c)
			var got api.Code
			if err != nil {
				got = api.ToProto(err).GetCode()
			}
			if got != r.code || (err != nil && !strings.Contains(err.Error(), r.msg)) {
				t.Fatalf("got %s %q, want %s %q", got, err, r.code, r.msg)
			}
			if r.code != api.Code_OK {
				if last := lastEntry(t, c.n); last.Kind != api.EntryKind_ENROLL || last.Outcome != r.code {
					t.Errorf("the newest log entry is %s/%s, want the refusal ENROLL/%s", last.Kind, last.Outcome, r.code)
				}
			}
			if r.after != nil {
				r.after(c)
			}
		})
	}
}
