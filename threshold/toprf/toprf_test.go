package toprf

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cloudflare/circl/oprf"
)

// dealing is a key split among n custodians, and their answers to one
// request, for the tests.
type dealing struct {
	k, n  int
	key   Key
	keys  []KeyShare
	pubs  []PublicShare
	input []byte
	req   *Request
	z     [][ElementSize]byte // node i's evaluation, at i-1
	proof [][ProofSize]byte
}

func deal(t testing.TB, k, n int) *dealing {
	t.Helper()
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, pubs, err := key.Split(k, n)
	if err != nil {
		t.Fatal(err)
	}
	d := &dealing{k: k, n: n, key: key, keys: keys, pubs: pubs, input: make([]byte, 32)}
	rand.Read(d.input)
	if d.req, err = Blind(d.input); err != nil {
		t.Fatal(err)
	}
	b := d.req.Blinded()
	for _, ks := range keys {
		z, p, err := ks.Evaluate(b[:])
		if err != nil {
			t.Fatal(err)
		}
		d.z, d.proof = append(d.z, z), append(d.proof, p)
	}
	return d
}

// evaluation verifies node i's (1-based) answer.
func (d *dealing) evaluation(t testing.TB, i int) Evaluation {
	t.Helper()
	e, err := d.req.Verify(d.pubs[i-1], d.z[i-1][:], d.proof[i-1][:])
	if err != nil {
		t.Fatalf("node %d's honest answer: %v", i, err)
	}
	return e
}

// circlOutput is the single-key VOPRF output under the dealt key, from
// circl's server alone.
func (d *dealing) circlOutput(t testing.TB) []byte {
	t.Helper()
	priv := new(oprf.PrivateKey)
	if err := priv.UnmarshalBinary(oprf.SuiteRistretto255, encodeScalar(scalar(d.key.s))); err != nil {
		t.Fatal(err)
	}
	out, err := oprf.NewVerifiableServer(oprf.SuiteRistretto255, priv).FullEvaluate(d.input)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// subsets returns every k-subset of 1..n, in increasing order.
func subsets(n, k int) [][]int {
	var out [][]int
	var walk func(from int, cur []int)
	walk = func(from int, cur []int) {
		if len(cur) == k {
			out = append(out, append([]int(nil), cur...))
			return
		}
		for i := from; i <= n; i++ {
			walk(i+1, append(cur, i))
		}
	}
	walk(1, nil)
	return out
}

func TestEveryKSubsetGivesTheWholeKeyOutput(t *testing.T) {
	for _, tc := range []struct{ k, n int }{{2, 2}, {2, 3}, {3, 5}, {4, 7}, {5, 7}, {7, 7}} {
		t.Run(fmt.Sprintf("%dof%d", tc.k, tc.n), func(t *testing.T) {
			d := deal(t, tc.k, tc.n)
			want := d.circlOutput(t)
			whole, err := d.key.Output(d.input)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(whole.Bytes(), want) {
				t.Fatal("Key.Output differs from circl's FullEvaluate")
			}
			evals := make([]Evaluation, tc.n+1)
			for i := 1; i <= tc.n; i++ {
				evals[i] = d.evaluation(t, i)
			}
			for _, s := range subsets(tc.n, tc.k) {
				// The order of the answers must not matter: combine the
				// subset in reverse.
				var pick []Evaluation
				for j := len(s) - 1; j >= 0; j-- {
					pick = append(pick, evals[s[j]])
				}
				out, err := d.req.Finalize(tc.k, pick)
				if err != nil {
					t.Fatalf("nodes %v: %v", s, err)
				}
				if !bytes.Equal(out.Bytes(), want) {
					t.Fatalf("nodes %v combine to another output than the whole key's", s)
				}
			}
		})
	}
}

func TestWrongAnswerFailsVerify(t *testing.T) {
	d := deal(t, 3, 5)
	b := d.req.Blinded()
	other, err := Blind(d.input)
	if err != nil {
		t.Fatal(err)
	}
	ob := other.Blinded()
	otherZ, otherProof, err := d.keys[0].Evaluate(ob[:])
	if err != nil {
		t.Fatal(err)
	}
	wholeZ, wholeProof, err := newKeyShare(1, scalar(d.key.s)).Evaluate(b[:])
	if err != nil {
		t.Fatal(err)
	}
	doubled := func() []byte {
		z, _ := decodeElement(d.z[0][:])
		e := encodeElement(z.Add(z, z))
		return e[:]
	}()
	flip := func(p [ProofSize]byte, bit int) []byte {
		p[bit/8] ^= 1 << (bit % 8)
		return p[:]
	}
	z1, p1 := d.z[0][:], d.proof[0][:]
	for _, tc := range []struct {
		name     string
		pub      PublicShare
		z, proof []byte
	}{
		{"another node's answer is refused against this node's share", d.pubs[0], d.z[1][:], d.proof[1][:]},
		{"an answer with another node's proof is refused", d.pubs[0], z1, d.proof[1][:]},
		{"an answer for another blinded element is refused", d.pubs[0], otherZ[:], otherProof[:]},
		{"the evaluation doubled with its proof is refused", d.pubs[0], doubled, p1},
		{"an evaluation under the whole key is refused", d.pubs[0], wholeZ[:], wholeProof[:]},
		{"the blinded element returned as is is refused", d.pubs[0], b[:], p1},
		{"a proof with a bit of c flipped is refused", d.pubs[0], z1, flip(d.proof[0], 3)},
		{"a proof with a bit of s flipped is refused", d.pubs[0], z1, flip(d.proof[0], 8*ScalarSize+5)},
		{"a proof with c and s swapped is refused", d.pubs[0], z1, append(append([]byte(nil), p1[ScalarSize:]...), p1[:ScalarSize]...)},
		{"an all-zero proof is refused", d.pubs[0], z1, make([]byte, ProofSize)},
		{"the identity as evaluation is refused", d.pubs[0], make([]byte, ElementSize), p1},
		{"a short evaluation is refused", d.pubs[0], z1[:ElementSize-1], p1},
		{"a long proof is refused", d.pubs[0], z1, append(append([]byte(nil), p1...), 0)},
		{"a truncated proof is refused", d.pubs[0], z1, p1[:ProofSize-1]},
		{"an answer without a proof is refused", d.pubs[0], z1, nil},
		{"a good answer checked against an index out of range is refused", PublicShare{Index: 0, Element: d.pubs[0].Element}, z1, p1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if Verify(tc.pub, b[:], tc.z, tc.proof) {
				t.Fatal("Verify accepted the answer")
			}
			if _, err := d.req.Verify(tc.pub, tc.z, tc.proof); err == nil {
				t.Fatal("Request.Verify accepted the answer")
			}
		})
	}
	t.Run("what the node sent is blamed with ErrProof", func(t *testing.T) {
		if _, err := d.req.Verify(d.pubs[0], d.z[1][:], d.proof[1][:]); !errors.Is(err, ErrProof) {
			t.Fatalf("err = %v; want ErrProof", err)
		}
		if _, err := d.req.Verify(d.pubs[0], z1[:5], p1); !errors.Is(err, ErrProof) {
			t.Fatalf("err = %v; want ErrProof", err)
		}
	})
	t.Run("a bad public share is the caller's error, not ErrProof", func(t *testing.T) {
		_, err := d.req.Verify(PublicShare{Index: 1}, z1, p1)
		if err == nil || errors.Is(err, ErrProof) {
			t.Fatalf("err = %v; want a public share error", err)
		}
	})
	t.Run("every honest answer verifies", func(t *testing.T) {
		for i := range d.n {
			if !Verify(d.pubs[i], b[:], d.z[i][:], d.proof[i][:]) {
				t.Fatalf("node %d's answer does not verify", i+1)
			}
		}
	})
}

func TestEvaluateMakesAFreshProofEachTime(t *testing.T) {
	d := deal(t, 2, 3)
	b := d.req.Blinded()
	z, p, err := d.keys[0].Evaluate(b[:])
	if err != nil {
		t.Fatal(err)
	}
	if z != d.z[0] {
		t.Fatal("the same share and blinded element gave two evaluations")
	}
	if p == d.proof[0] {
		t.Fatal("two evaluations carry the same proof: its randomness is not fresh")
	}
	if !Verify(d.pubs[0], b[:], z[:], p[:]) {
		t.Fatal("the second proof does not verify")
	}
}

func TestFinalizeRefusesWhatWouldNotGiveTheOutput(t *testing.T) {
	d := deal(t, 3, 5)
	e1, e2, e3, e4 := d.evaluation(t, 1), d.evaluation(t, 2), d.evaluation(t, 3), d.evaluation(t, 4)
	other := deal(t, 3, 5)
	foreign := other.evaluation(t, 3)
	wiped, err := Blind(d.input)
	if err != nil {
		t.Fatal(err)
	}
	wiped.Wipe()
	for _, tc := range []struct {
		name  string
		req   *Request
		k     int
		evals []Evaluation
		want  error
	}{
		{"fewer than k evaluations are refused", d.req, 3, []Evaluation{e1, e2}, ErrEvaluationCount},
		{"more than k evaluations are refused", d.req, 3, []Evaluation{e1, e2, e3, e4}, ErrEvaluationCount},
		{"no evaluation is refused", d.req, 3, nil, ErrEvaluationCount},
		{"a threshold of zero is refused", d.req, 0, nil, ErrEvaluationCount},
		{"a repeated index is refused", d.req, 3, []Evaluation{e1, e2, e1}, ErrIndex},
		{"an evaluation for another request is refused", d.req, 3, []Evaluation{e1, e2, foreign}, errForeignEvaluation},
		{"a zero Evaluation is refused", d.req, 3, []Evaluation{e1, e2, {}}, errForeignEvaluation},
		{"a wiped request is refused", wiped, 3, []Evaluation{e1, e2, e3}, ErrNoSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.req.Finalize(tc.k, tc.evals)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Finalize = %v; want %v", err, tc.want)
			}
			if out.Bytes() != nil {
				t.Fatal("Finalize returned an output with its error")
			}
		})
	}
	t.Run("k good evaluations still finalize", func(t *testing.T) {
		out, err := d.req.Finalize(3, []Evaluation{e4, e1, e3})
		if err != nil || !bytes.Equal(out.Bytes(), d.circlOutput(t)) {
			t.Fatalf("Finalize = %v", err)
		}
	})
}

func TestSplitRefusesBadThresholds(t *testing.T) {
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		k, n int
	}{
		{"a threshold of one is refused", 1, 3},
		{"a threshold of zero is refused", 0, 3},
		{"a threshold above the custodians is refused", 4, 3},
		{"more than 255 custodians are refused", 2, 256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := key.Split(tc.k, tc.n); err == nil {
				t.Fatal("Split accepted it")
			}
		})
	}
	t.Run("shares are indexed 1 to n and match their public parts", func(t *testing.T) {
		keys, pubs, err := key.Split(2, 255)
		if err != nil {
			t.Fatal(err)
		}
		for i := range keys {
			if keys[i].Index != i+1 || pubs[i].Index != i+1 || keys[i].Public() != pubs[i] {
				t.Fatalf("share %d: index %d, public index %d", i, keys[i].Index, pubs[i].Index)
			}
		}
	})
}

// Non-canonical and special encodings. p = 2^255 − 19 is the field order,
// l = 2^252 + 27742317777372353535851937790883648493 the group order.
var (
	fieldP       = "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
	groupL       = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"
	groupLPlus1  = "eed3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"
	generatorEnc = "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"
)

func TestDecodersRefuseNonCanonicalEncodings(t *testing.T) {
	gen := unhex(t, generatorEnc)
	highBit := append([]byte(nil), gen...)
	highBit[31] |= 0x80
	negative := append([]byte(nil), gen...)
	negative[0] |= 1 // s odd: RFC 9496 takes only non-negative s
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"the identity is refused", make([]byte, 32)},
		{"an empty element is refused", nil},
		{"31 bytes are refused", gen[:31]},
		{"33 bytes are refused", append(append([]byte(nil), gen...), 0)},
		{"the field order p as s is refused", unhex(t, fieldP)},
		{"all ones are refused", bytes.Repeat([]byte{0xff}, 32)},
		{"the top bit set is refused", highBit},
		{"a negative s is refused", negative},
	} {
		t.Run("element: "+tc.name, func(t *testing.T) {
			if err := CheckElement(tc.b); !errors.Is(err, ErrElement) {
				t.Fatalf("CheckElement = %v; want ErrElement", err)
			}
			if _, err := ParsePublicShare(1, tc.b); err == nil {
				t.Fatal("ParsePublicShare accepted it")
			}
		})
	}
	if err := CheckElement(gen); err != nil {
		t.Fatalf("the generator is refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"zero is refused", make([]byte, 32)},
		{"the group order l is refused", unhex(t, groupL)},
		{"l + 1 is refused", unhex(t, groupLPlus1)},
		{"all ones are refused", bytes.Repeat([]byte{0xff}, 32)},
		{"31 bytes are refused", make([]byte, 31)},
		{"33 bytes are refused", append(make([]byte, 32), 1)},
	} {
		t.Run("scalar: "+tc.name, func(t *testing.T) {
			if _, err := KeyShareFromBytes(1, tc.b); !errors.Is(err, ErrScalar) {
				t.Fatalf("KeyShareFromBytes = %v; want ErrScalar", err)
			}
		})
	}
	one := append([]byte{1}, make([]byte, 31)...)
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"c = l is refused", append(unhex(t, groupL), one...)},
		{"s = l is refused", append(append([]byte(nil), one...), unhex(t, groupL)...)},
		{"63 bytes are refused", make([]byte, 63)},
		{"65 bytes are refused", make([]byte, 65)},
	} {
		t.Run("proof: "+tc.name, func(t *testing.T) {
			if _, err := decodeProof(tc.b); !errors.Is(err, ErrProof) {
				t.Fatalf("decodeProof = %v; want ErrProof", err)
			}
		})
	}
	t.Run("index: out of range is refused", func(t *testing.T) {
		for _, i := range []int{-1, 0, MaxShares + 1} {
			if _, err := KeyShareFromBytes(i, one); !errors.Is(err, ErrIndex) {
				t.Errorf("KeyShareFromBytes(%d) = %v; want ErrIndex", i, err)
			}
			if _, err := ParsePublicShare(i, gen); !errors.Is(err, ErrIndex) {
				t.Errorf("ParsePublicShare(%d) = %v; want ErrIndex", i, err)
			}
		}
	})
}

func TestKeyShareSurvivesStorage(t *testing.T) {
	d := deal(t, 2, 3)
	b := d.keys[1].Bytes()
	back, err := KeyShareFromBytes(2, b)
	clear(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Public() != d.pubs[1] {
		t.Fatal("the stored share has another public part")
	}
	blinded := d.req.Blinded()
	z, p, err := back.Evaluate(blinded[:])
	if err != nil || z != d.z[1] || !Verify(d.pubs[1], blinded[:], z[:], p[:]) {
		t.Fatalf("the stored share evaluates differently: %v", err)
	}
	pub, err := ParsePublicShare(2, d.pubs[1].Element[:])
	if err != nil || pub != d.pubs[1] {
		t.Fatalf("ParsePublicShare = %v", err)
	}
}

func TestInputsAreChecked(t *testing.T) {
	for _, n := range []int{0, MaxInputSize + 1} {
		if _, err := Blind(make([]byte, n)); !errors.Is(err, ErrInput) {
			t.Errorf("Blind(%d bytes) = %v; want ErrInput", n, err)
		}
	}
	key, _ := NewKey()
	if _, err := key.Output(nil); !errors.Is(err, ErrInput) {
		t.Errorf("Output(empty) = %v; want ErrInput", err)
	}
	if _, err := Blind(make([]byte, MaxInputSize)); err != nil {
		t.Errorf("Blind(MaxInputSize bytes) = %v", err)
	}
	d := deal(t, 2, 2)
	for _, b := range [][]byte{nil, make([]byte, ElementSize), bytes.Repeat([]byte{0xff}, ElementSize)} {
		if _, _, err := d.keys[0].Evaluate(b); !errors.Is(err, ErrElement) {
			t.Errorf("Evaluate(%x) = %v; want ErrElement", b, err)
		}
	}
}

// TestAnswersVerifyConcurrently checks, under the race detector, that a
// client may verify answers as they arrive, one goroutine per node.
func TestAnswersVerifyConcurrently(t *testing.T) {
	d := deal(t, 4, 7)
	evals := make([]Evaluation, d.n)
	errs := make([]error, d.n)
	var wg sync.WaitGroup
	for i := range d.n {
		wg.Go(func() { evals[i], errs[i] = d.req.Verify(d.pubs[i], d.z[i][:], d.proof[i][:]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
	}
	out, err := d.req.Finalize(4, evals[3:])
	if err != nil || !bytes.Equal(out.Bytes(), d.circlOutput(t)) {
		t.Fatalf("Finalize = %v", err)
	}
}
