package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerCred is the credentials of conn's peer (SO_PEERCRED).
func peerCred(conn *net.UnixConn) (Cred, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return Cred{}, fmt.Errorf("read peer credentials: %w", err)
	}
	var uc *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		uc, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Cred{}, fmt.Errorf("read peer credentials: %w", err)
	}
	if cerr != nil {
		return Cred{}, fmt.Errorf("read peer credentials: %w", cerr)
	}
	return Cred{UID: int(uc.Uid), PID: int(uc.Pid)}, nil
}

func ownerOf(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// Protect hardens this process for holding secrets: not dumpable (no core
// file; other processes of the user, without CAP_SYS_PTRACE, can neither
// ptrace it nor read /proc/PID/mem), no core file size, and every page
// locked in memory, now and later, when RLIMIT_MEMLOCK is unlimited. Go
// maps memory as it grows, so a finite limit would make a later mapping
// fail and the process crash: memory is then left swappable, and locked
// is false. Call it before reading any secret.
func Protect() (locked bool, err error) {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return false, fmt.Errorf("make the process not dumpable: %w", err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return false, fmt.Errorf("turn off core files: %w", err)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil || lim.Cur != unix.RLIM_INFINITY {
		return false, nil
	}
	if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE); err != nil {
		return false, fmt.Errorf("lock memory: %w", err)
	}
	return true, nil
}

// lockFile takes the exclusive lock of the file at path, made 0600 if
// need be, without waiting: ErrRunning if another process holds it. The
// kernel drops the lock when its process ends, killed or not. A lock on a
// file that its holder removed meanwhile (ending) is retried on the new
// file.
func lockFile(path string) (*os.File, error) {
	for range 3 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open the agent's lock file: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, ErrRunning
			}
			return nil, fmt.Errorf("lock the agent's lock file: %w", err)
		}
		held, err1 := f.Stat()
		named, err2 := os.Lstat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, named) {
			return f, nil
		}
		f.Close()
	}
	return nil, ErrRunning
}
