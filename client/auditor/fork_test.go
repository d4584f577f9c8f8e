package auditor_test

import (
	"testing"

	"github.com/custos-network/custos/client/auditor"
)

// A node that serves auditors a checkpoint of another tree for the size it
// signed before (a custosfault build with CUSTOS_FAULT=fork-checkpoint) is
// caught as a fork and named, even though the fork's signature is good.
func TestForkedCheckpointIsCaught(t *testing.T) {
	n := startAuditNet(t)
	n.traffic()
	wantOnly(t, n.verify(n.key, false), nil) // records every checkpoint

	liar := n.procs[1]
	liar.Stop(t)
	liar.StartEnv(t, []string{"CUSTOS_FAULT=fork-checkpoint"})
	wantOnly(t, n.verify(n.key, false), map[string]auditor.Kind{n.names[1]: auditor.Fork})
}
