// Package vault reads and writes the user's local vault: one bbolt
// database (custos-vault/4) that holds the device key, the client master
// secret, the password's Argon2id parameters, the dealing of the user's
// OPRF key that login v2 checks the nodes' evaluations against (and, while
// an enrollment is unfinished, the key shares of the nodes it has not
// reached; while the password is being changed, the new dealing's public
// shares and how far each node got), and, for every unit (record), what
// the client needs to get it back from the custodians: its unit ID,
// version, threshold, the nodes it was dealt to with a commitment to each
// share, the sealed record and a MAC over all of these. For audits, it
// also keeps the receipts of the user's releases (those kept as evidence
// of a lying node too), the newest checkpoint it verified of each node's
// log, the restores of nodes from a backup that the client accepted (with
// the checkpoint each replaced), and beside it a journal of the release
// requests the client sent (path+".requests"), which Handle.AppendRequests
// appends to and syncs before a request is sent. docs/vault.md specifies
// both formats.
//
// The vault is not encrypted under the user's password: a password-wrapped
// file on a stolen device would let a thief test passwords offline, which
// defeats the guess limits of the nodes. Its protection at rest is the file
// mode 0600 in a directory of mode 0700; it is a secret file, like an SSH
// private key.
//
// # What it guarantees
//
//   - Each record is its own entry: PutUnit, Unit, RemoveUnit and
//     MarkNotStored read and write one unit's values (and the node table),
//     never the others, and Open reads the header (the Vault: meta values,
//     node table, checkpoints, restores) but no record. Units lists the
//     units' descriptors, by label prefix, and reads no sealed record.
//   - Every write is one transaction, synced before the call returns: all
//     of it is on disk, or none. A crash at any point loses nothing a call
//     returned from. A write that finds nothing to change writes nothing.
//   - Reading is strict: every value has its one encoding and follows the
//     rules of the format, or the read fails with ErrCorrupt (naming what,
//     never a secret). Damage found, also a panic of bbolt's on a damaged
//     page, makes the handle refuse every later write to the vault and its
//     journal; the file is not written to after damage is found.
//   - Save writes what changed of the header and the receipts AddReceipts
//     queued, in one transaction, and only a header that passes the rules.
//   - At most one Handle holds a vault at a time, across processes: Open
//     takes bbolt's exclusive flock(2) on the vault file and waits up to 5
//     seconds for it.
//   - Open refuses a vault file that its group or others may read or write,
//     and one that is not a regular file (it opens no link); Create makes
//     one with mode 0600, whole under another name, then links it into
//     place.
//   - A request that AppendRequests returned from is on disk. The journal is
//     read as strictly as the vault, and a damaged one is never written to;
//     a last line cut short by a crash is ignored, then cut off by the next
//     append. The journal holds at most 2*MaxRequests-1 requests: it is
//     compacted to the newest MaxRequests atomically, and keeps the newest
//     time it dropped. It is refused, like the vault, if it is not a
//     regular file or others may read or write it.
//   - PutUnit and MarkNotStored seal the unit they add or change with its MAC
//     (SealUnit); MarkNotStored first checks the MAC of the unit it changes,
//     so it never seals damage. MarkDelivered does the same for the login
//     dealing (SealLogin, CheckLogin), and wipes the key share it drops;
//     FinishChange checks a password change (CheckChange) before it makes
//     it the login dealing.
//   - Errors and the printed forms of a Vault never hold the device key, the
//     master secret or a key share; a Vault refuses to be JSON-encoded by
//     accident.
//
// # What it leaves to the caller
//
//   - Checking a unit's MAC (CheckUnit) before using it: reading a unit
//     checks its encoding, so that one damaged unit does not make the
//     others unreadable. Likewise the login dealing's (CheckLogin) and a
//     password change's (CheckChange), and that the dealing's nodes are the
//     network file's. Verify checks every unit's, and reads the whole file.
//   - Verifying a checkpoint's signature and consistency before keeping it
//     (SetCheckpoint), and a restore before recording it (AddRestore): the
//     vault checks only their shape.
//   - Guarding the Vault that Handle.Vault returns: the Handle's methods
//     are safe for concurrent use, but Save reads the Vault.
//   - Wiping: call Vault.Wipe when done. Wiping is best effort in Go: the
//     runtime may have copied the bytes, and bbolt maps the file into memory,
//     so the secrets are in the page cache as the file is.
//   - The network file is kept as the user gave it; parsing it is the
//     client's work, as is keeping the vault's units consistent with it.
//   - Locking relies on flock(2), which some network file systems do not
//     honour; a vault belongs on a local disk. If bbolt panics half-way
//     through opening a damaged file, its lock stays with the process until
//     it exits.
package vault
