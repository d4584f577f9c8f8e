package vault

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
)

// The decoders of the database's values take bytes from a file that may
// be damaged or edited. The fuzz targets check that none panics on any
// input, and that every value one accepts is in its one encoding: encoded
// again, it is the input byte for byte. TestDecodersOnEveryChange runs the
// same properties over every truncation and one-byte change of valid
// values, so that the plain test run covers more than the seeds.

// fuzzNodes is the node table the unit decoder resolves against.
var fuzzNodes = map[uint32]tableNode{}

func fuzzLookup(ref uint32) (tableNode, error) {
	if n, ok := fuzzNodes[ref]; ok {
		return n, nil
	}
	return tableNode{}, fmt.Errorf("no entry %d", ref)
}

func fuzzTable(t testing.TB) {
	for i, name := range []string{"acme", "bolt", "cove"} {
		fuzzNodes[uint32(i+1)] = tableNode{Name: name, PeerID: testPeerID(t, byte(0xa1+i))}
	}
}

// unitValue encodes u as a descriptor with the fuzz node table.
func unitValue(t testing.TB, v *Vault, u Unit) []byte {
	if err := v.SealUnit(&u); err != nil {
		t.Fatal(err)
	}
	refs := make([]uint32, len(u.Nodes))
	for i := range refs {
		refs[i] = uint32(i + 1)
	}
	return encodeUnit(&u, refs)
}

func checkDecodeUnit(t *testing.T, label string, b []byte) {
	u, n, err := decodeUnit(label, b, fuzzLookup)
	if err != nil {
		return
	}
	refs := make([]uint32, len(u.Nodes))
	for i, un := range u.Nodes {
		for ref, tn := range fuzzNodes {
			if tn.Name == un.Name && tn.PeerID == un.PeerID {
				refs[i] = ref
			}
		}
	}
	u.Sealed = make([]byte, n)
	if again := encodeUnit(&u, refs); !bytes.Equal(again, b) {
		t.Fatalf("an accepted descriptor is not in its one encoding")
	}
	if _, err := unitSummary(label, b); err != nil {
		t.Fatalf("a descriptor that decodes is not listed: %v", err)
	}
}

func FuzzDecodeUnit(f *testing.F) {
	fuzzTable(f)
	v := testVault(f)
	f.Add("acme-portal", unitValue(f, v, testUnit(f, "acme-portal", 0x10)))
	f.Add("bank", unitValue(f, v, testBank(f)))
	f.Add("x", []byte{})
	f.Fuzz(checkDecodeUnit)
}

// A listing never panics either, whatever the descriptor.
func FuzzUnitSummary(f *testing.F) {
	fuzzTable(f)
	f.Add("bank", unitValue(f, testVault(f), testBank(f)))
	f.Fuzz(func(t *testing.T, label string, b []byte) { _, _ = unitSummary(label, b) })
}

func checkDecodeReceipt(t *testing.T, b []byte) {
	r, err := decodeReceipt(b)
	if err != nil {
		return
	}
	if !bytes.Equal(encodeReceipt(&r), b) {
		t.Fatalf("an accepted receipt is not in its one encoding")
	}
}

func FuzzDecodeReceipt(f *testing.F) {
	r, lie := testReceipt(57), testLie()
	f.Add(encodeReceipt(&r))
	f.Add(encodeReceipt(&lie))
	f.Fuzz(checkDecodeReceipt)
}

// The header's values, by kind: a decoder and the encoder it must agree
// with.
var headerKinds = []struct {
	name string
	// roundTrip decodes b and encodes it again (ok false if refused).
	roundTrip func(b []byte) (again []byte, ok bool)
}{
	{"password_kdf", func(b []byte) ([]byte, bool) {
		k, err := decodeKDF(b)
		return encodeKDF(k), err == nil
	}},
	{"login", func(b []byte) ([]byte, bool) {
		l, err := decodeLogin(b)
		if err != nil {
			return nil, false
		}
		return encodeLogin(l), true
	}},
	{"password_change", func(b []byte) ([]byte, bool) {
		p, err := decodeChange(b)
		if err != nil {
			return nil, false
		}
		return encodeChange(p), true
	}},
	{"restore", func(b []byte) ([]byte, bool) {
		r, err := decodeRestore(b)
		return encodeRestore(&r), err == nil
	}},
	{"node", func(b []byte) ([]byte, bool) {
		n, err := decodeTableNode(b)
		if err != nil {
			return nil, false
		}
		again, err := encodeTableNode(n)
		return again, err == nil
	}},
	{"pending", func(b []byte) ([]byte, bool) {
		if len(b) < 24 {
			return nil, false
		}
		p, err := decodePending(b[:24], b[24:])
		return append(pendingKey(p.ID, p.Version), encodePending(&p)...), err == nil
	}},
}

func checkDecodeHeader(t *testing.T, kind uint8, b []byte) {
	k := headerKinds[int(kind)%len(headerKinds)]
	again, ok := k.roundTrip(b)
	if ok && !bytes.Equal(again, b) {
		t.Fatalf("an accepted %s is not in its one encoding", k.name)
	}
}

// headerSeeds are valid values of each kind of headerKinds, in order.
func headerSeeds(t testing.TB) [][]byte {
	v := changeVault(t, ChangeStaged)
	vl := testVault(t)
	r := testRestore()
	n, err := encodeTableNode(tableNode{Name: "acme", PeerID: testPeerID(t, 0xa1)})
	if err != nil {
		t.Fatal(err)
	}
	p := PendingDelete{ID: testUnitID(0x20), Version: 2, Nodes: []string{"cove", "dune"}}
	return [][]byte{
		encodeKDF(vl.PasswordKDF), encodeLogin(vl.Login), encodeChange(v.PasswordChange),
		encodeRestore(&r), n, append(pendingKey(p.ID, p.Version), encodePending(&p)...),
	}
}

func FuzzDecodeHeader(f *testing.F) {
	for i, b := range headerSeeds(f) {
		f.Add(uint8(i), b)
	}
	f.Fuzz(checkDecodeHeader)
}

func TestDecodersOnEveryChange(t *testing.T) {
	fuzzTable(t)
	values := map[string][]byte{}
	for i, b := range headerSeeds(t) {
		if again, ok := headerKinds[i].roundTrip(b); !ok || !bytes.Equal(again, b) {
			t.Fatalf("the valid %s does not decode to itself", headerKinds[i].name)
		}
		values[headerKinds[i].name] = b
	}
	unit := unitValue(t, testVault(t), testBank(t))
	r := testLie()
	receipt := encodeReceipt(&r)
	if _, _, err := decodeUnit("bank", unit, fuzzLookup); err != nil {
		t.Fatalf("the valid unit: %v", err)
	}
	if _, err := decodeReceipt(receipt); err != nil {
		t.Fatalf("the valid receipt: %v", err)
	}
	changes := []byte{0, 1, 0x7f, 0xff}
	each := func(b []byte, check func(m []byte)) {
		for i := range b {
			check(b[:i])
			m := bytes.Clone(b)
			m[i] ^= changes[i%len(changes)] | 1
			check(m)
		}
		check(append(bytes.Clone(b), 0))
	}
	each(unit, func(m []byte) { checkDecodeUnit(t, "bank", m) })
	each(receipt, func(m []byte) { checkDecodeReceipt(t, m) })
	for i, k := range headerKinds {
		each(values[k.name], func(m []byte) { checkDecodeHeader(t, uint8(i), m) })
	}
}

// FuzzParseJournal checks that no file makes the journal parser panic, and
// that every journal it accepts is in its one form: written back, it is the
// file's whole lines byte for byte, and reads as the same journal.
func FuzzParseJournal(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("custos-requests/1\n"))
	f.Add([]byte("custos-requests/1\n" + acmeLine + boltLine + coveLine[:30]))
	f.Add([]byte("custos-requests/1\ndropped-until 2025-03-01T12:00:00.000Z\n" + acmeLine))
	f.Add([]byte("custos-requests/2\n"))
	for _, tc := range badJournals {
		f.Add([]byte(tc.file))
	}
	f.Fuzz(checkParseJournal)
}

// checkParseJournal is the property FuzzParseJournal checks.
func checkParseJournal(t *testing.T, b []byte) {
	j, err := parseJournal(b)
	if err != nil {
		return
	}
	if j.end == 0 {
		if len(j.reqs) != 0 || !j.droppedUntil.IsZero() || !bytes.HasPrefix([]byte(requestsFormat+"\n"), b) {
			t.Fatalf("a file without a whole line read as more than a cut-short header")
		}
		return
	}
	b2 := j.encode()
	if !bytes.Equal(b2, b[:j.end]) {
		t.Fatalf("an accepted journal is not in its one form")
	}
	j2, err := parseJournal(b2)
	if err != nil {
		t.Fatalf("a re-encoded journal does not parse: %v", err)
	}
	if !reflect.DeepEqual(j, j2) {
		t.Fatalf("a journal changed when written and read back")
	}
}
