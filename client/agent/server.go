package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/custos-network/custos/client"
)

// Config configures a Server.
type Config struct {
	// Vault is the path of the vault the agent serves.
	Vault string
	// Idle locks the agent after this long without a request (default
	// DefaultIdle), and ends a locked one; MaxLifetime locks it this long
	// after it was unlocked, however busy (default DefaultMaxLifetime).
	Idle, MaxLifetime time.Duration
	// Client is the options of the agent's client (Open).
	Client client.Options
	// Describe gives an error's exit code, stable name (custos --json's
	// "code") and hint, as the custos command would give them; nil: code 1,
	// name "error", no hint.
	Describe func(error) (code int, name, hint string)
	// Logger is told when the agent unlocks and ends, never a secret.
	Logger *zap.Logger
}

// The defaults of Config: an agent for automation lives through a working
// day, and locks itself after an hour unused.
const (
	DefaultIdle        = time.Hour
	DefaultMaxLifetime = 12 * time.Hour
)

// opTimeout bounds one operation of the agent's client; a request is read
// within readTimeout of its connection. At most maxConns connections are
// served at once; more are closed unanswered.
const (
	maxConns     = 256
	opTimeout    = 2 * time.Minute
	readTimeout  = 10 * time.Second
	writeTimeout = 30 * time.Second
)

// The reasons Serve ends with.
const (
	EndLocked   = "custos lock"
	EndIdle     = "idle timeout"
	EndLifetime = "maximum lifetime"
	EndStopped  = "stopped"
)

// Server is a running agent: see the package doc.
type Server struct {
	cfg     Config
	sock    string
	ln      *net.UnixListener
	lock    *os.File
	started time.Time

	unlocking sync.Mutex // one unlock at a time

	mu     sync.Mutex
	c      *client.Client // once unlocked
	locks  uint64         // times it was locked: an unlock that a lock overtook is undone
	ends   time.Time      // the end of its maximum lifetime, once unlocked
	last   time.Time      // when the last request ended
	active int            // requests being served
	reason string         // why it ends, once it does
	ops    sync.WaitGroup // requests being served
	quit   chan struct{}  // closed when it ends
}

// Listen starts an agent for cfg.Vault, locked, listening at its socket
// (SocketPath). It refuses with ErrRunning when another agent serves the
// vault; a socket left by an agent that was killed is replaced.
func Listen(cfg Config) (*Server, error) {
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	abs, err := filepath.Abs(cfg.Vault)
	if err != nil {
		return nil, err
	}
	cfg.Vault = abs
	sock, err := SocketPath(abs)
	if err != nil {
		return nil, err
	}
	if err := makeDir(filepath.Dir(sock)); err != nil {
		return nil, err
	}
	lock, err := lockFile(lockPath(sock))
	if err != nil {
		return nil, err
	}
	// Holding the lock, any socket there is a dead agent's.
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		lock.Close()
		return nil, fmt.Errorf("remove a dead agent's socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("listen at the agent's socket: %w", err)
	}
	ln.SetUnlinkOnClose(false) // removed by end, before the lock is let go
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		os.Remove(sock)
		lock.Close()
		return nil, fmt.Errorf("make the agent's socket private: %w", err)
	}
	now := time.Now()
	return &Server{cfg: cfg, sock: sock, ln: ln, lock: lock, started: now, last: now, quit: make(chan struct{})}, nil
}

func lockPath(sock string) string { return strings.TrimSuffix(sock, ".sock") + ".lock" }

// Socket is the path of the agent's socket.
func (s *Server) Socket() string { return s.sock }

// Serve answers requests until the agent ends (Stop, or its idle time
// without a request while locked), then waits for the requests being
// served, closes its client (which forgets the login keys) and removes its
// socket and lock file. It returns why it ended. An unlocked agent locks
// itself (forgets its keys, closes the vault) at its idle timeout, at the
// end of its maximum lifetime, and on Lock, and runs on locked.
func (s *Server) Serve() string {
	go s.accept()
	go s.watch()
	<-s.quit
	s.ln.Close()
	s.ops.Wait()
	s.mu.Lock()
	c, reason := s.c, s.reason
	s.c = nil
	s.mu.Unlock()
	if c != nil {
		if err := c.Close(); err != nil {
			s.cfg.Logger.Warn("close the vault", zap.Error(err))
		}
	}
	os.Remove(s.sock)
	os.Remove(lockPath(s.sock))
	s.lock.Close()
	s.cfg.Logger.Info("agent ended", zap.String("reason", reason))
	return reason
}

// Stop ends the agent; Serve returns reason.
func (s *Server) Stop(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reason == "" {
		s.reason = reason
		close(s.quit)
	}
}

// watch locks the agent at its idle timeout or the end of its maximum
// lifetime, and ends a locked agent that was not asked for its idle time.
func (s *Server) watch() {
	tick := time.NewTicker(min(max(min(s.cfg.Idle, s.cfg.MaxLifetime)/20, 5*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-s.quit:
			return
		case now := <-tick.C:
			s.mu.Lock()
			idle := s.active == 0 && now.Sub(s.last) >= s.cfg.Idle
			unlocked, ends := s.c != nil, s.ends
			s.mu.Unlock()
			switch {
			case unlocked && !now.Before(ends):
				s.lockClient(EndLifetime)
			case unlocked && idle:
				s.lockClient(EndIdle)
			case idle:
				s.Stop(EndIdle)
			}
		}
	}
}

// lockClient forgets the login keys and closes the vault; the agent runs
// on, locked, and answers ErrLocked until it is unlocked again.
func (s *Server) lockClient(reason string) {
	s.mu.Lock()
	c := s.c
	s.c, s.last = nil, time.Now()
	s.locks++
	s.mu.Unlock()
	if c == nil {
		return
	}
	if err := c.Close(); err != nil {
		s.cfg.Logger.Warn("close the vault", zap.Error(err))
	}
	s.cfg.Logger.Info("agent locked", zap.String("reason", reason))
}

func (s *Server) accept() {
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			select {
			case <-s.quit:
				return
			default:
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			s.cfg.Logger.Warn("accept", zap.Error(err))
			time.Sleep(10 * time.Millisecond)
			continue
		}
		ok, ended := s.admit()
		if !ok {
			conn.Close()
			if ended {
				return
			}
			continue
		}
		go func() {
			defer s.done()
			s.serveConn(conn)
		}()
	}
}

// admit admits a connection: ok, or busy when maxConns are being served,
// or ended when the agent ends.
func (s *Server) admit() (ok, ended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.reason != "":
		return false, true
	case s.active >= maxConns:
		return false, false
	}
	s.active++
	s.ops.Add(1)
	return true, false
}

func (s *Server) done() {
	s.mu.Lock()
	s.active--
	s.last = time.Now()
	s.mu.Unlock()
	s.ops.Done()
}

// serveConn checks the peer, reads one request and answers it.
func (s *Server) serveConn(conn *net.UnixConn) {
	defer conn.Close()
	cred, err := peerCred(conn)
	if err == nil {
		err = CheckPeer(cred, os.Getuid())
	}
	if err != nil {
		s.cfg.Logger.Warn("refused a connection", zap.Error(err))
		return // not a word to another user
	}
	conn.SetReadDeadline(time.Now().Add(readTimeout))
	var req request
	defer func() { clear(req.Secret) }()
	resp := &response{V: Version}
	if err := readFrame(conn, MaxRequest, &req); err != nil {
		resp.Err = s.describe(err)
	} else if err := req.validate(); err != nil {
		resp.Err = s.describe(err)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		resp = s.do(ctx, &req)
		cancel()
	}
	defer wipe(resp)
	conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := writeFrame(conn, resp); err != nil {
		s.cfg.Logger.Debug("write an answer", zap.Error(err))
	}
}

func (s *Server) describe(err error) *Error {
	if errors.Is(err, client.ErrClosed) { // locked while it was being served
		err = ErrLocked
	}
	e := &Error{Message: err.Error(), Code: 1, Name: "error", Kinds: kindsOf(err)}
	if s.cfg.Describe != nil {
		e.Code, e.Name, e.Hint = s.cfg.Describe(err)
	}
	return e
}

// client is the unlocked client, or ErrLocked.
func (s *Server) client() (*client.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return nil, ErrLocked
	}
	return s.c, nil
}

func (s *Server) info() *Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := &Info{Vault: s.cfg.Vault, PID: os.Getpid(), Started: s.started, Idle: Duration(s.cfg.Idle)}
	if s.c != nil {
		in.Unlocked, in.User, in.Device, in.Ends = true, s.c.User(), s.c.Device().String(), s.ends
	}
	return in
}

// unlock opens the vault and logs in with password, unless the agent is
// unlocked already. A lock that comes while it logs in wins: the unlock
// is undone (ErrLocked), so that custos lock, once answered, holds.
func (s *Server) unlock(ctx context.Context, password []byte) error {
	s.unlocking.Lock()
	defer s.unlocking.Unlock()
	s.mu.Lock()
	unlocked, locks := s.c != nil, s.locks
	s.mu.Unlock()
	if unlocked {
		return nil
	}
	c, err := client.Open(s.cfg.Vault, s.cfg.Client)
	if err != nil {
		return err
	}
	if err := c.Unlock(ctx, password); err != nil {
		c.Close()
		return err
	}
	s.mu.Lock()
	if s.reason != "" || s.locks != locks { // it ended, or was locked, meanwhile
		s.mu.Unlock()
		c.Close()
		return ErrLocked
	}
	s.c, s.ends = c, time.Now().Add(s.cfg.MaxLifetime)
	s.mu.Unlock()
	s.cfg.Logger.Info("agent unlocked", zap.String("user", c.User()))
	return nil
}
