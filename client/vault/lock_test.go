package vault

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// holdEnv names the vault that a child test process opens and holds until
// its stdin closes (see TestMain).
const holdEnv = "CUSTOS_VAULT_TEST_HOLD"

func TestMain(m *testing.M) {
	for i := range crashPeers {
		id, err := peer.IDFromPrivateKey(fixedPrivKey(byte(0xa1 + i)))
		if err != nil {
			panic(err)
		}
		crashPeers[i] = id.String()
	}
	if spec := os.Getenv(crashEnv); spec != "" {
		os.Exit(crashChild(spec))
	}
	if path := os.Getenv(holdEnv); path != "" {
		os.Exit(holdVault(path))
	}
	os.Exit(m.Run())
}

func holdVault(path string) int {
	h, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Println("holding")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := h.Close(); err != nil {
		return 1
	}
	return 0
}

const shortWait = 300 * time.Millisecond

func TestSecondOpenIsBusy(t *testing.T) {
	path := vaultPath(t)
	if err := Create(path, testVault(t)); err != nil {
		t.Fatal(err)
	}
	h, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = open(path, shortWait)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("second Open: got %v, want ErrBusy", err)
	}
	// bbolt polls the lock every 50 ms and gives up a poll early.
	if waited := time.Since(start); waited < shortWait/2 {
		t.Errorf("second Open gave up after %v, before its %v wait", waited, shortWait)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("ErrBusy does not name the vault: %v", err)
	}
	if err := Create(path+".other", testVault(t)); err != nil {
		t.Errorf("a lock on one vault blocks another: %v", err)
	}
	h.Close()
	h2, err := open(path, shortWait)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	h2.Close()
}

func TestOpenWaitsForRelease(t *testing.T) {
	path := vaultPath(t)
	if err := Create(path, testVault(t)); err != nil {
		t.Fatal(err)
	}
	h, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(100 * time.Millisecond)
		h.Close()
	}()
	h2, err := open(path, 5*time.Second)
	<-done
	if err != nil {
		t.Fatalf("Open while another lets go: %v", err)
	}
	h2.Close()
}

func TestCreateWaitsForLock(t *testing.T) {
	path := vaultPath(t)
	if err := Create(path, testVault(t)); err != nil {
		t.Fatal(err)
	}
	h, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Create holds the lock while it looks for an existing file, so it
	// waits for the holder rather than racing it.
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(100 * time.Millisecond)
		h.Close()
	}()
	err = Create(path, testVault(t))
	<-done
	if !errors.Is(err, ErrExists) {
		t.Fatalf("Create: got %v, want ErrExists", err)
	}
}

func TestOpenIsBusyAcrossProcesses(t *testing.T) {
	path := vaultPath(t)
	if err := Create(path, testVault(t)); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), holdEnv+"="+path)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "holding\n" {
		t.Fatalf("the child did not open the vault (%q, %v)", line, err)
	}

	if _, err := open(path, shortWait); !errors.Is(err, ErrBusy) {
		t.Fatalf("Open while another process holds the vault: got %v, want ErrBusy", err)
	}

	stdin.Close()
	if err := child.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	h, err := open(path, shortWait)
	if err != nil {
		t.Fatalf("Open after the other process let go: %v", err)
	}
	h.Close()
}

func TestLockGoesWithADeadProcess(t *testing.T) {
	path := vaultPath(t)
	if err := Create(path, testVault(t)); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), holdEnv+"="+path)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := child.StdinPipe(); err != nil { // kept open: the child holds on
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "holding\n" {
		child.Process.Kill()
		t.Fatalf("the child did not open the vault (%q, %v)", line, err)
	}
	child.Process.Kill()
	child.Wait()
	h, err := open(path, shortWait)
	if err != nil {
		t.Fatalf("Open after the holder died: %v", err)
	}
	h.Close()
}
