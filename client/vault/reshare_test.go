package vault

import (
	"bytes"
	"errors"
	"fmt"
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

func TestClosedAccountsAreKeptWithTheReshareAndGoWithIt(t *testing.T) {
	h, path := openNew(t)
	if err := h.AddClosedAccount("n4"); err == nil {
		t.Fatal("a closed account recorded with no reshare under way")
	}
	r := testReshare(t, h.Vault())
	if err := h.SetReshare(r); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"n4", "n5", "n4"} {
		if err := h.AddClosedAccount(n); err != nil {
			t.Fatalf("AddClosedAccount(%s): %v", n, err)
		}
	}
	if err := h.AddClosedAccount("not a node name!"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a closed account at a bad node name: %v; want ErrInvalid", err)
	}
	h.Close()
	h = mustOpen(t, path)
	got, err := h.ClosedAccounts()
	if err != nil || fmt.Sprint(got) != "[n4 n5]" {
		t.Fatalf("ClosedAccounts after reopening = %v, %v; want [n4 n5]", got, err)
	}
	for i := range r.Login.Nodes {
		r.Login.Nodes[i].KeyShare = nil
	}
	if err := h.Vault().SealReshare(r); err != nil {
		t.Fatal(err)
	}
	if err := h.FinishReshare(r); err != nil {
		t.Fatal(err)
	}
	if got, err := h.ClosedAccounts(); err != nil || len(got) != 0 {
		t.Errorf("ClosedAccounts after the reshare finished = %v, %v; want none", got, err)
	}
}

func FuzzDecodeClosed(f *testing.F) {
	f.Add(encodeClosed([]string{"n4", "n5"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		names, err := decodeClosed(b)
		if err != nil {
			return
		}
		if again := encodeClosed(names); !bytes.Equal(again, b) {
			t.Fatalf("accepted closed accounts are not in their one encoding: %x", b)
		}
	})
}
