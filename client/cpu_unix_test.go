//go:build unix

package client_test

import (
	"syscall"
	"time"
)

// clientCPU is the CPU time, user and system, the benchmark's process (the
// client's side) has used so far.
func clientCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
