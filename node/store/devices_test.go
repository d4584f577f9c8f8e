package store

import (
	"testing"
	"time"
)

// TestRevokeKeepsTheDeviceItRevokes: past MaxRevokedDevices, a revocation
// forgets the device revoked longest ago, never the one it revokes, even
// when that one was added before all the others: a device just revoked
// must stay listed and be refused as revoked.
func TestRevokeKeepsTheDeviceItRevokes(t *testing.T) {
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := testAccount("alice")
	stolen := testDevice(0x30)
	a.AddDevice(stolen, epoch)
	for i := range MaxRevokedDevices {
		a.AddDevice(testDevice(byte(0x40+i)), epoch.Add(time.Duration(i+1)*time.Minute))
		a.Revoke(testDevice(byte(0x40+i)), epoch.Add(time.Duration(i+1)*time.Hour))
	}
	if !a.Revoke(stolen, epoch.Add(100*time.Hour)) {
		t.Fatal("Revoke of an active device = false, want true")
	}
	if d := a.Device(stolen); d == nil || d.Active() {
		t.Errorf("the device just revoked = %+v, want kept, revoked", d)
	}
	if a.Device(testDevice(0x40)) != nil {
		t.Error("the device revoked longest ago is still kept")
	}
	if n := len(a.Devices) - a.ActiveDevices(); n != MaxRevokedDevices {
		t.Errorf("%d revoked devices kept, want %d", n, MaxRevokedDevices)
	}
}
