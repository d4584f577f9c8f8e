// Package atomicfile writes files whole or not at all, durably: Write
// replaces a file's contents (the vault, an auditor's recorded
// checkpoints), and Create makes a new file that never existed half-written
// (keys, node.yaml, backups, network files, the vault's request journal).
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces the file at path with b: it writes a new file in the same
// directory (mode 0600), syncs it, renames it over path and syncs the
// directory. With tmp set, the new file has that name, which must not exist
// (O_EXCL: no link planted at the name is followed); with tmp "", it gets a
// fresh name. On failure the file at path is as it was, and the new file is
// removed.
func Write(path, tmp string, b []byte) error {
	var f *os.File
	var err error
	if tmp == "" {
		f, err = os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	} else {
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir makes a file's creation or rename in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
