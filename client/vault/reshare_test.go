package vault

import (
	"bytes"
	"errors"
	"testing"
)

func testReshare(t testing.TB, v *Vault) *Reshare {
	t.Helper()
	l := testLogin(t)
	l.Epoch = 2
	r := &Reshare{Network: []byte("version: 1 # new\n"), Stage: ReshareDealing, Login: l}
	if err := v.SealReshare(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAReshareIsKeptUntilFinishedAndThenIsTheVaultsNetworkAndLogin(t *testing.T) {
	h, path := openNew(t)
	r := testReshare(t, h.Vault())
	if err := h.SetReshare(r); err != nil {
		t.Fatal(err)
	}
	h.Close()
	h = mustOpen(t, path)
	got, err := h.Reshare()
	if err != nil || got == nil || !bytes.Equal(encodeReshare(got), encodeReshare(r)) {
		t.Fatalf("Reshare after reopening = %+v, %v", got, err)
	}
	if err := h.Vault().CheckReshare(got); err != nil {
		t.Fatal(err)
	}
	if err := h.FinishReshare(got); !errors.Is(err, ErrInvalid) {
		t.Fatalf("finishing while a node lacks its key share: %v; want ErrInvalid", err)
	}
	for i := range got.Login.Nodes {
		got.Login.Nodes[i].KeyShare = nil
	}
	if err := h.FinishReshare(got); !errors.Is(err, ErrDamagedLogin) {
		t.Fatalf("finishing a reshare whose dealing changed without its MAC: %v; want ErrDamagedLogin", err)
	}
	if err := h.Vault().SealReshare(got); err != nil {
		t.Fatal(err)
	}
	if err := h.FinishReshare(got); err != nil {
		t.Fatal(err)
	}
	h.Close()
	h = mustOpen(t, path)
	if r, err := h.Reshare(); r != nil || err != nil {
		t.Fatalf("the reshare is still recorded after it finished: %+v, %v", r, err)
	}
	if !bytes.Equal(h.Vault().Network, got.Network) || h.Vault().Login.Epoch != 2 || h.Vault().CheckLogin() != nil {
		t.Fatalf("the vault after the reshare: network %q, login %+v", h.Vault().Network, h.Vault().Login)
	}
	if err := h.Verify(); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeReshare(f *testing.F) {
	v := testVault(f)
	f.Add(encodeReshare(testReshare(f, v)))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeReshare(b)
		if err != nil {
			return
		}
		if again := encodeReshare(r); !bytes.Equal(again, b) {
			t.Fatalf("an accepted reshare is not in its one encoding: %x", b)
		}
	})
}
