//go:build custosfault

package node

import (
	"os"
	"sync"
	"time"

	"github.com/cloudflare/circl/group"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/store"
	"github.com/custos-network/custos/threshold/toprf"
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
//	CUSTOS_FAULT=bad-evaluation  answer every login hello with a wrong OPRF
//	                             evaluation, Z_i + G (a valid element), and
//	                             the proof made for the real Z_i
//	CUSTOS_FAULT=bad-proof       answer every login hello with the right
//	                             evaluation and a broken proof (one bit of
//	                             its response scalar flipped: it still
//	                             decodes, and does not verify)
//	CUSTOS_FAULT=forge-note      hand out dealing notes whose first public
//	                             share is another element (G), the MAC
//	                             unchanged: a note no device verifies
//	CUSTOS_FAULT=slow-release    wait 3 s before reading each release
//	                             request, then serve it as usual
//	CUSTOS_FAULT=fail-release    refuse every release request at once with
//	                             UNAVAILABLE, as a node whose store fails
//
// Either login fault counts the attempt as usual: the node lies only in
// what it sends. A client must name the node and never sign its challenge.
func init() {
	switch os.Getenv("CUSTOS_FAULT") {
	case "bad-evaluation":
		alterEvaluation = shiftEvaluation
	case "bad-proof":
		alterEvaluation = func(ch *api.LoginChallenge) { ch.Proof[toprf.ScalarSize] ^= 0x01 }
	case "forge-note":
		alterNote = forgeNote
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
	case "slow-release":
		beforeRelease = func() error {
			time.Sleep(slowRelease)
			return nil
		}
	case "fail-release":
		beforeRelease = func() error {
			return api.Errorf(api.Code_UNAVAILABLE, "the node cannot serve releases now")
		}
	}
}

// slowRelease is how long a slow-release node waits before each release.
const slowRelease = 3 * time.Second

// shiftEvaluation replaces the evaluation Z_i with Z_i + G: a canonical
// element other than the identity (Z_i + G is the identity only if Z_i is
// −G, which no one can aim at), but not r_i·B, so the proof sent with it
// fails.
func shiftEvaluation(ch *api.LoginChallenge) {
	g := group.Ristretto255
	z := g.NewElement()
	if err := z.UnmarshalBinary(ch.Evaluated); err != nil {
		panic("custosfault: the node's own evaluation does not decode: " + err.Error())
	}
	z.Add(z, g.Generator())
	b, err := z.MarshalBinaryCompress()
	if err != nil {
		panic("custosfault: encode the shifted evaluation: " + err.Error())
	}
	ch.Evaluated = b
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

// forgeNote puts the group's generator G in place of the note's first
// public share: a valid element, so the note decodes, but not the share
// the user's device dealt, so its MAC does not verify.
func forgeNote(n *api.DealingNote) {
	g, err := group.Ristretto255.Generator().MarshalBinaryCompress()
	if err != nil {
		panic(err)
	}
	n.Shares[0].PublicShare = g
}
