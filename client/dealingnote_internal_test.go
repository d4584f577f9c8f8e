package client

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/threshold/toprf"
)

// enrolledOffline is a client of a vault dealt (epoch 1) on three silent
// nodes, threshold 2, whose key shares are marked delivered: as enrolled.
func enrolledOffline(t *testing.T) *Client {
	t.Helper()
	nodes := newSilentNodes(t, 3)
	c := openTest(t, newTestVault(t, 2, nodes.cards))
	if _, err := c.Enroll(context.Background(), testPassword, map[string]string{"n1": "t1", "n2": "t2", "n3": "t3"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.nodes {
		if _, err := c.v.MarkDelivered(n.name); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// noteOf makes the note a password change on c's vault would leave for
// a fresh dealing of epoch.
func noteOf(t *testing.T, c *Client, epoch uint32) *api.DealingNote {
	t.Helper()
	key, err := toprf.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	defer key.Wipe()
	keys, pubs, err := key.Split(2, 3)
	if err != nil {
		t.Fatal(err)
	}
	nd := &newDealing{epoch: epoch, keys: keys, pubs: pubs}
	defer nd.wipe()
	if err := c.makeNote(nd); err != nil {
		t.Fatal(err)
	}
	return nd.note
}

func stale(note *api.DealingNote) error {
	return &staleDealing{refusal: refusal{kind: ErrNotEnrolled, node: errors.New("no dealing of epoch 1")}, note: note}
}

// A device adopts a note only when k nodes hand out the same one, of a
// later epoch, that verifies with its master secret; a forged one is
// named (its error becomes errForgedNote) and does not count.
func TestFollowNoteNeedsKNodesAgreeingOnAVerifiedLaterNote(t *testing.T) {
	plain := &refusal{kind: ErrNotEnrolled, node: errors.New("no dealing of epoch 1")}
	forged := func(t *testing.T, c *Client) *api.DealingNote {
		n := proto.Clone(noteOf(t, c, 2)).(*api.DealingNote)
		n.Shares[1].PublicShare = noteOf(t, c, 2).Shares[1].PublicShare
		return n
	}
	for _, tc := range []struct {
		name  string
		errs  func(t *testing.T, c *Client) []error
		adopt bool
	}{
		{"one node's note is too few", func(t *testing.T, c *Client) []error {
			return []error{stale(noteOf(t, c, 2)), plain, plain}
		}, false},
		{"two nodes, two notes", func(t *testing.T, c *Client) []error {
			return []error{stale(noteOf(t, c, 2)), stale(noteOf(t, c, 2)), plain}
		}, false},
		{"a note and a forgery of it", func(t *testing.T, c *Client) []error {
			n := noteOf(t, c, 2)
			f := proto.Clone(n).(*api.DealingNote)
			f.Threshold = 3
			return []error{stale(n), stale(f), plain}
		}, false},
		{"another vault's note", func(t *testing.T, c *Client) []error {
			n := noteOf(t, enrolledOffline(t), 2)
			return []error{stale(n), stale(n), stale(n)}
		}, false},
		{"two agree past a forgery", func(t *testing.T, c *Client) []error {
			n := noteOf(t, c, 2)
			return []error{stale(n), stale(forged(t, c)), stale(n)}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := enrolledOffline(t)
			errs := tc.errs(t, c)
			c.mu.Lock()
			d, err := c.loadDealing()
			c.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			defer d.wipe()
			adopted, err := c.followNote(d, errs)
			if err != nil || adopted != tc.adopt {
				t.Fatalf("followNote = %v, %v; want %v", adopted, err, tc.adopt)
			}
			for i, e := range errs {
				var sd *staleDealing
				if !errors.As(e, &sd) {
					continue
				}
				c.mu.Lock()
				_, ferr := c.noteLogin(sd.note)
				c.mu.Unlock()
				if (ferr != nil) != errors.Is(e, errForgedNote) {
					t.Errorf("node %d: its note's check %v, and its error %v", i, ferr, e)
				}
			}
			want := uint32(1)
			if tc.adopt {
				want = 2
			}
			path := c.vh.Path()
			c.Close()
			if got := readLogin(t, path).Epoch; got != want {
				t.Errorf("the vault on disk is of epoch %d, want %d", got, want)
			}
		})
	}
}
