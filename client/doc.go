// Package client is the Go library of custos, for programs that keep
// vendor credentials on their own device and unlock them through a
// threshold of custodian nodes.
//
// A Client holds the user's local vault (package vault) and a libp2p host
// with the device key. Unlock hashes the password once and logs in at every
// node in parallel with login v2 (docs/login.md): each node evaluates the
// blinded hash under its share of the user's OPRF key and proves it, the
// client checks each answer against the public share its vault kept (a
// node whose answer fails is named, ErrBadEvaluation, and sent nothing
// more), combines the first threshold of good ones into every node's login
// key and signs each node's challenge; at least the network's threshold
// must accept. Enroll deals that OPRF key at its first call;
// ChangePassword deals a new one, staged and then committed at every node,
// each step recorded in the vault first, so that a change cut short is
// resumed (or, before any commit, rolled back by AbortPasswordChange) and
// one of the two passwords always logs in. Put seals
// a record on the device and places one share of its server key at each
// node; Get asks the nodes for their shares, checks each against the
// commitment kept in the vault (naming any node that sent a wrong one),
// combines the first threshold of good shares, opens the record and wipes
// the keys. Lock forgets the login keys.
//
// Every node is dialled at the peer ID the network file pins; a node that
// presents another key is refused before it is sent anything.
package client
