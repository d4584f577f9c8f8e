package client

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
	"go.yaml.in/yaml/v3"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/threshold"
)

// NetworkVersion is the version of the network file format, its first line.
const NetworkVersion = 1

const maxNetworkFile = 1 << 20

// Network is the network file: the custodians of a network, each with the
// peer ID clients pin, and the threshold k of them that must agree. The
// network's organisations make it from their nodes' cards and distribute it.
type Network struct {
	Version   int        `yaml:"version"`
	Threshold int        `yaml:"threshold"`
	Nodes     []api.Card `yaml:"nodes"`
}

// NewNetwork makes a network file from node cards and a threshold.
func NewNetwork(k int, cards []*api.Card) (*Network, error) {
	n := &Network{Version: NetworkVersion, Threshold: k}
	for _, c := range cards {
		cc := *c
		cc.Version = 0 // a card's version belongs to the card file, not to the network file
		n.Nodes = append(n.Nodes, cc)
	}
	return n, n.Validate()
}

// ParseNetwork decodes and checks a network file.
func ParseNetwork(b []byte) (*Network, error) {
	if len(b) > maxNetworkFile {
		return nil, errors.New("network file: too large")
	}
	var n Network
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&n); err != nil {
		return nil, fmt.Errorf("network file: not a custos network file: %w", err)
	}
	return &n, n.Validate()
}

// Validate checks the version, the threshold (2 ≤ k ≤ n ≤ 255) and every
// node: a valid card, with a name and a peer ID that no other node has.
func (n *Network) Validate() error {
	if n.Version != NetworkVersion {
		return fmt.Errorf("network file: version %d is not known (this build reads version %d)", n.Version, NetworkVersion)
	}
	if len(n.Nodes) < 2 || len(n.Nodes) > threshold.MaxShares {
		return fmt.Errorf("network file: %d nodes; a network has 2 to %d", len(n.Nodes), threshold.MaxShares)
	}
	if n.Threshold < 2 || n.Threshold > len(n.Nodes) {
		return fmt.Errorf("network file: threshold %d; it must be from 2 to the %d nodes", n.Threshold, len(n.Nodes))
	}
	names, ids := map[string]bool{}, map[peer.ID]bool{}
	for i := range n.Nodes {
		c := n.Nodes[i]
		c.Version = api.CardVersion
		if err := c.Validate(); err != nil {
			return fmt.Errorf("network file: %w", err)
		}
		id, _ := c.ID()
		if names[c.Name] || ids[id] {
			return fmt.Errorf("network file: node %s is listed twice (by name or peer ID)", c.Name)
		}
		names[c.Name], ids[id] = true, true
	}
	return nil
}

// Marshal encodes the network file.
func (n *Network) Marshal() []byte {
	b, err := yaml.Marshal(n)
	if err != nil {
		panic("client: internal error: encode network: " + err.Error())
	}
	return append(b, []byte("# custos network file: the custodians clients pin, and how many of them must agree\n")...)
}

// node returns the i-th node's card with its card version set, for the
// api.Card methods.
func (n *Network) node(i int) *api.Card {
	c := n.Nodes[i]
	c.Version = api.CardVersion
	return &c
}
