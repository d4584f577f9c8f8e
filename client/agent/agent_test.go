package agent_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/custos-network/custos/client/agent"
	"github.com/custos-network/custos/node/nodetest"
)

// childEnv makes the test binary an agent that serves until killed (see
// TestKilledAgentLeavesNothingUsable).
const childEnv = "CUSTOS_AGENT_TEST_CHILD"

func TestMain(m *testing.M) {
	if vault := os.Getenv(childEnv); vault != "" {
		s, err := agent.Listen(agent.Config{Vault: vault, Idle: time.Hour})
		if err != nil {
			os.Exit(3)
		}
		s.Serve()
		os.Exit(0)
	}
	code := m.Run()
	nodetest.RemoveBinary()
	os.Exit(code)
}

// runtimeDir points $XDG_RUNTIME_DIR at a new private directory and
// returns the agent's socket directory in it.
func runtimeDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", dir)
	return filepath.Join(dir, "custos")
}

// serve starts an agent for a vault path in a test directory; Serve's
// reason comes on the channel, which is then closed.
func serve(t *testing.T, cfg agent.Config) (*agent.Server, <-chan string) {
	t.Helper()
	if cfg.Vault == "" {
		cfg.Vault = filepath.Join(t.TempDir(), "vault.db")
	}
	s, err := agent.Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan string, 1)
	finished := make(chan struct{})
	go func() {
		ended <- s.Serve()
		close(finished)
	}()
	t.Cleanup(func() {
		s.Stop(agent.EndStopped)
		<-finished
	})
	return s, ended
}

func dial(t *testing.T, vault string) *agent.Conn {
	t.Helper()
	a, _, err := agent.Dial(context.Background(), vault)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestCheckPeer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		peer    agent.Cred
		uid     int
		refused bool
	}{
		{"a process of the agent's own user is served", agent.Cred{UID: 1000, PID: 42}, 1000, false},
		{"a process of another user is refused", agent.Cred{UID: 1001, PID: 42}, 1000, true},
		{"root is refused by a user's agent", agent.Cred{UID: 0, PID: 42}, 1000, true},
		{"a user's process is refused by root's agent", agent.Cred{UID: 1000, PID: 42}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := agent.CheckPeer(tc.peer, tc.uid)
			if got := errors.Is(err, agent.ErrOtherUser); got != tc.refused {
				t.Fatalf("CheckPeer(%+v, %d) = %v, want refused=%v", tc.peer, tc.uid, err, tc.refused)
			}
		})
	}
}

func TestLockedAgentAnswersLockedThenEndsWhenIdle(t *testing.T) {
	dir := runtimeDir(t)
	vault := filepath.Join(t.TempDir(), "vault.db")
	s, ended := serve(t, agent.Config{Vault: vault, Idle: 500 * time.Millisecond})
	if fi, err := os.Stat(s.Socket()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v, mode %v; want 0600", err, fi.Mode())
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory: %v, mode %v; want 0700", err, fi.Mode())
	}
	a := dial(t, vault)
	_, err := a.GetMany(context.Background(), []string{"acme"})
	if !errors.Is(err, agent.ErrLocked) || err.Error() != "locked: run custos unlock" {
		t.Fatalf("get from a locked agent: %v, want %q", err, agent.ErrLocked)
	}
	select {
	case reason := <-ended:
		if reason != agent.EndIdle {
			t.Fatalf("the agent ended: %s, want %s", reason, agent.EndIdle)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a locked agent did not end after its idle time")
	}
	if left := entries(t, dir); len(left) != 0 {
		t.Fatalf("the agent left %v", left)
	}
	if _, _, err := agent.Dial(context.Background(), vault); !errors.Is(err, agent.ErrNoAgent) {
		t.Fatalf("Dial after the end: %v, want ErrNoAgent", err)
	}
}

func TestSecondAgentForOneVaultIsRefused(t *testing.T) {
	runtimeDir(t)
	vault := filepath.Join(t.TempDir(), "vault.db")
	serve(t, agent.Config{Vault: vault})
	if _, err := agent.Listen(agent.Config{Vault: vault}); !errors.Is(err, agent.ErrRunning) {
		t.Fatalf("a second Listen: %v, want ErrRunning", err)
	}
	if _, err := dial(t, vault).Info(context.Background()); err != nil {
		t.Fatalf("the first agent no longer answers: %v", err)
	}
}

func TestKilledAgentLeavesNothingUsable(t *testing.T) {
	dir := runtimeDir(t)
	vault := filepath.Join(t.TempDir(), "vault.db")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(self)
	child.Env = append(os.Environ(), childEnv+"="+vault)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, _, err := agent.Dial(context.Background(), vault); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child agent did not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	sock, _ := agent.SocketPath(vault)
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("want the killed agent's socket left behind, to see it is not trusted: %v", err)
	}
	if _, _, err := agent.Dial(context.Background(), vault); !errors.Is(err, agent.ErrNoAgent) {
		t.Fatalf("Dial at a killed agent's socket: %v, want ErrNoAgent", err)
	}
	// A new agent replaces the dead one's socket, and ends leaving nothing.
	s, ended := serve(t, agent.Config{Vault: vault})
	if _, err := dial(t, vault).Info(context.Background()); err != nil {
		t.Fatalf("the new agent does not answer: %v", err)
	}
	s.Stop(agent.EndStopped)
	<-ended
	if left := entries(t, dir); len(left) != 0 {
		t.Fatalf("the new agent left %v", left)
	}
}

func TestSocketDirectoryOthersMayEnterIsRefused(t *testing.T) {
	dir := runtimeDir(t)
	vault := filepath.Join(t.TempDir(), "vault.db")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Listen(agent.Config{Vault: vault}); !errors.Is(err, agent.ErrUnsafeDir) {
		t.Fatalf("Listen in a 0755 directory: %v, want ErrUnsafeDir", err)
	}
	sock, _ := agent.SocketPath(vault)
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := agent.Dial(context.Background(), vault); !errors.Is(err, agent.ErrUnsafeDir) {
		t.Fatalf("Dial in a 0755 directory: %v, want ErrUnsafeDir", err)
	}
}

func TestSocketPathIsPerVault(t *testing.T) {
	runtimeDir(t)
	a, _ := agent.SocketPath("/home/a/vault.db")
	b, _ := agent.SocketPath("/home/b/vault.db")
	if a == b || !strings.HasPrefix(a, os.Getenv("XDG_RUNTIME_DIR")) {
		t.Fatalf("socket paths %s and %s: want two, under $XDG_RUNTIME_DIR", a, b)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	c, _ := agent.SocketPath("/home/a/vault.db")
	if !strings.HasPrefix(c, filepath.Join(os.TempDir(), "custos-")) {
		t.Fatalf("socket path without $XDG_RUNTIME_DIR: %s, want one under %s", c, os.TempDir())
	}
}
