package auditor_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-network/custos/client/auditor"
)

// A node that serves auditors an unsigned checkpoint, or one signed by
// another key under its name (a custosfault build with CUSTOS_FAULT set),
// is named as a bad checkpoint, and its recorded checkpoint stays.
func TestUnsignedOrForeignSignedCheckpointIsNamed(t *testing.T) {
	n := startAuditNet(t)
	n.traffic()
	wantOnly(t, n.verify(n.key, false), nil) // records every checkpoint
	statePath := filepath.Join(n.state, "n2.checkpoint")
	recorded, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ fault, says string }{
		{"unsigned-checkpoint", "malformed"},
		{"foreign-signed-checkpoint", "no signature by the key of"},
	} {
		t.Run(c.fault, func(t *testing.T) {
			n.procs[1].Stop(t)
			n.restart(1, []string{"CUSTOS_FAULT=" + c.fault})
			rep := n.verify(n.key, true)
			wantOnly(t, rep, map[string]auditor.Kind{"n2": auditor.BadCheckpoint})
			if msg := rep.Node("n2").String(); !strings.Contains(msg, c.says) {
				t.Errorf("report %q does not say %q", msg, c.says)
			}
			if b, err := os.ReadFile(statePath); err != nil || !bytes.Equal(b, recorded) {
				t.Errorf("the recorded checkpoint changed (%v)", err)
			}
		})
	}
}
