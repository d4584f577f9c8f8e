// Package vault reads and writes the user's local vault: one JSON file that
// holds the device key, the client master secret, the password's Argon2id
// parameters, the dealing of the user's OPRF key that login v2 checks the
// nodes' evaluations against (and, while an enrollment is unfinished, the
// key shares of the nodes it has not reached; while the password is being
// changed, the new dealing's public shares and how far each node got), and,
// for every unit
// (record), what the client needs to get it
// back from the custodians: its unit ID, version, threshold, the nodes it
// was dealt to with a commitment to each share, the sealed record and a MAC
// over all of these. For audits, it also keeps the receipts of the user's
// releases (those kept as evidence of a lying node too), the newest
// checkpoint it verified of each node's log, the restores of nodes from a
// backup that the client accepted (with the checkpoint each replaced), and
// beside it a journal of the release requests the client sent
// (path+".requests"), which Handle.AppendRequests appends to and syncs
// before a request is sent. docs/vault.md specifies both formats.
//
// The vault is not encrypted under the user's password: a password-wrapped
// file on a stolen device would let a thief test passwords offline, which
// defeats the guess limits of the nodes. Its protection at rest is the file
// mode 0600 in a directory of mode 0700; it is a secret file, like an SSH
// private key.
//
// # What it guarantees
//
//   - A vault that Open returns passed every rule of the format: a known
//     format version, exactly the fields of the format (each once, none
//     null, nothing after the document), and valid values in each (see
//     docs/vault.md). A file that fails is reported, with what is wrong,
//     and never written to.
//   - Create and Save write a complete file or none: a temporary file in the
//     same directory is written, synced and renamed over the vault, and the
//     directory is synced. A crash at any point leaves the old vault or the
//     new one, never a mix; a temporary file that a crash left behind is
//     ignored by Open and replaced by the next Save.
//   - Save and Create write only a vault that passes the same rules as Open.
//   - At most one Handle holds a vault at a time, across processes: Open
//     takes an exclusive lock (flock(2) on the file beside it named
//     path+".lock", which stays there) and waits up to 5 seconds for it.
//   - Open refuses a vault file that its group or others may read or write,
//     and one that is not a regular file (a symbolic link, for instance).
//   - A request that AppendRequests returned from is on disk. The journal is
//     read as strictly as the vault, and a damaged one is never written to;
//     a last line cut short by a crash is ignored, then cut off by the next
//     append. The journal holds at most 2*MaxRequests-1 requests: it is
//     compacted to the newest MaxRequests atomically, as Save writes, and
//     keeps the newest time it dropped. It is refused, like the vault, if it
//     is not a regular file or others may read or write it.
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
//   - Checking a unit's MAC (CheckUnit) before using it: reading a vault
//     checks only the MAC's size, so that one damaged unit does not make the
//     others unreadable. Likewise the login dealing's (CheckLogin) and a
//     password change's (CheckChange), and that the dealing's nodes are the
//     network file's.
//   - Verifying a checkpoint's signature and consistency before keeping it
//     (SetCheckpoint), and a restore before recording it (AddRestore): the
//     vault checks only their shape.
//   - Wiping: call Vault.Wipe when done. Wiping is best effort in Go: the
//     runtime may have copied the bytes, and the JSON encoder and decoder
//     keep working copies of the file's text that nothing here can reach.
//   - The network file is kept as the user gave it; parsing it is the
//     client's work, as is keeping the vault's units consistent with it.
//   - Locking relies on flock(2), which some network file systems do not
//     honour; a vault belongs on a local disk.
package vault
