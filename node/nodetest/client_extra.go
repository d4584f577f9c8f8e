package nodetest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/custos-network/custos/node"
	"github.com/custos-network/custos/node/config"
)

// Listen makes the node listen on exactly these multiaddrs, for a test that
// needs a fixed address (another node taking over a stopped one's port).
func Listen(addrs ...string) Option {
	return func(c *config.Config) { c.Listen = append([]string(nil), addrs...) }
}

// StartProcessEnv is StartProcess with extra environment variables
// (KEY=VALUE) for custosd, such as CUSTOS_FAULT=alter-shares for a binary
// built with the custosfault tag.
func StartProcessEnv(t testing.TB, name string, env []string, opts ...Option) *Process {
	t.Helper()
	cfg := initNode(t, name, opts)
	p := &Process{Config: cfg, Path: cfg.Path(node.ConfigFile)}
	t.Cleanup(func() { p.kill() })
	p.StartEnv(t, env)
	return p
}

// StartEnv is Start with extra environment variables for the process. A
// later Start runs it without them.
func (p *Process) StartEnv(t testing.TB, env []string) {
	t.Helper()
	logf, err := os.OpenFile(p.Config.Path("custosd.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p.cmd = exec.Command(binaryFor(t, env), "run", "--config", p.Path)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan error) { exited <- cmd.Wait() }(p.cmd, p.exited)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := p.Admin().Status(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case werr := <-p.exited:
			p.exited <- werr
			t.Fatalf("custosd exited at start: %v\n%s", werr, p.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("custosd did not start within 30s: %v\n%s", err, p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Signal sends sig to the process; SIGSTOP makes a node that accepts
// connections (the kernel does) but never answers.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }
