//go:build tools

// Package client is the Go library for keeping secrets in a custos network: it
// opens the local vault, logs in at the custodians in parallel, and puts, gets,
// rotates and reshares records.
//
// This file exists only so that `go mod tidy` keeps the modules the client will be
// built on in go.mod, at the versions they were tested at, before any real code
// imports them. The tools build tag keeps it out of every normal build. It goes
// away when the real client packages land and import these modules themselves.
package client

import (
	_ "github.com/libp2p/go-libp2p"
	_ "github.com/spf13/cobra"
	_ "go.uber.org/zap"
)
