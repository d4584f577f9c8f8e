package nodetest

import (
	"syscall"
	"testing"
	"time"
)

// Terminate sends SIGTERM and waits (at most 30s) for the process to exit,
// and returns how it exited: nil for exit code 0, an *exec.ExitError
// otherwise. Unlike Stop it keeps the exit for Exited and the test's
// cleanup, which would otherwise wait for an exit that already happened.
func (p *Process) Terminate(t testing.TB) error {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ok, err := p.WaitExit(30 * time.Second)
	if !ok {
		p.kill()
		t.Fatalf("custosd did not stop within 30s of SIGTERM\n%s", p.Log())
	}
	return err
}

// WaitExit waits at most d for the process to exit on its own; ok is false
// if it still runs, and err is how it exited.
func (p *Process) WaitExit(d time.Duration) (ok bool, err error) {
	select {
	case err := <-p.exited:
		p.exited <- err
		return true, err
	case <-time.After(d):
		return false, nil
	}
}
