package threshold

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzKey is a fixed data key, so that a record sealed in the seed corpus
// opens during fuzzing.
var fuzzKey = DataKey{secretFrom(bytes.Repeat([]byte{0x42}, KeySize))}

func FuzzOpen(f *testing.F) {
	good, err := seal(fuzzKey, make([]byte, 24), "alice", UnitID{1}, 1, []byte("record"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "alice", uint64(1))
	f.Add(good[:sealedOverhead], "alice", uint64(1))
	f.Add([]byte{0x02}, "bob", uint64(0))
	f.Fuzz(func(t *testing.T, sealed []byte, user string, version uint64) {
		record, err := Open(fuzzKey, user, UnitID{1}, version, sealed)
		if err != nil {
			if !errors.Is(err, ErrOpen) || record != nil {
				t.Fatalf("Open failed with %v and %d bytes; want ErrOpen and nothing", err, len(record))
			}
			return
		}
		// Only what Seal made under this key and associated data opens.
		again, err := seal(fuzzKey, sealed[1:25], user, UnitID{1}, version, record)
		if err != nil || !bytes.Equal(again, sealed) {
			t.Fatal("Open accepted bytes that Seal does not make")
		}
	})
}

func FuzzSealOpen(f *testing.F) {
	f.Add([]byte("password"), "alice", uint64(1))
	f.Fuzz(func(t *testing.T, record []byte, user string, version uint64) {
		sealed, err := Seal(fuzzKey, user, UnitID{9}, version, record)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Open(fuzzKey, user, UnitID{9}, version, sealed)
		if err != nil || !bytes.Equal(got, record) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseShare(f *testing.F) {
	f.Add(append(make([]byte, KeySize), 1))
	f.Add(make([]byte, ShareSize))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseShare(b)
		valid := len(b) == ShareSize && b[ShareSize-1] != 0
		if (err == nil) != valid {
			t.Fatalf("ParseShare(%d bytes) = %v", len(b), err)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(s.Bytes(), b) {
			t.Fatal("the share differs from its bytes")
		}
		c := Commit(UnitID{}, 1, []byte("peer"), s.Bytes())
		if !c.Verify(UnitID{}, 1, []byte("peer"), s.Bytes()) {
			t.Fatal("a share does not verify against its own commitment")
		}
	})
}

// FuzzCombine lets the fuzzer replace any of five custodians' shares of a
// 3-of-5 dealing with bytes of its choice: Combine must never fail to name a
// replaced share, and never return a key other than the dealt one.
func FuzzCombine(f *testing.F) {
	d := deal(f, 5, 3)
	f.Add(uint8(0b00111), []byte{})
	f.Add(uint8(0b11111), bytes.Repeat([]byte{1}, 5*ShareSize))
	f.Fuzz(func(t *testing.T, answered uint8, forged []byte) {
		slots := make([]Slot, len(d.slots))
		copy(slots, d.slots)
		replaced := map[string]bool{}
		for i := range slots {
			if answered&(1<<i) == 0 {
				continue
			}
			slots[i].Share = d.shares[i]
			// The first byte of what is left says how long the forged
			// share is, so the fuzzer can send short and long ones too.
			if len(forged) > 0 {
				n := min(int(forged[0])%(ShareSize+2), len(forged)-1)
				if f := forged[1 : 1+n]; !bytes.Equal(f, d.shares[i]) {
					slots[i].Share = f
					replaced[slots[i].Node] = true
				}
				forged = forged[1+n:]
			}
		}
		key, blame, err := Combine(d.k, d.unit, d.version, d.keyCommit, slots)
		if err == nil && !bytes.Equal(key.Bytes(), d.key.Bytes()) {
			t.Fatal("Combine returned a wrong key")
		}
		if len(blame.Bad) != len(replaced) {
			t.Fatalf("blame.Bad = %v; replaced %v", blame.Bad, replaced)
		}
		for _, n := range blame.Bad {
			if !replaced[n] {
				t.Fatalf("%s named bad but its share was not replaced", n)
			}
		}
	})
}
