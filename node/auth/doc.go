// Package auth enrolls users at one custodian node and logs them in.
//
// A user enrolls once, with a one-time invite token or under open enrollment,
// and registers their device's peer ID, this node's share of their OPRF key
// (login v2, docs/login.md) and their login public key for this node. A
// login is one stream: the device sends its blinded password, the node
// counts the attempt and answers with its OPRF evaluation, a DLEQ proof and
// a fresh challenge; the device, once it has k nodes' evaluations, derives
// its login key and answers the challenge with a signature over a
// transcript that names this node and the device, on a libp2p connection
// that proves the device key. A password change stages a new dealing beside
// the current one and commits or aborts it (Passwd).
//
// Only the device enrolled for a user gets a challenge for that user: a
// hello from any other is refused (NOT_FOUND) after one store read, and
// holds nothing at the node, because fresh device keys cost an attacker
// nothing. The challenge lives in the login stream's handler, so it ends
// with its stream; no node-wide table of challenges exists to be filled.
//
// Guesses are limited durably: an attempt is counted in the store, with its
// EVALUATION log entry, before the node evaluates the OPRF for it (each
// evaluation answers one password guess) and before its signature is
// checked, so a crash never refunds one, and an attempt that never
// finished stays a failure; each failure makes the next attempt wait
// longer (exponential backoff); after MaxLoginFailures the account locks
// until an operator unlocks it, and the lock survives restarts.
// Every enrollment, counted attempt, login outcome, password change step,
// lock and unlock, and every refusal of one, is an audit log entry, durable
// before the answer leaves.
//
// Sessions live in memory: a restart ends every session, and clients log in
// again. A session is bound to (user, device peer ID) and
// expires after an idle time and an absolute time.
package auth
