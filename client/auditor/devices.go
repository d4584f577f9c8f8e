package auditor

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
)

// DeviceEvent is a change of a user's devices as one node logged it: the
// enrollment of the first device, a device added with a new-device
// invite, or one revoked.
type DeviceEvent struct {
	Node   string
	Index  uint64
	Time   time.Time // the node's clock
	User   string
	Kind   api.EntryKind // ENROLL, DEVICE_ADD or DEVICE_REVOKE
	Device peer.ID       // the device enrolled, added or revoked
	By     peer.ID       // the device that asked
}

// DeviceEvents returns the device changes in logs (verified entries by
// node), oldest first by the nodes' clocks, then by node and index.
// Refused enrollments and changes are not changes.
func DeviceEvents(logs map[string][]client.LoggedEntry) []DeviceEvent {
	var out []DeviceEvent
	for node, entries := range logs {
		for _, le := range entries {
			if ev, ok := deviceEvent(node, le); ok {
				out = append(out, ev)
			}
		}
	}
	slices.SortFunc(out, func(a, b DeviceEvent) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Node, b.Node), cmp.Compare(a.Index, b.Index))
	})
	return out
}

func deviceEvent(node string, le client.LoggedEntry) (DeviceEvent, bool) {
	e := le.Entry
	ev := DeviceEvent{Node: node, Index: le.Index, Time: time.UnixMilli(int64(e.TimeUnixMs)), User: e.User, Kind: e.Kind, By: peer.ID(e.ClientPeerId)}
	switch {
	case e.Outcome != api.Code_OK:
		return ev, false
	case e.Kind == api.EntryKind_ENROLL:
		ev.Device = ev.By
	case e.Kind == api.EntryKind_DEVICE_ADD, e.Kind == api.EntryKind_DEVICE_REVOKE:
		ev.Device = peer.ID(e.Device)
	default:
		return ev, false
	}
	return ev, ev.Device != ""
}

// deviceLife is one device of one user at one node, from its log: the
// entry that enrolled or added it, and the one that revoked it (0: none).
type deviceLife struct {
	added, revoked uint64
	hasAdded       bool
	revokedAt      time.Time
}

type deviceKey struct {
	node, user string
	device     peer.ID
}

// userDevices is every node's account of its users' devices.
type userDevices map[deviceKey]*deviceLife

func newUserDevices(logs map[string][]client.LoggedEntry) userDevices {
	d := userDevices{}
	for _, ev := range DeviceEvents(logs) {
		k := deviceKey{ev.Node, ev.User, ev.Device}
		l := d[k]
		if l == nil {
			l = &deviceLife{}
			d[k] = l
		}
		if ev.Kind == api.EntryKind_DEVICE_REVOKE {
			l.revoked, l.revokedAt = ev.Index, ev.Time
		} else {
			l.added, l.hasAdded = ev.Index, true
		}
	}
	return d
}

// known reports whether some node logged the enrollment or addition of
// u's device for u's user.
func (d userDevices) known(u *Unlock) bool {
	for k, l := range d {
		if k.user == u.User && k.device == u.Client && l.hasAdded {
			return true
		}
	}
	return false
}

// revokedReleases flags each release of u by a node after that node logged
// the revocation of u's device: the node served a revoked device.
func (d userDevices) revokedReleases(u *Unlock) []string {
	var flags []string
	for _, a := range u.Attempts {
		l := d[deviceKey{a.Node, u.User, u.Client}]
		if a.Released && l != nil && l.revoked != 0 && a.Index > l.revoked {
			flags = append(flags, fmt.Sprintf("released by %s (entry %d) to device %s after %s logged its revocation (entry %d, %s)",
				a.Node, a.Index, u.Client, a.Node, l.revoked, l.revokedAt.UTC().Format(time.RFC3339)))
		}
	}
	return flags
}

// devicesOfUsers are the device changes in logs of the users of unlocks.
func devicesOfUsers(unlocks []Unlock, logs map[string][]client.LoggedEntry) []DeviceEvent {
	users := map[string]bool{}
	for i := range unlocks {
		users[unlocks[i].User] = true
	}
	var out []DeviceEvent
	for _, ev := range DeviceEvents(logs) {
		if users[ev.User] {
			out = append(out, ev)
		}
	}
	return out
}
