package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ReserveFile is a file of real, allocated blocks that the store keeps in
// its data directory and deletes just before closing Badger. The space
// guard refuses writes before the disk is full, but Badger's close still
// flushes the memtable to a table file; on a disk that something else
// filled, this file gives that flush the room it needs. It is made again at
// the next open.
const ReserveFile = "CUSTOS_RESERVE"

// makeReserve creates the reserve file of size bytes in dir, unless it is
// there already. On a disk without the room it is left out, with a warning:
// the space guard then refuses writes anyway.
func (s *Store) makeReserve(dir string, size int64) {
	if dir == "" {
		return
	}
	path := filepath.Join(dir, ReserveFile)
	if info, err := os.Stat(path); err == nil && info.Size() == size {
		s.reservePath = path
		return
	}
	if err := allocateFile(path, size); err != nil {
		os.Remove(path)
		s.log.Warn("no room for the store's reserve file; a close on a full disk may fail")
		return
	}
	s.reservePath = path
}

// dropReserve deletes the reserve file, to give its room to Badger.
func (s *Store) dropReserve() {
	if s.reservePath == "" {
		return
	}
	if err := os.Remove(s.reservePath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("remove the store's reserve file")
	}
}

// allocateFile writes a file of size zero bytes, so every block is real
// (a sparse file would reserve nothing), and syncs it.
func allocateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	zeros := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(zeros)) {
		if _, err := f.Write(zeros[:min(left, int64(len(zeros)))]); err != nil {
			f.Close()
			return fmt.Errorf("write reserve: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
