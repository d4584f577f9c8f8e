package client

import (
	"errors"
	"fmt"
	"strings"

	"github.com/custos-network/custos/node/api"
)

// Errors to match with errors.Is. A node's own refusals also match the
// errors of package api (api.ErrLocked, api.ErrRateLimited, …) through a
// QuorumError.
var (
	// ErrNotEnoughCustodians: fewer than the threshold of nodes agreed.
	ErrNotEnoughCustodians = errors.New("not enough custodians agreed")
	// ErrWrongPassword: nodes refused the login as a wrong user or password.
	ErrWrongPassword = errors.New("wrong password")
	// ErrLocked: the account is locked at a node.
	ErrLocked = api.ErrLocked
	// ErrRateLimited: a node asked to wait; see RetryAfter.
	ErrRateLimited = api.ErrRateLimited
	// ErrNotFound: no record with that label in the vault.
	ErrNotFound = errors.New("no such record")
	// ErrExists: a record with that label exists already.
	ErrExists = errors.New("a record with that label exists already")
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
)

// NodeError is what went wrong at one node.
type NodeError struct {
	Node string
	Err  error
}

func (e *NodeError) Error() string { return e.Node + ": " + e.Err.Error() }
func (e *NodeError) Unwrap() error { return e.Err }

// QuorumError is the error of an operation that fewer than Need nodes agreed
// to. It names every node that failed and why, and matches
// ErrNotEnoughCustodians as well as each node's own error.
type QuorumError struct {
	Op         string // "unlock", "get acme-portal", …
	Need, Have int
	Nodes      []*NodeError
}

func (e *QuorumError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of the %d custodians needed agreed", e.Op, e.Have, e.Need)
	for _, n := range e.Nodes {
		fmt.Fprintf(&b, "\n  %s", n)
	}
	return b.String()
}

// Unwrap gives the nodes' errors to errors.Is and errors.As.
func (e *QuorumError) Unwrap() []error {
	errs := []error{ErrNotEnoughCustodians}
	for _, n := range e.Nodes {
		errs = append(errs, n)
	}
	return errs
}
