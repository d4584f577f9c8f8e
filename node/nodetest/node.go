package nodetest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node"
	"github.com/custos-network/custos/node/admin"
	"github.com/custos-network/custos/node/config"
)

// Option changes a test node's configuration before it starts.
type Option func(*config.Config)

// Invite makes the node admit users by invite token only.
func Invite(c *config.Config) { c.Enrollment = "invite" }

// initNode makes a node directory under t's temporary directory, listening
// on 127.0.0.1 only, with open enrollment unless an option says otherwise.
func initNode(t testing.TB, name string, opts []Option) *config.Config {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	path, _, err := node.Init(node.InitOptions{
		Dir: dir, Name: name, Enrollment: "open",
		Listen: []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP = "127.0.0.1:0"
	for _, o := range opts {
		o(cfg)
	}
	// Rewrite node.yaml with the options, for a process to read.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := config.WriteDefault(path, *cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// InProcess is a node running in the test's own process.
type InProcess struct {
	*node.Node
	Config *config.Config
	cancel context.CancelFunc
	done   chan error
}

// Start starts a node named n1 in this process; it stops when the test
// ends.
func Start(t testing.TB, opts ...Option) *InProcess {
	t.Helper()
	return StartNamed(t, "n1", opts...)
}

// StartNamed starts a node of this name in this process, for tests of
// several nodes that a network file lists; it stops when the test ends.
func StartNamed(t testing.TB, name string, opts ...Option) *InProcess {
	t.Helper()
	p := &InProcess{Config: initNode(t, name, opts)}
	p.start(t)
	return p
}

func (p *InProcess) start(t testing.TB) {
	t.Helper()
	var n *node.Node
	var err error
	asNode(func() { n, err = node.New(p.Config, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))) })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.Node, p.cancel, p.done = n, cancel, make(chan error, 1)
	go asNode(func() { p.done <- n.Run(ctx) })
	t.Cleanup(p.stop)
}

// asNode runs fn with the pprof label custos=node, which every goroutine
// it starts inherits: the node's listeners, connections and handlers. A
// CPU profile of a test or benchmark can so be cut to the node's own work
// (go tool pprof -tagfocus custos=node), apart from its devices'.
func asNode(fn func()) {
	pprof.Do(context.Background(), pprof.Labels("custos", "node"), func(context.Context) { fn() })
}

func (p *InProcess) stop() {
	if p.cancel != nil {
		p.cancel()
		<-p.done
		p.cancel = nil
	}
}

// Restart stops the node and starts it again on the same directory.
func (p *InProcess) Restart(t testing.TB) {
	t.Helper()
	p.stop()
	p.start(t)
}

// Info is how a device dials the node.
func (p *InProcess) Info() peer.AddrInfo { return peer.AddrInfo{ID: p.ID(), Addrs: p.Addrs()} }

var (
	buildMu sync.Mutex
	builds  = map[string]string{} // build tags → custosd built with them
)

// RemoveBinary removes what Binary built; call it from TestMain after the
// tests ran.
func RemoveBinary() {
	buildMu.Lock()
	defer buildMu.Unlock()
	for _, path := range builds {
		os.RemoveAll(filepath.Dir(path))
	}
	builds = map[string]string{}
}

// Binary builds custosd with these build tags, once per test binary and set
// of tags, and returns its path.
func Binary(t testing.TB, tags ...string) string {
	t.Helper()
	key := strings.Join(tags, ",")
	buildMu.Lock()
	defer buildMu.Unlock()
	if path, ok := builds[key]; ok {
		return path
	}
	dir, err := os.MkdirTemp("", "custosd-bin-")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "custosd")
	args := []string{"build", "-o", path}
	if key != "" {
		args = append(args, "-tags", key)
	}
	if out, err := exec.Command("go", append(args, "github.com/custos-network/custos/node/cmd/custosd")...).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("go build custosd: %v\n%s", err, out)
	}
	builds[key] = path
	return path
}

// binaryFor is the custosd that env needs: the custosfault build when env
// arms a fault (CUSTOS_FAULT=…), the plain one otherwise.
func binaryFor(t testing.TB, env []string) string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "CUSTOS_FAULT=") {
			return Binary(t, "custosfault")
		}
	}
	return Binary(t)
}

// Process is a real custosd process on 127.0.0.1.
type Process struct {
	Config *config.Config
	Path   string // node.yaml
	cmd    *exec.Cmd
	exited chan error
}

// StartProcess makes a node directory and starts custosd on it; the process
// is killed when the test ends, whatever happened.
func StartProcess(t testing.TB, name string, opts ...Option) *Process {
	t.Helper()
	return StartProcessEnv(t, name, nil, opts...)
}

// Start starts the process and waits until its admin socket answers.
func (p *Process) Start(t testing.TB) {
	t.Helper()
	p.StartEnv(t, nil)
}

// Log returns what the process wrote.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.Config.Path("custosd.log"))
	return string(b)
}

// Admin is a client of the process's admin socket.
func (p *Process) Admin() *admin.Client { return node.AdminClient(p.Config) }

// Info is how a device dials the process, from its card.
func (p *Process) Info(t testing.TB) peer.AddrInfo {
	t.Helper()
	card, err := p.Admin().Card(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	info, err := card.AddrInfo()
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// Stop sends SIGTERM and waits for a clean exit.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.exited <- err // keep the exit status for Exited and cleanup
		if err != nil {
			t.Fatalf("custosd exited with %v after SIGTERM\n%s", err, p.Log())
		}
	case <-time.After(30 * time.Second):
		p.kill()
		t.Fatalf("custosd did not stop within 30s of SIGTERM\n%s", p.Log())
	}
}

// Kill kills the process with SIGKILL, as a crash would.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	p.kill()
}

func (p *Process) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	select {
	case err := <-p.exited:
		p.exited <- err
	case <-time.After(10 * time.Second):
	}
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case err := <-p.exited:
		p.exited <- err
		return true
	default:
		return false
	}
}

// IsCode reports whether err is a node's refusal with this code.
func IsCode(err error, code api.Code) bool {
	var se *api.StatusError
	return errors.As(err, &se) && se.Code == code
}
