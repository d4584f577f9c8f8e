package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
)

// How history and audit report show the puts and deletes of a change of a
// record (client.IsChange): as the operation they were part of.

// changeOutcome is a change entry's outcome in history: "replace: stored
// version 2", "rotate: deleted version 1", or the refusal.
func changeOutcome(h client.HistoryEntry) string {
	return changeText(h.Kind, h.Operation, h.Version, h.Outcome, h.Reason)
}

// historyLineJSON is a --json line of history: a release, or a put or
// delete of a change.
type historyLineJSON struct {
	historyJSON
	Kind      string `json:"kind"`                // release, put or delete
	Operation string `json:"operation,omitempty"` // of a put or delete: replace, rotate, reshare, undo
}

// changeOperation is the operation of a change entry, "" for a release.
func changeOperation(h client.HistoryEntry) string {
	if h.Kind != api.EntryKind_PUT && h.Kind != api.EntryKind_DELETE {
		return ""
	}
	return client.OperationName(h.Operation)
}

func changeText(kind api.EntryKind, op api.Operation, version uint64, outcome api.Code, reason string) string {
	did := "stored"
	if kind == api.EntryKind_DELETE {
		did = "deleted"
	}
	s := fmt.Sprintf("%s: %s version %d", client.OperationName(op), did, version)
	if outcome != api.Code_OK {
		s += ": refused: " + outcome.String()
		if reason != "" {
			s += " (" + reason + ")"
		}
	}
	return s
}

// unitChange is one put or delete of a change of a unit, in an audit
// report.
type unitChange struct {
	node string
	le   client.LoggedEntry
}

// changesOf are the change entries of unit in logs, oldest first.
func changesOf(logs map[string][]client.LoggedEntry, unit []byte) []unitChange {
	var out []unitChange
	for node, entries := range logs {
		for _, le := range entries {
			if client.IsChange(le.Entry) && bytes.Equal(le.Entry.Units[0].GetUnitId(), unit) {
				out = append(out, unitChange{node, le})
			}
		}
	}
	slices.SortFunc(out, func(a, b unitChange) int {
		if c := int64(a.le.Entry.TimeUnixMs) - int64(b.le.Entry.TimeUnixMs); c != 0 {
			return int(max(-1, min(1, c)))
		}
		return strings.Compare(a.node, b.node)
	})
	return out
}

// changeJSON is a --json line of a change in an audit report.
type changeJSON struct {
	Kind      string `json:"kind"` // "change"
	UnitID    string `json:"unit_id"`
	Time      string `json:"time"`
	Node      string `json:"node"`
	Index     uint64 `json:"index"`
	Operation string `json:"operation"`
	Entry     string `json:"entry"` // put or delete
	Version   uint64 `json:"version"`
	Outcome   string `json:"outcome"`
}

// printChanges prints the changes of unit in logs: what each put and
// delete of a replace, rotation or reshare was.
func printChanges(out io.Writer, logs map[string][]client.LoggedEntry, unit []byte, asJSON bool) {
	for _, ch := range changesOf(logs, unit) {
		e := ch.le.Entry
		t := time.UnixMilli(int64(e.TimeUnixMs))
		if asJSON {
			_ = jsonLines(out, changeJSON{Kind: "change", UnitID: hex.EncodeToString(unit), Time: jsonTime(t), Node: ch.node,
				Index: ch.le.Index, Operation: client.OperationName(e.Operation), Entry: strings.ToLower(e.Kind.String()),
				Version: e.Units[0].GetVersion(), Outcome: e.Outcome.String()})
			continue
		}
		fmt.Fprintf(out, "%s  change  %s  %s\n", t.UTC().Format(timeMs), ch.node, changeText(e.Kind, e.Operation, e.Units[0].GetVersion(), e.Outcome, e.Reason))
	}
}
