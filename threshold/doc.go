// Package threshold is the cryptographic core of custos: it splits a record's
// server key among custodians, commits to each share, combines shares with
// blame, derives every key of the record construction, hashes the password,
// and seals and opens records. It does no I/O, keeps no state and never logs.
//
// The construction is specified in docs/threshold.md, and testdata/vectors.json
// holds known-answer vectors for every derivation and for a sealed record.
// Login v2 derives each node's login key from the output of the threshold
// OPRF of package threshold/toprf (DeriveLoginKey); docs/login.md specifies
// it and testdata/login-vectors.json holds its vectors.
//
// # What it guarantees
//
//   - Combine never returns a key built from fewer than k shares that match
//     the commitments the caller kept when the shares were dealt, nor a key
//     that does not match the key commitment of the dealing. Every share that
//     fails its commitment is named, and so is every custodian that sent none.
//   - A commitment binds a share to its unit, version and custodian, so a
//     share replayed from another unit, version or custodian is refused.
//   - Open authenticates the whole sealed record and its associated data (the
//     user, unit and version) before it returns anything, and every failure is
//     the one error ErrOpen.
//   - Secret values (keys, shares, the password key) are distinct types that
//     print as "[redacted]" under every fmt verb, refuse to be JSON-encoded,
//     and have a Wipe method; no derivation takes a zero or wiped secret
//     (ErrNoSecret), so a mistake cannot make a key from public inputs.
//
// # What it leaves to the caller
//
//   - Keeping commitments, unit IDs and versions where custodians cannot
//     change them (the client's local vault).
//   - Wiping: call Wipe on every secret value, and clear the byte slices this
//     package returns (records) or takes (received shares) when done. Wiping
//     is best effort in Go: the runtime may have copied the bytes (when a
//     stack grows, for instance), and the libraries underneath keep their own
//     working copies that nothing here can reach: vault/shamir's polynomials
//     and samples, the HKDF pseudorandom key, Argon2id's 64 MiB work area,
//     the Ed25519 expanded key and the AEAD's key schedule.
//   - Authenticating custodians, limiting guesses and logging releases: that
//     is the node's and the client's work.
package threshold
