package node

// badCheckpoint, when set, replaces the signed checkpoint the node serves
// on the checkpoint protocol (not the ones in receipts or entry pages): a
// node whose checkpoints auditors must refuse. It is nil in every normal
// build: only fault_audit_custosfault.go (build tag custosfault) sets it.
var badCheckpoint func(signed []byte) ([]byte, error)
