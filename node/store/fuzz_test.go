package store

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

func FuzzDecodeAccount(f *testing.F) {
	a := testAccount("alice")
	good, err := encodeAccount(a)
	if err != nil {
		f.Fatal(err)
	}
	a.Staged = testDealing("alice", 2)
	staged, err := encodeAccount(a)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(staged)
	f.Add(good[:len(good)/2])
	f.Add(bytes.Replace(good, []byte(`"v":2`), []byte(`"v":1`), 1))
	f.Add(bytes.Replace(good, []byte(`"v":2`), []byte(`"v":2,"x":0`), 1))
	f.Add(bytes.Replace(staged, []byte(`"epoch":2`), []byte(`"epoch":3`), 1))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAccount(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || a != nil {
				t.Fatalf("decodeAccount failed with %v; want ErrCorrupt and nothing", err)
			}
			return
		}
		// What decodes is a valid account that survives a round trip.
		again, err := encodeAccount(a)
		if err != nil {
			t.Fatalf("decoded account does not encode: %v", err)
		}
		b2, err := decodeAccount(again)
		if err != nil || !sameAccount(a, b2) {
			t.Fatalf("round trip changed the account (%v)", err)
		}
	})
}

func FuzzDecodeInvite(f *testing.F) {
	good, err := encodeInvite(&Invite{Hash: [32]byte{0xab, 1}, User: "alice", Expires: epoch, Created: epoch})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(bytes.ToUpper(good))
	f.Add([]byte(`{"v":1,"hash":"","user":"a"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		inv, err := decodeInvite(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || inv != nil {
				t.Fatalf("decodeInvite failed with %v; want ErrCorrupt and nothing", err)
			}
			return
		}
		again, err := encodeInvite(inv)
		if err != nil {
			t.Fatalf("decoded invite does not encode: %v", err)
		}
		inv2, err := decodeInvite(again)
		if err != nil || !sameInvite(inv, inv2) {
			t.Fatalf("round trip changed the invite (%v)", err)
		}
	})
}

func FuzzUnwrapShare(f *testing.F) {
	aead, err := newShareAEAD(bytes.Repeat([]byte{0x42}, chacha20poly1305.KeySize))
	if err != nil {
		f.Fatal(err)
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	good := wrapShare(aead, nonce, "alice", unit(1), 1, testShare("alice", unit(1), 1))
	f.Add(good, "alice", uint64(1))
	f.Add(good, "alicf", uint64(1))
	f.Add(good[:shareWrapOverhead], "alice", uint64(1))
	f.Add(append([]byte{0x02}, good[1:]...), "alice", uint64(1))
	f.Fuzz(func(t *testing.T, wrapped []byte, user string, version uint64) {
		share, err := unwrapShare(aead, user, unit(1), version, wrapped)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || share != nil {
				t.Fatalf("unwrapShare failed with %v and %d bytes; want ErrCorrupt and nothing", err, len(share))
			}
			return
		}
		defer clear(share)
		// Only what wrapShare makes for this user, unit and version opens.
		again := wrapShare(aead, wrapped[1:1+len(nonce)], user, unit(1), version, share)
		if !bytes.Equal(again, wrapped) {
			t.Fatal("unwrapShare accepted bytes that wrapShare does not make")
		}
	})
}
