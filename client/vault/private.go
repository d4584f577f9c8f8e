package vault

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

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
