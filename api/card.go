package api

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"go.yaml.in/yaml/v3"
)

// CardVersion is the version of the card format, its first line.
const CardVersion = 1

// maxCardSize caps a card file; a real one is a few hundred bytes.
const maxCardSize = 64 << 10

// Card is what a node's operator hands to the network's other organisations:
// enough for a client to dial the node and pin its key. It is YAML whose
// first line is "version: 1".
type Card struct {
	Version int      `yaml:"version,omitempty"`
	Name    string   `yaml:"name"`
	PeerID  string   `yaml:"peer_id"`
	Addrs   []string `yaml:"addrs"`
}

// MaxNodeNameLen is the longest node name.
const MaxNodeNameLen = 32

// ValidNodeName reports whether name can name a node: 1 to MaxNodeNameLen
// lower-case letters, digits and hyphens, not starting with a hyphen. It is
// part of the log origin "custos/<name>".
func ValidNodeName(name string) bool {
	if len(name) == 0 || len(name) > MaxNodeNameLen || name[0] == '-' {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// CheckNodeName is ValidNodeName with an error that says the rule, and
// the name cut to 64 bytes.
func CheckNodeName(name string) error {
	if ValidNodeName(name) {
		return nil
	}
	if len(name) > 64 {
		name = name[:64] + "…"
	}
	return fmt.Errorf("node name %q is not 1 to %d lower-case letters, digits and hyphens", name, MaxNodeNameLen)
}

// Marshal encodes the card, with a comment that says what it is.
func (c *Card) Marshal() []byte {
	c.Version = CardVersion
	body, err := yaml.Marshal(c)
	if err != nil {
		panic("api: internal error: encode card: " + err.Error()) // plain strings cannot fail
	}
	return append(body, []byte("# custos node card: give this file to the network's organisations for `custos network new`\n")...)
}

// ParseCard decodes and checks a card: a known version, a valid name, a peer
// ID and at least one multiaddr that parse.
func ParseCard(b []byte) (*Card, error) {
	if len(b) > maxCardSize {
		return nil, errors.New("card: the file is too large to be a node card")
	}
	var c Card
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("card: not a node card: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks every field of the card.
func (c *Card) Validate() error {
	if c.Version != CardVersion {
		return fmt.Errorf("card: version %d is not known (this build reads version %d)", c.Version, CardVersion)
	}
	if err := CheckNodeName(c.Name); err != nil {
		return fmt.Errorf("card: %w", err)
	}
	if _, err := c.ID(); err != nil {
		return err
	}
	if len(c.Addrs) == 0 {
		return fmt.Errorf("card %s: no addresses", c.Name)
	}
	for _, a := range c.Addrs {
		if _, err := ma.NewMultiaddr(a); err != nil {
			return fmt.Errorf("card %s: address %q: %w", c.Name, a, err)
		}
	}
	return nil
}

// ID decodes the card's peer ID.
func (c *Card) ID() (peer.ID, error) {
	id, err := peer.Decode(c.PeerID)
	if err != nil {
		return "", fmt.Errorf("card %s: peer ID %q: %w", c.Name, c.PeerID, err)
	}
	return id, nil
}

// AddrInfo is the card as libp2p dials it.
func (c *Card) AddrInfo() (peer.AddrInfo, error) {
	id, err := c.ID()
	if err != nil {
		return peer.AddrInfo{}, err
	}
	info := peer.AddrInfo{ID: id}
	for _, a := range c.Addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			return peer.AddrInfo{}, fmt.Errorf("card %s: address %q: %w", c.Name, a, err)
		}
		info.Addrs = append(info.Addrs, m)
	}
	return info, nil
}
