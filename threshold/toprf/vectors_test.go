package toprf

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"slices"
	"testing"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/math/polynomial"
	"github.com/cloudflare/circl/oprf"
	"github.com/cloudflare/circl/zk/dleq"
	"golang.org/x/crypto/argon2"

	"github.com/custos-network/custos/threshold"
)

// The known-answer vectors of login v2 in ../testdata/login-vectors.json are
// made by specLoginVectors, which writes DESIGN.md's and RFC 9497's steps
// out with circl's group and proof primitives, circl's own polynomial
// arithmetic and the standard library, and shares no code with this package
// or with threshold. TestLoginVectors checks the file against it, then the
// packages against the file, so the file, the design and the code cannot
// drift apart. docs/login.md documents the fields for other implementations
// (the JS SDK).

var update = flag.Bool("update", false, "rewrite ../testdata/login-vectors.json from the spec functions")

const loginVectorsFile = "../testdata/login-vectors.json"

type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }
func (h *hexBytes) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	*h = v
	return err
}

type loginVectorFile struct {
	About           string              `json:"about"`
	Suite           string              `json:"suite"`
	Mode            int                 `json:"mode"`
	ContextString   hexBytes            `json:"context_string"`
	HashToGroupDST  hexBytes            `json:"hash_to_group_dst"`
	HashToScalarDST hexBytes            `json:"hash_to_scalar_dst"`
	Password        string              `json:"password"`
	Salt            hexBytes            `json:"salt"`
	Time            uint32              `json:"time"`
	Memory          uint32              `json:"memory_kib"`
	Threads         uint8               `json:"threads"`
	PasswordHash    hexBytes            `json:"pwh"`
	Threshold       int                 `json:"threshold"`
	Key             hexBytes            `json:"oprf_key"`
	Coefficients    []hexBytes          `json:"coefficients"`
	Blind           hexBytes            `json:"blind"`
	Blinded         hexBytes            `json:"blinded_element"`
	MasterSecret    hexBytes            `json:"master_secret"`
	AuthSecret      hexBytes            `json:"auth_secret_v2"`
	Nodes           []nodeVector        `json:"nodes"`
	Combinations    []combinationVector `json:"combinations"`
	Unblinded       hexBytes            `json:"unblinded_element"`
	Output          hexBytes            `json:"output"`
}

type nodeVector struct {
	Index          int      `json:"index"`
	PeerID         hexBytes `json:"peer_id"`
	KeyShare       hexBytes `json:"key_share"`
	PublicShare    hexBytes `json:"public_share"`
	ProofRandom    hexBytes `json:"proof_randomness"`
	Evaluated      hexBytes `json:"evaluated_element"`
	Proof          hexBytes `json:"proof"`
	LoginSeed      hexBytes `json:"login_seed"`
	LoginPublicKey hexBytes `json:"login_public_key"`
}

type combinationVector struct {
	Indexes  []int      `json:"indexes"`
	Lagrange []hexBytes `json:"lagrange_coefficients"`
	Combined hexBytes   `json:"combined_element"`
}

// testBytes returns n bytes determined by label, made as the threshold
// package's vectors make theirs, so the password salt and the master
// secret here are the ones of testdata/vectors.json.
func testBytes(label string, n int) []byte {
	var out []byte
	for i := byte(0); len(out) < n; i++ {
		h := sha256.Sum256(append([]byte("custos test vector/"+label+"/"), i))
		out = append(out, h[:]...)
	}
	return out[:n]
}

// testScalar is 64 bytes of testBytes, read little-endian and reduced
// modulo the group order.
func testScalar(label string) group.Scalar {
	le := testBytes(label, 64)
	slices.Reverse(le)
	v := new(big.Int).Mod(new(big.Int).SetBytes(le), groupOrder)
	b := make([]byte, ScalarSize)
	v.FillBytes(b)
	slices.Reverse(b)
	s := group.Ristretto255.NewScalar()
	if err := s.UnmarshalBinary(b); err != nil || s.IsZero() {
		panic("test scalar " + label)
	}
	return s
}

func specPeerID(label string) []byte {
	pub := ed25519.NewKeyFromSeed(testBytes(label, 32)).Public().(ed25519.PublicKey)
	return append([]byte{0x00, 0x24, 0x08, 0x01, 0x12, 0x20}, pub...)
}

func specHKDF(ikm, salt []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, ikm, salt, info, 32)
	if err != nil {
		panic(err)
	}
	return k
}

func specEnc(x interface{ MarshalBinary() ([]byte, error) }) hexBytes {
	b, err := x.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

func specI2OSP2(n int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(n)) }

func specLoginVectors() loginVectorFile {
	G := group.Ristretto255
	const (
		password   = "correct horse battery staple"
		k, n       = 3, 5
		suite      = "ristretto255-SHA512"
		t, m, lane = 3, 64 * 1024, 4
	)
	context := []byte("OPRFV1-\x01-" + suite)
	h2g := append([]byte("HashToGroup-"), context...)
	h2s := append([]byte("HashToScalar-"), context...)
	salt := testBytes("salt", 16)
	pwh := argon2.IDKey([]byte(password), salt, t, m, lane, 32)

	// The key r and the polynomial f(x) = r + a1·x + a2·x², dealt at x = 1..n.
	r := testScalar("oprf key")
	coeffs := []group.Scalar{r, testScalar("oprf coefficient 1"), testScalar("oprf coefficient 2")}
	f := polynomial.New(coeffs)

	bl := testScalar("oprf blind")
	B := G.NewElement().Mul(G.HashToElement(pwh, h2g), bl)

	M := testBytes("master secret", 32)
	a2 := specHKDF(M, nil, "custos/v2/auth")

	v := loginVectorFile{
		About: "custos login v2 known-answer vectors; the fields are documented in docs/login.md. " +
			"Byte strings are hexadecimal; scalars are 32 bytes little-endian, elements 32-byte ristretto255 encodings.",
		Suite: suite, Mode: 1, ContextString: context, HashToGroupDST: h2g, HashToScalarDST: h2s,
		Password: password, Salt: salt, Time: t, Memory: m, Threads: lane, PasswordHash: pwh,
		Threshold: k, Key: specEnc(r), Blind: specEnc(bl), Blinded: specEnc(B),
		MasterSecret: M, AuthSecret: a2,
	}
	for _, c := range coeffs[1:] {
		v.Coefficients = append(v.Coefficients, specEnc(c))
	}

	xs := make([]group.Scalar, n+1)
	zs := make([]group.Element, n+1)
	for i := 1; i <= n; i++ {
		xs[i] = G.NewScalar().SetUint64(uint64(i))
		ri := f.Evaluate(xs[i])
		Ri := G.NewElement().MulGen(ri)
		zs[i] = G.NewElement().Mul(B, ri)
		rnd := testScalar(fmt.Sprintf("oprf proof randomness %d", i))
		proof, err := dleq.Prover{Params: dleq.Params{G: G, H: crypto.SHA512, DST: context}}.
			ProveBatchWithRandomnessRFC9497(ri, Ri, []group.Element{B}, []group.Element{zs[i]}, rnd)
		if err != nil {
			panic(err)
		}
		v.Nodes = append(v.Nodes, nodeVector{
			Index: i, PeerID: specPeerID(fmt.Sprintf("node %d", i)),
			KeyShare: specEnc(ri), PublicShare: specEnc(Ri), ProofRandom: specEnc(rnd),
			Evaluated: specEnc(zs[i]), Proof: specEnc(proof),
		})
	}

	var combined group.Element
	for _, idx := range [][]int{{1, 2, 3}, {2, 4, 5}, {5, 1, 3}} {
		c := combinationVector{Indexes: idx}
		sub := make([]group.Scalar, len(idx))
		for j, i := range idx {
			sub[j] = xs[i]
		}
		combined = G.Identity()
		for j, i := range idx {
			lambda := polynomial.LagrangeBase(uint(j), sub, G.NewScalar())
			c.Lagrange = append(c.Lagrange, specEnc(lambda))
			combined.Add(combined, G.NewElement().Mul(zs[i], lambda))
		}
		c.Combined = specEnc(combined)
		v.Combinations = append(v.Combinations, c)
	}

	N := G.NewElement().Mul(combined, G.NewScalar().Inv(bl))
	v.Unblinded = specEnc(N)
	h := sha512.New()
	for _, part := range [][]byte{specI2OSP2(len(pwh)), pwh, specI2OSP2(len(v.Unblinded)), v.Unblinded, []byte("Finalize")} {
		h.Write(part)
	}
	v.Output = h.Sum(nil)

	// The spec's own check: the threshold output is circl's single-key
	// VOPRF output under r.
	priv := new(oprf.PrivateKey)
	if err := priv.UnmarshalBinary(oprf.SuiteRistretto255, v.Key); err != nil {
		panic(err)
	}
	if want, err := oprf.NewVerifiableServer(oprf.SuiteRistretto255, priv).FullEvaluate(pwh); err != nil || !bytes.Equal(want, v.Output) {
		panic("spec: the combined output is not the whole key's")
	}

	ikm := append(append([]byte(nil), v.Output...), a2...)
	for i := range v.Nodes {
		seed := specHKDF(ikm, v.Nodes[i].PeerID, "custos/v2/node-auth")
		v.Nodes[i].LoginSeed = seed
		v.Nodes[i].LoginPublicKey = hexBytes(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
	}
	return v
}

func TestLoginVectors(t *testing.T) {
	want, err := json.MarshalIndent(specLoginVectors(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile(loginVectorsFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(loginVectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s does not match the spec functions; run go test -run TestLoginVectors -update and review the diff", loginVectorsFile)
	}
	var v loginVectorFile
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatal(err)
	}
	if v.Suite != SuiteID || string(v.ContextString) != ContextString || string(v.HashToGroupDST) != hashToGroupDST {
		t.Fatal("the vectors' suite differs from the package's")
	}
	checkLoginVectors(t, v)
}

// checkLoginVectors runs the packages on the file's inputs.
func checkLoginVectors(t *testing.T, v loginVectorFile) {
	kdf := threshold.PasswordKDF{Salt: v.Salt, Time: v.Time, Memory: v.Memory, Threads: v.Threads}
	pw, err := kdf.Derive([]byte(v.Password))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pw.Bytes(), v.PasswordHash) {
		t.Fatal("pwh differs from the vector")
	}
	req, err := blind(pw.Bytes(), scalarBytes(t, v.Blind))
	if err != nil {
		t.Fatal(err)
	}
	if b := req.Blinded(); !bytes.Equal(b[:], v.Blinded) {
		t.Fatal("blinded element differs from the vector")
	}
	evals := map[int]Evaluation{}
	for _, nv := range v.Nodes {
		share, err := KeyShareFromBytes(nv.Index, nv.KeyShare)
		if err != nil {
			t.Fatal(err)
		}
		pub := share.Public()
		if !bytes.Equal(pub.Element[:], nv.PublicShare) {
			t.Errorf("node %d: public share differs from the vector", nv.Index)
		}
		z, proof, err := share.evaluate(v.Blinded, scalarBytes(t, nv.ProofRandom))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(z[:], nv.Evaluated) || !bytes.Equal(proof[:], nv.Proof) {
			t.Errorf("node %d: evaluation or proof differs from the vector", nv.Index)
		}
		if evals[nv.Index], err = req.Verify(pub, nv.Evaluated, nv.Proof); err != nil {
			t.Fatalf("node %d: the vector's proof does not verify: %v", nv.Index, err)
		}
	}
	for _, c := range v.Combinations {
		var pick []Evaluation
		for _, i := range c.Indexes {
			pick = append(pick, evals[i])
		}
		if z := encodeElement(combine(pick)); !bytes.Equal(z[:], c.Combined) {
			t.Errorf("nodes %v: combined element differs from the vector", c.Indexes)
		}
		out, err := req.Finalize(v.Threshold, pick)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), v.Output) {
			t.Errorf("nodes %v: output differs from the vector", c.Indexes)
		}
	}
	key := Key{s: hide(scalarBytes(t, v.Key))}
	whole, err := key.Output(pw.Bytes())
	if err != nil || !bytes.Equal(whole.Bytes(), v.Output) {
		t.Fatalf("Key.Output differs from the vector: %v", err)
	}

	rwd, err := threshold.RandomizedPasswordFromBytes(v.Output)
	if err != nil {
		t.Fatal(err)
	}
	m, err := threshold.MasterSecretFromBytes(v.MasterSecret)
	if err != nil {
		t.Fatal(err)
	}
	for _, nv := range v.Nodes {
		lk, err := threshold.DeriveLoginKey(rwd, m, nv.PeerID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(lk.Bytes()[:32], nv.LoginSeed) || !bytes.Equal(lk.Public(), nv.LoginPublicKey) {
			t.Errorf("node %d: login key differs from the vector", nv.Index)
		}
	}
}
