package node_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/nodetest"
	"github.com/custos-network/custos/node/store"
)

// TestListPagesEveryUnitOnceUnderTheMessageCap gives a user 100,000 unit
// versions (about 3 MiB of references, far over one message) and lists
// them a page at a time: every one comes once, in order, and no page holds
// more than api.MaxListPage of them or passes the message cap.
func TestListPagesEveryUnitOnceUnderTheMessageCap(t *testing.T) {
	const count = 100_000
	n := nodetest.Start(t)
	ctx := context.Background()
	alice := loggedIn(t, n, "alice")
	bob := loggedIn(t, n, "bob")
	bobUnits, _ := putUnits(t, n, bob, 3)

	want := make([]store.UnitVersion, count)
	for i := range want {
		if i%10 == 9 {
			want[i] = store.UnitVersion{Unit: want[i-1].Unit, Version: want[i-1].Version + 1} // a later version
			continue
		}
		_, _ = rand.Read(want[i].Unit[:])
		want[i].Version = 1
	}
	if err := n.PutSharesForTest("alice", want, nodetest.Share()); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(want, func(a, b store.UnitVersion) int {
		return cmp.Or(bytes.Compare(a.Unit[:], b.Unit[:]), cmp.Compare(a.Version, b.Version))
	})

	var got []store.UnitVersion
	pages := 0
	req := &api.ListRequest{}
	for {
		resp, err := alice.ListPage(ctx, n.ID(), req)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		if len(resp.Units) > api.MaxListPage {
			t.Fatalf("page %d holds %d units, more than %d", pages, len(resp.Units), api.MaxListPage)
		}
		if size := proto.Size(resp); size > api.MaxMessageSize/8 {
			t.Fatalf("page %d is %d bytes", pages, size)
		}
		for _, u := range resp.Units {
			var uv store.UnitVersion
			copy(uv.Unit[:], u.UnitId)
			uv.Version = u.Version
			got = append(got, uv)
		}
		if len(resp.NextPageToken) == 0 {
			break
		}
		if pages > count/api.MaxListPage+1 {
			t.Fatalf("still more pages after %d", pages)
		}
		req = &api.ListRequest{PageToken: resp.NextPageToken}
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d unit versions in %d pages, want %d", len(got), pages, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("unit version %d listed is %v, want %v (each once, in order)", i, got[i], want[i])
		}
	}

	// A page size is kept, and bounded; a token is checked; another
	// user's units are never listed.
	resp, err := alice.ListPage(ctx, n.ID(), &api.ListRequest{PageSize: 7})
	if err != nil || len(resp.Units) != 7 || len(resp.NextPageToken) == 0 {
		t.Errorf("a page of 7: %d units, next %x, %v; want 7 and a next page", len(resp.GetUnits()), resp.GetNextPageToken(), err)
	}
	resp, err = alice.ListPage(ctx, n.ID(), &api.ListRequest{PageSize: 1 << 30})
	if err != nil || len(resp.Units) != api.MaxListPage {
		t.Errorf("a page of 2^30: %d units, %v; want %d", len(resp.GetUnits()), err, api.MaxListPage)
	}
	if _, err := alice.ListPage(ctx, n.ID(), &api.ListRequest{PageToken: []byte("short")}); !nodetest.IsCode(err, api.Code_INVALID_ARGUMENT) {
		t.Errorf("a malformed page token: %v, want INVALID_ARGUMENT", err)
	}
	bobs, err := bob.List(ctx, n.ID())
	if err != nil || len(bobs) != len(bobUnits) {
		t.Errorf("bob lists %d units, %v; want his %d", len(bobs), err, len(bobUnits))
	}
}
