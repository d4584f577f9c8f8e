//go:build unix

package store

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

const canMeasureSpace = true

// diskAvail returns the free bytes of dir's file system that an
// unprivileged process may use.
func diskAvail(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// sparseBytes returns how many bytes the regular files in dir claim beyond
// what the file system has allocated to them: the holes a write through
// mmap may fill.
func sparseBytes(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // Badger removed it meanwhile
		}
		if err != nil {
			return 0, err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			continue
		}
		// st_blocks counts 512-byte units whatever the block size.
		if h := fi.Size() - int64(st.Blocks)*512; h > 0 {
			total += h
		}
	}
	return total, nil
}
