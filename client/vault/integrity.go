package vault

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/custos-network/custos/threshold"
)

// unitMACLabel is the HKDF label of the key of the units' MACs; it is
// apart from every label of the record construction (docs/threshold.md),
// so the key stands in for no other.
const unitMACLabel = "custos/v1/vault-unit"

// MACSize is the size of a unit's MAC: an HMAC-SHA256 output.
const MACSize = sha256.Size

// SealUnit sets u.MAC from u's fields, under a key derived from the
// vault's master secret. Only a unit the caller vouches for may be sealed:
// sealing a damaged unit makes its damage pass.
func (v *Vault) SealUnit(u *Unit) error {
	mac, err := v.unitMAC(u)
	if err != nil {
		return err
	}
	u.MAC = mac
	return nil
}

// CheckUnit verifies u's MAC: whether every field of u is as the client
// last wrote it. A mismatch is ErrDamaged, naming the unit's label only.
// The client checks a unit this way before it asks any node for it, so a
// damaged key commitment or node list is reported as a damaged vault, not
// as custodians that failed.
func (v *Vault) CheckUnit(u *Unit) error {
	want, err := v.unitMAC(u)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, u.MAC) {
		return fmt.Errorf("unit %q: %w", clip(u.Label), ErrDamaged)
	}
	return nil
}

// unitMAC is HMAC-SHA256(HKDF-SHA256(M, no salt, unitMACLabel), the unit's
// fields as unitMACInput writes them).
func (v *Vault) unitMAC(u *Unit) ([]byte, error) {
	return v.mac(unitMACLabel, unitMACInput(u))
}

// mac is HMAC-SHA256(HKDF-SHA256(M, no salt, label), input): each label
// gives the vault's MACs of one kind of value a key of their own.
func (v *Vault) mac(label string, input []byte) ([]byte, error) {
	if len(v.MasterSecret) != threshold.KeySize {
		return nil, errors.New("the vault's master secret is missing (wiped?)")
	}
	key, err := hkdf.Key(sha256.New, v.MasterSecret, nil, label, threshold.KeySize)
	if err != nil {
		panic("vault: internal error: hkdf: " + err.Error())
	}
	defer clear(key)
	m := hmac.New(sha256.New, key)
	m.Write(input)
	return m.Sum(nil), nil
}

// unitMACInput writes every field of u but its MAC, each of variable length
// with its length before it, so that no two units write the same bytes:
//
//	lp(label) ‖ unit ID ‖ u64(version) ‖ u64(threshold) ‖ u32(node count) ‖
//	(lp(name) ‖ lp(peer ID text) ‖ commitment ‖ u8(stored)) for each node ‖
//	key commitment ‖ lp(sealed) ‖ u8(degraded) ‖ time(created) ‖ time(updated)
//
// where lp(x) is u32(len(x)) ‖ x, all integers are big-endian, u8 of a
// boolean is 1 or 0, and time(t) is i64(Unix seconds) ‖ u32(nanoseconds).
func unitMACInput(u *Unit) []byte {
	b := appendLP(nil, []byte(u.Label))
	b = append(b, u.ID[:]...)
	b = binary.BigEndian.AppendUint64(b, u.Version)
	b = binary.BigEndian.AppendUint64(b, uint64(int64(u.Threshold)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(u.Nodes)))
	for _, n := range u.Nodes {
		b = appendLP(b, []byte(n.Name))
		b = appendLP(b, []byte(n.PeerID))
		b = append(b, n.Commitment[:]...)
		b = appendBool(b, n.Stored)
	}
	b = append(b, u.KeyCommit[:]...)
	b = appendLP(b, u.Sealed)
	b = appendBool(b, u.Degraded)
	b = appendTime(b, u.Created)
	return appendTime(b, u.Updated)
}

func appendLP(b, x []byte) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(x))), x...)
}

func appendBool(b []byte, x bool) []byte {
	if x {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix()))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}
