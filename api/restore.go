package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// A node restored from a backup (custosd restore) has lost the entries
// logged after the backup, so that whoever kept a later checkpoint of its
// log sees a rollback, a fork or an inconsistent tree. So that nobody takes
// the rollback for a node rewriting its history in secret, restore appends
// one ADMIN entry right after the restored log, whose admin text is exactly
//
//	restore: backup of log size N
//
// or, when the data directory held a log before,
//
//	restore: backup of log size N replaces a log of size M with root R
//
// N is the size of the backup's log, so the entry is at index N; M and R
// are the size and tree root (standard base64) of the log it replaced.
// Auditors and users' clients parse these texts: they are part of the
// contract, one form for one meaning.

// Restore is what a restore entry says.
type Restore struct {
	// BackupSize is the size of the restored log: the restore entry's index.
	BackupSize int64
	// Replaced is set when the entry names the log the restore replaced,
	// of size ReplacedSize and root ReplacedRoot.
	Replaced     bool
	ReplacedSize int64
	ReplacedRoot tlog.Hash
}

// ErrNotRestore is the error of ParseRestore for a text that is not a
// restore entry's.
var ErrNotRestore = errors.New("not a restore entry")

// RestorePrefix starts every restore entry's text. An ADMIN text with this
// prefix that ParseRestore refuses is a malformed restore entry.
const RestorePrefix = "restore:"

const (
	restoreBackup   = "restore: backup of log size "
	restoreReplaces = " replaces a log of size "
	restoreRoot     = " with root "
)

// Text is the admin text of the restore entry r: one of the two forms
// above. ParseRestore(r.Text()) is r for sizes from 0.
func (r Restore) Text() string {
	text := restoreBackup + strconv.FormatInt(r.BackupSize, 10)
	if r.Replaced {
		text += restoreReplaces + strconv.FormatInt(r.ReplacedSize, 10) + restoreRoot + base64.StdEncoding.EncodeToString(r.ReplacedRoot[:])
	}
	return text
}

// ParseRestore reads a restore entry's admin text, strictly: sizes in
// canonical decimal (no sign, no leading zero), the root in canonical
// standard base64 of 32 bytes, single spaces, nothing before or after.
// Anything else matches ErrNotRestore.
func ParseRestore(text string) (Restore, error) {
	bad := fmt.Errorf("the admin text %.200q: %w", text, ErrNotRestore)
	rest, ok := strings.CutPrefix(text, restoreBackup)
	if !ok {
		return Restore{}, bad
	}
	num, rest, more := strings.Cut(rest, " ")
	var r Restore
	if r.BackupSize, ok = checkpointParseSize(num); !ok {
		return Restore{}, bad
	}
	if !more {
		return r, nil
	}
	if rest, ok = strings.CutPrefix(" "+rest, restoreReplaces); !ok {
		return Restore{}, bad
	}
	num, root, ok := strings.Cut(rest, restoreRoot)
	if !ok {
		return Restore{}, bad
	}
	if r.ReplacedSize, ok = checkpointParseSize(num); !ok {
		return Restore{}, bad
	}
	raw, err := base64.StdEncoding.DecodeString(root)
	if err != nil || len(raw) != tlog.HashSize || base64.StdEncoding.EncodeToString(raw) != root {
		return Restore{}, bad
	}
	r.Replaced = true
	copy(r.ReplacedRoot[:], raw)
	return r, nil
}

// RestoreOf returns what e says if it is a restore entry: an ADMIN entry,
// of no user, whose text ParseRestore reads.
func RestoreOf(e *Entry) (Restore, bool) {
	if e.GetKind() != EntryKind_ADMIN || e.GetUser() != "" || !strings.HasPrefix(e.GetAdmin(), RestorePrefix) {
		return Restore{}, false
	}
	r, err := ParseRestore(e.GetAdmin())
	return r, err == nil
}

// Explains says why the restore entry r, found at index of a node's log,
// does not explain that the log no longer extends old, a checkpoint of the
// node kept before; "" when it does. The entry must directly follow the
// restored log (index is the backup's size), that log must end below old
// (the entries from there on are what the restore dropped), and the log it
// says it replaced, if it names one, must not be smaller than old, nor of
// old's size with another root.
//
// Only the node's word ties old to the log a restore replaced when the
// entry names none: the node no longer holds that log to prove it.
func (r Restore) Explains(index int64, old Checkpoint) string {
	switch {
	case index != r.BackupSize:
		return fmt.Sprintf("the restore entry %d does not directly follow the restored log of size %d", index, r.BackupSize)
	case r.BackupSize >= old.Size:
		return fmt.Sprintf("the restore entry %d restored a log of size %d, not smaller than the size %d kept before", index, r.BackupSize, old.Size)
	case r.Replaced && r.ReplacedSize < old.Size:
		return fmt.Sprintf("the restore entry %d replaced a log of size %d, smaller than the size %d kept before", index, r.ReplacedSize, old.Size)
	case r.Replaced && r.ReplacedSize == old.Size && r.ReplacedRoot != old.Root:
		return fmt.Sprintf("the restore entry %d replaced a log of the size %d kept before, with another root than the one kept", index, old.Size)
	}
	return ""
}

// Names reports whether r names old as the log it replaced: its size and
// root. Otherwise that the restore dropped old is the operator's word.
func (r Restore) Names(old Checkpoint) bool {
	return r.Replaced && r.ReplacedSize == old.Size && r.ReplacedRoot == old.Root
}
