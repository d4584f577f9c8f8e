package node_test

import (
	"regexp"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/nodetest"
)

// TestPeersThatHangUpAreNotInternalErrors: a peer that resets its stream or
// closes it mid-request is counted under its own code in
// custos_requests_total, not as INTERNAL, so strangers cannot set off an
// operator's internal-error alert.
func TestPeersThatHangUpAreNotInternalErrors(t *testing.T) {
	n := nodetest.Start(t)
	url := "http://" + n.OpsAddrForTest() + "/metrics"
	d := device(t, n, "stranger")
	hangUps := []struct {
		name string
		end  func(s network.Stream) error
	}{
		{"a reset mid-prefix", func(s network.Stream) error { return s.Reset() }},
		{"a close mid-prefix", func(s network.Stream) error { return s.CloseWrite() }},
	}
	for _, h := range hangUps {
		s, err := d.Host.NewStream(t.Context(), n.ID(), api.ProtocolEnroll)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write([]byte{0x80}); err != nil { // a varint that goes on
			t.Fatal(err)
		}
		waitFor(t, "the node to read the stream", func() bool { return handlersRunning() == 1 })
		if err := h.end(s); err != nil {
			t.Fatalf("%s: %v", h.name, err)
		}
		waitFor(t, "the node to give up the stream", func() bool { return handlersRunning() == 0 })
		_ = s.Reset()
	}
	gone := regexp.MustCompile(`(?m)^custos_requests_total\{code="PEER_GONE",protocol="/custos/enroll/2.0.0"\} 2$`)
	internal := regexp.MustCompile(`(?m)^custos_requests_total\{code="INTERNAL"`)
	var body string
	waitFor(t, "the metrics to count both", func() bool {
		_, body = get(t, url)
		return gone.MatchString(body) || internal.MatchString(body)
	})
	if internal.MatchString(body) {
		t.Errorf("/metrics counts a peer that hung up as INTERNAL:\n%s", internal.FindString(body))
	}
	if !gone.MatchString(body) {
		t.Errorf("/metrics does not count the 2 peers that hung up as PEER_GONE")
	}
}
