package node

import (
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/store"
)

// The hooks below let a test build play a lying custodian. Every one is nil
// in every normal build: only fault_custosfault.go (build tag custosfault,
// used by tests that need a lying custodian) sets them.

// alterShare, when set, changes every share the node releases.
var alterShare func(share []byte)

// alterEvaluation, when set, changes every OPRF evaluation (and its
// proof) the node answers a login hello with.
var alterEvaluation func(ch *api.LoginChallenge)

// alterNote, when set, changes every dealing note a login refusal hands
// out: a test build's lying custodian (fault_custosfault.go).
var alterNote func(n *api.DealingNote)

// alterReceipt, when set, changes every release receipt the node sends.
var alterReceipt func(r *api.Receipt)

// alterEntry, when set, changes every audit entry before it is logged: the
// node logs something else than it does, and signs and proves it as usual.
var alterEntry func(e *api.Entry)

// proveOther, when set, picks the log entry a release receipt proves,
// given the index of the release's own entry: the node answers with a
// valid receipt of another entry.
var proveOther func(tx *store.Tx, index int64) int64

// forkRoot, when set, replaces the root of every checkpoint the node serves
// on the checkpoint protocol, signed all the same: a node showing auditors
// another tree than the one it logs in.
var forkRoot func(root tlog.Hash) tlog.Hash

// beforeRelease, when set, runs before every release request is read: a
// slow custodian (it sleeps) or a failing one (its error refuses the
// request, as a store that fails would).
var beforeRelease func() error
