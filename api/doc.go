// Package api is the contract between custos nodes, their clients and
// auditors, and the other implementations of it (the JS SDK generates its
// messages from the same custos.proto): the protobuf messages (custos.proto,
// with the generated custos.pb.go), the versioned libp2p protocol IDs, the
// framing of messages on a stream with its size cap and one request's
// exchange, the error codes a node answers with, the byte strings that
// clients sign (login and release transcripts), node cards, and the audit
// log: its entry and checkpoint formats, the restore entry's text, and the
// proof checks (inclusion, consistency, the root of a list of entries).
//
// It holds formats and checks only: no I/O beyond reading and writing one
// stream, no state, no logging. A node's writer of the log is node/audit.
package api
