package threshold

import (
	"bytes"
	"errors"
	"testing"
)

func newRWD(t *testing.T, fill byte) RandomizedPassword {
	t.Helper()
	rwd, err := RandomizedPasswordFromBytes(bytes.Repeat([]byte{fill}, RandomizedPasswordSize))
	if err != nil {
		t.Fatal(err)
	}
	return rwd
}

func TestLoginKeyDependsOnEveryInput(t *testing.T) {
	m, _ := MasterSecretFromBytes(bytes.Repeat([]byte{7}, KeySize))
	m2, _ := MasterSecretFromBytes(bytes.Repeat([]byte{8}, KeySize))
	rwd, rwd2 := newRWD(t, 1), newRWD(t, 2)
	peerA, peerB := []byte("node a"), []byte("node b")
	pub := func(r RandomizedPassword, m MasterSecret, peer []byte) string {
		k, err := DeriveLoginKey(r, m, peer)
		if err != nil {
			t.Fatal(err)
		}
		return string(k.Public())
	}
	base := pub(rwd, m, peerA)
	if pub(rwd, m, peerA) != base {
		t.Fatal("the same inputs gave two login keys")
	}
	for name, other := range map[string]string{
		"another OPRF output gives another key": pub(rwd2, m, peerA),
		"another device gives another key":      pub(rwd, m2, peerA),
		"another node gives another key":        pub(rwd, m, peerB),
	} {
		if other == base {
			t.Error(name + ": it did not")
		}
	}
}

func TestLoginKeyRefusesMissingInputs(t *testing.T) {
	m, _ := MasterSecretFromBytes(bytes.Repeat([]byte{7}, KeySize))
	wipedRWD, wipedM := newRWD(t, 1), MasterSecret{secretFrom(m.Bytes())}
	wipedRWD.Wipe()
	wipedM.Wipe()
	for _, tc := range []struct {
		name string
		rwd  RandomizedPassword
		m    MasterSecret
		peer []byte
		want error
	}{
		{"a zero OPRF output is refused", RandomizedPassword{}, m, []byte("p"), ErrNoSecret},
		{"a wiped OPRF output is refused", wipedRWD, m, []byte("p"), ErrNoSecret},
		{"a zero master secret is refused", newRWD(t, 1), MasterSecret{}, []byte("p"), ErrNoSecret},
		{"a wiped master secret is refused", newRWD(t, 1), wipedM, []byte("p"), ErrNoSecret},
		{"a 32-byte secret as OPRF output is refused", RandomizedPassword{secretFrom(m.Bytes())}, m, []byte("p"), ErrNoSecret},
		{"an empty peer ID is refused", newRWD(t, 1), m, nil, nil},
		{"an over-long peer ID is refused", newRWD(t, 1), m, make([]byte, MaxPeerIDLen+1), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := DeriveLoginKey(tc.rwd, tc.m, tc.peer)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("DeriveLoginKey = %v; want %v", err, tc.want)
			}
			if !k.IsZero() {
				t.Fatal("a key came back with the error")
			}
		})
	}
}

func TestRandomizedPasswordFromBytes(t *testing.T) {
	b := bytes.Repeat([]byte{3}, RandomizedPasswordSize)
	rwd, err := RandomizedPasswordFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	if rwd.Bytes()[0] != 3 {
		t.Fatal("the randomized password shares memory with its input")
	}
	for _, n := range []int{0, 32, 63, 65} {
		if _, err := RandomizedPasswordFromBytes(make([]byte, n)); err == nil {
			t.Errorf("a randomized password of %d bytes was taken", n)
		}
	}
}
