package vault

import (
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/custos-network/custos/threshold/toprf"
)

// ChangeState is where a password change stands (PasswordChange.State).
// Which password logs in follows from it: the old one while no node may
// have committed and not every node has staged the new dealing (Staging,
// Aborting), the new one from the moment every node holds it (Staged,
// Committing).
type ChangeState string

const (
	// ChangeStaging: the new dealing is recorded and is being staged at
	// the nodes; not every node is known to hold it. The old dealing is
	// current everywhere. Resuming deals again (the vault keeps no key
	// share of the new dealing, and a node replaces a staged dealing of
	// the same epoch).
	ChangeStaging ChangeState = "staging"
	// ChangeStaged: every node holds the new dealing staged beside the
	// current one; none was asked to commit it. The change can be
	// finished or aborted.
	ChangeStaged ChangeState = "staged"
	// ChangeCommitting: commits have been sent (recorded before the first
	// was); some nodes may have dropped the old dealing, so the change can
	// only be finished.
	ChangeCommitting ChangeState = "committing"
	// ChangeAborting: aborts are being sent; the old dealing is current
	// everywhere. Staged, in this state, means a node has not confirmed
	// the abort yet.
	ChangeAborting ChangeState = "aborting"
)

// PasswordChange is a password change under way (custos passwd): the new
// dealing of the user's OPRF key, of epoch Login.Epoch+1, as the nodes
// hold it staged or committed, and how far each node got. It keeps the
// public shares only: the client sends each node its key share and wipes
// it, and a change interrupted before every node staged is dealt again.
// The client records each step here before it asks any node to take it
// (docs/vault.md, "A password change").
type PasswordChange struct {
	// State is where the change stands.
	State ChangeState `json:"state"`
	// Epoch is the new dealing's number: the login dealing's plus one.
	Epoch uint32 `json:"epoch"`
	// Threshold is the login dealing's.
	Threshold int `json:"threshold"`
	// Nodes are the login dealing's nodes, in the same order, each with
	// its public share of the new dealing and its progress.
	Nodes []ChangeNode `json:"nodes"`
	// MAC is the change's integrity tag: HMAC-SHA256 under a key derived
	// from the master secret, over every other field (see SealChange).
	MAC []byte `json:"mac"`
}

// ChangeNode is one node's part of a password change.
type ChangeNode struct {
	// Name, PeerID and Index are the login dealing's node's.
	Name   string `json:"name"`
	PeerID string `json:"peer_id"`
	Index  int    `json:"index"`
	// PublicShare is R'_i of the new dealing, 32 bytes.
	PublicShare []byte `json:"public_share"`
	// Staged: the node took the new dealing (staged it). While aborting:
	// the node has not confirmed the abort yet.
	Staged bool `json:"staged"`
	// Committed: the node made the new dealing its current one.
	Committed bool `json:"committed"`
}

// changeMACLabel is the HKDF label of the key of a password change's MAC,
// apart from the login dealing's (loginMACLabel) and the units'.
const changeMACLabel = "custos/v2/vault-passwd"

// UsesNewPassword reports whether logins use the new dealing (and so the
// new password): once every node holds it and no abort began.
func (p *PasswordChange) UsesNewPassword() bool {
	return p != nil && (p.State == ChangeStaged || p.State == ChangeCommitting)
}

// SealChange sets the MAC of the vault's password change from its fields.
// Only a change the caller vouches for may be sealed.
func (v *Vault) SealChange() error {
	if v.PasswordChange == nil {
		return errors.New("the vault has no password change")
	}
	mac, err := v.changeMAC(v.PasswordChange)
	if err != nil {
		return err
	}
	v.PasswordChange.MAC = mac
	return nil
}

// CheckChange verifies the MAC of the vault's password change
// (ErrDamagedLogin if it fails): a public share changed in the file would
// otherwise make an honest node's proof fail. A vault without a change
// passes.
func (v *Vault) CheckChange() error {
	if v.PasswordChange == nil {
		return nil
	}
	want, err := v.changeMAC(v.PasswordChange)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, v.PasswordChange.MAC) {
		return fmt.Errorf("%w: its password change does not match its MAC", ErrDamagedLogin)
	}
	return nil
}

// FinishChange makes the password change, committed at every node, the
// vault's login dealing, and drops the change. It checks the change's MAC
// first (ErrDamagedLogin, and nothing changes).
func (v *Vault) FinishChange() error {
	p := v.PasswordChange
	if p == nil || p.State != ChangeCommitting {
		return errors.New("the vault has no password change being committed")
	}
	for _, n := range p.Nodes {
		if !n.Committed {
			return fmt.Errorf("the password change is not committed at %s yet", n.Name)
		}
	}
	if err := v.CheckChange(); err != nil {
		return err
	}
	l := &Login{Epoch: p.Epoch, Threshold: p.Threshold}
	for _, n := range p.Nodes {
		l.Nodes = append(l.Nodes, LoginNode{Name: n.Name, PeerID: n.PeerID, Index: n.Index, PublicShare: n.PublicShare})
	}
	old := v.Login
	v.Login = l
	if err := v.SealLogin(); err != nil {
		v.Login = old
		return err
	}
	old.wipe()
	v.PasswordChange = nil
	return nil
}

// changeMAC is HMAC-SHA256(HKDF-SHA256(M, no salt, changeMACLabel), the
// change's fields as changeMACInput writes them).
func (v *Vault) changeMAC(p *PasswordChange) ([]byte, error) {
	return v.mac(changeMACLabel, changeMACInput(p))
}

// changeMACInput writes every field of the change but its MAC:
//
//	lp(state) ‖ u32(epoch) ‖ u64(threshold) ‖ u32(node count) ‖
//	(lp(name) ‖ lp(peer ID text) ‖ u64(index) ‖ lp(public share) ‖ u8(staged) ‖ u8(committed)) for each node
//
// with lp, the integers and u8 of a boolean as in unitMACInput.
func changeMACInput(p *PasswordChange) []byte {
	b := appendLP(nil, []byte(p.State))
	b = binary.BigEndian.AppendUint32(b, p.Epoch)
	b = binary.BigEndian.AppendUint64(b, uint64(int64(p.Threshold)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.Nodes)))
	for _, n := range p.Nodes {
		b = appendLP(b, []byte(n.Name))
		b = appendLP(b, []byte(n.PeerID))
		b = binary.BigEndian.AppendUint64(b, uint64(int64(n.Index)))
		b = appendLP(b, n.PublicShare)
		b = append(b, boolByte(n.Staged), boolByte(n.Committed))
	}
	return b
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// checkChange checks a password change against the rules of the format
// and against the login dealing l it changes: a known state whose nodes'
// progress fits it, the next epoch, and the same threshold and nodes. The
// MAC is checked by CheckChange, when the client uses the change.
func checkChange(p *PasswordChange, l *Login) error {
	switch {
	case l == nil:
		return errors.New("password_change: there is no login dealing to change")
	case len(l.Pending()) > 0:
		return errors.New("password_change: the enrollment is unfinished (the login dealing holds key shares)")
	case l.Epoch == ^uint32(0) || p.Epoch != l.Epoch+1:
		return fmt.Errorf("password_change: epoch %d; it must be the login dealing's plus one (%d)", p.Epoch, uint64(l.Epoch)+1)
	case p.Threshold != l.Threshold:
		return fmt.Errorf("password_change: threshold %d; it must be the login dealing's %d", p.Threshold, l.Threshold)
	case len(p.Nodes) != len(l.Nodes):
		return fmt.Errorf("password_change: %d nodes; it must have the login dealing's %d", len(p.Nodes), len(l.Nodes))
	case len(p.MAC) != MACSize:
		return fmt.Errorf("password_change: the MAC is %d bytes; it must be %d", len(p.MAC), MACSize)
	}
	staged, committed := 0, 0
	for i, n := range p.Nodes {
		ln := l.Nodes[i]
		if n.Name != ln.Name || n.PeerID != ln.PeerID || n.Index != ln.Index {
			return fmt.Errorf("password_change: nodes[%d] is not the login dealing's node at that place", i)
		}
		if _, err := toprf.ParsePublicShare(n.Index, n.PublicShare); err != nil {
			return fmt.Errorf("password_change: node %s: the public share is not a ristretto255 element", n.Name)
		}
		if n.Committed && !n.Staged {
			return fmt.Errorf("password_change: node %s: committed, but not staged", n.Name)
		}
		if n.Staged {
			staged++
		}
		if n.Committed {
			committed++
		}
	}
	all := len(p.Nodes)
	switch p.State {
	case ChangeStaging, ChangeAborting:
		if committed > 0 {
			return fmt.Errorf("password_change: %s, yet committed at a node", p.State)
		}
	case ChangeStaged:
		if staged != all || committed > 0 {
			return errors.New("password_change: staged, yet not staged at every node, or committed at one")
		}
	case ChangeCommitting:
		if staged != all {
			return errors.New("password_change: committing, yet not staged at every node")
		}
	default:
		return fmt.Errorf("password_change: unknown state %q", clip(string(p.State)))
	}
	return nil
}
