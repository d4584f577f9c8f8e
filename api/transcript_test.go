package api

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestLoginTranscriptEncoding(t *testing.T) {
	got := LoginTranscript([]byte{0xaa}, []byte{0xbb, 0xcc}, "al", []byte{1, 2, 3})
	want, _ := hex.DecodeString("" +
		"0000000f" + hex.EncodeToString([]byte("custos/v2/login")) +
		"00000001aa" + "00000002bbcc" + "00000002" + hex.EncodeToString([]byte("al")) + "00000003010203")
	if !bytes.Equal(got, want) {
		t.Fatalf("login transcript\n got %x\nwant %x", got, want)
	}
}

func TestReleaseTranscriptEncoding(t *testing.T) {
	units := []*UnitRef{unit(0x11, 2)}
	got := ReleaseTranscript([]byte{0xaa}, []byte{0xbb}, "u", 0x0102, []byte{9}, units)
	want, _ := hex.DecodeString("" +
		"00000011" + hex.EncodeToString([]byte("custos/v1/release")) +
		"00000001aa" + "00000001bb" + "0000000175" + "0000000000000102" + "0000000109" +
		"00000001" + "11111111111111111111111111111111" + "0000000000000002")
	if !bytes.Equal(got, want) {
		t.Fatalf("release transcript\n got %x\nwant %x", got, want)
	}
	if bytes.Equal(got, ReleaseTranscript([]byte{0xab}, []byte{0xbb}, "u", 0x0102, []byte{9}, units)) {
		t.Fatal("the transcript does not depend on the node")
	}
}

func newDevice(t testing.TB) (ed25519.PrivateKey, peer.ID) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	lpub, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(lpub)
	if err != nil {
		t.Fatal(err)
	}
	return priv, id
}

func TestEntryDeviceSignature(t *testing.T) {
	priv, dev := newDevice(t)
	node := []byte("node peer id")
	e := &Entry{
		Kind: EntryKind_RELEASE, User: "alice", ClientPeerId: []byte(dev),
		Units: []*UnitRef{unit(1, 1)}, RequestTimeUnixMs: 42, RequestNonce: make([]byte, RequestNonceSize),
	}
	e.DeviceSignature = ed25519.Sign(priv, ReleaseTranscript(node, e.ClientPeerId, e.User, 42, e.RequestNonce, e.Units))
	b, err := MarshalEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.VerifyDevice(node); err != nil {
		t.Fatalf("a genuine release entry does not verify: %v", err)
	}
	_, other := newDevice(t)
	tamper := []struct {
		name string
		f    func(e *Entry)
	}{
		{"another node", func(e *Entry) {}},
		{"another user", func(e *Entry) { e.User = "mallory" }},
		{"another unit", func(e *Entry) { e.Units = []*UnitRef{unit(2, 1)} }},
		{"another version", func(e *Entry) { e.Units = []*UnitRef{unit(1, 2)} }},
		{"another time", func(e *Entry) { e.RequestTimeUnixMs++ }},
		{"another device", func(e *Entry) { e.ClientPeerId = []byte(other) }},
		{"no signature", func(e *Entry) { e.DeviceSignature = nil }},
	}
	for i, tc := range tamper {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			c, _ := ParseEntry(b)
			tc.f(c)
			n := node
			if i == 0 {
				n = []byte("another node")
			}
			if err := c.VerifyDevice(n); err == nil {
				t.Fatal("the tampered entry verifies")
			}
		})
	}
}

func TestParseEntryRules(t *testing.T) {
	good, _ := MarshalEntry(&Entry{Kind: EntryKind_LOGIN, User: "a"})
	future := append([]byte{0x08, 0x02}, good[2:]...) // format 2
	for name, in := range map[string][]byte{
		"empty bytes are refused":          nil,
		"an unknown format is refused":     future,
		"garbage is refused":               {0xff, 0xff},
		"an oversized entry is refused":    make([]byte, MaxEntrySize+1),
		"a message of format 0 is refused": {0x18, 0x02},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseEntry(in); !errors.Is(err, ErrEntryMalformed) {
				t.Fatalf("ParseEntry = %v", err)
			}
		})
	}
}

func FuzzParseEntry(f *testing.F) {
	good, _ := MarshalEntry(&Entry{Kind: EntryKind_RELEASE, User: "a", Units: []*UnitRef{unit(1, 1)}})
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEntry(b)
		if err != nil {
			return
		}
		_ = e.VerifyDevice([]byte("node")) // must not panic
	})
}
