//go:build unix

package vault

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// pollEvery is how often a waiting Open tries the lock again. flock(2) has
// no timeout of its own, and a blocked call cannot be called off.
const pollEvery = 25 * time.Millisecond

// fileLock is an exclusive flock(2) on the file beside a vault. flock locks
// belong to an open file, so two opens in one process exclude each other as
// two processes do, and the lock goes when the file is closed, also when the
// process dies.
type fileLock struct{ f *os.File }

// lock locks vaultPath+".lock", making it if it is missing, and waits up to
// wait for another holder to let go.
func lock(vaultPath string, wait time.Duration) (*fileLock, error) {
	name := vaultPath + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err := flock(f, unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return &fileLock{f}, nil
		case errors.Is(err, unix.EINTR):
			continue
		case !errors.Is(err, unix.EWOULDBLOCK):
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			f.Close()
			return nil, fmt.Errorf("%w (it holds the lock on %s; waited %v)", ErrBusy, name, wait)
		}
		time.Sleep(min(pollEvery, left))
	}
}

func (l *fileLock) unlock() error {
	err := flock(l.f, unix.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = unix.Flock(int(fd), how) }); err != nil {
		return err
	}
	return ferr
}
