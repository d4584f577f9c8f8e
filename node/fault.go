package node

import (
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/node/api"
)

// alterShare, when set, changes every share the node releases. It is nil in
// every normal build: only fault_custosfault.go (build tag custosfault, used
// by tests that need a lying custodian) sets it.
var alterShare func(share []byte)

// alterReceipt, when set, changes every release receipt the node sends; nil
// outside the custosfault build, like alterShare.
var alterReceipt func(r *api.Receipt)

// forkRoot, when set, replaces the root of every checkpoint the node serves
// on the checkpoint protocol, signed all the same: a node showing auditors
// another tree than the one it logs in. Nil outside the custosfault build.
var forkRoot func(root tlog.Hash) tlog.Hash
