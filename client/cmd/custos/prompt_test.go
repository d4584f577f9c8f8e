//go:build linux

package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/threshold"
)

// At every hidden prompt, Ctrl-C and SIGTERM end custos with exit code 130
// and give the terminal its echo back.
func TestInterruptAtHiddenPromptRestoresTerminal(t *testing.T) {
	t.Parallel()
	vaultPath := vaultWithRecord(t, "acme-portal")
	cases := []struct {
		name   string
		args   []string
		prompt string
		stop   func(tm *terminal)
	}{
		{"ctrl-c at get's password prompt", []string{"get", "acme-portal"}, "Password: ", ctrlC},
		{"sigterm at get's password prompt", []string{"get", "acme-portal"}, "Password: ", sigterm},
		{"ctrl-c at put's secret prompt", []string{"put", "globex-api"}, "Secret to store: ", ctrlC},
		{"ctrl-c at enroll's password prompt", []string{"enroll", "--token", "n1=x"}, "Password to enroll with: ", ctrlC},
		{"sigterm at enroll's second prompt", []string{"enroll", "--token", "n1=x"}, "Repeat the password: ", sigterm},
		{"ctrl-c at history's password prompt", []string{"history"}, "Password: ", ctrlC},
		{"ctrl-c at rm's password prompt", []string{"rm", "--yes", "acme-portal"}, "Password: ", ctrlC},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tm := newTerminal(t)
			before := tm.lflag()
			tm.start(vaultPath, tc.args...)
			if tc.prompt == "Repeat the password: " {
				tm.waitFor("Password to enroll with: ")
				tm.typeText("correct horse\n")
			}
			tm.waitFor(tc.prompt)
			if tm.lflag()&unix.ECHO != 0 {
				t.Fatal("the terminal echoes at the hidden prompt")
			}
			tc.stop(tm)
			if code := tm.wait(); code != exitInterrupted {
				t.Fatalf("custos exited %d, want %d; it wrote:\n%s", code, exitInterrupted, tm.output())
			}
			if got := tm.lflag(); got != before {
				t.Fatalf("terminal local flags %#x after the interrupt, want %#x as before (echo %v)", got, before, got&unix.ECHO != 0)
			}
			tm.waitFor("custos: interrupted")
		})
	}
}

// Ctrl-D at an empty password prompt ends custos with "no password given"
// (exit code 1), the terminal restored.
func TestCtrlDAtEmptyPromptGivesNoPassword(t *testing.T) {
	t.Parallel()
	vaultPath := vaultWithRecord(t, "acme-portal")
	tm := newTerminal(t)
	before := tm.lflag()
	tm.start(vaultPath, "get", "acme-portal")
	tm.waitFor("Password: ")
	tm.typeText("\x04")
	if code := tm.wait(); code != exitError {
		t.Fatalf("custos exited %d, want %d; it wrote:\n%s", code, exitError, tm.output())
	}
	if got := tm.lflag(); got != before {
		t.Fatalf("terminal local flags %#x after Ctrl-D, want %#x", got, before)
	}
	tm.waitFor("custos: error: no password given")
}

func ctrlC(tm *terminal) { tm.typeText("\x03") }

func sigterm(tm *terminal) {
	if err := tm.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tm.t.Fatal(err)
	}
}

// terminal is a pseudo-terminal that a test runs custos in as a person at
// a shell would: custos leads its own session with the terminal as its
// controlling one, so Ctrl-C typed there is a SIGINT to it.
type terminal struct {
	t             *testing.T
	master, slave *os.File
	cmd           *exec.Cmd
	exited        chan int

	mu  sync.Mutex
	out bytes.Buffer
}

func newTerminal(t *testing.T) *terminal {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	tm := &terminal{t: t, master: master, slave: slave}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return tm
}

// start runs custos in the terminal with the vault at vaultPath and no
// password file, so that it prompts.
func (tm *terminal) start(vaultPath string, args ...string) {
	tm.t.Helper()
	bin, err := exec.LookPath("custos")
	if err != nil {
		tm.t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CUSTOS_") {
			env = append(env, e)
		}
	}
	cmd.Env = append(env, "CUSTOS_VAULT="+vaultPath)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tm.slave, tm.slave, tm.slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		tm.t.Fatal(err)
	}
	tm.cmd, tm.exited = cmd, make(chan int, 1)
	go func() {
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		tm.exited <- code
	}()
	tm.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-tm.exited
	})
}

// waitFor waits until custos has written s to the terminal.
func (tm *terminal) waitFor(s string) {
	tm.t.Helper()
	deadline := time.Now().Add(patience)
	for !strings.Contains(tm.output(), s) {
		if time.Now().After(deadline) {
			tm.t.Fatalf("custos did not write %q; it wrote:\n%s", s, tm.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait returns custos's exit code, failing the test if it does not exit.
func (tm *terminal) wait() int {
	tm.t.Helper()
	select {
	case code := <-tm.exited:
		tm.exited <- code // for the cleanup
		return code
	case <-time.After(patience):
		tm.t.Fatalf("custos did not exit; it wrote:\n%s", tm.output())
		return 0
	}
}

func (tm *terminal) typeText(s string) {
	tm.t.Helper()
	if _, err := tm.master.WriteString(s); err != nil {
		tm.t.Fatal(err)
	}
}

func (tm *terminal) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// lflag is the terminal's local modes (ECHO among them).
func (tm *terminal) lflag() uint32 {
	tm.t.Helper()
	st, err := unix.IoctlGetTermios(int(tm.slave.Fd()), unix.TCGETS)
	if err != nil {
		tm.t.Fatal(err)
	}
	return st.Lflag
}

// vaultWithRecord makes a vault for alice on a network of nodes that do
// not run, holding a record label: enough for every local check custos
// makes before it prompts. The record's share commitments are random.
func vaultWithRecord(t *testing.T, label string) string {
	t.Helper()
	dir := t.TempDir()
	nw := fakeNetwork(t, 3, 2)
	path := filepath.Join(dir, "vault.json")
	if err := client.Init(path, nw.Marshal(), "alice"); err != nil {
		t.Fatal(err)
	}
	h, err := vault.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	now := time.Now().UTC()
	u := vault.Unit{Label: label, Version: 1, Threshold: 2, Sealed: []byte("sealed"), Created: now, Updated: now}
	random(t, u.ID[:])
	random(t, u.KeyCommit[:])
	for _, n := range nw.Nodes {
		var c threshold.Commitment
		random(t, c[:])
		u.Nodes = append(u.Nodes, vault.UnitNode{Name: n.Name, PeerID: n.PeerID, Commitment: c, Stored: true})
	}
	if err := h.PutUnit(u); err != nil {
		t.Fatal(err)
	}
	return path
}

func random(t *testing.T, b []byte) {
	t.Helper()
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
}
