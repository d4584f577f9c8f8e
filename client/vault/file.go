package vault

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/custos-network/custos/internal/atomicfile"
)

// lockWait is how long Open and Create wait for another process to let go
// of the vault.
const lockWait = 5 * time.Second

// DefaultPath returns where the vault is when no path is given:
// $CUSTOS_VAULT if set, else custos/vault.json in the user's configuration
// directory (os.UserConfigDir).
func DefaultPath() (string, error) {
	if p := os.Getenv("CUSTOS_VAULT"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the vault: %w; set CUSTOS_VAULT", err)
	}
	return filepath.Join(dir, "custos", "vault.json"), nil
}

// Create writes v as a new vault at path. It makes the directory (mode 0700)
// if it is missing, refuses a path where a file exists, or beside which a
// request journal exists (ErrExists), and a vault that breaks a rule of the
// format (ErrInvalid), and writes the file atomically with mode 0600. It
// does not make the journal: the first AppendRequests does. v is not kept.
func Create(path string, v *Vault) error {
	if err := v.check(); err != nil {
		return fmt.Errorf("create vault: %w: %w", ErrInvalid, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create vault: %w", err)
	}
	lk, err := lock(path, lockWait)
	if err != nil {
		return fmt.Errorf("create vault: %w", err)
	}
	defer lk.unlock()
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("create vault: %s %w", path, ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("create vault: %w", err)
	}
	// A journal left by another vault would make its requests look like
	// this vault's to an audit.
	if _, err := os.Lstat(journalPath(path)); err == nil {
		return fmt.Errorf("create vault: the request journal %s %w; it belongs to another vault: move it away", journalPath(path), ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("create vault: %w", err)
	}
	b, err := encode(v)
	if err != nil {
		return fmt.Errorf("create vault: %w", err)
	}
	defer clear(b)
	if err := writeAtomic(path, b); err != nil {
		return fmt.Errorf("create vault: %w", err)
	}
	return nil
}

// A Handle is an open vault: the lock on it and its content in memory. It
// is not safe for concurrent use.
type Handle struct {
	path string
	lk   *fileLock // nil once closed
	v    *Vault
	// journal is what this handle last read or wrote of the request
	// journal, so that an append need not read it again (nil: read it).
	journal *journalTail
}

// Open locks the vault at path, waiting up to 5 seconds for another process
// to release it (ErrBusy), then reads and checks it. A missing vault is
// ErrNotFound; a file of another format version ErrUnknownFormat; a damaged
// one ErrCorrupt; one that its group or others may read or write
// ErrPermissions. The file is never written to by Open, and not at all when
// Open fails.
func Open(path string) (*Handle, error) { return open(path, lockWait) }

func open(path string, wait time.Duration) (*Handle, error) {
	// Look before locking, so that a mistyped path leaves no lock file.
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open vault: %w at %s", ErrNotFound, path)
	}
	lk, err := lock(path, wait)
	if err != nil {
		return nil, fmt.Errorf("open vault: %w", err)
	}
	v, err := load(path)
	if err != nil {
		lk.unlock()
		return nil, fmt.Errorf("open vault %s: %w", path, err)
	}
	return &Handle{path: path, lk: lk, v: v}, nil
}

// load reads the vault file, which must be a regular file that only its
// owner may read or write.
func load(path string) (*Vault, error) {
	f, info, err := openPrivate(path, os.O_RDONLY, "it holds the device key")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info.Size() > MaxFileSize {
		return nil, fmt.Errorf("%w: it is larger than %d MiB", ErrCorrupt, MaxFileSize>>20)
	}
	// One allocation of the right size, so that no grown-out buffer is
	// left holding secrets.
	b := make([]byte, info.Size())
	defer clear(b)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return decode(b)
}

// openPrivate opens the file at path with flag (which must not create it)
// and returns it with its FileInfo. It refuses a missing file
// (ErrNotFound), one that is not a regular file (a link, say, which it does
// not follow: a link swapped in after the look is caught by comparing the
// file opened with the one looked at) and one that its group or others may
// read or write (ErrPermissions, with why it matters and the fix).
func openPrivate(path string, flag int, why string) (*os.File, fs.FileInfo, error) {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, ErrNotFound
	} else if err != nil {
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("it is not a regular file (%s); it may not be a link or a device", info.Mode().Type())
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, nil, err
	}
	// Look again at what was opened, in case the path changed in between.
	opened, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !opened.Mode().IsRegular() || !os.SameFile(info, opened) {
		f.Close()
		return nil, nil, errors.New("it is not a regular file, or it changed while being opened")
	}
	if perm := opened.Mode().Perm(); perm&0o077 != 0 {
		f.Close()
		return nil, nil, fmt.Errorf("%w (mode %#o): %s; run chmod 600 %s", ErrPermissions, perm, why, path)
	}
	return f, opened, nil
}

// Vault returns the vault in memory, for the caller to read and change;
// Save writes the changes.
func (h *Handle) Vault() *Vault { return h.v }

// Save checks the vault in memory (ErrInvalid) and writes it over the file
// atomically: a temporary file in the same directory, mode 0600, written and
// synced, renamed over the vault, then the directory synced. If Save fails
// the old vault is still there, whole. It puts the units in label order.
func (h *Handle) Save() error {
	if h.lk == nil {
		return fmt.Errorf("save vault: %w", os.ErrClosed)
	}
	slices.SortStableFunc(h.v.Units, func(a, b Unit) int { return strings.Compare(a.Label, b.Label) })
	if err := h.v.check(); err != nil {
		return fmt.Errorf("save vault: %w: %w", ErrInvalid, err)
	}
	b, err := encode(h.v)
	if err != nil {
		return fmt.Errorf("save vault: %w", err)
	}
	defer clear(b)
	if err := writeAtomic(h.path, b); err != nil {
		return fmt.Errorf("save vault: %w", err)
	}
	return nil
}

// Close releases the lock. It does not wipe the vault in memory (see
// Vault.Wipe). Closing twice is not an error.
func (h *Handle) Close() error {
	if h.lk == nil {
		return nil
	}
	err := h.lk.unlock()
	h.lk = nil
	if err != nil {
		return fmt.Errorf("close vault: %w", err)
	}
	return nil
}

// writeAtomic replaces the file at path with b, or leaves it as it was. The
// caller holds the lock, so the temporary file's name is fixed: one left by
// a crash is this process's to remove.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the leftover %s: %w", tmp, err)
	}
	return atomicfile.Write(path, tmp, b)
}
