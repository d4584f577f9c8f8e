package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
)

// refused is an unlock that nodes n1 and n2 refused with kind.
func refused(kind error) *client.QuorumError {
	return &client.QuorumError{Op: "unlock", Need: 2, Nodes: []*client.NodeError{
		{Node: "n1", Err: fmt.Errorf("refused: %w", kind)}, {Node: "n2", Err: fmt.Errorf("refused: %w", kind)}}}
}

// Exit code 3 is kept for too few custodians; what the user must act on
// is 1, with a hint about that and not another thing.
func TestExitCodesAndHints(t *testing.T) {
	down := &client.QuorumError{Op: "unlock", Need: 2, Have: 1, Nodes: []*client.NodeError{{Node: "n1", Err: errors.New("cannot reach it")}}}
	wait := &api.StatusError{Code: api.Code_RATE_LIMITED, Message: "wait", RetryAfter: time.Minute}
	cases := []struct {
		name string
		err  error
		code int
		hint string // a part of the hint; "" for none
	}{
		{"a usage error is 2", usageError{errors.New("bad flag")}, exitUsage, "custos --help"},
		{"nodes that cannot be reached are 3", down, exitQuorum, "custos status"},
		{"a wrong password is 1", refused(client.ErrWrongPassword), exitError, "check the password"},
		{"a locked account is 1", refused(client.ErrLocked), exitError, "custosd unlock"},
		{"a device not enrolled is 1", refused(client.ErrNotEnrolled), exitError, "custos enroll --token"},
		{"a node that asks to wait is 1", refused(wait), exitError, "wait"},
		{"a refused invite token is 1", refused(client.ErrTokenRefused), exitError, "custosd invite"},
		{"a user enrolled with another device is 1", refused(client.ErrOtherDevice), exitError, "another device"},
		{"a missing password file names it", &fileError{what: "the password file", from: "--password-file", path: "pw.txt", err: fs.ErrNotExist},
			exitError, "no file at pw.txt (given as --password-file)"},
		{"a missing vault asks for custos init", fmt.Errorf("open: %w", vault.ErrNotFound), exitError, "custos init"},
		{"another missing file is named", &fs.PathError{Op: "open", Path: "network.yml", Err: fs.ErrNotExist}, exitError, "no file at network.yml"},
		{"nodes that lie about the password are 3, and named", &client.QuorumError{Op: "unlock", Need: 2, Have: 1, Nodes: []*client.NodeError{
			{Node: "n2", Err: fmt.Errorf("login: %w", client.ErrBadEvaluation)}}}, exitQuorum, "faulty or lying"},
		{"a damaged login dealing is the vault's", fmt.Errorf("unlock: %w", vault.ErrDamagedLogin), exitError, "restore the vault"},
		{"an enroll during a password change is 1", fmt.Errorf("%w: finish it", client.ErrPasswordChangePending), exitError, "custos passwd --abort"},
		{"an abort after a commit is 1, and points at finishing", client.ErrChangeCommitted, exitError, "finish it with custos passwd"},
		{"a password change of an unfinished enrollment is 1", client.ErrEnrollmentUnfinished, exitError, "custos enroll"},
		{"a node down in a password change is 3", &client.QuorumError{Op: "stage the new password", Need: 3, Have: 2, Nodes: []*client.NodeError{
			{Node: "n3", Err: errors.New("cannot reach it")}}}, exitQuorum, "custos status"},
		{"a record not in the vault points at ls", fmt.Errorf("%q: %w", "x", client.ErrNotFound), exitError, "custos ls"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := classify(tc.err)
			code, hint := f.exit, f.hint
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			if !strings.Contains(hint, tc.hint) || (tc.hint == "" && hint != "") {
				t.Errorf("hint %q, want one with %q", hint, tc.hint)
			}
			if strings.Contains(hint, "custos init") && !errors.Is(tc.err, vault.ErrNotFound) {
				t.Errorf("hint %q sends to custos init for %v", hint, tc.err)
			}
		})
	}
}

// get's default output shows each value on its own line, quoted when it
// could otherwise pass for another line or hide a character.
func TestShownValuesCannotPassForAnotherLine(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"a plain value is as it is", "svc-acme", "svc-acme"},
		{"inner spaces and non-ASCII letters are as they are", "Zoë Müller", "Zoë Müller"},
		{"an empty value is empty", "", ""},
		{"a newline is escaped", "bob\nusername: root", `"bob\nusername: root"`},
		{"a carriage return is escaped", "bob\rroot", `"bob\rroot"`},
		{"an escape sequence is escaped", "\x1b[2Kroot", `"\x1b[2Kroot"`},
		{"a right-to-left override is escaped", "abc\u202edef", `"abc\u202edef"`},
		{"a space at an end is shown quoted", "hunter2 ", `"hunter2 "`},
		{"a leading quote is quoted", `"x"`, `"\"x\""`},
		{"bytes that are not UTF-8 are escaped", "a\xffb", `"a\xffb"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := shown(tc.in); got != tc.want {
				t.Errorf("shown(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// Under --json an error carries a stable code that scripts branch on
// (docs/client.md lists them): the same for an error however it is
// wrapped.
func TestErrorCodesAreStable(t *testing.T) {
	cases := []struct {
		err  error
		code string
	}{
		{usageError{errors.New("bad flag")}, "usage"},
		{&client.QuorumError{Op: "unlock", Need: 2, Have: 1, Nodes: []*client.NodeError{{Node: "n1", Err: errors.New("cannot reach it")}}}, "quorum"},
		{&belowThresholdError{have: 1, need: 2, of: 3}, "quorum"},
		{refused(client.ErrWrongPassword), "wrong_password"},
		{refused(client.ErrLocked), "account_locked"},
		{refused(client.ErrNotEnrolled), "not_enrolled"},
		{fmt.Errorf("%q: %w", "x", client.ErrNotFound), "no_record"},
		{fmt.Errorf("open: %w", vault.ErrNotFound), "no_vault"},
		{&fileError{what: "the password file", path: "pw", err: fmt.Errorf("%w (mode 0644)", errGroupReadable)}, "file_permissions"},
		{&fileError{what: "the password file", path: "pw", err: fs.ErrNotExist}, "no_file"},
		{fmt.Errorf("%w: too short", errWeakPassword), "weak_password"},
		{fmt.Errorf("rm x: %w", errNotConfirmed), "not_confirmed"},
		{fmt.Errorf("%w at n1", errAuditFailed), "audit_failed"},
		{errors.New("something else"), "error"},
	}
	for _, tc := range cases {
		if got := classify(tc.err).code; got != tc.code {
			t.Errorf("code of %v: %q, want %q", tc.err, got, tc.code)
		}
	}
}
