//go:build tools

// Package node wires a custodian node: the Badger store, the libp2p host, login
// and lockout, rate limits and the audit log, behind New, Run and Close.
//
// This file exists only so that `go mod tidy` keeps the modules the node will be
// built on in go.mod, at the versions they were tested at, before any real code
// imports them. The tools build tag keeps it out of every normal build. It goes
// away when the real node packages land and import these modules themselves.
package node

import (
	_ "github.com/dgraph-io/badger/v4"
	_ "github.com/libp2p/go-libp2p"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/spf13/cobra"
	_ "go.uber.org/goleak"
	_ "go.uber.org/zap"
	_ "golang.org/x/mod/sumdb/note"
	_ "golang.org/x/mod/sumdb/tlog"
)
