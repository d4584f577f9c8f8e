//go:build custosfault

package node

import (
	"golang.org/x/mod/sumdb/tlog"
	"os"

	"github.com/custos-network/custos/node/api"
)

// A custosd built with -tags custosfault lies when CUSTOS_FAULT says so,
// for tests of how clients catch and name a bad custodian:
//
//	CUSTOS_FAULT=alter-shares   flip a bit of every released share
//	CUSTOS_FAULT=bad-receipt    flip a bit of every release receipt's entry
//	CUSTOS_FAULT=fork-checkpoint serve checkpoints of another root, signed
func init() {
	switch os.Getenv("CUSTOS_FAULT") {
	case "alter-shares":
		alterShare = func(share []byte) { share[0] ^= 0x01 }
	case "bad-receipt":
		alterReceipt = func(r *api.Receipt) { r.Entry[len(r.Entry)-1] ^= 0x01 }
	case "fork-checkpoint":
		forkRoot = func(root tlog.Hash) tlog.Hash { return tlog.NodeHash(root, root) }
	}
}
