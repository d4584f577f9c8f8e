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

// adoptable is a dealing of epoch 2 over the test vault's nodes, as a
// password change on another device makes it (no key shares).
func adoptable(t *testing.T, v *Vault) *Login {
	t.Helper()
	l := &Login{Epoch: 2, Threshold: 2}
	for i, ln := range v.Login.Nodes {
		ks := testKeyShare(t, ln.Index, byte(0x71+i))
		pub := ks.Public()
		ks.Wipe()
		l.Nodes = append(l.Nodes, LoginNode{Name: ln.Name, PeerID: ln.PeerID, Index: ln.Index, PublicShare: pub.Element[:]})
	}
	return l
}

// AdoptLogin takes a later dealing, sealed, and gives back the one it
// replaced; it refuses while the vault's enrollment is unfinished or its
// own password change is under way, a dealing that is not later, a damaged
// current dealing, and a malformed one, and changes nothing then.
func TestAdoptLogin(t *testing.T) {
	delivered := func(t *testing.T) *Vault {
		v := testVault(t)
		if _, err := v.MarkDelivered("cove"); err != nil {
			t.Fatal(err)
		}
		return v
	}
	refused := func(t *testing.T, v *Vault, l *Login) {
		t.Helper()
		before := v.Login
		if _, err := v.AdoptLogin(l); err == nil {
			t.Fatal("adopted")
		}
		if v.Login != before || v.CheckLogin() != nil {
			t.Error("a refused adoption changed the dealing")
		}
	}
	t.Run("a later dealing is taken", func(t *testing.T) {
		v := delivered(t)
		before, l := v.Login, adoptable(t, v)
		old, err := v.AdoptLogin(l)
		if err != nil || old != before || v.Login != l || v.CheckLogin() != nil {
			t.Fatalf("AdoptLogin = %v, %v; the vault's dealing %+v", old, err, v.Login)
		}
		if _, err := reread(t, v); err != nil {
			t.Errorf("the vault does not read back: %v", err)
		}
	})
	t.Run("an unfinished enrollment refuses", func(t *testing.T) {
		v := testVault(t)
		refused(t, v, adoptable(t, v))
	})
	t.Run("a password change under way refuses", func(t *testing.T) {
		v := changeVault(t, ChangeStaged)
		refused(t, v, adoptable(t, v))
	})
	t.Run("the same epoch refuses", func(t *testing.T) {
		v := delivered(t)
		l := adoptable(t, v)
		l.Epoch = 1
		refused(t, v, l)
	})
	t.Run("a damaged dealing refuses", func(t *testing.T) {
		v := delivered(t)
		l := adoptable(t, v)
		v.Login.Nodes[0].PublicShare[3] ^= 1
		if _, err := v.AdoptLogin(l); !errors.Is(err, ErrDamagedLogin) {
			t.Errorf("AdoptLogin over damage: %v, want ErrDamagedLogin", err)
		}
	})
	t.Run("a malformed dealing refuses", func(t *testing.T) {
		v := delivered(t)
		l := adoptable(t, v)
		l.Nodes[1].Index = 1
		refused(t, v, l)
	})
}
