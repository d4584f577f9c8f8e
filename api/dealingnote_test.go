package api

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
)

// goodNote is a valid 2-of-3 dealing note of epoch 2 with the public
// shares of a fresh key.
func goodNote(t testing.TB) *DealingNote {
	t.Helper()
	keys, pubs := splitKey(t)
	n := &DealingNote{Epoch: 2, Threshold: 2, Mac: bytes.Repeat([]byte{7}, DealingNoteMACSize)}
	for i := range keys {
		keys[i].Wipe()
		n.Shares = append(n.Shares, &DealingNoteShare{PeerId: []byte{byte(i + 1), 2, 3}, Index: uint32(pubs[i].Index), PublicShare: pubs[i].Element[:]})
	}
	return n
}

func TestDealingNoteValidateRefusesWhatNoDeviceMade(t *testing.T) {
	cases := []struct {
		name string
		edit func(n *DealingNote)
	}{
		{"epoch 1, enrollment's", func(n *DealingNote) { n.Epoch = 1 }},
		{"threshold above the shares", func(n *DealingNote) { n.Threshold = 4 }},
		{"threshold 1", func(n *DealingNote) { n.Threshold = 1 }},
		{"one share", func(n *DealingNote) { n.Shares = n.Shares[:1] }},
		{"indexes not ascending", func(n *DealingNote) { n.Shares[1].Index = 1 }},
		{"index 0", func(n *DealingNote) { n.Shares[0].Index = 0 }},
		{"no peer ID", func(n *DealingNote) { n.Shares[2].PeerId = nil }},
		{"a public share not an element", func(n *DealingNote) { n.Shares[0].PublicShare = bytes.Repeat([]byte{0xff}, 32) }},
		{"a short MAC", func(n *DealingNote) { n.Mac = n.Mac[:31] }},
		{"a nil share", func(n *DealingNote) { n.Shares[1] = nil }},
	}
	if err := goodNote(t).Validate(); err != nil {
		t.Fatalf("a good note: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := goodNote(t)
			tc.edit(n)
			if err := n.Validate(); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("Validate = %v, want INVALID_ARGUMENT", err)
			}
		})
	}
	if _, err := DecodeDealingNote(make([]byte, MaxDealingNoteSize+1)); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("an over-long note: %v, want INVALID_ARGUMENT", err)
	}
}

// The transcript binds every field but the MAC, and the user.
func TestDealingNoteTranscriptBindsEveryField(t *testing.T) {
	base := DealingNoteTranscript("alice", goodNote(t))
	n := goodNote(t)
	if bytes.Equal(base, DealingNoteTranscript("alice", n)) {
		t.Fatal("two dealings have one transcript")
	}
	same := proto.Clone(n).(*DealingNote)
	same.Mac[0] ^= 1
	if !bytes.Equal(DealingNoteTranscript("alice", n), DealingNoteTranscript("alice", same)) {
		t.Error("the MAC is in the transcript")
	}
	for name, edit := range map[string]func(*DealingNote){
		"epoch":     func(n *DealingNote) { n.Epoch++ },
		"threshold": func(n *DealingNote) { n.Threshold++ },
		"peer ID":   func(n *DealingNote) { n.Shares[0].PeerId[0] ^= 1 },
		"index":     func(n *DealingNote) { n.Shares[2].Index++ },
		"share":     func(n *DealingNote) { n.Shares[1].PublicShare[0] ^= 1 },
		"count":     func(n *DealingNote) { n.Shares = n.Shares[:2] },
	} {
		c := proto.Clone(n).(*DealingNote)
		edit(c)
		if bytes.Equal(DealingNoteTranscript("alice", n), DealingNoteTranscript("alice", c)) {
			t.Errorf("the %s is not bound", name)
		}
	}
	if bytes.Equal(DealingNoteTranscript("alice", n), DealingNoteTranscript("bob", n)) {
		t.Error("the user is not bound")
	}
}

// FuzzDecodeDealingNote decodes a note as a node reads it from a stage, or
// a device from a node: what it accepts is valid, fits the size cap, and
// encodes back to a note that decodes to the same.
func FuzzDecodeDealingNote(f *testing.F) {
	good, err := proto.Marshal(goodNote(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeDealingNote(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("refused with %v; want INVALID_ARGUMENT", err)
			}
			return
		}
		if n.Validate() != nil || len(n.Mac) != DealingNoteMACSize || int(n.Threshold) > len(n.Shares) {
			t.Fatal("accepted a note that does not validate")
		}
		again, err := proto.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		m, err := DecodeDealingNote(again)
		if err != nil || !proto.Equal(n, m) {
			t.Fatalf("an accepted note does not decode again the same: %v", err)
		}
	})
}
