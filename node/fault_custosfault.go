//go:build custosfault

package node

import (
	"os"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/store"
)

// A custosd built with -tags custosfault lies when CUSTOS_FAULT says so,
// for tests of how clients catch and name a bad custodian:
//
//	CUSTOS_FAULT=alter-shares    flip a bit of every released share
//	CUSTOS_FAULT=bad-receipt     flip a bit of every release receipt's entry
//	CUSTOS_FAULT=fork-checkpoint serve checkpoints of another root, signed
//	CUSTOS_FAULT=refused-entry   release every share, but log each release
//	                             as a request refused whole (UNAUTHENTICATED)
//	CUSTOS_FAULT=old-receipt     answer a device's release with the receipt
//	                             of its previous one: valid, included, signed
func init() {
	switch os.Getenv("CUSTOS_FAULT") {
	case "alter-shares":
		alterShare = func(share []byte) { share[0] ^= 0x01 }
	case "bad-receipt":
		alterReceipt = func(r *api.Receipt) { r.Entry[len(r.Entry)-1] ^= 0x01 }
	case "fork-checkpoint":
		forkRoot = func(root tlog.Hash) tlog.Hash { return tlog.NodeHash(root, root) }
	case "refused-entry":
		alterEntry = refuseReleases
	case "old-receipt":
		proveOther = new(previousReleases).swap
	}
}

// refuseReleases logs a release as refused whole, with the reason a bad
// device signature would give, and keeps its units and signature.
func refuseReleases(e *api.Entry) {
	if e.Kind == api.EntryKind_RELEASE && e.Outcome == api.Code_OK {
		e.Outcome, e.Reason = api.Code_UNAUTHENTICATED, "the device signature does not match the request"
		e.Refusals = nil
	}
}

// previousReleases remembers the newest release entry of each device.
type previousReleases struct {
	mu   sync.Mutex
	last map[string]int64 // client peer ID → entry index
}

// swap returns the index of the device's previous release, if it had one,
// and remembers this one.
func (p *previousReleases) swap(tx *store.Tx, index int64) int64 {
	b, err := tx.LogEntry(index)
	if err != nil {
		return index
	}
	e, err := api.ParseEntry(b)
	if err != nil || e.Kind != api.EntryKind_RELEASE || e.Outcome != api.Code_OK {
		return index
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		p.last = map[string]int64{}
	}
	prev, ok := p.last[string(e.ClientPeerId)]
	p.last[string(e.ClientPeerId)] = index
	if !ok {
		return index
	}
	return prev
}
