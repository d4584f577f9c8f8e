//go:build unix

package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
)

// patience is how long a test waits for custos; the machine may be slow.
const patience = 30 * time.Second

// SIGTERM while custos waits for nodes ends it at once with exit code 130
// and "interrupted", not with the nodes' errors as if they had failed.
func TestInterruptWhileNodesAreAskedExits130(t *testing.T) {
	t.Parallel()
	// A node that takes the connection and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	var cards []*api.Card
	for i := 1; i <= 2; i++ {
		_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		id, err := peer.IDFromPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		cards = append(cards, &api.Card{Name: fmt.Sprintf("n%d", i), PeerID: id.String(), Addrs: []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}})
	}
	nw, err := client.NewNetwork(2, cards)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	vaultPath, pwPath := filepath.Join(dir, "vault.json"), filepath.Join(dir, "password")
	if err := client.Init(vaultPath, nw.Marshal(), "alice"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pwPath, []byte("correct horse battery staple"), 0o600); err != nil {
		t.Fatal(err)
	}

	bin, err := exec.LookPath("custos")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "status", "--vault", vaultPath, "--password-file", pwPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	select {
	case c := <-accepted:
		defer c.Close()
	case err := <-exited:
		t.Fatalf("custos ended before it dialled: %v\n%s", err, stderr.String())
	case <-time.After(patience):
		t.Fatal("custos did not dial the node")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var werr error
	select {
	case werr = <-exited:
		exited <- werr // for the deferred kill
	case <-time.After(patience):
		t.Fatalf("custos did not end after SIGTERM\n%s", stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("custos ended with %v, want exit code %d\n%s", werr, exitInterrupted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "custos: interrupted") || strings.Contains(stderr.String(), "custos: error") {
		t.Fatalf("custos wrote:\n%s\nwant only that it was interrupted", stderr.String())
	}
}
