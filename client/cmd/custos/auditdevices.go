package main

import (
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/auditor"
)

// deviceChange names a device event's kind as the report prints it.
var deviceChange = map[api.EntryKind]string{
	api.EntryKind_ENROLL:        "enrolled",
	api.EntryKind_DEVICE_ADD:    "added",
	api.EntryKind_DEVICE_REVOKE: "revoked",
}

// otherDevice marks an unlock by another device of the user.
func otherDevice(u auditor.Unlock) string {
	if u.OtherDevice {
		return " (another device of the user)"
	}
	return ""
}

// printDeviceEvents prints the device changes of the report's users.
func printDeviceEvents(out io.Writer, events []auditor.DeviceEvent) {
	for _, ev := range events {
		fmt.Fprintf(out, "DEVICE: %s  %s  user=%s  device %s %s (entry %d, by %s)\n", ev.Time.UTC().Format(time.RFC3339), ev.Node,
			ev.User, ev.Device, deviceChange[ev.Kind], ev.Index, ev.By)
	}
}

// deviceJSON is a device change in custos audit report --json.
type deviceJSON struct {
	By     string `json:"by"`
	Change string `json:"change"`
	Device string `json:"device"`
	Index  uint64 `json:"index"`
	Kind   string `json:"kind"` // "device"
	Node   string `json:"node"`
	Time   string `json:"time"`
	User   string `json:"user"`
}

func printDeviceEventsJSON(out io.Writer, events []auditor.DeviceEvent) {
	for _, ev := range events {
		_ = jsonLines(out, deviceJSON{Kind: "device", Change: deviceChange[ev.Kind], Node: ev.Node, Index: ev.Index,
			Time: jsonTime(ev.Time), User: ev.User, Device: ev.Device.String(), By: ev.By.String()})
	}
}

// changedDevice is the device a device change entry adds or revokes, as
// text, or "".
func changedDevice(e *api.Entry) string {
	if len(e.Device) == 0 {
		return ""
	}
	id, err := peer.IDFromBytes(e.Device)
	if err != nil {
		return "(not a peer ID)"
	}
	return id.String()
}
