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
	// SplitView: a checkpoint the node showed a user, kept in the user's
	// vault, is not consistent with the tree it shows the auditor: the
	// node shows different people different histories.
	SplitView
	// BadUserCheckpoint: a checkpoint of the node in the user's vault does
	// not verify with the node's pinned key. The vault's copy is damaged
	// or was not made by the node: it proves nothing against the node.
	BadUserCheckpoint
	// FalseRefusal: an entry refuses a release request that its device
	// did sign, while the user holds the receipt the node answered it
	// with, or while the entry gives the device's signature as the reason.
	// The node may have released the shares and logged a refusal.
	FalseRefusal
)

var kindNames = map[Kind]string{
	Unreachable:       "unreachable",
	BadCheckpoint:     "bad checkpoint",
	Rollback:          "rollback",
	Fork:              "fork",
	Inconsistent:      "inconsistent",
	NotAuditor:        "not an auditor",
	RootMismatch:      "root mismatch",
	MalformedEntry:    "malformed entry",
	UnsignedRelease:   "release not signed by its device",
	BadAnswer:         "bad answer",
	StateError:        "state",
	SplitView:         "split view",
	BadUserCheckpoint: "bad checkpoint in the vault",
	FalseRefusal:      "refusal of a signed request",
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
	Index   int64  // the entry, for MalformedEntry, UnsignedRelease and FalseRefusal; else -1
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
	Full bool
	// UserCheckpoints is how many distinct checkpoints of the node that a
	// user's vault holds were checked against the node's tree.
	UserCheckpoints int
	// UserReplaced is how many of those are of a log that a restore of
	// the node replaced, which both the user's client and the auditor
	// accepted: not a split view.
	UserReplaced int
	// Restores are the restores of the node that this auditor accepted
	// (Options.Accept), oldest first, Accepted among them if this run
	// accepted one.
	Restores []AcceptedRestore
	// Accepted is the restore this run accepted, or nil.
	Accepted *AcceptedRestore
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
		if r.Accepted != nil {
			what = fmt.Sprintf("restore accepted: %s", r.Accepted)
		}
		if r.Full {
			what += ", every entry checked"
		}
		if r.UserCheckpoints > 0 {
			what += fmt.Sprintf(", vault checkpoints consistent: %d", r.UserCheckpoints-r.UserReplaced)
		}
		if r.UserReplaced > 0 {
			what += fmt.Sprintf(", vault checkpoints of a log an accepted restore replaced: %d", r.UserReplaced)
		}
		if n := len(r.Restores); n > 0 && r.Accepted == nil {
			what += fmt.Sprintf(", restores accepted before: %d, the last: %s", n, &r.Restores[n-1])
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
	// UserSkipped says, per node, why checkpoints of the user's vault
	// were not checked: the node is not in the network file audited, or
	// the vault pins it at another peer ID. It is not a problem of any
	// node.
	UserSkipped []string
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
