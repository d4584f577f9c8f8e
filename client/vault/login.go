package vault

import (
	"bytes"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/threshold"
	"github.com/custos-network/custos/threshold/toprf"
)

// Login is the dealing of the user's OPRF key r (login v2, docs/login.md):
// what the client needs to check each node's evaluation of the password
// and to combine the evaluations of Threshold nodes into the login keys.
// A vault has none until the first custos enroll deals it.
type Login struct {
	// Epoch is the dealing's number at the nodes: 1 at enrollment.
	Epoch uint32 `json:"epoch"`
	// Threshold is how many nodes' evaluations make the OPRF output (k).
	Threshold int `json:"threshold"`
	// Nodes are the nodes the key was dealt to, in index order.
	Nodes []LoginNode `json:"nodes"`
	// MAC is the dealing's integrity tag: HMAC-SHA256 under a key derived
	// from the master secret, over every other field (see SealLogin). A
	// public share changed in the file would otherwise make an honest
	// node's proof fail, and the node be named as lying.
	MAC []byte `json:"mac"`
}

// LoginNode is one node's part of the dealing.
type LoginNode struct {
	// Name is the node's name in the network file.
	Name string `json:"name"`
	// PeerID is the node's libp2p peer ID in its base58 text form.
	PeerID string `json:"peer_id"`
	// Index is the node's share index x_i: its 1-based position in the
	// network file when the key was dealt.
	Index int `json:"index"`
	// PublicShare is R_i = r_i·G, 32 bytes: the client checks the node's
	// evaluations against it.
	PublicShare []byte `json:"public_share"`
	// KeyShare is the node's share r_i of the OPRF key while the node is
	// not known to hold it: from the dealing until the node took its
	// enrollment (or a login there showed it has it). Secret: with the
	// key shares of enough nodes it gives r, and r makes every login key
	// testable offline (docs/vault.md says what this window allows).
	// Empty once the node holds it.
	KeyShare []byte `json:"key_share,omitempty"`
}

// loginMACLabel is the HKDF label of the key of the login dealing's MAC,
// apart from the units' (unitMACLabel) and every label of docs/threshold.md
// and docs/login.md.
const loginMACLabel = "custos/v2/vault-login"

// Pending returns the names of the nodes whose key share the dealing still
// holds: the nodes this device's enrollment has not reached yet.
func (l *Login) Pending() []string {
	if l == nil {
		return nil
	}
	var names []string
	for _, n := range l.Nodes {
		if len(n.KeyShare) > 0 {
			names = append(names, n.Name)
		}
	}
	return names
}

// SealLogin sets the MAC of the vault's login dealing from its fields.
// Only a dealing the caller vouches for may be sealed.
func (v *Vault) SealLogin() error {
	if v.Login == nil {
		return errors.New("the vault has no login dealing")
	}
	mac, err := v.loginMAC(v.Login)
	if err != nil {
		return err
	}
	v.Login.MAC = mac
	return nil
}

// CheckLogin verifies the MAC of the vault's login dealing: whether every
// field is as the client last wrote it (ErrDamagedLogin if not). The client
// checks it before it asks any node to evaluate the password, so a damaged
// public share or index is reported as a damaged vault, not as a node that
// lies. A vault without a dealing passes.
func (v *Vault) CheckLogin() error {
	if v.Login == nil {
		return nil
	}
	want, err := v.loginMAC(v.Login)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, v.Login.MAC) {
		return ErrDamagedLogin
	}
	return nil
}

// MarkDelivered drops the key share the dealing holds for node, now that
// the node is known to hold it. It checks the dealing's MAC first
// (ErrDamagedLogin, and nothing changes), wipes the share and seals the
// dealing again. It reports whether the dealing changed.
func (v *Vault) MarkDelivered(node string) (bool, error) {
	if v.Login == nil {
		return false, nil
	}
	for i := range v.Login.Nodes {
		n := &v.Login.Nodes[i]
		if n.Name != node || len(n.KeyShare) == 0 {
			continue
		}
		if err := v.CheckLogin(); err != nil {
			return false, err
		}
		clear(n.KeyShare)
		n.KeyShare = nil
		return true, v.SealLogin()
	}
	return false, nil
}

// loginMAC is HMAC-SHA256(HKDF-SHA256(M, no salt, loginMACLabel), the
// dealing's fields as loginMACInput writes them).
func (v *Vault) loginMAC(l *Login) ([]byte, error) {
	in := loginMACInput(l)
	defer clear(in) // it holds the key shares
	return v.mac(loginMACLabel, in)
}

// loginMACInput writes every field of the dealing but its MAC:
//
//	u32(epoch) ‖ u64(threshold) ‖ u32(node count) ‖
//	(lp(name) ‖ lp(peer ID text) ‖ u64(index) ‖ lp(public share) ‖ lp(key share)) for each node
//
// with lp and the integers as in unitMACInput.
func loginMACInput(l *Login) []byte {
	b := binary.BigEndian.AppendUint32(nil, l.Epoch)
	b = binary.BigEndian.AppendUint64(b, uint64(int64(l.Threshold)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.Nodes)))
	for _, n := range l.Nodes {
		b = appendLP(b, []byte(n.Name))
		b = appendLP(b, []byte(n.PeerID))
		b = binary.BigEndian.AppendUint64(b, uint64(int64(n.Index)))
		b = appendLP(b, n.PublicShare)
		b = appendLP(b, n.KeyShare)
	}
	return b
}

// checkLogin checks the dealing's shape and values: every public share a
// group element, every key share kept the one whose public share it is.
// The MAC is checked by CheckLogin, when the client uses the dealing.
func checkLogin(l *Login) error {
	switch {
	case l.Epoch == 0:
		return errors.New("login: epochs start at 1")
	case len(l.Nodes) < 2 || len(l.Nodes) > threshold.MaxShares:
		return fmt.Errorf("login: %d nodes; a dealing has 2 to %d", len(l.Nodes), threshold.MaxShares)
	case l.Threshold < 2 || l.Threshold > len(l.Nodes):
		return fmt.Errorf("login: threshold %d; it must be from 2 to the dealing's %d nodes", l.Threshold, len(l.Nodes))
	case len(l.MAC) != MACSize:
		return fmt.Errorf("login: the MAC is %d bytes; it must be %d", len(l.MAC), MACSize)
	}
	names := make(map[string]bool, len(l.Nodes))
	ids := make(map[string]bool, len(l.Nodes))
	for i, n := range l.Nodes {
		if err := api.CheckNodeName(n.Name); err != nil {
			return fmt.Errorf("login: nodes[%d]: %w", i, err)
		}
		at := "login: node " + n.Name
		id, err := peer.Decode(n.PeerID)
		if err != nil || id.String() != n.PeerID {
			return fmt.Errorf("%s: %q is not a peer ID in base58", at, clip(n.PeerID))
		}
		if names[n.Name] || ids[n.PeerID] {
			return fmt.Errorf("%s is listed twice (by name or peer ID)", at)
		}
		names[n.Name], ids[n.PeerID] = true, true
		if n.Index < 1 || n.Index > threshold.MaxShares || (i > 0 && n.Index <= l.Nodes[i-1].Index) {
			return fmt.Errorf("%s: index %d; indexes are 1 to %d, ascending", at, n.Index, threshold.MaxShares)
		}
		if err := checkLoginShares(&n); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
	}
	return nil
}

// checkLoginShares checks a node's public share and, when the dealing
// still holds it, its key share: a valid scalar whose public part is the
// public share kept beside it.
func checkLoginShares(n *LoginNode) error {
	pub, err := toprf.ParsePublicShare(n.Index, n.PublicShare)
	if err != nil {
		return errors.New("the public share is not a ristretto255 element")
	}
	if n.KeyShare == nil {
		return nil // delivered: the field is left out, never empty
	}
	ks, err := toprf.KeyShareFromBytes(n.Index, n.KeyShare)
	if err != nil {
		return errors.New("the key share is not a non-zero ristretto255 scalar")
	}
	defer ks.Wipe()
	if got := ks.Public(); !bytes.Equal(got.Element[:], pub.Element[:]) {
		return errors.New("the key share is not the one of the public share")
	}
	return nil
}

// wipe overwrites the key shares the dealing holds.
func (l *Login) wipe() {
	if l == nil {
		return
	}
	for i := range l.Nodes {
		clear(l.Nodes[i].KeyShare)
	}
}

// AdoptLogin makes l the vault's login dealing: a dealing of a later epoch
// that another device of the user made with a password change, which the
// client checked (its dealing note's MAC, and that its nodes are the
// network file's). It checks l's shape and the current dealing's MAC first,
// and refuses while this vault has a password change of its own under way
// or still holds key shares of an unfinished enrollment (those nodes would
// never get them). It seals l and returns the dealing it replaced, for the
// caller to put back if the vault cannot be saved.
func (v *Vault) AdoptLogin(l *Login) (old *Login, err error) {
	switch {
	case v.Login == nil:
		return nil, errors.New("adopt a login dealing: the vault has none to follow")
	case v.PasswordChange != nil:
		return nil, errors.New("adopt a login dealing: this vault's own password change is under way (custos passwd finishes it)")
	case len(v.Login.Pending()) > 0:
		return nil, errors.New("adopt a login dealing: this vault's enrollment is unfinished")
	case l.Epoch <= v.Login.Epoch:
		return nil, fmt.Errorf("adopt a login dealing: its epoch %d is not after the vault's %d", l.Epoch, v.Login.Epoch)
	}
	if err := v.CheckLogin(); err != nil {
		return nil, err
	}
	old = v.Login
	v.Login = l
	err = v.SealLogin()
	if err == nil {
		err = checkLogin(l)
	}
	if err != nil {
		v.Login = old
		return nil, fmt.Errorf("adopt a login dealing: %w", err)
	}
	return old, nil
}
