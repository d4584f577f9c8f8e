//go:build !unix

package vault

import (
	"errors"
	"time"
)

type fileLock struct{}

// lock fails: the vault relies on flock(2) to keep two processes from
// writing it at once, and on Unix file modes to keep it private.
func lock(string, time.Duration) (*fileLock, error) {
	return nil, errors.New("the vault is supported on Unix systems only")
}

func (*fileLock) unlock() error { return nil }
