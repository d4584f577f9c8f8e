package vault

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"
)

// Every field of the login dealing is covered by its MAC: a public share
// or index changed in the file would make an honest node's proof fail.
func TestLoginMACCoversEveryField(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(l *Login)
	}{
		{"another epoch is damage", func(l *Login) { l.Epoch++ }},
		{"another threshold is damage", func(l *Login) { l.Threshold = 3 }},
		{"a node fewer is damage", func(l *Login) { l.Nodes = l.Nodes[:2] }},
		{"nodes in another order are damage", func(l *Login) { l.Nodes[0], l.Nodes[1] = l.Nodes[1], l.Nodes[0] }},
		{"another node name is damage", func(l *Login) { l.Nodes[1].Name = "bolt2" }},
		{"another peer ID is damage", func(l *Login) { l.Nodes[1].PeerID = l.Nodes[2].PeerID }},
		{"another index is damage", func(l *Login) { l.Nodes[2].Index = 4 }},
		{"another public share is damage", func(l *Login) { l.Nodes[0].PublicShare[5] ^= 1 }},
		{"a key share dropped is damage", func(l *Login) { l.Nodes[2].KeyShare = nil }},
		{"a key share added is damage", func(l *Login) { l.Nodes[0].KeyShare = bytes.Clone(l.Nodes[2].KeyShare) }},
		{"another MAC is damage", func(l *Login) { l.MAC[0] ^= 1 }},
		{"no MAC is damage", func(l *Login) { l.MAC = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := testVault(t)
			if err := v.CheckLogin(); err != nil {
				t.Fatalf("the dealing as sealed: %v", err)
			}
			tc.change(v.Login)
			err := v.CheckLogin()
			if !errors.Is(err, ErrDamagedLogin) {
				t.Fatalf("CheckLogin = %v, want ErrDamagedLogin", err)
			}
			noSecrets(t, testVault(t), "the error", err.Error())
		})
	}
}

func TestLoginMACIsTheVaults(t *testing.T) {
	v, other := testVault(t), testVault(t)
	other.MasterSecret[0] ^= 1
	other.Login = v.Login
	if err := other.CheckLogin(); !errors.Is(err, ErrDamagedLogin) {
		t.Errorf("a dealing sealed under another master secret: %v, want ErrDamagedLogin", err)
	}
	none := testVault(t)
	none.Login = nil
	if err := none.CheckLogin(); err != nil {
		t.Errorf("a vault without a dealing: %v", err)
	}
}

// specLoginMAC is the MAC of the login dealing as docs/vault.md writes it
// out, with the primitives alone.
func specLoginMAC(master []byte, l *Login) []byte {
	lp := func(b, x []byte) []byte { return append(binary.BigEndian.AppendUint32(b, uint32(len(x))), x...) }
	m := binary.BigEndian.AppendUint32(nil, l.Epoch)
	m = binary.BigEndian.AppendUint64(m, uint64(l.Threshold))
	m = binary.BigEndian.AppendUint32(m, uint32(len(l.Nodes)))
	for _, n := range l.Nodes {
		m = lp(m, []byte(n.Name))
		m = lp(m, []byte(n.PeerID))
		m = binary.BigEndian.AppendUint64(m, uint64(n.Index))
		m = lp(m, n.PublicShare)
		m = lp(m, n.KeyShare)
	}
	key, err := hkdf.Key(sha256.New, master, nil, "custos/v2/vault-login", 32)
	if err != nil {
		panic(err)
	}
	h := hmac.New(sha256.New, key)
	h.Write(m)
	return h.Sum(nil)
}

func TestLoginMACMatchesTheSpec(t *testing.T) {
	v := testVault(t)
	if want := specLoginMAC(v.MasterSecret, v.Login); !bytes.Equal(v.Login.MAC, want) {
		t.Error("the login dealing's MAC is not the one docs/vault.md specifies")
	}
}

func TestMarkDelivered(t *testing.T) {
	t.Run("a node that holds its share has it dropped from the vault", func(t *testing.T) {
		v := testVault(t)
		held := v.Login.Nodes[2].KeyShare
		changed, err := v.MarkDelivered("cove")
		if err != nil || !changed {
			t.Fatalf("MarkDelivered = %v, %v", changed, err)
		}
		if v.Login.Nodes[2].KeyShare != nil || !isZero(held) {
			t.Fatal("the key share is still in the vault, or was not wiped")
		}
		if pending := v.Login.Pending(); len(pending) != 0 {
			t.Fatalf("still pending: %v", pending)
		}
		if err := v.CheckLogin(); err != nil {
			t.Fatalf("the changed dealing is not sealed again: %v", err)
		}
		got, err := reread(t, v)
		if err != nil {
			t.Fatalf("the vault no longer follows its rules: %v", err)
		}
		if got.Login.Nodes[2].KeyShare != nil {
			t.Fatal("a dealing without the key share reads back with one")
		}
	})
	t.Run("nothing changes for a node without a held share", func(t *testing.T) {
		v := testVault(t)
		before := mustEncode(t, v)
		for _, node := range []string{"acme", "dune"} {
			if changed, err := v.MarkDelivered(node); changed || err != nil {
				t.Errorf("MarkDelivered(%s) = %v, %v; want nothing done", node, changed, err)
			}
		}
		if !bytes.Equal(mustEncode(t, v), before) {
			t.Error("the vault changed")
		}
	})
	t.Run("a damaged dealing is not sealed again", func(t *testing.T) {
		v := testVault(t)
		v.Login.Nodes[0].PublicShare[0] ^= 1
		if changed, err := v.MarkDelivered("cove"); changed || !errors.Is(err, ErrDamagedLogin) {
			t.Fatalf("MarkDelivered = %v, %v; want ErrDamagedLogin", changed, err)
		}
		if len(v.Login.Nodes[2].KeyShare) == 0 || v.CheckLogin() == nil {
			t.Fatal("the damaged dealing was changed or sealed")
		}
	})
}

// Wipe overwrites the key shares the dealing still holds.
func TestWipeClearsHeldKeyShares(t *testing.T) {
	v := testVault(t)
	held := v.Login.Nodes[2].KeyShare
	v.Wipe()
	if !isZero(held) {
		t.Fatal("a held key share survived Wipe")
	}
}
