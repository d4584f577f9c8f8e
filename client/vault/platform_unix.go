//go:build unix

package vault

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

func supported() error { return nil }

// openChecked opens for bbolt only the file that openPrivate checked
// (info): never through a link, never making it, and only while only its
// owner may read or write it. bbolt then locks it with flock(2), which
// belongs to the open file: two opens, in one process or two, exclude each
// other, and the lock goes with the process.
func openChecked(info fs.FileInfo) func(string, int, os.FileMode) (*os.File, error) {
	return func(name string, flag int, _ os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, (flag&^os.O_CREATE)|unix.O_NOFOLLOW, 0)
		if err != nil {
			return nil, err
		}
		opened, err := f.Stat()
		switch {
		case err != nil:
		case !opened.Mode().IsRegular() || !os.SameFile(info, opened):
			err = errors.New("it is not a regular file, or it changed while being opened")
		case opened.Mode().Perm()&0o077 != 0:
			err = fmt.Errorf("%w (mode %#o): it holds the device key; run chmod 600 %s", ErrPermissions, opened.Mode().Perm(), name)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
}
