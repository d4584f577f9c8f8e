package vault

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// changeVault returns testVault with its enrollment finished and a
// password change to epoch 2 in state, sealed: staged at every node from
// ChangeStaged on, committed at acme when committing.
func changeVault(t testing.TB, state ChangeState) *Vault {
	t.Helper()
	v := testVault(t)
	if _, err := v.MarkDelivered("cove"); err != nil {
		t.Fatal(err)
	}
	p := &PasswordChange{State: state, Epoch: 2, Threshold: 2}
	for i, ln := range v.Login.Nodes {
		ks := testKeyShare(t, ln.Index, byte(0x61+i))
		pub := ks.Public()
		ks.Wipe()
		n := ChangeNode{Name: ln.Name, PeerID: ln.PeerID, Index: ln.Index, PublicShare: pub.Element[:]}
		n.Staged = state == ChangeStaged || state == ChangeCommitting
		n.Committed = state == ChangeCommitting && i == 0
		p.Nodes = append(p.Nodes, n)
	}
	v.PasswordChange = p
	if err := v.SealChange(); err != nil {
		t.Fatal(err)
	}
	return v
}

// A vault with a password change in any state reads back as written.
func TestPasswordChangeRoundTrips(t *testing.T) {
	for _, state := range []ChangeState{ChangeStaging, ChangeStaged, ChangeCommitting, ChangeAborting} {
		t.Run(string(state), func(t *testing.T) {
			v := changeVault(t, state)
			b := mustEncode(t, v)
			got, err := reread(t, v)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer got.Wipe()
			if !bytes.Equal(mustEncode(t, got), b) {
				t.Error("the vault does not read back as written")
			}
			if err := got.CheckChange(); err != nil {
				t.Errorf("CheckChange after a round trip: %v", err)
			}
			if !strings.Contains(got.String(), "password change to epoch 2: "+string(state)) {
				t.Errorf("String does not show the change: %s", got)
			}
		})
	}
}

// The rules a password change must follow, each refused on read.
func TestPasswordChangeRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state ChangeState
		f     func(v *Vault)
	}{
		{"a change of no login dealing is refused", ChangeStaging, func(v *Vault) { v.Login = nil }},
		{"a change during an unfinished enrollment is refused", ChangeStaging, func(v *Vault) {
			v.Login = testLogin(t)
		}},
		{"a change to the same epoch is refused", ChangeStaging, func(v *Vault) { v.PasswordChange.Epoch = 1 }},
		{"a change two epochs on is refused", ChangeStaging, func(v *Vault) { v.PasswordChange.Epoch = 3 }},
		{"a change of another threshold is refused", ChangeStaging, func(v *Vault) { v.PasswordChange.Threshold = 3 }},
		{"a change of fewer nodes is refused", ChangeStaging, func(v *Vault) { v.PasswordChange.Nodes = v.PasswordChange.Nodes[:2] }},
		{"a change of another node is refused", ChangeStaging, func(v *Vault) { v.PasswordChange.Nodes[1].Name = "dune" }},
		{"a change of another peer ID is refused", ChangeStaging, func(v *Vault) {
			v.PasswordChange.Nodes[1].PeerID = v.PasswordChange.Nodes[2].PeerID
		}},
		{"a change with another index is refused", ChangeStaging, func(v *Vault) { v.PasswordChange.Nodes[2].Index = 4 }},
		{"a public share that is no element is refused", ChangeStaging, func(v *Vault) {
			v.PasswordChange.Nodes[0].PublicShare = bytes.Repeat([]byte{0xff}, 32)
		}},
		{"a change without a MAC is refused", ChangeStaging, func(v *Vault) { v.PasswordChange.MAC = nil }},
		{"an unknown state is refused", ChangeStaging, func(v *Vault) { v.PasswordChange.State = "done" }},
		{"committed without staged is refused", ChangeCommitting, func(v *Vault) { v.PasswordChange.Nodes[0].Staged = false }},
		{"staging with a commit is refused", ChangeStaging, func(v *Vault) {
			v.PasswordChange.Nodes[0].Staged, v.PasswordChange.Nodes[0].Committed = true, true
		}},
		{"aborting with a commit is refused", ChangeAborting, func(v *Vault) {
			v.PasswordChange.Nodes[0].Staged, v.PasswordChange.Nodes[0].Committed = true, true
		}},
		{"staged but not at every node is refused", ChangeStaged, func(v *Vault) { v.PasswordChange.Nodes[2].Staged = false }},
		{"committing but not staged at every node is refused", ChangeCommitting, func(v *Vault) { v.PasswordChange.Nodes[2].Staged = false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := changeVault(t, tc.state)
			tc.f(v)
			if err := v.check(); err == nil {
				t.Fatal("the vault passes its checks")
			}
			if _, err := reread(t, v); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open = %v, want ErrCorrupt", err)
			}
		})
	}
}

// Every field of a password change is covered by its MAC.
func TestPasswordChangeMACCoversEveryField(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(p *PasswordChange)
	}{
		{"another state is damage", func(p *PasswordChange) { p.State = ChangeAborting }},
		{"another epoch is damage", func(p *PasswordChange) { p.Epoch++ }},
		{"another threshold is damage", func(p *PasswordChange) { p.Threshold = 3 }},
		{"a node fewer is damage", func(p *PasswordChange) { p.Nodes = p.Nodes[:2] }},
		{"another node name is damage", func(p *PasswordChange) { p.Nodes[1].Name = "bolt2" }},
		{"another peer ID is damage", func(p *PasswordChange) { p.Nodes[1].PeerID = p.Nodes[2].PeerID }},
		{"another index is damage", func(p *PasswordChange) { p.Nodes[2].Index = 4 }},
		{"another public share is damage", func(p *PasswordChange) { p.Nodes[0].PublicShare[5] ^= 1 }},
		{"a stage undone is damage", func(p *PasswordChange) { p.Nodes[1].Staged = false }},
		{"a commit added is damage", func(p *PasswordChange) { p.Nodes[1].Committed = true }},
		{"another MAC is damage", func(p *PasswordChange) { p.MAC[0] ^= 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := changeVault(t, ChangeCommitting)
			if err := v.CheckChange(); err != nil {
				t.Fatalf("the change as sealed: %v", err)
			}
			tc.change(v.PasswordChange)
			if err := v.CheckChange(); !errors.Is(err, ErrDamagedLogin) {
				t.Fatalf("CheckChange = %v, want ErrDamagedLogin", err)
			}
			if err := v.FinishChange(); err == nil {
				t.Fatal("a damaged change was made the login dealing")
			}
		})
	}
}

// specChangeMAC computes the MAC of a password change as docs/vault.md
// specifies it, independently of changeMACInput.
func specChangeMAC(master []byte, p *PasswordChange) []byte {
	lp := func(b, x []byte) []byte { return append(binary.BigEndian.AppendUint32(b, uint32(len(x))), x...) }
	u8 := func(b bool) byte {
		if b {
			return 1
		}
		return 0
	}
	m := lp(nil, []byte(p.State))
	m = binary.BigEndian.AppendUint32(m, p.Epoch)
	m = binary.BigEndian.AppendUint64(m, uint64(p.Threshold))
	m = binary.BigEndian.AppendUint32(m, uint32(len(p.Nodes)))
	for _, n := range p.Nodes {
		m = lp(m, []byte(n.Name))
		m = lp(m, []byte(n.PeerID))
		m = binary.BigEndian.AppendUint64(m, uint64(n.Index))
		m = lp(m, n.PublicShare)
		m = append(m, u8(n.Staged), u8(n.Committed))
	}
	key, err := hkdf.Key(sha256.New, master, nil, "custos/v2/vault-passwd", 32)
	if err != nil {
		panic(err)
	}
	h := hmac.New(sha256.New, key)
	h.Write(m)
	return h.Sum(nil)
}

func TestPasswordChangeMACMatchesTheSpec(t *testing.T) {
	v := changeVault(t, ChangeCommitting)
	if want := specChangeMAC(v.MasterSecret, v.PasswordChange); !bytes.Equal(v.PasswordChange.MAC, want) {
		t.Error("the password change's MAC is not the one docs/vault.md specifies")
	}
}

// FinishChange makes a change committed at every node the login dealing,
// sealed, and refuses one that is not.
func TestFinishChange(t *testing.T) {
	v := changeVault(t, ChangeCommitting)
	if err := v.FinishChange(); err == nil {
		t.Fatal("a change committed at one node of three became the login dealing")
	}
	if v.PasswordChange == nil || v.Login.Epoch != 1 {
		t.Fatal("a refused FinishChange changed the vault")
	}
	for i := range v.PasswordChange.Nodes {
		v.PasswordChange.Nodes[i].Committed = true
	}
	if err := v.SealChange(); err != nil {
		t.Fatal(err)
	}
	want := v.PasswordChange
	if err := v.FinishChange(); err != nil {
		t.Fatalf("FinishChange: %v", err)
	}
	if v.PasswordChange != nil || v.Login.Epoch != 2 || v.Login.Threshold != want.Threshold {
		t.Fatalf("after FinishChange: change %v, login epoch %d", v.PasswordChange, v.Login.Epoch)
	}
	for i, n := range v.Login.Nodes {
		if !bytes.Equal(n.PublicShare, want.Nodes[i].PublicShare) || n.KeyShare != nil || n.Name != want.Nodes[i].Name {
			t.Errorf("login node %d is not the change's", i)
		}
	}
	if err := v.CheckLogin(); err != nil {
		t.Errorf("the new login dealing is not sealed: %v", err)
	}
	if err := v.check(); err != nil {
		t.Errorf("the vault after FinishChange breaks a rule: %v", err)
	}
}
