// Package api is the contract between custos nodes and their clients: the
// protobuf messages (custos.proto, with the generated custos.pb.go), the
// versioned libp2p protocol IDs, the framing of messages on a stream with its
// size cap, the error codes a node answers with, the byte strings that
// clients sign (login and release transcripts), and the audit log's entry and
// checkpoint formats with their verification.
//
// Clients, nodes and auditors all import it, so it holds formats and checks
// only: no I/O beyond reading and writing one stream, no state, no logging.
package api
