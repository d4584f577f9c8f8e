package client

import (
	"bytes"
	"encoding/hex"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
)

// IsChange reports whether e is a put or a delete that a change of a
// record made (a replace, a rotation, a reshare, or the undoing of one):
// what History and audit reports show beside the releases.
func IsChange(e *api.Entry) bool {
	return e != nil && (e.Kind == api.EntryKind_PUT || e.Kind == api.EntryKind_DELETE) &&
		e.Operation != api.Operation_OPERATION_UNSPECIFIED && len(e.Units) == 1
}

// OperationName is how history and reports name a change's operation:
// "replace", "rotate", "reshare", "undo".
func OperationName(op api.Operation) string {
	return strings.ToLower(strings.TrimPrefix(op.String(), "OPERATION_"))
}

// changeEntries turns a change's put or delete entry into a HistoryEntry
// (of the unit only, when not nil).
func changeEntries(le LoggedEntry, labels map[string]string, only []byte) []HistoryEntry {
	e := le.Entry
	if !IsChange(e) {
		return nil
	}
	u := e.Units[0]
	id := u.GetUnitId()
	if only != nil && !bytes.Equal(id, only) {
		return nil
	}
	return []HistoryEntry{{
		Time: time.UnixMilli(int64(e.TimeUnixMs)), Node: le.Node, Index: le.Index,
		Label: labels[string(id)], UnitID: hex.EncodeToString(id), Version: u.GetVersion(),
		Kind: e.Kind, Operation: e.Operation, Outcome: e.Outcome, Reason: e.Reason,
		Device: peer.ID(e.ClientPeerId),
	}}
}
