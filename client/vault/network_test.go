package vault

import (
	"fmt"
	"testing"
)

func TestAdoptNetworkRenamesANodeWhereverTheVaultNamesIt(t *testing.T) {
	h, path := openNew(t)
	newNetwork := []byte("version: 1 # the new file\n")
	bolt, cove := testPeerID(t, 0xa2), testPeerID(t, 0xa3)
	if err := h.AdoptNetwork(newNetwork, map[string]string{bolt: "bravo", cove: "charlie"}); err != nil {
		t.Fatal(err)
	}
	h.Close()
	h = mustOpen(t, path)
	if string(h.Vault().Network) != string(newNetwork) {
		t.Fatalf("network file after adopting: %q", h.Vault().Network)
	}
	u, _, err := h.Unit("acme-portal")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(u.Nodes[0].Name, u.Nodes[1].Name, u.Nodes[2].Name); got != "acmebravocharlie" {
		t.Fatalf("the unit's nodes after the rename: %s", got)
	}
	if err := h.Vault().CheckUnit(u); err != nil {
		t.Fatalf("the renamed unit's MAC: %v", err)
	}
	if err := h.Vault().CheckLogin(); err != nil {
		t.Fatalf("the renamed login dealing's MAC: %v", err)
	}
	if n := h.Vault().Login.Nodes[1].Name; n != "bravo" {
		t.Fatalf("the login dealing's node after the rename: %s", n)
	}
	pend, err := h.PendingDeletes()
	if err != nil || len(pend) != 1 || pend[0].Nodes[0] != "charlie" {
		t.Fatalf("pending deletes after the rename: %+v, %v", pend, err)
	}
	if err := h.Verify(); err != nil {
		t.Fatal(err)
	}
	// Renaming by peer ID can be done again: a call that a crash cut
	// short between its two transactions is finished by the next.
	if err := h.AdoptNetwork(newNetwork, map[string]string{bolt: "bravo", cove: "charlie"}); err != nil {
		t.Fatal(err)
	}
	if err := h.Verify(); err != nil {
		t.Fatal(err)
	}
}
