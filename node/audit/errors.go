package audit

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidArgument is matched (errors.Is) when an argument can never be
	// right: a negative index or size, a range whose start is after its end,
	// an empty or oversized entry, a size above MaxSize.
	ErrInvalidArgument = errors.New("audit: invalid argument")

	// ErrNotFound is matched when an index or size lies beyond the log as it
	// is now (it may exist later).
	ErrNotFound = errors.New("audit: beyond the end of the log")

	// ErrCorrupt is matched by a *CorruptError.
	ErrCorrupt = errors.New("audit: the stored log is corrupt")
)

// CorruptError reports the first place where the stored log disagrees with
// itself. It matches ErrCorrupt, and unwraps to the storage error, if any,
// that went with it (reading a missing entry, say).
type CorruptError struct {
	// Index is the first entry index found bad. For a size rolled back over
	// entries still stored, it is the stored size.
	Index  int64
	Reason string
	Err    error
}

func (e *CorruptError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("audit: the stored log is corrupt at entry %d: %s: %v", e.Index, e.Reason, e.Err)
	}
	return fmt.Sprintf("audit: the stored log is corrupt at entry %d: %s", e.Index, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns the storage error, if any.
func (e *CorruptError) Unwrap() error { return e.Err }
