//go:build custosfault

package node

import "os"

// A custosd built with -tags custosfault lies when CUSTOS_FAULT says so,
// for tests of how clients catch and name a bad custodian:
//
//	CUSTOS_FAULT=alter-shares   flip a bit of every released share
func init() {
	if os.Getenv("CUSTOS_FAULT") == "alter-shares" {
		alterShare = func(share []byte) { share[0] ^= 0x01 }
	}
}
