package client

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNeedsReshare: a new network file changes who the custodians are, their
// order or the threshold, which only a reshare can adopt.
var ErrNeedsReshare = errors.New("the new network file changes the custodians or the threshold")

// NodeUpdate is what a network update changes of one node.
type NodeUpdate struct {
	Node      string // its name in the new network file
	OldName   string // its name before, if renamed
	Readdress bool   // its addresses changed
}

// UpdateNetwork makes file the vault's network file when it lists the
// same custodians (peer IDs, in the same order) with the same threshold
// as the vault's: new addresses and new names, which need no reshare
// (docs/client.md, "Updating the network file"). A renamed node is renamed
// wherever the vault names it. Any other difference is refused with an
// error that matches ErrNeedsReshare and says what differs. It returns
// what changed of each node (nothing when the files agree); the client
// dials the new addresses from the next Open. It refuses while a change of
// records or a password change is under way.
func (c *Client) UpdateNetwork(file []byte) ([]NodeUpdate, error) {
	done, err := c.begin(false)
	if err != nil {
		return nil, err
	}
	defer done()
	nw, err := ParseNetwork(file)
	if err != nil {
		return nil, err
	}
	if err := sameCustodians(c.net, nw); err != nil {
		return nil, err
	}
	if pend, err := c.vh.Changes(); err != nil {
		return nil, err
	} else if len(pend) > 0 {
		return nil, fmt.Errorf("%d records have a change under way: unlock (any command that logs in) to finish them first", len(pend))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.v.PasswordChange != nil {
		return nil, ErrPasswordChangePending
	}
	var out []NodeUpdate
	names := map[string]string{}
	for i, n := range nw.Nodes {
		old := c.net.Nodes[i]
		u := NodeUpdate{Node: n.Name, Readdress: !slices.Equal(old.Addrs, n.Addrs)}
		if old.Name != n.Name {
			u.OldName = old.Name
			names[n.PeerID] = n.Name
		}
		if u.OldName != "" || u.Readdress {
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	if err := c.vh.AdoptNetwork(file, names); err != nil {
		return nil, err
	}
	return out, nil
}

// sameCustodians checks that b lists a's custodians, in a's order, with
// a's threshold; otherwise it says what differs (ErrNeedsReshare).
func sameCustodians(a, b *Network) error {
	var why []string
	if a.Threshold != b.Threshold {
		why = append(why, fmt.Sprintf("the threshold goes from %d to %d", a.Threshold, b.Threshold))
	}
	inB := map[string]string{}
	for _, n := range b.Nodes {
		inB[n.PeerID] = n.Name
	}
	inA := map[string]bool{}
	for _, n := range a.Nodes {
		inA[n.PeerID] = true
		if _, ok := inB[n.PeerID]; !ok {
			why = append(why, fmt.Sprintf("%s (%s) is not in it", n.Name, short(n.PeerID)))
		}
	}
	for _, n := range b.Nodes {
		if !inA[n.PeerID] {
			why = append(why, fmt.Sprintf("%s (%s) is new", n.Name, short(n.PeerID)))
		}
	}
	if len(why) == 0 {
		for i := range a.Nodes {
			if a.Nodes[i].PeerID != b.Nodes[i].PeerID {
				why = append(why, "it lists the nodes in another order (each node's place is its share index)")
				break
			}
		}
	}
	if len(why) > 0 {
		return fmt.Errorf("%w: %s; move the records to it with custos reshare --network FILE", ErrNeedsReshare, strings.Join(why, "; "))
	}
	return nil
}

// short is the tail of a peer ID, enough to tell nodes apart in a message.
func short(id string) string {
	if len(id) > 8 {
		return "…" + id[len(id)-8:]
	}
	return id
}
