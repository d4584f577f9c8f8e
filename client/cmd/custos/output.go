package main

import (
	"encoding/json"
	"io"
	"time"
)

// The shapes of custos's --json output: one JSON object a line, with
// snake_case keys in alphabetical order, times in RFC 3339 UTC (to the
// nanosecond where the log has them), IDs in the text form the rest of the
// output uses, an error as its message ("" for none), and lists that are
// never null.

// network new
type networkJSON struct {
	File      string `json:"file"`
	Nodes     int    `json:"nodes"`
	Threshold int    `json:"threshold"`
}

// init
type vaultJSON struct {
	User  string `json:"user"`
	Vault string `json:"vault"`
}

// enroll: a line per node
type enrolledJSON struct {
	Enrolled bool   `json:"enrolled"`
	Error    string `json:"error"`
	Node     string `json:"node"`
	State    string `json:"state"`
}

// put
type storedJSON struct {
	Degraded bool     `json:"degraded"`
	Label    string   `json:"label"`
	Missing  []string `json:"missing"` // the nodes that hold no share of it
	Stored   []string `json:"stored"`
}

// rm
type deletedJSON struct {
	Deleted bool   `json:"deleted"`
	Label   string `json:"label"`
}

// passwd
type passwdJSON struct {
	Result string `json:"result"` // "changed", "rolled_back"
}

// audit init
type auditorKeyJSON struct {
	Key    string `json:"key"`
	PeerID string `json:"peer_id"`
}

// get
type recordJSON struct {
	Label    string `json:"label"`
	Password string `json:"password"`
	Username string `json:"username"`
}

type unitJSON struct {
	Created   time.Time `json:"created"`
	Degraded  bool      `json:"degraded"`
	Label     string    `json:"label"`
	Nodes     int       `json:"nodes"`
	Threshold int       `json:"threshold"`
	UnitID    string    `json:"unit_id"`
	Version   uint64    `json:"version"`
}

type nodeStatusJSON struct {
	Enrolled  bool    `json:"enrolled"` // this device's enrollment reached the node
	Error     string  `json:"error"`
	LatencyMs float64 `json:"latency_ms"`
	LoggedIn  bool    `json:"logged_in"`
	Node      string  `json:"node"`
	PeerID    string  `json:"peer_id"`
	Reachable bool    `json:"reachable"`
}

type historyJSON struct {
	Index    uint64 `json:"index"`
	Label    string `json:"label"`
	Node     string `json:"node"`
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason"`
	Released bool   `json:"released"`
	Time     string `json:"time"`
	UnitID   string `json:"unit_id"`
	Version  uint64 `json:"version"`
}

type entryJSON struct {
	Admin    string        `json:"admin"`
	Index    uint64        `json:"index"`
	Kind     string        `json:"kind"`
	Outcome  string        `json:"outcome"`
	Reason   string        `json:"reason"`
	Refusals []refusalJSON `json:"refusals"`
	Time     string        `json:"time"`
	Units    []string      `json:"units"`
	User     string        `json:"user"`
}

type refusalJSON struct {
	Outcome string `json:"outcome"`
	UnitID  string `json:"unit_id"`
}

type verifyJSON struct {
	Accepted                 *restoredJSON  `json:"accepted,omitempty"`
	First                    bool           `json:"first"`
	Full                     bool           `json:"full"`
	Node                     string         `json:"node"`
	OK                       bool           `json:"ok"`
	PeerID                   string         `json:"peer_id"`
	Problems                 []problemJSON  `json:"problems"`
	Restores                 []restoredJSON `json:"restores"`
	Size                     int64          `json:"size"`
	VaultCheckpoints         int            `json:"vault_checkpoints"`
	VaultCheckpointsReplaced int            `json:"vault_checkpoints_replaced"`
}

type problemJSON struct {
	Index   int64  `json:"index"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

type restoredJSON struct {
	Accepted     string `json:"accepted"`
	Admin        string `json:"admin"`
	Entry        int64  `json:"entry"`
	FromVault    bool   `json:"from_vault"`
	Named        bool   `json:"named"`
	Replaced     string `json:"replaced"`
	ReplacedSize int64  `json:"replaced_size"`
	Size         int64  `json:"size"`
}

type vaultCheckJSON struct {
	Checkpoints int      `json:"checkpoints"`
	Skipped     []string `json:"skipped"`
	Vault       string   `json:"vault"`
}

// The lines of audit report --json: an unlock, a node's own flag, a node
// that could not be read; Kind says which.
type unlockJSON struct {
	Attempts  []attemptJSON `json:"attempts"`
	Client    string        `json:"client"`
	Flags     []string      `json:"flags"`
	Kind      string        `json:"kind"` // "unlock"
	NoEntry   []string      `json:"no_entry"`
	NotNeeded []string      `json:"not_needed"`
	Released  []string      `json:"released"`
	Time      string        `json:"time"`
	Unchecked bool          `json:"unchecked"`
	UnitID    string        `json:"unit_id"`
	User      string        `json:"user"`
	Version   uint64        `json:"version"`
}

type nodeFlagJSON struct {
	Flags  []string `json:"flags"`
	Kind   string   `json:"kind"` // "node"
	UnitID string   `json:"unit_id"`
}

type unreadJSON struct {
	Error  string `json:"error"`
	Kind   string `json:"kind"` // "unread"
	Node   string `json:"node"`
	UnitID string `json:"unit_id"`
}

type attemptJSON struct {
	Asked       bool   `json:"asked"`
	Index       uint64 `json:"index"`
	Node        string `json:"node"`
	Outcome     string `json:"outcome"`
	Reason      string `json:"reason"`
	Receipt     bool   `json:"receipt"`
	ReceiptOnly bool   `json:"receipt_only"`
	Released    bool   `json:"released"`
	Time        string `json:"time"`
}

// jsonLines writes each value as one JSON line.
func jsonLines[T any](out io.Writer, values ...T) error {
	enc := json.NewEncoder(out)
	for _, v := range values {
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

// jsonTime is t as --json output writes a log's times.
func jsonTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// nonNil is s, or an empty list where s is nil, so that JSON shows [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
