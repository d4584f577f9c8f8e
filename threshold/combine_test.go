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
	key       ServerKey
	unit      UnitID
	version   uint64
	k         int
	shares    [][]byte
	keyCommit Commitment
	slots     []Slot // every slot with its commitment and no share
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
	peers := make([][]byte, n)
	for i := range peers {
		peers[i] = specPeerID(fmt.Sprint("node ", i))
	}
	dealt, err := Deal(key, unit, 7, k, peers)
	if err != nil {
		t.Fatal(err)
	}
	d := dealing{key: key, unit: unit, version: 7, k: k, keyCommit: dealt.KeyCommit}
	for i, s := range dealt.Shares {
		d.shares = append(d.shares, s.Bytes())
		d.slots = append(d.slots, Slot{Node: fmt.Sprintf("node-%d", i), PeerID: peers[i], Commitment: dealt.Commitments[i]})
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
				key, blame, err := Combine(d.k, d.unit, d.version, d.keyCommit, d.with(in))
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
				key, _, err := Combine(d.k, d.unit, d.version, d.keyCommit, d.with(in))
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
	apply func(t testing.TB, d dealing, i int) []byte
}{
	{"altered value byte", func(t testing.TB, d dealing, i int) []byte {
		b := bytes.Clone(d.shares[i])
		b[0] ^= 0x01
		return b
	}},
	{"altered x coordinate", func(t testing.TB, d dealing, i int) []byte {
		b := bytes.Clone(d.shares[i])
		b[ShareSize-1] ^= 0x01
		if b[ShareSize-1] == 0 {
			b[ShareSize-1] = 0x02
		}
		return b
	}},
	{"x coordinate zero", func(t testing.TB, d dealing, i int) []byte {
		b := bytes.Clone(d.shares[i])
		b[ShareSize-1] = 0
		return b
	}},
	{"truncated share", func(t testing.TB, d dealing, i int) []byte {
		return d.shares[i][:ShareSize-1]
	}},
	{"empty but present share", func(t testing.TB, d dealing, i int) []byte {
		return []byte{}
	}},
	{"another custodian's share", func(t testing.TB, d dealing, i int) []byte {
		return d.shares[(i+1)%len(d.shares)]
	}},
	{"share of another unit", func(t testing.TB, d dealing, i int) []byte {
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

func TestCombineRefusesABadSlotList(t *testing.T) {
	d := deal(t, 5, 3)
	all := []bool{true, true, true, true, true}
	tests := []struct {
		name  string
		slots func() []Slot
	}{
		{"a custodian listed twice is refused", func() []Slot {
			slots := d.with(all)
			slots[2].PeerID = slots[0].PeerID
			return slots
		}},
		{"a custodian without a peer ID is refused", func() []Slot {
			slots := d.with(all)
			slots[1].PeerID = nil
			return slots
		}},
		{"an over-long peer ID is refused", func() []Slot {
			slots := d.with(all)
			slots[1].PeerID = make([]byte, MaxPeerIDLen+1)
			return slots
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, _, err := Combine(d.k, d.unit, d.version, d.keyCommit, tc.slots())
			if err == nil || errors.Is(err, ErrNotEnoughShares) || !key.IsZero() {
				t.Fatalf("err = %v; want a refusal of the list and no key", err)
			}
		})
	}
}

func TestCombineWithTheWrongThresholdIsRefused(t *testing.T) {
	d := deal(t, 5, 3)
	all := []bool{true, true, true, true, true}
	for _, k := range []int{2} {
		key, _, err := Combine(k, d.unit, d.version, d.keyCommit, d.with(all))
		if !errors.Is(err, ErrKeyMismatch) || !key.IsZero() {
			t.Fatalf("k = %d: err = %v; want ErrKeyMismatch and no key", k, err)
		}
	}
	key, _, err := Combine(d.k, d.unit, d.version, Commitment{}, d.with(all))
	if !errors.Is(err, ErrKeyMismatch) || !key.IsZero() {
		t.Fatalf("a wrong key commitment: err = %v", err)
	}
}

func TestDealRefusesABadCustodianList(t *testing.T) {
	key, _ := NewServerKey()
	p := specPeerID("a")
	for name, peers := range map[string][][]byte{
		"a custodian listed twice is refused": {p, specPeerID("b"), p},
		"an empty peer ID is refused":         {p, nil, specPeerID("c")},
		"too few custodians are refused":      {p},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Deal(key, UnitID{}, 1, 2, peers); err == nil {
				t.Fatal("Deal succeeded")
			}
		})
	}
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
					key, blame, err := Combine(d.k, d.unit, d.version, d.keyCommit, slots)
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
		{"only the answering custodians' slots are short of shares", func() []Slot {
			return d.with(two)[:2]
		}, nil, nil},
		{"a share under another peer ID is caught", func() []Slot {
			slots := d.with([]bool{true, true, true, false, false})
			slots[2].PeerID = specPeerID("impostor")
			return slots
		}, []string{"node-2"}, []string{"node-3", "node-4"}},
		{"with no shares every custodian is missing", func() []Slot {
			return slices.Clone(d.slots)
		}, nil, []string{"node-0", "node-1", "node-2", "node-3", "node-4"}},
		{"a malformed share is blamed as bad, not missing", func() []Slot {
			slots := d.with(two)
			slots[2].Share = []byte{1, 2, 3}
			return slots
		}, []string{"node-2"}, []string{"node-3", "node-4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, blame, err := Combine(d.k, d.unit, d.version, d.keyCommit, tc.slots())
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
			// Combine checks the bounds too: a valid threshold with no
			// shares is short of shares, an invalid one is refused as such.
			if tc.n > MaxShares || tc.k < 2 {
				slots := make([]Slot, tc.n)
				for i := range slots {
					slots[i].PeerID = []byte{byte(i), byte(i >> 8)}
				}
				_, _, err = Combine(tc.k, UnitID{}, 1, Commitment{}, slots)
				if err == nil || errors.Is(err, ErrNotEnoughShares) {
					t.Fatalf("Combine(%d of %d) = %v; want a refusal", tc.k, tc.n, err)
				}
			}
		})
	}
	if _, err := Split(ServerKey{}, 3, 2); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Split of an empty key: %v", err)
	}
	key.Wipe()
	if _, err := Split(key, 3, 2); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Split of a wiped key: %v", err)
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
