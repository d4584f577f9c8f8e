// Package audit keeps a custodian node's tamper-evident log: an append-only
// sequence of entries (opaque bytes; package api defines what they say) hashed
// into an RFC 6962 Merkle tree with golang.org/x/mod/sumdb/tlog, whose tree
// heads are signed with the node's identity key as C2SP tlog-checkpoints
// (api.SignCheckpoint).
//
// # What it guarantees
//
//   - Append writes the entry, the tree hashes it completes and the new size
//     through the caller's store transaction, so an entry is durable exactly
//     when the caller's own writes are: a release and its entry commit
//     together or not at all.
//   - A checkpoint is signed over the root recomputed on every call, never
//     over a cached root, so a signature cached from a transaction that did
//     not commit is not handed out again. The recomputation reads the stored
//     tree hashes through the transaction, or from a bounded cache of those
//     read before through one of committed state (Tx.Committed): a stored
//     hash never changes once committed, so the two agree, and what a
//     transaction that may yet fail wrote is never cached.
//   - Inclusion and consistency proofs are the RFC 6962 ones, so that
//     api.VerifyInclusion and api.VerifyConsistency check them with nothing
//     but the proof and the roots of verified checkpoints: a client or an
//     auditor needs neither the node's store nor any trust in it.
//   - Replay recomputes every hash from the entries and names the first index
//     where the store disagrees: an entry changed, missing or moved, a stored
//     hash changed or missing, or the size rolled back over entries still on
//     disk.
//   - Every index and size argument is checked, and an out-of-range one is an
//     error (ErrInvalidArgument, ErrNotFound), never a panic or a hang.
//
// # What it leaves to others
//
//   - A node that controls its disk can rewrite its whole log consistently,
//     and Replay on that node will not notice. Only someone outside the node
//     catches it: clients and auditors keep the last checkpoint they verified
//     and ask for a consistency proof to each newer one. Two checkpoints
//     signed by one node with no consistency proof between them prove a fork.
//   - Appends must be serialised: Append reads the size and writes at it, so
//     two transactions appending at once must not both commit (the store's
//     Update runs one writer at a time).
//   - A checkpoint or proof made inside a transaction that then fails to
//     commit names entries that do not exist and must not be sent.
//   - What an entry says, and that it holds no share or key: api.Entry.
package audit
