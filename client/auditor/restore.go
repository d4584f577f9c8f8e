package auditor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/internal/atomicfile"
)

// A restored node (custosd restore) has lost the entries after its
// backup, so an auditor who recorded a later checkpoint sees a rollback,
// a fork or an inconsistent tree. custosd restore appends an ADMIN entry
// right after the restored log that says so (api.Restore). With
// Options.Accept, Verify accepts such a restore: it records the node's
// checkpoint in place of the recorded one, and keeps the one it replaced
// in <node>.restores.

// AcceptedRestore is a restore of a node that the auditor accepted: the
// checkpoint recorded before it, and the restore entry that explains why
// the node's log no longer extends it.
type AcceptedRestore struct {
	// Accepted is when the auditor accepted it.
	Accepted time.Time
	// Entry is the index of the restore entry: the size of the restored
	// log, where the node's history left the recorded one.
	Entry int64
	// Admin is the restore entry's admin text.
	Admin string
	// Replaced is the checkpoint recorded before, the signed note.
	Replaced []byte
	// ReplacedSize is Replaced's tree size.
	ReplacedSize int64
	// Named is true when the restore entry names the recorded checkpoint
	// (its size and root) as the log it replaced. Otherwise that the
	// restore dropped the recorded log is the operator's word.
	Named bool
	// Size is the tree size of the checkpoint recorded in its place.
	Size int64
	// FromVault is set when the auditor accepted the restore from a user's
	// vault (Options.User), whose client had accepted it: Replaced is then
	// the checkpoint that client kept before, not one the auditor recorded.
	FromVault bool
}

func (r *AcceptedRestore) String() string {
	named := "the entry does not name the recorded checkpoint"
	if r.Named {
		named = "the entry names the recorded checkpoint"
	}
	what := "the recorded size"
	if r.FromVault {
		what = "a user's checkpoint of size"
		named = strings.Replace(named, "the recorded checkpoint", "that checkpoint", 1)
	}
	return fmt.Sprintf("the restore at entry %d replaced %s %d (%s; accepted %s)",
		r.Entry, what, r.ReplacedSize, named, r.Accepted.UTC().Format(time.RFC3339))
}

// The <node>.restores file of the state directory.
const (
	restoresFormat   = "custos auditor restores v1"
	maxRestores      = 1000
	maxRestoresBytes = maxRestores * 2 * api.MaxCheckpointSize
)

type restoresFile struct {
	Format   string          `json:"format"`
	Restores []restoreRecord `json:"restores"`
}

type restoreRecord struct {
	Accepted time.Time `json:"accepted"`
	Entry    int64     `json:"entry"`
	Admin    string    `json:"admin"`
	Replaced string    `json:"replaced"`
	Named    bool      `json:"named"`
	Size     int64     `json:"size"`
	// FromVault is left out when false, as files written before it was.
	FromVault bool `json:"from_vault,omitempty"`
}

func (a *nodeAudit) restoresPath() string { return a.statePath(".restores") }

// loadRestores reads the restores of the node the auditor accepted, and
// checks each: its replaced checkpoint signed by the node, its admin text
// a restore entry's.
func (a *nodeAudit) loadRestores() ([]AcceptedRestore, error) {
	path := a.restoresPath()
	b, err := readCapped(path, maxRestoresBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f restoresFile
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Format != restoresFormat {
		return nil, fmt.Errorf("%s: format %.64q, want %q", path, f.Format, restoresFormat)
	}
	if len(f.Restores) > maxRestores {
		return nil, fmt.Errorf("%s: %d restores, more than %d", path, len(f.Restores), maxRestores)
	}
	out := make([]AcceptedRestore, len(f.Restores))
	for i, r := range f.Restores {
		old, err := api.OpenCheckpoint([]byte(r.Replaced), a.origin, a.pub)
		if err != nil {
			return nil, fmt.Errorf("%s: restore %d: the replaced checkpoint does not verify with the node's pinned key: %w", path, i, err)
		}
		if _, err := api.ParseRestore(r.Admin); err != nil || r.Entry < 0 || r.Size < 0 {
			return nil, fmt.Errorf("%s: restore %d is malformed", path, i)
		}
		out[i] = AcceptedRestore{Accepted: r.Accepted, Entry: r.Entry, Admin: r.Admin, Replaced: []byte(r.Replaced),
			ReplacedSize: old.Size, Named: r.Named, Size: r.Size, FromVault: r.FromVault}
	}
	return out, nil
}

// saveRestores writes the accepted restores atomically.
func (a *nodeAudit) saveRestores(rs []AcceptedRestore) error {
	if len(rs) > maxRestores {
		return fmt.Errorf("more than %d accepted restores", maxRestores)
	}
	f := restoresFile{Format: restoresFormat, Restores: make([]restoreRecord, len(rs))}
	for i, r := range rs {
		f.Restores[i] = restoreRecord{Accepted: r.Accepted.UTC(), Entry: r.Entry, Admin: r.Admin, Replaced: string(r.Replaced), Named: r.Named, Size: r.Size, FromVault: r.FromVault}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(a.restoresPath(), "", append(b, '\n'))
}

// acceptRestore is Options.Accept for a node whose checkpoint cp no longer
// extends the recorded old (the problem why). It reads every entry of cp's
// tree; if the last restore entry that explains the change (see
// api.Restore.Explains) is there, it keeps old in the node's restores and
// records cp (signed) in its place. Otherwise it reports why, and why no restore was accepted.
func (a *nodeAudit) acceptRestore(ctx context.Context, old api.Checkpoint, oldSigned []byte, cp api.Checkpoint, signed []byte, why Problem) {
	notAccepted := func(format string, args ...any) {
		why.Message += "; not accepted: " + fmt.Sprintf(format, args...)
		a.rep.Problems = append(a.rep.Problems, why)
	}
	var found *AcceptedRestore
	var refused []string // why the restore entries seen explain nothing
	ok := a.readEntries(ctx, cp, func(index int64, b []byte) {
		e, err := api.ParseEntry(b)
		if err != nil || e.Kind != api.EntryKind_ADMIN || !strings.HasPrefix(e.Admin, api.RestorePrefix) {
			return
		}
		r, err := api.ParseRestore(e.Admin)
		if err != nil {
			refused = append(refused, fmt.Sprintf("entry %d: %v", index, err))
			return
		}
		if reason := r.Explains(index, old); reason != "" {
			refused = append(refused, reason)
			return
		}
		found = &AcceptedRestore{Entry: index, Admin: e.Admin, Replaced: oldSigned, ReplacedSize: old.Size,
			Named: r.Names(old), Size: cp.Size}
	})
	switch {
	case !ok:
		notAccepted("its log could not be read and verified")
		return
	case found == nil && len(refused) == 0:
		notAccepted("its log of size %d holds no restore entry", cp.Size)
		return
	case found == nil:
		notAccepted("%s", strings.Join(refused, "; "))
		return
	}
	found.Accepted = time.Now().UTC()
	restores := a.rep.Restores
	if n := len(restores); n == 0 || !bytes.Equal(restores[n-1].Replaced, oldSigned) || restores[n-1].Entry != found.Entry {
		// The same restore twice is a run that crashed before it recorded
		// the new checkpoint: keep it once.
		restores = append(restores, *found)
	}
	if err := a.saveRestores(restores); err != nil {
		a.fail(StateError, -1, "record the accepted restore: %v", err)
		return
	}
	if !a.record(a.statePath(".checkpoint"), signed) {
		return
	}
	a.rep.Restores, a.rep.Accepted = restores, found
}

// readCapped reads the file at path, refusing one larger than limit.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}
