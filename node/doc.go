// Package node wires one custodian node: the Badger store, the audit log,
// enrollment and login, rate limits and the libp2p host, behind New, Run and
// Close. It serves the protocols of package api, an operations HTTP server
// (metrics, health) and the admin socket that custosd's commands talk to.
package node
