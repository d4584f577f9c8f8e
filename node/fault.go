package node

import "github.com/custos-network/custos/node/api"

// alterShare, when set, changes every share the node releases. It is nil in
// every normal build: only fault_custosfault.go (build tag custosfault, used
// by tests that need a lying custodian) sets it.
var alterShare func(share []byte)

// alterReceipt, when set, changes every release receipt the node sends; nil
// outside the custosfault build, like alterShare.
var alterReceipt func(r *api.Receipt)
