//go:build unix

package node

import (
	"os/exec"
	"syscall"
)

// killGroupOnCancel starts cmd in a process group of its own and kills the
// whole group when its context ends: a script's children (a KMS client it
// runs, a sleep) would otherwise outlive it and hold its stdout open.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
