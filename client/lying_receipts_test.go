package client_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap/zaptest/observer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/node/nodetest"
)

// These tests run real custosd processes of the custosfault build; a node
// lies as its CUSTOS_FAULT says.

// faulty arms fault at the nodes (from 0) of liars.
func faulty(fault string, liars ...int) nodeSpec {
	return func(i int) ([]string, []nodetest.Option) {
		if slices.Contains(liars, i) {
			return []string{"CUSTOS_FAULT=" + fault}, nil
		}
		return nil, nil
	}
}

// namedIn reports whether a warning of logs names node with an error that
// says what want says.
func namedIn(logs *observer.ObservedLogs, node string, want error) bool {
	for _, e := range logs.All() {
		m := e.ContextMap()
		if m["node"] == node && strings.Contains(m["error"].(string), want.Error()) {
			return true
		}
	}
	return false
}

// evidenceOf returns the receipts c's vault keeps of node as evidence.
func evidenceOf(t testing.TB, c *client.Client, node string) []vault.Receipt {
	var out []vault.Receipt
	for _, r := range receiptsOf(t, c) {
		if r.Node == node && r.Evidence != "" {
			out = append(out, r)
		}
	}
	return out
}

// A node that releases every share but logs each release as refused (its
// receipts verify: the refusal is signed and in its log) is named, none of
// its shares is used, and its receipt is kept as evidence: a refused entry
// that carries the device's valid signature of the request.
func TestReleaseLoggedAsRefusedIsNotUsed(t *testing.T) {
	ctx := context.Background()
	addr := freeTCP(t) // n3 keeps its address across a restart
	tn := startNet(t, 3, 2, func(i int) ([]string, []nodetest.Option) {
		switch i {
		case 1:
			return []string{"CUSTOS_FAULT=refused-entry"}, nil
		case 2:
			return nil, []nodetest.Option{nodetest.Listen(addr)}
		}
		return nil, nil
	})
	log, logs := observed()
	c, _ := tn.unlocked(t, "alice", client.Options{Logger: log})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	// With n3 down, n2 would have to make up the threshold: the get fails,
	// naming it, and no record opens.
	tn.nodes[2].Stop(t)
	rec, err := c.Get(ctx, "acme-portal")
	if rec != nil {
		t.Fatal("a record opened with a share whose release was logged as refused")
	}
	q, named := quorumError(t, err)
	if q.Have != 1 || q.Need != 2 {
		t.Errorf("need %d have %d, want 2 and 1", q.Need, q.Have)
	}
	if !errors.Is(named["n2"], client.ErrFalseReceipt) {
		t.Errorf("n2: %v, want ErrFalseReceipt", named["n2"])
	}
	if named["n1"] != nil {
		t.Errorf("n1, an honest node, is named: %v", named["n1"])
	}
	if !namedIn(logs, "n2", client.ErrFalseReceipt) {
		t.Error("no warning names n2")
	}
	for _, r := range receiptsOf(t, c) {
		if r.Node == "n2" && r.Evidence != vault.EvidenceRefusal {
			t.Errorf("a receipt of n2 is kept as %q, want only evidence of a refusal", r.Evidence)
		}
		if r.Node != "n2" && r.Evidence != "" {
			t.Errorf("an honest node's receipt is kept as evidence %q", r.Evidence)
		}
	}
	proof := evidenceOf(t, c, "n2")
	if len(proof) == 0 {
		t.Fatal("no receipt of n2 is kept as evidence")
	}
	e, err := api.ParseEntry(proof[0].Entry)
	if err != nil {
		t.Fatal(err)
	}
	n2, err := peer.Decode(c.Network().Nodes[1].PeerID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Outcome == api.Code_OK || e.VerifyDevice([]byte(n2)) != nil {
		t.Errorf("the evidence is not a refusal with the device's valid signature: outcome %s, signature %v", e.Outcome, e.VerifyDevice([]byte(n2)))
	}

	// With n3 back the record comes from n1 and n3.
	tn.nodes[2].Start(t)
	rec, err = c.Get(ctx, "acme-portal")
	if err != nil {
		t.Fatalf("get with one node logging its releases as refused: %v", err)
	}
	sameRecord(t, rec, acme)
}

// A node that answers a release with the valid, included, signed receipt of
// the device's previous release of the same record is named, and none of
// its shares is used: a receipt counts only for the request it answers.
func TestReceiptOfAnEarlierReleaseIsNotTaken(t *testing.T) {
	ctx := context.Background()
	tn := startNet(t, 3, 2, faulty("old-receipt", 1))
	c, _ := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// With n3 down, every get needs n2. Its first release has no earlier
	// one to stand in for it.
	tn.nodes[2].Kill(t)
	rec, err := c.Get(ctx, "acme-portal")
	if err != nil {
		t.Fatalf("the first get: %v", err)
	}
	sameRecord(t, rec, acme)
	first := slices.IndexFunc(receiptsOf(t, c), func(r vault.Receipt) bool { return r.Node == "n2" })
	if first < 0 {
		t.Fatal("no receipt of n2's first release")
	}

	rec, err = c.Get(ctx, "acme-portal")
	if rec != nil {
		t.Fatal("a record opened with a share whose receipt is of an earlier release")
	}
	_, named := quorumError(t, err)
	if !errors.Is(named["n2"], client.ErrFalseReceipt) {
		t.Errorf("n2: %v, want ErrFalseReceipt", named["n2"])
	}
	if named["n1"] != nil {
		t.Errorf("n1, an honest node, is named: %v", named["n1"])
	}
	// The node's answer is kept: the receipt of the first release, valid,
	// now evidence that the node passed it off for another.
	proof := evidenceOf(t, c, "n2")
	if len(proof) != 1 || proof[0].Evidence != vault.EvidenceOtherEntry {
		t.Fatalf("evidence of n2: %+v, want one receipt of another entry", proof)
	}
	if got := receiptsOf(t, c)[first]; got.Index != proof[0].Index || string(got.Entry) != string(proof[0].Entry) {
		t.Errorf("the evidence is the receipt of entry %d, want n2's first release, entry %d", proof[0].Index, got.Index)
	}
}
