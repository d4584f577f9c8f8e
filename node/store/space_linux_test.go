package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestFullTmpfsIsAnErrorNotACrash fills a real file system under a store.
// Without the guard the next write into one of Badger's sparse files
// would kill the test binary with SIGBUS.
func TestFullTmpfsIsAnErrorNotACrash(t *testing.T) {
	mnt := mountTmpfs(t, "192m")
	dir := filepath.Join(mnt, "data")
	s, err := Open(dir, testKey, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ballast := filepath.Join(mnt, "ballast")
	defer os.Remove(ballast) // before Close, whose flush needs space
	acked := map[int64]bool{}
	entry := make([]byte, 512)
	for i := range int64(200) {
		update(t, s, func(tx *Tx) error { return tx.PutLogEntry(i, entry) })
		acked[i] = true
	}

	fillDisk(t, ballast)
	time.Sleep(2 * spaceCacheFor) // past the last good check
	for i := range int64(50) {
		err := s.Update(context.Background(), func(tx *Tx) error { return tx.PutLogEntry(1000+i, entry) })
		if !errors.Is(err, ErrDiskFull) {
			t.Fatalf("update %d on a full disk = %v, want ErrDiskFull", i, err)
		}
	}
	if st, err := s.Stats(); err != nil {
		t.Errorf("Stats on a full disk: %v", err)
	} else {
		t.Logf("reserve on a full disk: %.1f MiB", float64(st.ReserveBytes)/(1<<20))
	}

	// Space returns: the next write goes through, and everything
	// acknowledged survives a reopen.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error { return tx.PutLogEntry(1000, entry) })
	acked[1000] = true
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Opening makes new sparse logs, so a full disk refuses the Open too.
	fillDisk(t, ballast)
	if s, err := Open(dir, testKey, testLogger(t)); !errors.Is(err, ErrDiskFull) {
		if err == nil {
			_ = s.Close()
		}
		t.Fatalf("Open on a full disk = %v, want ErrDiskFull", err)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	s = openDiskAt(t, dir)
	checkEntries(t, s, acked)
}

// mountTmpfs mounts a tmpfs of size under the test's temporary directory
// and unmounts it when the test ends, or skips the test if it cannot.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+size+",mode=0700"); err != nil {
		t.Skipf("skipped: cannot mount a small tmpfs to fill (%v); making a real full disk needs root with CAP_SYS_ADMIN", err)
	}
	// Registered after TempDir's own cleanup, so it runs before the
	// directory is removed, and after the store's cleanup.
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}

// fillDisk writes path until the file system has no space left.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		_, err := f.Write(buf)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if free, err := diskAvail(path); err != nil || free > 0 {
		t.Fatalf("%d bytes still free after filling the disk (%v)", free, err)
	}
}

// TestCloseOnAFullDisk closes a store whose memtable holds data on a file
// system that something else filled: Badger's flush at close takes the
// reserve file's room instead of faulting, and nothing acknowledged is lost.
func TestCloseOnAFullDisk(t *testing.T) {
	mnt := mountTmpfs(t, "192m")
	dir := filepath.Join(mnt, "data")
	s, err := Open(dir, testKey, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ReserveFile)); err != nil {
		t.Fatalf("no reserve file: %v", err)
	}
	acked := map[int64]bool{}
	entry := make([]byte, 4096)
	for i := range int64(1000) { // about 4 MiB in the memtable
		update(t, s, func(tx *Tx) error { return tx.PutLogEntry(i, entry) })
		acked[i] = true
	}
	ballast := filepath.Join(mnt, "ballast")
	fillDisk(t, ballast)
	if err := s.Close(); err != nil {
		t.Errorf("Close on a full disk: %v", err)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	s = openDiskAt(t, dir)
	checkEntries(t, s, acked)
}
