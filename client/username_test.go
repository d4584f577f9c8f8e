package client_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/custos-network/custos/client"
)

// A username is one line of printable text: no character that could
// start another line of output or hide what is shown.
func TestUsernameRule(t *testing.T) {
	cases := []struct {
		name string
		u    string
		ok   bool
	}{
		{"no username is allowed", "", true},
		{"a plain username is allowed", "svc-acme", true},
		{"an email address is allowed", "ci+bot@example.com", true},
		{"inner spaces and letters of any script are allowed", "Zoë Müller 山田", true},
		{"the longest is allowed", strings.Repeat("a", client.MaxUsernameLen), true},
		{"one byte longer is refused", strings.Repeat("a", client.MaxUsernameLen+1), false},
		{"a newline is refused", "bob\nusername: root", false},
		{"a carriage return is refused", "bob\rroot", false},
		{"a tab is refused", "bob\troot", false},
		{"an escape sequence is refused", "\x1b[2Kroot", false},
		{"a right-to-left override is refused", "abc\u202edef", false},
		{"a no-break space is refused", "bob\u00a0root", false},
		{"a space at the start is refused", " bob", false},
		{"a space at the end is refused", "bob ", false},
		{"bytes that are not UTF-8 are refused", "bob\xff", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := client.ValidUsername(tc.u); got != tc.ok {
				t.Errorf("ValidUsername(%q) = %v, want %v", tc.u, got, tc.ok)
			}
		})
	}
}

// Put refuses a username that breaks the rule before any node is asked,
// so no program using the library can store one.
func TestPutRefusesUsernameThatBreaksLines(t *testing.T) {
	tn := startNet(t, 2, 2, nil)
	c, _ := tn.unlocked(t, "alice", client.Options{})
	ctx := context.Background()
	for _, u := range []string{"bob\nusername: root", "\x1b[2Kroot", "bob "} {
		err := c.Put(ctx, "acme-portal", &client.Record{Username: u, Password: "hunter2"}, client.PutOptions{})
		if err == nil || !strings.Contains(err.Error(), "username is not valid") {
			t.Fatalf("put with username %q: got %v, want it refused", u, err)
		}
	}
	if got := tn.shareCounts(t); !slices.Equal(got, []int{0, 0}) {
		t.Fatalf("shares at the nodes after refused puts: %v, want none", got)
	}
	if err := c.CheckPut("acme-portal", &client.Record{Username: "bob\nroot"}); err == nil {
		t.Fatal("CheckPut took a username with a newline")
	}
	if err := c.Put(ctx, "acme-portal", &client.Record{Username: "Zoë Müller", Password: "hunter2"}, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}
