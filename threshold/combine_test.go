package threshold

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// subsets returns every subset of {0..n-1} with exactly k members, as masks.
func subsets(n, k int) [][]bool {
	var out [][]bool
	for mask := 0; mask < 1<<n; mask++ {
		if bitCount(mask) != k {
			continue
		}
		in := make([]bool, n)
		for i := range in {
			in[i] = mask&(1<<i) != 0
		}
		out = append(out, in)
	}
	return out
}

func bitCount(v int) (c int) {
	for ; v != 0; v &= v - 1 {
		c++
	}
	return c
}

// dealing is one unit version split among n named custodians.
type dealing struct {
	key     ServerKey
	unit    UnitID
	version uint64
	k       int
	shares  []Share
	slots   []Slot // every slot with its commitment and no share
}

func deal(t testing.TB, n, k int) dealing {
	t.Helper()
	key, err := NewServerKey()
	if err != nil {
		t.Fatal(err)
	}
	unit, err := NewUnitID()
	if err != nil {
		t.Fatal(err)
	}
	shares, err := Split(key, n, k)
	if err != nil {
		t.Fatal(err)
	}
	d := dealing{key: key, unit: unit, version: 7, k: k, shares: shares}
	for i, s := range shares {
		peer := specPeerID(fmt.Sprint("node ", i))
		d.slots = append(d.slots, Slot{
			Node:       fmt.Sprintf("node-%d", i),
			PeerID:     peer,
			Commitment: Commit(unit, d.version, peer, s),
		})
	}
	return d
}

// with returns the slots where custodian i returned its share when in[i].
func (d dealing) with(in []bool) []Slot {
	slots := slices.Clone(d.slots)
	for i := range slots {
		if in[i] {
			slots[i].Share = d.shares[i]
		}
	}
	return slots
}

func (d dealing) names(in []bool, want bool) []string {
	var names []string
	for i, s := range d.slots {
		if in[i] == want {
			names = append(names, s.Node)
		}
	}
	return names
}

var thresholds = []struct{ k, n int }{{2, 2}, {2, 3}, {3, 5}, {4, 6}, {5, 7}, {7, 7}}

func TestCombineEveryKSubsetRebuildsTheKey(t *testing.T) {
	for _, tc := range thresholds {
		t.Run(fmt.Sprintf("%d of %d", tc.k, tc.n), func(t *testing.T) {
			d := deal(t, tc.n, tc.k)
			for _, in := range subsets(tc.n, tc.k) {
				key, blame, err := Combine(d.k, d.unit, d.version, d.with(in))
				if err != nil {
					t.Fatalf("subset %v: %v", in, err)
				}
				if !bytes.Equal(key.Bytes(), d.key.Bytes()) {
					t.Fatalf("subset %v rebuilt another key", in)
				}
				if len(blame.Bad) != 0 || !slices.Equal(blame.Missing, d.names(in, false)) {
					t.Fatalf("subset %v: blame %+v", in, blame)
				}
			}
		})
	}
}

func TestCombineRefusesEveryKMinusOneSubset(t *testing.T) {
	for _, tc := range thresholds {
		t.Run(fmt.Sprintf("%d of %d", tc.k, tc.n), func(t *testing.T) {
			d := deal(t, tc.n, tc.k)
			for _, in := range subsets(tc.n, tc.k-1) {
				key, _, err := Combine(d.k, d.unit, d.version, d.with(in))
				var nes *NotEnoughSharesError
				if !errors.Is(err, ErrNotEnoughShares) || !errors.As(err, &nes) {
					t.Fatalf("subset %v: err = %v; want ErrNotEnoughShares", in, err)
				}
				if !key.IsZero() {
					t.Fatalf("subset %v: a key came back with the error", in)
				}
				if nes.Need != tc.k || nes.Have != tc.k-1 || !slices.Equal(nes.Missing, d.names(in, false)) {
					t.Fatalf("subset %v: %+v", in, nes)
				}
			}
		})
	}
}

// corruptions are the ways a custodian can return a wrong share.
var corruptions = []struct {
	name  string
	apply func(t testing.TB, d dealing, i int) Share
}{
	{"altered value byte", func(t testing.TB, d dealing, i int) Share {
		b := bytes.Clone(d.shares[i].Bytes())
		b[0] ^= 0x01
		return mustShare(b)
	}},
	{"altered x coordinate", func(t testing.TB, d dealing, i int) Share {
		b := bytes.Clone(d.shares[i].Bytes())
		b[ShareSize-1] ^= 0x01
		if b[ShareSize-1] == 0 {
			b[ShareSize-1] = 0x02
		}
		return mustShare(b)
	}},
	{"another custodian's share", func(t testing.TB, d dealing, i int) Share {
		return d.shares[(i+1)%len(d.shares)]
	}},
	{"share of another unit", func(t testing.TB, d dealing, i int) Share {
		other := deal(t, len(d.shares), d.k)
		return other.shares[i]
	}},
}

func mustShare(b []byte) Share {
	s, err := ParseShare(b)
	if err != nil {
		panic(err)
	}
	return s
}

func TestCombineNamesABadShareAndStillRebuildsTheKey(t *testing.T) {
	for _, tc := range thresholds {
		if tc.n < tc.k+1 {
			continue
		}
		for _, c := range corruptions {
			t.Run(fmt.Sprintf("%d of %d/%s", tc.k, tc.n, c.name), func(t *testing.T) {
				d := deal(t, tc.n, tc.k)
				in := make([]bool, tc.n)
				for i := 0; i <= tc.k; i++ {
					in[i] = true
				}
				// Every position among the k+1 answering custodians in turn
				// sends the wrong share.
				for bad := 0; bad <= tc.k; bad++ {
					slots := d.with(in)
					slots[bad].Share = c.apply(t, d, bad)
					key, blame, err := Combine(d.k, d.unit, d.version, slots)
					if err != nil {
						t.Fatalf("bad share at %d: %v", bad, err)
					}
					if !bytes.Equal(key.Bytes(), d.key.Bytes()) {
						t.Fatalf("bad share at %d: another key", bad)
					}
					if !slices.Equal(blame.Bad, []string{d.slots[bad].Node}) {
						t.Fatalf("bad share at %d: blame.Bad = %v", bad, blame.Bad)
					}
				}
			})
		}
	}
}

func TestCombineRules(t *testing.T) {
	d := deal(t, 5, 3)
	two := []bool{true, true, false, false, false}
	tests := []struct {
		name     string
		slots    func() []Slot
		wantBad  []string
		wantMiss []string
	}{
		{"the same custodian listed twice does not count twice", func() []Slot {
			slots := d.with(two)
			slots[2] = slots[0] // node-0 again, in place of node-2
			return slots
		}, nil, []string{"node-3", "node-4"}},
		{"a replayed share from another custodian is caught", func() []Slot {
			slots := d.with(two)
			slots[2].Share = d.shares[0]
			return slots
		}, []string{"node-2"}, []string{"node-3", "node-4"}},
		{"a share for another version is caught", func() []Slot {
			slots := d.with(two)
			slots[2].Share = d.shares[2]
			slots[2].Commitment = Commit(d.unit, d.version+1, slots[2].PeerID, d.shares[2])
			return slots
		}, []string{"node-2"}, []string{"node-3", "node-4"}},
		{"a share under another peer ID is caught", func() []Slot {
			slots := d.with([]bool{true, true, true, false, false})
			slots[2].PeerID = specPeerID("impostor")
			return slots
		}, []string{"node-2"}, []string{"node-3", "node-4"}},
		{"with no shares every custodian is missing", func() []Slot {
			return slices.Clone(d.slots)
		}, nil, []string{"node-0", "node-1", "node-2", "node-3", "node-4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, blame, err := Combine(d.k, d.unit, d.version, tc.slots())
			if !errors.Is(err, ErrNotEnoughShares) || !key.IsZero() {
				t.Fatalf("err = %v, key zero %v; want ErrNotEnoughShares and no key", err, key.IsZero())
			}
			if !slices.Equal(blame.Bad, tc.wantBad) || !slices.Equal(blame.Missing, tc.wantMiss) {
				t.Fatalf("blame = %+v; want bad %v, missing %v", blame, tc.wantBad, tc.wantMiss)
			}
			for _, name := range append(tc.wantBad, tc.wantMiss...) {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name %s", err, name)
				}
			}
		})
	}
}

func TestSplitAndCombineCheckTheThreshold(t *testing.T) {
	key, err := NewServerKey()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		n, k int
		ok   bool
	}{
		{"threshold of one is refused", 3, 1, false},
		{"threshold of zero is refused", 3, 0, false},
		{"threshold above the custodians is refused", 2, 3, false},
		{"more than 255 custodians are refused", 256, 2, false},
		{"two of two is allowed", 2, 2, true},
		{"255 of 255 is allowed", 255, 255, true},
		{"two of 255 is allowed", 255, 2, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			shares, err := Split(key, tc.n, tc.k)
			if (err == nil) != tc.ok {
				t.Fatalf("Split(%d, %d) = %v", tc.n, tc.k, err)
			}
			if tc.ok && len(shares) != tc.n {
				t.Fatalf("%d shares; want %d", len(shares), tc.n)
			}
			// Combine checks the same bounds: a valid threshold with no
			// shares is short of shares, an invalid one is refused as such.
			_, _, err = Combine(tc.k, UnitID{}, 1, make([]Slot, tc.n))
			if errors.Is(err, ErrNotEnoughShares) != tc.ok || err == nil {
				t.Fatalf("Combine(%d of %d) with no shares = %v", tc.k, tc.n, err)
			}
		})
	}
	if _, err := Split(ServerKey{}, 3, 2); err == nil {
		t.Error("Split of an empty key succeeded")
	}
}

func TestParseShare(t *testing.T) {
	good := make([]byte, ShareSize)
	good[ShareSize-1] = 9
	tests := []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"a share of 33 bytes with x ≠ 0 is taken", good, true},
		{"x = 0 is refused", make([]byte, ShareSize), false},
		{"a short share is refused", good[:ShareSize-1], false},
		{"a long share is refused", append(bytes.Clone(good), 1), false},
		{"no bytes are refused", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseShare(tc.b)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseShare = %v", err)
			}
			if tc.ok && !bytes.Equal(s.Bytes(), tc.b) {
				t.Fatal("the share's bytes differ from its input")
			}
		})
	}
	s := mustShare(good)
	good[0] = 0xff
	if s.Bytes()[0] == 0xff {
		t.Error("ParseShare kept the caller's slice instead of a copy")
	}
}
