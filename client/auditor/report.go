package auditor

import (
	"fmt"
	"strings"
)

// Kind says which check a node failed.
type Kind int

const (
	// Unreachable: the node could not be dialled at its pinned peer ID, or
	// did not answer a request.
	Unreachable Kind = iota + 1
	// BadCheckpoint: the checkpoint is not signed by the node's pinned key
	// under its origin, or does not parse.
	BadCheckpoint
	// Rollback: the tree is smaller than the last one recorded.
	Rollback
	// Fork: the tree has the recorded size but another root.
	Fork
	// Inconsistent: the tree grew, but the node's consistency proof does
	// not show it extends the recorded one.
	Inconsistent
	// NotAuditor: the node refused the auditor its entries (its peer ID is
	// not under auditors in node.yaml).
	NotAuditor
	// RootMismatch: the root recomputed from the entries is not the
	// checkpoint's root.
	RootMismatch
	// MalformedEntry: an entry does not decode (api.ParseEntry).
	MalformedEntry
	// UnsignedRelease: a release entry that was not refused as a whole
	// (outcome OK) does not carry a valid signature by the device it names.
	UnsignedRelease
	// BadAnswer: the node answered a request with something malformed.
	BadAnswer
	// StateError: the state directory's record of the node cannot be read
	// or written.
	StateError
)

var kindNames = map[Kind]string{
	Unreachable:     "unreachable",
	BadCheckpoint:   "bad checkpoint",
	Rollback:        "rollback",
	Fork:            "fork",
	Inconsistent:    "inconsistent",
	NotAuditor:      "not an auditor",
	RootMismatch:    "root mismatch",
	MalformedEntry:  "malformed entry",
	UnsignedRelease: "release not signed by its device",
	BadAnswer:       "bad answer",
	StateError:      "state",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind %d", int(k))
}

// Problem is one failed check at one node.
type Problem struct {
	Kind    Kind
	Index   int64  // the entry, for MalformedEntry and UnsignedRelease; else -1
	Message string // for people: what is wrong, with sizes and indexes
}

func (p Problem) String() string { return p.Message }

// NodeReport is what Verify found at one node.
type NodeReport struct {
	Node   string
	PeerID string
	// Size is the tree size of the checkpoint the node served (0 if none).
	Size int64
	// First is true when the state directory held no checkpoint of the
	// node, so this one was recorded without a consistency check.
	First bool
	// Full is true when the entries were checked.
	Full     bool
	Problems []Problem
}

// OK reports whether the node passed every check.
func (r *NodeReport) OK() bool { return len(r.Problems) == 0 }

// Has reports whether the node failed a check of kind k.
func (r *NodeReport) Has(k Kind) bool {
	for _, p := range r.Problems {
		if p.Kind == k {
			return true
		}
	}
	return false
}

// String is one line: the node and OK with the size, or every problem.
func (r *NodeReport) String() string {
	if r.OK() {
		what := "consistent with the recorded checkpoint"
		if r.First {
			what = "first checkpoint recorded"
		}
		if r.Full {
			what += ", every entry checked"
		}
		return fmt.Sprintf("%s: OK, size %d (%s)", r.Node, r.Size, what)
	}
	msgs := make([]string, len(r.Problems))
	for i, p := range r.Problems {
		msgs[i] = p.Message
	}
	return fmt.Sprintf("%s: FAIL: %s", r.Node, strings.Join(msgs, "; "))
}

// Report is what Verify found, one NodeReport per node of the network
// file, in its order.
type Report struct {
	Nodes []NodeReport
}

// OK reports whether every node passed every check.
func (r *Report) OK() bool {
	for i := range r.Nodes {
		if !r.Nodes[i].OK() {
			return false
		}
	}
	return true
}

// Node returns the report of the node called name, or nil.
func (r *Report) Node(name string) *NodeReport {
	for i := range r.Nodes {
		if r.Nodes[i].Node == name {
			return &r.Nodes[i]
		}
	}
	return nil
}

// Failed returns the names of the nodes that failed a check.
func (r *Report) Failed() []string {
	var out []string
	for i := range r.Nodes {
		if !r.Nodes[i].OK() {
			out = append(out, r.Nodes[i].Node)
		}
	}
	return out
}
