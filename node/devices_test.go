package node_test

import (
	"context"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/nodetest"
)

// devicesCase is a node under invite enrollment where alice enrolled one
// device and put one share.
type devicesCase struct {
	t     *testing.T
	ctx   context.Context
	n     *nodetest.InProcess
	alice *nodetest.Device
	unit  *api.UnitRef
}

func newDevicesCase(t *testing.T) *devicesCase {
	t.Helper()
	c := &devicesCase{t: t, ctx: t.Context(), n: nodetest.Start(t, nodetest.Invite)}
	c.alice = device(t, c.n, "alice")
	if err := c.alice.Enroll(c.ctx, c.n.ID(), c.invite("alice", false)); err != nil {
		t.Fatalf("alice enrolls: %v", err)
	}
	if err := c.alice.Login(c.ctx, c.n.ID()); err != nil {
		t.Fatalf("alice logs in: %v", err)
	}
	c.unit = nodetest.Unit()
	if _, err := c.alice.Put(c.ctx, c.n.ID(), c.unit, nodetest.Share()); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *devicesCase) invite(user string, newDevice bool) string {
	c.t.Helper()
	token, _, err := c.n.Invite(c.ctx, user, 0, newDevice)
	if err != nil {
		c.t.Fatalf("invite %s (new device %v): %v", user, newDevice, err)
	}
	return token
}

// second adds a copy of alice's device with a new-device invite.
func (c *devicesCase) second() *nodetest.Device {
	c.t.Helper()
	d := c.copy()
	if err := d.LoginNewDevice(c.ctx, c.n.ID(), c.invite("alice", true)); err != nil {
		c.t.Fatalf("the second device logs in with a new-device invite: %v", err)
	}
	return d
}

func (c *devicesCase) copy() *nodetest.Device {
	c.t.Helper()
	d := c.alice.Copy(c.t)
	if err := d.Connect(c.ctx, c.n.Info()); err != nil {
		c.t.Fatal(err)
	}
	return d
}

func TestSecondDeviceAddedWithNewDeviceInviteGetsTheUsersShares(t *testing.T) {
	c := newDevicesCase(t)
	from := len(rawLog(t, c.n))
	token := c.invite("alice", true)
	d := c.copy()
	if err := d.LoginNewDevice(c.ctx, c.n.ID(), token); err != nil {
		t.Fatalf("LoginNewDevice: %v", err)
	}
	resp, err := d.Release(c.ctx, c.n.ID(), c.unit)
	if err != nil || len(resp.Shares) != 1 || resp.Shares[0].Error != nil {
		t.Fatalf("the second device's release: %v, %v", resp, err)
	}
	var added *api.Entry
	for _, e := range entries(t, c.n, from) {
		if e.Kind == api.EntryKind_DEVICE_ADD {
			added = e
		}
	}
	if added == nil || peer.ID(added.Device) != d.Host.ID() || added.User != "alice" {
		t.Errorf("the log's device addition: %v; want one naming the second device", added)
	}
	devices, err := d.Devices(c.ctx, c.n.ID())
	if err != nil || len(devices) != 2 || peer.ID(devices[1].PeerId) != d.Host.ID() || devices[1].RevokedUnixMs != 0 {
		t.Errorf("Devices = %v, %v; want alice's first device and the new one, both active", devices, err)
	}
	if err := c.copy().LoginNewDevice(c.ctx, c.n.ID(), token); !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
		t.Errorf("a third device with the used token: %v, want UNAUTHENTICATED", err)
	}
	if err := c.alice.Login(c.ctx, c.n.ID()); err != nil {
		t.Errorf("the first device logs in after: %v", err)
	}
}

func TestNewDeviceLoginWithWrongPasswordAddsNothingAndKeepsTheToken(t *testing.T) {
	c := newDevicesCase(t)
	token := c.invite("alice", true)
	d := c.copy()
	d.SetPassword("wrong")
	if err := d.LoginNewDevice(c.ctx, c.n.ID(), token); !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
		t.Fatalf("a new device with the wrong password: %v, want UNAUTHENTICATED", err)
	}
	if err := d.Login(c.ctx, c.n.ID()); !nodetest.IsCode(err, api.Code_NOT_FOUND) {
		t.Errorf("the device after its failed login: %v; want it not enrolled (NOT_FOUND)", err)
	}
	d.SetPassword("correct horse battery staple")
	// The backoff of the failure refuses at once; the unlock clears it.
	if err := c.n.Unlock(c.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := d.LoginNewDevice(c.ctx, c.n.ID(), token); err != nil {
		t.Errorf("the same token with the right password: %v", err)
	}
}

func TestInvitesAreEachForTheirOwnUse(t *testing.T) {
	c := newDevicesCase(t)
	if err := c.copy().LoginNewDevice(c.ctx, c.n.ID(), c.invite("bob", false)); !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
		t.Errorf("an enrollment invite at a new-device login: %v, want UNAUTHENTICATED", err)
	}
	if err := device(t, c.n, "alice").Enroll(c.ctx, c.n.ID(), c.invite("alice", true)); !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
		t.Errorf("a new-device invite at an enrollment: %v, want UNAUTHENTICATED", err)
	}
	if _, _, err := c.n.Invite(c.ctx, "bob", 0, true); !nodetest.IsCode(err, api.Code_NOT_FOUND) {
		t.Errorf("a new-device invite for a user not enrolled: %v, want NOT_FOUND", err)
	}
	if _, _, err := c.n.Invite(c.ctx, "alice", 0, false); !nodetest.IsCode(err, api.Code_ALREADY_EXISTS) {
		t.Errorf("an enrollment invite for an enrolled user: %v, want ALREADY_EXISTS", err)
	}
}

func TestRevokedDeviceIsRefusedAndTheRefusalLogged(t *testing.T) {
	c := newDevicesCase(t)
	d := c.second()
	from := len(rawLog(t, c.n))
	devices, err := c.alice.Revoke(c.ctx, c.n.ID(), d.Host.ID())
	if err != nil || len(devices) != 2 || devices[1].RevokedUnixMs == 0 {
		t.Fatalf("Revoke = %v, %v; want the second device revoked", devices, err)
	}
	if _, err := d.Release(c.ctx, c.n.ID(), c.unit); !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
		t.Errorf("the revoked device's release in its old session: %v, want UNAUTHENTICATED", err)
	}
	err = d.Login(c.ctx, c.n.ID())
	if !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("the revoked device's login: %v, want UNAUTHENTICATED saying it was revoked", err)
	}
	if err := d.LoginNewDevice(c.ctx, c.n.ID(), c.invite("alice", true)); !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
		t.Errorf("the revoked device with a new-device invite: %v, want UNAUTHENTICATED", err)
	}
	var revoked, refused bool
	for _, e := range entries(t, c.n, from) {
		switch {
		case e.Kind == api.EntryKind_DEVICE_REVOKE && peer.ID(e.Device) == d.Host.ID() && peer.ID(e.ClientPeerId) == c.alice.Host.ID():
			revoked = true
		case e.Kind == api.EntryKind_LOGIN && peer.ID(e.ClientPeerId) == d.Host.ID() && e.Outcome == api.Code_UNAUTHENTICATED && e.Reason == "revoked device":
			refused = true
		}
	}
	if !revoked || !refused {
		t.Errorf("log: revocation %v, refused login of the revoked device %v; want both", revoked, refused)
	}
	if again, err := c.alice.Revoke(c.ctx, c.n.ID(), d.Host.ID()); err != nil || len(again) != 2 {
		t.Errorf("revoking a revoked device again = %v, %v; want no change, no error", again, err)
	}
}

func TestLastDeviceCannotBeRevoked(t *testing.T) {
	c := newDevicesCase(t)
	if _, err := c.alice.Revoke(c.ctx, c.n.ID(), c.alice.Host.ID()); !nodetest.IsCode(err, api.Code_INVALID_ARGUMENT) {
		t.Errorf("revoking the last device: %v, want INVALID_ARGUMENT", err)
	}
	d := c.second()
	if _, err := d.Revoke(c.ctx, c.n.ID(), d.Host.ID()); err != nil {
		t.Errorf("a device revokes itself while another is active: %v", err)
	}
	if _, err := c.alice.Revoke(c.ctx, c.n.ID(), d.Host.ID()); err != nil {
		t.Errorf("revoking the revoked device again: %v", err)
	}
	if _, err := c.alice.Revoke(c.ctx, c.n.ID(), c.alice.Host.ID()); !nodetest.IsCode(err, api.Code_INVALID_ARGUMENT) {
		t.Errorf("revoking the last active device: %v, want INVALID_ARGUMENT", err)
	}
	if _, err := c.alice.Revoke(c.ctx, c.n.ID(), nodetest.NewDevice(t, "x").Host.ID()); !nodetest.IsCode(err, api.Code_NOT_FOUND) {
		t.Errorf("revoking a device not of the user: %v, want NOT_FOUND", err)
	}
}

func TestActiveDevicesAreBounded(t *testing.T) {
	c := newDevicesCase(t)
	for range api.MaxActiveDevices - 1 {
		c.second()
	}
	if _, _, err := c.n.Invite(c.ctx, "alice", 0, true); !nodetest.IsCode(err, api.Code_INVALID_ARGUMENT) {
		t.Errorf("a new-device invite for a user with %d devices: %v, want INVALID_ARGUMENT", api.MaxActiveDevices, err)
	}
}
