//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/auditor"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// audit verify --full at a terminal shows, on stderr, a progress bar of
// the entries it reads (testdata/script/audit.txtar checks that it shows
// none when stderr is not a terminal).
func TestAuditVerifyFullShowsProgressAtATerminal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "auditor.key")
	if _, err := auditor.NewKey(keyPath); err != nil {
		t.Fatal(err)
	}
	key, err := auditor.LoadKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var cards []*api.Card
	for i := 1; i <= 2; i++ {
		// The scripts' binary: every custosd of this test binary has the
		// custosfault tag (TestCLI).
		nodetest.Binary(t, "custosfault")
		p := nodetest.StartProcessEnv(t, fmt.Sprintf("n%d", i), nil, nodetest.Invite, nodetest.Listen("/ip4/127.0.0.1/tcp/0"),
			func(c *config.Config) { c.Auditors = []string{id.String()} })
		for u := range 3 {
			if _, err := p.Admin().Invite(ctx, fmt.Sprintf("user%d", u), 0); err != nil {
				t.Fatal(err)
			}
		}
		card, err := p.Admin().Card(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cards = append(cards, card)
	}
	nw, err := client.NewNetwork(2, cards)
	if err != nil {
		t.Fatal(err)
	}
	nwPath := filepath.Join(dir, "network.yaml")
	if err := os.WriteFile(nwPath, nw.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}

	tm := newTerminal(t)
	tm.start(filepath.Join(dir, "no-vault.db"), "audit", "verify", "--network", nwPath, "--full", "--key", keyPath, "--state", filepath.Join(dir, "state"))
	if code := tm.wait(); code != 0 {
		t.Fatalf("audit verify exited %d; it wrote:\n%s", code, tm.output())
	}
	out := tm.output()
	if !strings.Contains(out, "reading log entries") || !strings.Contains(out, "entries") {
		t.Fatalf("no progress bar at the terminal; custos wrote:\n%s", out)
	}
	if !strings.Contains(out, "n1: OK, size 3 (first checkpoint recorded, every entry checked)") {
		t.Fatalf("no report after the bar; custos wrote:\n%s", out)
	}
}
