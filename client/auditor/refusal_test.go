package auditor_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/auditor"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/node"
	"github.com/custos-network/custos/node/audit"
	"github.com/custos-network/custos/node/nodetest"
	"github.com/custos-network/custos/node/store"
)

// withLog runs fn on the log of the stopped node p as the node keeps it:
// its store, and its audit log signing with the node's identity key. What
// fn appends is in the node's tree, as if the node had logged it.
func withLog(t *testing.T, p *nodetest.Process, fn func(tx *store.Tx, l *audit.Log) error) {
	t.Helper()
	id, err := node.LoadIdentity(p.Config.Path(p.Config.IdentityKey))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := id.Raw()
	if err != nil {
		t.Fatal(err)
	}
	defer clear(raw)
	l, err := audit.New(api.LogOrigin(p.Config.Name), raw)
	if err != nil {
		t.Fatal(err)
	}
	s := p.OpenStore(t)
	err = s.Update(context.Background(), func(tx *store.Tx) error { return fn(tx, l) })
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// A node that releases a share and logs the request as refused writes an
// entry that refuses a request its device signed. verify --full names it
// when the user's vault holds the receipt the node answered it with, and
// when the refusal gives a bad signature as its reason though the
// signature verifies; a refusal with nothing against it is a refusal, and
// a bad request (its signature does not verify) stays unflagged.
func TestRefusalOfASignedRequestIsNamed(t *testing.T) {
	n := startAuditNet(t)
	n.traffic() // holds refused requests with bad signatures
	path := n.userVault(t, "bob")

	// What bob's vault knows: its device key and the record's unit.
	h, err := vault.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	v := h.Vault()
	devKey, err := crypto.UnmarshalPrivateKey(v.DeviceKey)
	if err != nil {
		t.Fatal(err)
	}
	device, err := peer.IDFromPrivateKey(devKey)
	if err != nil {
		t.Fatal(err)
	}
	var unit vault.UnitInfo
	if err := h.Units("", func(u vault.UnitInfo) error { unit = u; return nil }); err != nil {
		t.Fatal(err)
	}
	v.Wipe()
	h.Close()

	// Node n3 logs three of bob's signed requests as refused: one it
	// answered with a receipt, which bob's vault keeps, one "for a bad
	// signature", and one plainly (rate limited, nothing kept).
	signed := func(outcome api.Code) *api.Entry {
		e := &api.Entry{Kind: api.EntryKind_RELEASE, User: "bob", ClientPeerId: []byte(device),
			Units:             []*api.UnitRef{{UnitId: unit.ID[:], Version: unit.Version}},
			RequestTimeUnixMs: uint64(time.Now().UnixMilli()), RequestNonce: make([]byte, api.RequestNonceSize),
			Outcome: outcome, Reason: "refused"}
		rand.Read(e.RequestNonce)
		sig, err := devKey.Sign(api.ReleaseTranscript([]byte(n.ids[2]), e.ClientPeerId, e.User, e.RequestTimeUnixMs, e.RequestNonce, e.Units))
		if err != nil {
			t.Fatal(err)
		}
		e.DeviceSignature = sig
		return e
	}
	// And one more it logged as refused whole, as nodes log a request they
	// refuse before looking at its units: no units, no signature; the
	// receipt it answered with is in the vault too.
	whole := signed(api.Code_RATE_LIMITED)
	whole.Units, whole.DeviceSignature = nil, nil
	var receipt, wholeReceipt vault.Receipt
	var withReceipt, badReason, wholeIndex int64
	n.procs[2].Stop(t)
	withLog(t, n.procs[2], func(tx *store.Tx, l *audit.Log) error {
		var err error
		if withReceipt, err = l.AppendEntry(tx, signed(api.Code_NOT_FOUND), time.Now()); err != nil {
			return err
		}
		if wholeIndex, err = l.AppendEntry(tx, whole, time.Now()); err != nil {
			return err
		}
		if badReason, err = l.AppendEntry(tx, signed(api.Code_UNAUTHENTICATED), time.Now()); err != nil {
			return err
		}
		if _, err = l.AppendEntry(tx, signed(api.Code_RATE_LIMITED), time.Now()); err != nil {
			return err
		}
		size, err := l.Size(tx)
		if err != nil {
			return err
		}
		receipt = vault.Receipt{Node: "n3", Units: []vault.UnitRef{{ID: unit.ID, Version: unit.Version}}, Index: uint64(withReceipt)}
		if receipt.Checkpoint, err = l.Checkpoint(tx, size); err != nil {
			return err
		}
		if receipt.Entry, err = tx.LogEntry(withReceipt); err != nil {
			return err
		}
		wholeReceipt = receipt
		wholeReceipt.Index, wholeReceipt.Evidence = uint64(wholeIndex), vault.EvidenceRefusal
		wholeReceipt.Entry, err = tx.LogEntry(wholeIndex)
		return err
	})
	n.restart(2, nil)
	addReceipt(t, path, receipt)
	addReceipt(t, path, wholeReceipt)

	rep := n.verify(n.key, true)
	wantOnly(t, rep, map[string]auditor.Kind{"n3": auditor.FalseRefusal})
	wantIndexes(t, rep.Node("n3"), auditor.FalseRefusal, badReason)

	view, err := auditor.ReadVault(path)
	if err != nil {
		t.Fatal(err)
	}
	rep = n.verifyWith(n.key, auditor.Options{Full: true, User: view})
	wantOnly(t, rep, map[string]auditor.Kind{"n3": auditor.FalseRefusal})
	wantIndexes(t, rep.Node("n3"), auditor.FalseRefusal, withReceipt, wholeIndex, badReason)
}

// addReceipt adds r to the vault at path, as the client keeps a receipt.
func addReceipt(t *testing.T, path string, r vault.Receipt) {
	t.Helper()
	h, err := vault.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	v := h.Vault()
	defer v.Wipe()
	if err := h.AddReceipts(r); err != nil {
		t.Fatal(err)
	}
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
}

// wantIndexes checks that the problems of kind k name exactly these
// entries.
func wantIndexes(t *testing.T, r *auditor.NodeReport, k auditor.Kind, want ...int64) {
	t.Helper()
	var got []int64
	for _, p := range r.Problems {
		if p.Kind == k {
			got = append(got, p.Index)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %q problems at %v, want %v", r.Node, k, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: %q problems at %v, want %v", r.Node, k, got, want)
		}
	}
}

// A node that releases a share and logs the release as refused is caught
// end to end: the client names it and keeps its receipt as evidence, and
// audit verify --full --vault names the entry that receipt proves.
func TestReleaseLoggedAsRefusedIsNamedFromTheUsersEvidence(t *testing.T) {
	n := startAuditNet(t)
	n.procs[2].Stop(t)
	n.restart(2, []string{"CUSTOS_FAULT=refused-entry"})
	path := n.userVault(t, "bob") // 3 of 3 nodes

	c := openVault(t, path)
	ctx := context.Background()
	if err := c.Unlock(ctx, []byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Get(ctx, "rec")
	if !errors.Is(err, client.ErrFalseReceipt) {
		t.Fatalf("get from a node that logs its release as refused: %v, want ErrFalseReceipt", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var evidence []uint64
	for _, r := range vaultReceipts(t, path) {
		if r.Node == "n3" && r.Evidence == vault.EvidenceRefusal {
			evidence = append(evidence, r.Index)
		}
	}
	if len(evidence) != 1 {
		t.Fatalf("evidence receipts of n3 in the vault: %v, want one", evidence)
	}

	view, err := auditor.ReadVault(path)
	if err != nil {
		t.Fatal(err)
	}
	rep := n.verifyWith(n.key, auditor.Options{Full: true, User: view})
	wantOnly(t, rep, map[string]auditor.Kind{"n3": auditor.FalseRefusal})
	wantIndexes(t, rep.Node("n3"), auditor.FalseRefusal, int64(evidence[0]))
}

// vaultReceipts are the receipts the vault at path keeps.
func vaultReceipts(t *testing.T, path string) []vault.Receipt {
	t.Helper()
	h, err := vault.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	defer h.Vault().Wipe()
	receipts, err := h.Receipts()
	if err != nil {
		t.Fatal(err)
	}
	return receipts
}
