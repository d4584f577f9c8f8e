package node

// alterShare, when set, changes every share the node releases. It is nil in
// every normal build: only fault_custosfault.go (build tag custosfault, used
// by tests that need a lying custodian) sets it.
var alterShare func(share []byte)
