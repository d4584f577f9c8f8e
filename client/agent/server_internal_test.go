package agent

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"
)

func TestConnectionsBeyondTheCapAreClosedUnanswered(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	vault := filepath.Join(t.TempDir(), "vault.db")
	s, err := Listen(Config{Vault: vault})
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan string)
	go func() { ended <- s.Serve() }()
	defer func() { s.Stop(EndStopped); <-ended }()
	// maxConns connections that send nothing take every place.
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	a, _, err := Dial(context.Background(), vault)
	if err != nil {
		t.Fatal(err)
	}
	for range maxConns {
		c, err := net.Dial("unix", s.Socket())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for !s.serving(maxConns) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := a.Info(context.Background()); err == nil {
		t.Fatal("a connection beyond the cap was served")
	}
	for _, c := range held {
		c.Close()
	}
	held = nil
	for s.serving(1) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := a.Info(context.Background()); err != nil {
		t.Fatalf("once the others closed: %v", err)
	}
}

// serving reports whether at least n connections are being served.
func (s *Server) serving(n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active >= n
}

// Unlocking reports whether an unlock is under way (for the tests of
// package agent_test).
func (s *Server) Unlocking() bool {
	if s.unlocking.TryLock() {
		s.unlocking.Unlock()
		return false
	}
	return true
}
