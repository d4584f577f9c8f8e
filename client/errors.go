package client

import (
	"errors"
	"fmt"
	"strings"

	"github.com/custos-network/custos/api"
)

// Errors to match with errors.Is. A node's own refusals also match the
// errors of package api (api.ErrLocked, api.ErrRateLimited, …) through a
// QuorumError.
var (
	// ErrNotEnoughCustodians: fewer than the threshold of nodes agreed.
	// Every *QuorumError matches it; its Reason says whether nodes that
	// could not be reached or refusals the user must act on were the cause.
	ErrNotEnoughCustodians = errors.New("not enough custodians agreed")
	// ErrWrongPassword: nodes refused the login as a wrong user or password:
	// their evaluations of the password verified, and the login keys made
	// from them did not sign in. Each such node's error is a
	// *WrongPasswordError, which says how many attempts it has left.
	ErrWrongPassword = errors.New("wrong password")
	// ErrLocked: the account is locked at a node.
	ErrLocked = api.ErrLocked
	// ErrRateLimited: a node asked to wait; see RetryAfter.
	ErrRateLimited = api.ErrRateLimited
	// ErrNotEnrolled: this device is not enrolled for the user at a node;
	// Enroll with the node's invite token fixes it.
	ErrNotEnrolled = errors.New("this device is not enrolled at this node")
	// ErrTokenRefused: a node refused the invite token Enroll gave it (not
	// valid for this user, used, or expired), or, given none, needs one.
	ErrTokenRefused = errors.New("invite token refused")
	// ErrNoToken: Enroll was given no invite token for a node this device
	// is not enrolled at, so it did not ask that node.
	ErrNoToken = errors.New("no invite token given")
	// ErrOtherDevice: a node refused Enroll because the user is enrolled
	// there with another device.
	ErrOtherDevice = errors.New("the user is enrolled at this node with another device")
	// ErrNotFound: no record with that label in the vault.
	ErrNotFound = errors.New("no such record")
	// ErrExists: a record with that label exists already.
	ErrExists = errors.New("a record with that label exists already")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("the client is closed")
	// ErrVaultLocked: the client is not unlocked; call Unlock first.
	ErrVaultLocked = errors.New("not unlocked; log in first")
	// ErrImpostor: a node presented another key than the network file pins.
	ErrImpostor = errors.New("the node presented another key than the network file pins")
	// ErrBadShare: a node sent a share that does not match the commitment
	// kept in the vault: it is faulty or lying.
	ErrBadShare = errors.New("sent a share that does not match its commitment")
	// ErrBadReceipt: a node's release answer came without a receipt that
	// proves it logged the release; none of its shares were used.
	ErrBadReceipt = errors.New("the node's receipt does not verify")
	// ErrBadEvaluation: a node's evaluation of the password, or its proof,
	// does not verify against the public share the vault kept of it: the
	// node is faulty or lying. Its evaluation was not used, and it was
	// sent no login signature.
	ErrBadEvaluation = errors.New("sent a password evaluation that does not verify against its public share: faulty or lying")
)

// WrongPasswordError is a node's refusal of the login signature: its
// evaluation of the password verified, so the node is honest, and the
// password is wrong (or not the one this device enrolled there with). It
// matches ErrWrongPassword.
type WrongPasswordError struct {
	// AttemptsLeft is how many more counted login attempts the node allows
	// before it locks the account; 0: it is locked now.
	AttemptsLeft int
	// Err is the node's own refusal.
	Err error
}

func (e *WrongPasswordError) Error() string {
	switch e.AttemptsLeft {
	case 0:
		return e.Err.Error() + " (no attempts left: the account is locked here now)"
	case 1:
		return e.Err.Error() + " (1 attempt left before this node locks the account)"
	}
	return fmt.Sprintf("%s (%d attempts left before this node locks the account)", e.Err, e.AttemptsLeft)
}

func (e *WrongPasswordError) Unwrap() []error { return []error{ErrWrongPassword, e.Err} }

// NodeError is what went wrong at one node.
type NodeError struct {
	Node string
	Err  error
}

func (e *NodeError) Error() string { return e.Node + ": " + e.Err.Error() }
func (e *NodeError) Unwrap() error { return e.Err }

// refusal is a node's answer that the client files under one of its own
// errors (ErrWrongPassword, ErrNotEnrolled, …): errors.Is matches both, and
// it reads as the node's message unless msg is set.
type refusal struct {
	kind error
	node error
	msg  string
}

func (r *refusal) Error() string {
	if r.msg != "" {
		return r.msg
	}
	return r.node.Error()
}

func (r *refusal) Unwrap() []error { return []error{r.kind, r.node} }

// QuorumError is the error of an operation that fewer than Need nodes agreed
// to. It names every node that failed and why, and matches
// ErrNotEnoughCustodians, its Reason and each node's own error.
type QuorumError struct {
	Op         string // "unlock", "get acme-portal", …
	Need, Have int
	Nodes      []*NodeError
}

// refusalKinds are the refusals a user must act on (waiting for nodes to
// come back will not help), in the order a headline names them.
var refusalKinds = []struct {
	err    error
	phrase string
}{
	{ErrLocked, "account locked at"},
	{ErrNotEnrolled, "not enrolled at"},
	{ErrTokenRefused, "invite token refused by"},
	{ErrNoToken, "no invite token given for"},
	{ErrOtherDevice, "enrolled with another device at"},
	{ErrWrongPassword, "password refused by"},
	{ErrRateLimited, "asked to wait by"},
}

// Reason is what kept the operation from its Need nodes:
//   - ErrWrongPassword when nodes refused the password and none took it;
//   - else ErrLocked, ErrNotEnrolled, ErrTokenRefused, ErrNoToken,
//     ErrOtherDevice, ErrWrongPassword or ErrRateLimited (the first of
//     these that occurs) when the nodes refusing for such reasons are enough to have
//     made up the shortfall, so that only the user can fix it;
//   - else ErrNotEnoughCustodians: too few nodes could be reached or
//     answered, and it may work once they are back.
func (e *QuorumError) Reason() error {
	if e.Have == 0 && e.refusedFor(ErrWrongPassword) != nil {
		return ErrWrongPassword
	}
	refused := 0
	for _, n := range e.Nodes {
		if kindOf(n.Err) != nil {
			refused++
		}
	}
	if e.Have+refused < e.Need {
		return ErrNotEnoughCustodians
	}
	for _, k := range refusalKinds {
		if e.refusedFor(k.err) != nil {
			return k.err
		}
	}
	return ErrNotEnoughCustodians
}

// kindOf is the refusal kind of a node's error, or nil for a node that
// failed in another way (unreachable, unavailable, a bad answer).
func kindOf(err error) error {
	for _, k := range refusalKinds {
		if errors.Is(err, k.err) {
			return k.err
		}
	}
	return nil
}

// refusedFor names the nodes whose refusal is of kind.
func (e *QuorumError) refusedFor(kind error) []string {
	var names []string
	for _, n := range e.Nodes {
		if kindOf(n.Err) == kind {
			names = append(names, n.Node)
		}
	}
	return names
}

// Error leads with the Reason: the refusals by kind, or how many nodes
// agreed; then each node that failed and why.
func (e *QuorumError) Error() string {
	var b strings.Builder
	switch reason := e.Reason(); reason {
	case ErrNotEnoughCustodians:
		fmt.Fprintf(&b, "%s: %d of the %d custodians needed agreed", e.Op, e.Have, e.Need)
	case ErrWrongPassword:
		fmt.Fprintf(&b, "%s: wrong password (refused by %s%s)", e.Op, joinNames(e.refusedFor(ErrWrongPassword)), e.attemptsText())
	default:
		var parts []string
		for _, k := range refusalKinds {
			if names := e.refusedFor(k.err); names != nil {
				parts = append(parts, k.phrase+" "+joinNames(names))
			}
		}
		fmt.Fprintf(&b, "%s: %s", e.Op, strings.Join(parts, "; "))
	}
	for _, n := range e.Nodes {
		fmt.Fprintf(&b, "\n  %s", n)
	}
	return b.String()
}

// AttemptsLeft returns, for each node that refused the password and said
// so, how many more counted login attempts it allows before it locks the
// account (see WrongPasswordError).
func (e *QuorumError) AttemptsLeft() map[string]int {
	out := map[string]int{}
	for _, n := range e.Nodes {
		var w *WrongPasswordError
		if errors.As(n.Err, &w) {
			out[n.Node] = w.AttemptsLeft
		}
	}
	return out
}

// attemptsText is the headline's note of the attempts left, in node order:
// "; 9 attempts left at each before it locks the account", or one count
// per node when they differ.
func (e *QuorumError) attemptsText() string {
	left := e.AttemptsLeft()
	if len(left) == 0 {
		return ""
	}
	var names []string
	same := -1
	for _, n := range e.Nodes {
		if a, ok := left[n.Node]; ok {
			names = append(names, fmt.Sprintf("%d at %s", a, n.Node))
			if same == -1 || same == a {
				same = a
			} else {
				same = -2
			}
		}
	}
	switch {
	case same >= 0 && len(names) > 1:
		return fmt.Sprintf("; %d attempts left at each before it locks the account", same)
	case same == 1:
		return "; 1 attempt left before it locks the account"
	case same >= 0:
		return fmt.Sprintf("; %d attempts left before it locks the account", same)
	}
	return "; attempts left before each locks the account: " + joinNames(names)
}

// Unwrap gives the reason and the nodes' errors to errors.Is and errors.As.
func (e *QuorumError) Unwrap() []error {
	errs := []error{ErrNotEnoughCustodians}
	if r := e.Reason(); r != ErrNotEnoughCustodians {
		errs = append(errs, r)
	}
	for _, n := range e.Nodes {
		errs = append(errs, n)
	}
	return errs
}

// joinNames lists names as "a", "a and b", "a, b and c".
func joinNames(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
