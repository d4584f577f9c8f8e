package atomicfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
)

// Create makes a new file at path, with mode perm, and fills it with fill:
// it refuses an existing file (the error matches fs.ErrExist; O_EXCL, so no
// link planted at the name is followed), syncs the file and its directory,
// and removes what it wrote when anything fails, so that a half-written
// file never passes for a whole one.
func Create(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	err = fill(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = SyncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// CreateBytes is Create with the contents b.
func CreateBytes(path string, perm os.FileMode, b []byte) error {
	return Create(path, perm, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(b))
		return err
	})
}
