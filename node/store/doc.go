// Package store is a custodian node's database: user accounts with their
// login v2 dealings and lockout state, the OPRF key shares of those
// dealings, enrollment invites, the shares the node holds, the raw
// storage of its audit log and a little node metadata, in one Badger v4
// directory.
//
// # Durability
//
// Update returns nil only after everything its function wrote has been
// committed and fsynced, so a crash at any later instruction loses none of
// it. Each function's writes are atomic: they become durable together or
// not at all. An Update that returns its function's error, ctx's error,
// ErrDiskFull or ErrClosed wrote nothing; after a commit error (a failing
// disk) the writes may or may not be there.
//
// Badger writes its logs through mmap into sparse files, where a full disk
// is a SIGBUS, not an error. So the store takes no write unless the file
// system has room for every hole Badger may fill and for the next log
// (space.go); short of that, Updates fail with ErrDiskFull, which a node
// answers as UNAVAILABLE.
//
// Concurrent Updates are queued to one writer goroutine, which runs up to
// 256 of them against one Badger transaction and commits them with one
// fsync (group commit), so durability does not cap throughput. The price:
// every Update function runs on that goroutine, so it must be short and
// must not wait on the network or call the Store.
//
// # Protection at rest
//
// Badger encrypts every file with AES-256 under a key derived from the
// node's storage key, and each share is additionally sealed with
// XChaCha20-Poly1305 under a second derived key and bound to its user, unit
// and version, so a share copied to another key fails to open. An OPRF key
// share r_i is sealed the same way, bound to its user and epoch under its
// own label: with it a thief could answer password guesses for the user,
// one of the k answers a guess needs, without counting them. Badger's
// backup stream (Backup) is not encrypted by Badger: it holds accounts
// (with their public shares and login public keys) and log entries in the
// clear (shares and key shares stay sealed), so whoever writes it to a
// file must encrypt it.
//
// Wiping share plaintext is best effort in Go: the runtime may have copied
// the bytes, and nothing here can reach those copies.
//
// # Key layout
//
// Every key starts with one byte naming its keyspace; integers are
// big-endian so that iteration follows numeric order.
//
//	0x01 meta      0x01 ‖ name                          → raw bytes
//	0x02 account   0x02 ‖ user                          → account record (JSON)
//	0x03 invite    0x03 ‖ SHA-256(token)                → invite record (JSON)
//	0x04 share     0x04 ‖ len(user) u16 ‖ user ‖ unit(16) ‖ version u64
//	                                                    → 0x01 ‖ nonce(24) ‖ sealed share
//	0x05 log entry 0x05 ‖ index u64                     → entry bytes (package audit's format)
//	0x06 log hash  0x06 ‖ storage index u64             → 32-byte hash
//	0x07 log size  0x07                                 → u64
//	0x08 key check 0x08                                 → nonce ‖ sealed "" (keycheck.go)
//	0x09 OPRF key  0x09 ‖ len(user) u16 ‖ user ‖ epoch u32
//	                                                    → 0x01 ‖ nonce(24) ‖ sealed r_i
//
// The user is the whole tail of an account key, so account keys sort by
// user name. In a share key and an OPRF key share's key the user is
// length-prefixed, so that no user's prefix ("al") covers another's
// ("alice").
//
// An account record (version 2) holds the current dealing of the user's
// OPRF key and, during a password change, the staged one of the next
// epoch: per dealing its epoch, this node's share index, the public share
// R_i and the login public key. The key share r_i of each dealing is under
// 0x09 with that epoch; package auth writes the account and its key shares
// in one update, so the two agree.
//
// The sealed values' associated data: lp(label) ‖ lp(user) ‖ then unit(16)
// ‖ version u64 for a share (label "custos/v1/node/share"), epoch u32 for
// an OPRF key share (label "custos/v2/node/oprf"); lp is a u32 length and
// the bytes.
package store
