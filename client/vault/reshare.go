package vault

import (
	"bytes"
	"crypto/hmac"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/threshold"
)

// A reshare moves the user's records and login to another network file
// (docs/vault.md, "A reshare under way"). While it is under way the vault
// keeps, in the reshare bucket, the new network file, how far it got and
// the new login dealing: its public shares, and the key shares of the new
// nodes that do not hold theirs yet (as an unfinished enrollment does). It
// ends with FinishReshare, which makes the new network file and dealing
// the vault's.

// ReshareStage is how far a reshare got.
type ReshareStage uint8

const (
	// ReshareDealing: the new dealing is being delivered to the new
	// nodes (staged at those that stay, enrolled at those that join).
	ReshareDealing ReshareStage = 1
	// ReshareMoving: every new node holds the new dealing; the records
	// are being moved.
	ReshareMoving ReshareStage = 2
	// ReshareCommitting: every record is on the new network; the new
	// dealing is being committed at the nodes that stay. Logins take the
	// new dealing from here on.
	ReshareCommitting ReshareStage = 3
)

func (s ReshareStage) String() string {
	switch s {
	case ReshareDealing:
		return "dealing the new login key"
	case ReshareMoving:
		return "moving the records"
	case ReshareCommitting:
		return "committing the new login key"
	}
	return fmt.Sprintf("stage %d", uint8(s))
}

// Reshare is a reshare under way.
type Reshare struct {
	Network []byte // the new network file, as the user gave it
	Stage   ReshareStage
	// Login is the new dealing over the new network's nodes, sealed with
	// its MAC (SealReshare); a node's KeyShare is kept until the node
	// holds it.
	Login *Login
}

var (
	bucketReshare = []byte("reshare") // optional: made by the first reshare
	reshareKey    = []byte("state")
	// closedKey holds the nodes that left where the user's account was
	// closed (ClosedAccounts), apart from the state so that its encoding
	// stays as it was.
	closedKey = []byte("closed")
)

// maxNetworkFile bounds the network file a reshare keeps (as the client's
// parser does).
const maxNetworkFile = 1 << 20

// Reshare returns the reshare under way, or nil. It checks its encoding,
// not its MAC (CheckReshare).
func (h *Handle) Reshare() (*Reshare, error) {
	var r *Reshare
	err := h.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReshare)
		if b == nil {
			return nil
		}
		v := b.Get(reshareKey)
		if v == nil {
			return nil
		}
		var err error
		if r, err = decodeReshare(v); err != nil {
			return fmt.Errorf("%w: the reshare under way: %w", ErrCorrupt, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the reshare: %w", err)
	}
	return r, nil
}

// SetReshare records r, which the caller sealed (SealReshare), replacing
// the one recorded before. It is on disk when SetReshare returns.
func (h *Handle) SetReshare(r *Reshare) error {
	if err := checkReshare(r); err != nil {
		return fmt.Errorf("set the reshare: %w: %w", ErrInvalid, err)
	}
	err := h.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketReshare)
		if err != nil {
			return err
		}
		return b.Put(reshareKey, encodeReshare(r))
	})
	if err != nil {
		return fmt.Errorf("set the reshare: %w", err)
	}
	return nil
}

// ClosedAccounts returns the names of the nodes that left in the reshare
// under way where the user's account is closed already, so that a
// resumed reshare does not ask them again: they no longer know the user.
func (h *Handle) ClosedAccounts() ([]string, error) {
	var out []string
	err := h.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReshare)
		if b == nil {
			return nil
		}
		v := b.Get(closedKey)
		if v == nil {
			return nil
		}
		var err error
		if out, err = decodeClosed(v); err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the closed accounts of the reshare: %w", err)
	}
	return out, nil
}

// AddClosedAccount records that the user's account at node, which left
// the network in the reshare under way, is closed.
func (h *Handle) AddClosedAccount(node string) error {
	if err := api.CheckNodeName(node); err != nil {
		return fmt.Errorf("record a closed account: %w: %w", ErrInvalid, err)
	}
	err := h.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReshare)
		if b == nil || b.Get(reshareKey) == nil {
			return errors.New("no reshare is under way")
		}
		var names []string
		if v := b.Get(closedKey); v != nil {
			var err error
			if names, err = decodeClosed(v); err != nil {
				return fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
		}
		if slices.Contains(names, node) {
			return errUnchanged
		}
		if len(names) >= threshold.MaxShares {
			return fmt.Errorf("%w: more than %d closed accounts", ErrInvalid, threshold.MaxShares)
		}
		return b.Put(closedKey, encodeClosed(append(names, node)))
	})
	if err != nil {
		return fmt.Errorf("record a closed account: %w", err)
	}
	return nil
}

func encodeClosed(names []string) []byte {
	b := []byte{byte(len(names))}
	for _, n := range names {
		b = putBytes(b, []byte(n))
	}
	return b
}

func decodeClosed(b []byte) ([]string, error) {
	r := reader{b: b}
	count := int(r.u8())
	var names []string
	for i := 0; i < count && r.err == nil; i++ {
		names = append(names, r.str(maxNodeName))
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	for _, n := range names {
		if err := api.CheckNodeName(n); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// FinishReshare makes r's network file and dealing the vault's (saved),
// then drops r. Every node of r must hold its key share. A crash between
// the two leaves r beside a vault that has its network: the caller then
// finishes it again.
func (h *Handle) FinishReshare(r *Reshare) error {
	if err := h.v.CheckReshare(r); err != nil {
		return err
	}
	if p := r.Login.Pending(); len(p) > 0 {
		return fmt.Errorf("finish the reshare: %w: %v do not hold the new dealing yet", ErrInvalid, p)
	}
	if !bytes.Equal(h.v.Network, r.Network) {
		before, network := h.v.Login, h.v.Network
		h.v.Login, h.v.Network = r.Login.clone(), bytes.Clone(r.Network)
		if err := h.v.SealLogin(); err != nil {
			h.v.Login, h.v.Network = before, network
			return err
		}
		if err := h.Save(); err != nil {
			h.v.Login, h.v.Network = before, network
			return fmt.Errorf("finish the reshare: %w", err)
		}
	}
	err := h.update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketReshare) == nil {
			return errUnchanged
		}
		return tx.DeleteBucket(bucketReshare)
	})
	if err != nil {
		return fmt.Errorf("finish the reshare: %w", err)
	}
	return nil
}

// SealReshare sets the MAC of r's dealing, as SealLogin does for the
// vault's.
func (v *Vault) SealReshare(r *Reshare) error {
	mac, err := v.loginMAC(r.Login)
	if err != nil {
		return err
	}
	r.Login.MAC = mac
	return nil
}

// CheckReshare checks the MAC of r's dealing (ErrDamagedLogin).
func (v *Vault) CheckReshare(r *Reshare) error {
	want, err := v.loginMAC(r.Login)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, r.Login.MAC) {
		return fmt.Errorf("the reshare's new login dealing: %w", ErrDamagedLogin)
	}
	return nil
}

func (l *Login) clone() *Login {
	out := &Login{Epoch: l.Epoch, Threshold: l.Threshold, MAC: bytes.Clone(l.MAC)}
	for _, n := range l.Nodes {
		n.PublicShare, n.KeyShare = bytes.Clone(n.PublicShare), bytes.Clone(n.KeyShare)
		out.Nodes = append(out.Nodes, n)
	}
	return out
}

func encodeReshare(r *Reshare) []byte {
	b := putBytes(nil, r.Network)
	b = append(b, byte(r.Stage))
	return append(b, encodeLogin(r.Login)...)
}

func decodeReshare(b []byte) (*Reshare, error) {
	rd := reader{b: b}
	r := &Reshare{Network: rd.bytes(maxNetworkFile), Stage: ReshareStage(rd.u8())}
	if rd.err != nil {
		return nil, rd.err
	}
	l, err := decodeLogin(rd.b)
	if err != nil {
		return nil, err
	}
	r.Login = l
	if err := checkReshare(r); err != nil {
		l.wipe()
		return nil, err
	}
	return r, nil
}

func checkReshare(r *Reshare) error {
	switch {
	case r.Stage < ReshareDealing || r.Stage > ReshareCommitting:
		return fmt.Errorf("unknown reshare stage %d", r.Stage)
	case len(r.Network) == 0 || len(r.Network) > maxNetworkFile:
		return errors.New("the new network file is empty or too large")
	case r.Login == nil:
		return errors.New("no new login dealing")
	}
	return checkLogin(r.Login)
}
