package node_test

import (
	"strings"
	"testing"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/nodetest"
)

// TestOnlyALoggedInDeviceMaySendALargeRelease: limits.max_message_bytes
// applies to release requests only, which are read only from a logged-in
// device; any other message is held to 4 KiB, so that a stranger's stream
// holds little of a message however large the cap. Each refusal is
// answered, though the request was not read.
func TestOnlyALoggedInDeviceMaySendALargeRelease(t *testing.T) {
	e := newEnv(t)
	const small = "over the node's size limit of 4096 bytes"
	if e.n.Config.Limits.MaxMessageBytes <= 4096 {
		t.Fatalf("max_message_bytes is %d; the test needs it above 4096", e.n.Config.Limits.MaxMessageBytes)
	}
	bob := device(t, e.n, "bob")
	if err := bob.Enroll(e.ctx, e.n.ID(), ""); err != nil {
		t.Fatal(err)
	}
	large := func(d *nodetest.Device) []byte {
		return releaseFrame(t, signed(d, e.n.ID(), time.Now(), batch(e.unit)...))
	}

	if err := e.raw(bob, api.ProtocolRelease, large(bob)); !isRefusal(err, api.Code_UNAUTHENTICATED, "not logged in") {
		t.Errorf("a large release from a device not logged in: %v; want UNAUTHENTICATED, not logged in", err)
	}
	if err := e.raw(e.alice, api.ProtocolEnroll, frame(4097, make([]byte, 4097))); !isRefusal(err, api.Code_INVALID_ARGUMENT, small) {
		t.Errorf("an enrollment of 4097 bytes from a logged-in device: %v; want INVALID_ARGUMENT %q", err, small)
	}
	units := batch(e.unit)
	resp, err := e.release(e.alice, signed(e.alice, e.n.ID(), time.Now(), units...))
	if err != nil || len(resp.Shares) != len(units) || len(resp.Shares[0].Share) == 0 {
		t.Errorf("a release of %d units from a logged-in device: %v; want it served", len(units), err)
	}
}

// isRefusal reports whether err is a refusal with code and a message that
// holds msg.
func isRefusal(err error, code api.Code, msg string) bool {
	return nodetest.IsCode(err, code) && strings.Contains(err.Error(), msg)
}
