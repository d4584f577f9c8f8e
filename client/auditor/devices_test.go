package auditor_test

import (
	"strings"
	"testing"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/auditor"
)

// change logs at node a device change of alice's: kind of device, asked by by.
func (b *logBook) change(node string, kind api.EntryKind, device, by device, s int) {
	b.t.Helper()
	e := &api.Entry{TimeUnixMs: uint64(s * 1000), Kind: kind, User: "alice", ClientPeerId: []byte(by.id)}
	if kind != api.EntryKind_ENROLL {
		e.Device = []byte(device.id)
	}
	b.append(node, e, 0)
}

func TestReportUnitKnowsTheUsersDevices(t *testing.T) {
	laptop, runner, stranger := newDevice(t), newDevice(t), newDevice(t)
	b := newLogBook(t)
	nodes := []string{"a", "b", "c", "d", "e"}
	for _, n := range nodes {
		b.change(n, api.EntryKind_ENROLL, laptop, laptop, 10)
		b.change(n, api.EntryKind_DEVICE_ADD, runner, runner, 20)
	}
	for _, n := range []string{"a", "b", "c"} {
		b.add(n, laptop, 100, api.Code_OK, receipted)
		b.add(n, runner, 200, api.Code_OK, 0)
		b.add(n, stranger, 300, api.Code_OK, 0)
	}
	for _, n := range nodes {
		b.change(n, api.EntryKind_DEVICE_REVOKE, runner, laptop, 400)
	}
	b.add("a", runner, 500, api.Code_OK, 0) // a released to the revoked runner
	r := b.report(laptop, 0)
	if len(r.Unlocks) != 4 {
		t.Fatalf("%d unlocks, want 4", len(r.Unlocks))
	}
	byRunner, byStranger, afterRevoke := r.Unlocks[1], r.Unlocks[2], r.Unlocks[3]
	if !byRunner.OtherDevice || len(byRunner.Flags) != 0 {
		t.Errorf("the runner's unlock: other device %v, flags %q; want another device of the user, unflagged", byRunner.OtherDevice, byRunner.Flags)
	}
	if byStranger.OtherDevice || !strings.Contains(strings.Join(byStranger.Flags, "\n"), "not the vault's device") {
		t.Errorf("the stranger's unlock: other device %v, flags %q; want it flagged", byStranger.OtherDevice, byStranger.Flags)
	}
	if !strings.Contains(strings.Join(afterRevoke.Flags, "\n"), "after a logged its revocation") {
		t.Errorf("the release after the revocation: flags %q; want it flagged", afterRevoke.Flags)
	}
	kinds := map[api.EntryKind]int{}
	for _, ev := range r.Devices {
		kinds[ev.Kind]++
	}
	if kinds[api.EntryKind_ENROLL] != 5 || kinds[api.EntryKind_DEVICE_ADD] != 5 || kinds[api.EntryKind_DEVICE_REVOKE] != 5 {
		t.Errorf("device events %v, want 5 enrollments, 5 additions, 5 revocations", kinds)
	}
	for _, ev := range auditor.DeviceEvents(b.logs) {
		if ev.Kind == api.EntryKind_DEVICE_REVOKE && (ev.Device != runner.id || ev.By != laptop.id) {
			t.Errorf("revocation %+v, want the runner revoked by the laptop", ev)
		}
	}
}
