//go:build linux

package main

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/threshold/toprf"
)

// custos passwd at a terminal asks for the current password, then the new
// one twice, each hidden; two new passwords that differ end it before any
// node is asked (exit 1), and Ctrl-C at the last prompt exits 130; either
// way the terminal gets its echo back. A device enrolled nowhere is told so
// before any prompt.
func TestPasswdPromptsForTheNewPasswordTwice(t *testing.T) {
	t.Parallel()
	enrolled := vaultWithRecord(t, "acme-portal")
	enrollOffline(t, enrolled)
	prompts := func(t *testing.T, tm *terminal) {
		t.Helper()
		tm.start(enrolled, "passwd")
		for _, p := range []string{"Current password: ", "New password: "} {
			tm.waitFor(p)
			if tm.lflag()&unix.ECHO != 0 {
				t.Fatalf("the terminal echoes at %q", p)
			}
			tm.typeText("correct horse\n")
		}
		tm.waitFor("Repeat the new password: ")
	}
	t.Run("two new passwords that differ are refused", func(t *testing.T) {
		tm := newTerminal(t)
		before := tm.lflag()
		prompts(t, tm)
		tm.typeText("correct hose\n")
		if code := tm.wait(); code != exitError {
			t.Fatalf("custos exited %d, want %d; it wrote:\n%s", code, exitError, tm.output())
		}
		tm.waitFor("custos: error: the two new passwords differ")
		if got := tm.lflag(); got != before {
			t.Fatalf("terminal local flags %#x, want %#x", got, before)
		}
	})
	t.Run("ctrl-c at the repeated new password", func(t *testing.T) {
		tm := newTerminal(t)
		before := tm.lflag()
		prompts(t, tm)
		ctrlC(tm)
		if code := tm.wait(); code != exitInterrupted {
			t.Fatalf("custos exited %d, want %d; it wrote:\n%s", code, exitInterrupted, tm.output())
		}
		if got := tm.lflag(); got != before {
			t.Fatalf("terminal local flags %#x, want %#x", got, before)
		}
	})
	t.Run("a device enrolled nowhere is told so before any prompt", func(t *testing.T) {
		tm := newTerminal(t)
		tm.start(vaultWithRecord(t, "acme-portal"), "passwd")
		if code := tm.wait(); code != exitError {
			t.Fatalf("custos exited %d, want %d; it wrote:\n%s", code, exitError, tm.output())
		}
		tm.waitFor("not enrolled")
		if out := tm.output(); strings.Contains(out, "password: ") {
			t.Fatalf("custos prompted first:\n%s", out)
		}
	})
}

// enrollOffline gives the vault at path a login dealing, as the first
// enroll would, for nodes that do not run.
func enrollOffline(t *testing.T, path string) {
	t.Helper()
	h, err := vault.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	v := h.Vault()
	key, err := toprf.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, pubs, err := key.Split(2, 3)
	key.Wipe()
	if err != nil {
		t.Fatal(err)
	}
	nw, err := client.ParseNetwork(v.Network)
	if err != nil {
		t.Fatal(err)
	}
	l := &vault.Login{Epoch: 1, Threshold: 2}
	for i, n := range nw.Nodes {
		keys[i].Wipe()
		l.Nodes = append(l.Nodes, vault.LoginNode{Name: n.Name, PeerID: n.PeerID, Index: pubs[i].Index, PublicShare: pubs[i].Element[:]})
	}
	v.Login = l
	if err := v.SealLogin(); err != nil {
		t.Fatal(err)
	}
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
}
