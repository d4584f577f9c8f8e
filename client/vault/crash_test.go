package vault

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash tests kill a child process with SIGKILL while it writes the
// vault, at random moments, many times over; after each kill the vault
// must open, pass Verify (it is not damaged), and hold everything the child
// was told was written. The child prints "ack N" once the write of N
// returned, so what it printed before it died was acknowledged.

// crashEnv names the vault and the writes of a child (see TestMain).
const crashEnv = "CUSTOS_VAULT_TEST_CRASH"

// crashKills is how many times each kind of write is killed.
const crashKills = 50

// crashChild runs in the child: it opens the vault and writes to it in a
// loop until it is killed. spec is "KIND PATH START".
func crashChild(spec string) int {
	kind, rest, _ := strings.Cut(spec, " ")
	path, startText, _ := strings.Cut(rest, " ")
	start, _ := strconv.Atoi(startText)
	h, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	ack := func(n int) {
		fmt.Fprintf(out, "ack %d\n", n)
		out.Flush()
	}
	fmt.Fprintln(out, "ready")
	out.Flush()
	for n := start; ; n++ {
		var err error
		switch kind {
		case "put":
			err = h.PutUnit(crashUnit(n))
		case "rm":
			// The parent put these; remove them in turn.
			_, err = h.RemoveUnit(crashLabel(n), crashUnit(n).ID, []string{"cove"})
		case "receipt":
			if err = h.AddReceipts(crashReceipt(n)); err == nil {
				err = h.Save()
			}
		case "journal":
			err = h.AppendRequests(crashRequest(n))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		ack(n)
	}
}

func crashLabel(n int) string { return fmt.Sprintf("crash-%06d", n) }

// crashUnit is the n-th unit a crash test writes: its own label, ID and
// sealed record, of a size that varies so that pages split.
func crashUnit(n int) Unit {
	u := testUnitFixed(crashLabel(n))
	copy(u.ID[:], fmt.Sprintf("id%014d", n))
	u.Sealed = bytes.Repeat([]byte{byte(n)}, 40+n%900)
	u.Sealed[0] = 1
	return u
}

func crashReceipt(n int) Receipt {
	r := testReceipt(uint64(n))
	r.Entry = bytes.Repeat([]byte{byte(n)}, 60+n%400)
	return r
}

func crashRequest(n int) Request {
	return Request{Node: "acme", Time: testTime.Add(time.Duration(n) * time.Millisecond), Nonce: []byte(fmt.Sprintf("nonce%011d", n))}
}

// testUnitFixed is testUnit without a testing.TB: the child has none.
func testUnitFixed(label string) Unit {
	u := Unit{Label: label, Version: 1, Threshold: 2, Created: testTime, Updated: testTime}
	for i, name := range []string{"acme", "bolt", "cove"} {
		u.Nodes = append(u.Nodes, UnitNode{Name: name, PeerID: crashPeers[i], Commitment: testCommit(label + name), Stored: true})
	}
	u.KeyCommit = testCommit(label)
	return u
}

// crashPeers are the peer IDs of testPeerID(0xa1…0xa3), filled by TestMain.
var crashPeers [3]string

// runCrashes kills a child doing kind crashKills times and checks the vault
// after each kill with check, given what the child acknowledged so far
// (acked, in order, over every child).
func runCrashes(t *testing.T, path, kind string, first int, check func(t *testing.T, h *Handle, acked []int)) {
	var acked []int
	next := first
	for kill := range crashKills {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d", crashEnv, kind, path, next))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		if !lines.Scan() || lines.Text() != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: the child did not start: %s", kill, stderr.String())
		}
		done := make(chan []int)
		go func() {
			var got []int
			for lines.Scan() {
				if n, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "ack ")); err == nil {
					got = append(got, n)
				}
			}
			done <- got
		}()
		time.Sleep(time.Duration(rand.IntN(40_000)) * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		got := <-done
		cmd.Wait()
		if strings.Contains(stderr.String(), "child:") {
			t.Fatalf("kill %d: the child failed before it was killed: %s", kill, stderr.String())
		}
		acked = append(acked, got...)
		if len(got) > 0 {
			next = got[len(got)-1] + 1
		}
		// The write in flight may have been done without its ack: the
		// next child starts after it.
		next++
		h, err := Open(path)
		if err != nil {
			t.Fatalf("kill %d: %v", kill, err)
		}
		if err := h.Verify(); err != nil {
			h.Close()
			t.Fatalf("kill %d: %v", kill, err)
		}
		check(t, h, acked)
		h.Close()
		if t.Failed() {
			t.Fatalf("kill %d (after %d acknowledged writes)", kill, len(acked))
		}
	}
	if len(acked) == 0 {
		t.Fatal("no child acknowledged a write before it was killed")
	}
	t.Logf("%d kills, %d writes acknowledged", crashKills, len(acked))
}

func crashVault(t *testing.T) string {
	path := vaultPath(t)
	if err := Create(path, testVault(t)); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCrashDuringPutLosesNoAcknowledgedUnit(t *testing.T) {
	path := crashVault(t)
	runCrashes(t, path, "put", 0, func(t *testing.T, h *Handle, acked []int) {
		for _, n := range acked {
			u, ok, err := h.Unit(crashLabel(n))
			if err != nil || !ok {
				t.Errorf("acknowledged unit %d: %v, %v", n, ok, err)
				continue
			}
			if err := h.Vault().CheckUnit(u); err != nil || !bytes.Equal(u.Sealed, crashUnit(n).Sealed) {
				t.Errorf("acknowledged unit %d does not read back: %v", n, err)
			}
		}
	})
}

func TestCrashDuringRemoveLosesNoAcknowledgedRemoval(t *testing.T) {
	path := crashVault(t)
	h, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const units = 3000
	var us []Unit
	for n := range units {
		us = append(us, crashUnit(n))
	}
	if err := h.PutUnits(us...); err != nil {
		t.Fatal(err)
	}
	h.Close()
	runCrashes(t, path, "rm", 0, func(t *testing.T, h *Handle, acked []int) {
		if len(acked) > 0 && acked[len(acked)-1] >= units-1 {
			t.Fatalf("the children removed all %d units: make more", units)
		}
		pending, err := h.PendingDeletes()
		if err != nil {
			t.Fatal(err)
		}
		isPending := map[string]bool{}
		for _, p := range pending {
			isPending[string(p.ID[:])] = true
		}
		for _, n := range acked {
			u := crashUnit(n)
			if _, ok, err := h.Describe(u.Label); ok || err != nil {
				t.Errorf("acknowledged removal of unit %d: it is still there (%v)", n, err)
			}
			if !isPending[string(u.ID[:])] {
				t.Errorf("acknowledged removal of unit %d: its pending delete is gone", n)
			}
		}
	})
}

func TestCrashDuringReceiptSaveLosesNoAcknowledgedReceipt(t *testing.T) {
	path := crashVault(t)
	runCrashes(t, path, "receipt", 1, func(t *testing.T, h *Handle, acked []int) {
		rs, err := h.Receipts()
		if err != nil {
			t.Fatal(err)
		}
		kept := map[uint64]bool{}
		for _, r := range rs {
			kept[r.Index] = true
		}
		// The newest MaxReceipts written are kept, and a write that was
		// done but not acknowledged takes a place too: every acknowledged
		// receipt from the oldest kept on is there.
		if len(acked) >= MaxReceipts && len(rs) != MaxReceipts {
			t.Errorf("%d receipts kept after %d acknowledged; want %d", len(rs), len(acked), MaxReceipts)
		}
		for _, n := range acked {
			if len(rs) > 0 && uint64(n) >= rs[0].Index && !kept[uint64(n)] {
				t.Errorf("acknowledged receipt %d is gone", n)
			}
		}
		if len(acked) > 0 && !kept[uint64(acked[len(acked)-1])] {
			t.Errorf("the newest acknowledged receipt %d is gone", acked[len(acked)-1])
		}
	})
}

func TestCrashDuringJournalAppendLosesNoAcknowledgedRequest(t *testing.T) {
	path := crashVault(t)
	runCrashes(t, path, "journal", 0, func(t *testing.T, h *Handle, acked []int) {
		rs, _, err := h.Requests()
		if err != nil {
			t.Fatal(err)
		}
		kept := map[string]bool{}
		for _, r := range rs {
			kept[string(r.Nonce)] = true
		}
		for _, n := range acked {
			if !kept[string(crashRequest(n).Nonce)] {
				t.Errorf("acknowledged request %d is not in the journal", n)
			}
		}
	})
}
