package threshold

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

func TestDerivationsSeparate(t *testing.T) {
	m, err := NewMasterSecret()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServerKey()
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := DeriveClientKey(m, UnitID{1})
	c2, _ := DeriveClientKey(m, UnitID{2})
	if bytes.Equal(c1.Bytes(), c2.Bytes()) {
		t.Error("two units share a client key")
	}
	k1, _ := DeriveDataKey(c1, s, UnitID{1}, 1)
	k2, _ := DeriveDataKey(c1, s, UnitID{1}, 2)
	if bytes.Equal(k1.Bytes(), k2.Bytes()) {
		t.Error("two versions share a data key")
	}
}

func TestDerivationsRefuseMissingSecrets(t *testing.T) {
	m, _ := NewMasterSecret()
	c, _ := DeriveClientKey(m, UnitID{})
	s, _ := NewServerKey()
	wiped, _ := NewServerKey()
	wiped.Wipe()
	errs := map[string]error{}
	_, errs["a client key from a zero master secret"] = DeriveClientKey(MasterSecret{}, UnitID{})
	_, errs["a data key from a zero server key"] = DeriveDataKey(c, ServerKey{}, UnitID{}, 1)
	_, errs["a data key from a wiped server key"] = DeriveDataKey(c, wiped, UnitID{}, 1)
	_, errs["a data key from a zero client key"] = DeriveDataKey(ClientKey{}, s, UnitID{}, 1)
	_, errs["a signature by a zero node key"] = NodeAuthKey{}.Sign([]byte("m"))
	_, errs["a seal under a zero data key"] = Seal(DataKey{}, "u", UnitID{}, 1, nil)
	for name, err := range errs {
		t.Run(name+" is refused", func(t *testing.T) {
			if !errors.Is(err, ErrNoSecret) {
				t.Fatalf("err = %v; want ErrNoSecret", err)
			}
		})
	}
	if (NodeAuthKey{}).Public() != nil {
		t.Error("a zero node key has a public key")
	}
}

func TestNodeAuthKeyIsBoundToItsNode(t *testing.T) {
	m, err := NewMasterSecret()
	if err != nil {
		t.Fatal(err)
	}
	rwd := newRWD(t, 7)
	ka, err := DeriveLoginKey(rwd, m, specPeerID("a"))
	if err != nil {
		t.Fatal(err)
	}
	kb, err := DeriveLoginKey(rwd, m, specPeerID("b"))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("login at a")
	sig, err := ka.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(ka.Public(), msg, sig) {
		t.Fatal("a signature does not verify with its own node's key")
	}
	if ed25519.Verify(kb.Public(), msg, sig) {
		t.Fatal("a signature made for node a verifies at node b")
	}
	if kc, _ := DeriveLoginKey(newRWD(t, 8), m, specPeerID("a")); bytes.Equal(kc.Public(), ka.Public()) {
		t.Fatal("another password gives the same key")
	}
	if _, err := DeriveLoginKey(rwd, m, nil); err == nil {
		t.Fatal("a key for an empty peer ID was derived")
	}
}

func TestPasswordKDF(t *testing.T) {
	kdf, err := NewPasswordKDF()
	if err != nil {
		t.Fatal(err)
	}
	if kdf.Time != 3 || kdf.Memory != 64*1024 || kdf.Threads != 4 || len(kdf.Salt) != SaltSize {
		t.Fatalf("defaults are %+v; want RFC 9106's second recommendation", kdf)
	}
	with := func(f func(*PasswordKDF)) PasswordKDF {
		p := kdf
		f(&p)
		return p
	}
	bad := []struct {
		name string
		kdf  PasswordKDF
	}{
		{"a short salt is refused", with(func(p *PasswordKDF) { p.Salt = p.Salt[:8] })},
		{"memory below 64 MiB is refused", with(func(p *PasswordKDF) { p.Memory = 32 * 1024 })},
		{"memory above 4 GiB is refused", with(func(p *PasswordKDF) { p.Memory = 4<<20 + 1 })},
		{"zero passes are refused", with(func(p *PasswordKDF) { p.Time = 0 })},
		{"too many passes are refused", with(func(p *PasswordKDF) { p.Time = 65 })},
		{"zero threads are refused", with(func(p *PasswordKDF) { p.Threads = 0 })},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.kdf.Derive([]byte("pw")); err == nil {
				t.Fatal("Derive succeeded")
			}
		})
	}
	if _, err := kdf.Derive(nil); err == nil {
		t.Error("an empty password was hashed")
	}
	if _, err := kdf.Derive([]byte(strings.Repeat("x", maxPasswordBytes+1))); err == nil {
		t.Error("an over-long password was hashed")
	}
}
