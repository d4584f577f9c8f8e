package threshold

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// The known-answer vectors in testdata/vectors.json are made by the spec
// functions below, which write docs/threshold.md's formulas out by hand with the
// primitives alone and share no code with the package. TestVectors checks the
// file against them, then the package against the file, so the file, the
// design and the package cannot drift apart. docs/threshold.md documents the
// fields for other implementations.

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the spec functions")

const vectorsFile = "testdata/vectors.json"

type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }
func (h *hexBytes) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	*h = v
	return err
}

type vectorFile struct {
	About        string            `json:"about"`
	Argon2id     []argon2Vector    `json:"argon2id"`
	ClientKey    []clientKeyVector `json:"client_key"`
	DataKey      []dataKeyVector   `json:"data_key"`
	Commitment   []commitVector    `json:"commitment"`
	KeyCommit    []keyCommitVector `json:"key_commitment"`
	Shamir       []shamirVector    `json:"shamir"`
	SealedRecord []sealedVector    `json:"sealed_record"`
	OpenFailure  []openFailure     `json:"open_failure"`
}

type argon2Vector struct {
	Password    string   `json:"password"`
	Salt        hexBytes `json:"salt"`
	Time        uint32   `json:"time"`
	Memory      uint32   `json:"memory_kib"`
	Threads     uint8    `json:"threads"`
	PasswordKey hexBytes `json:"password_key"`
}

type clientKeyVector struct {
	MasterSecret hexBytes `json:"master_secret"`
	UnitID       hexBytes `json:"unit_id"`
	ClientKey    hexBytes `json:"client_key"`
}

type dataKeyVector struct {
	ClientKey hexBytes `json:"client_key"`
	ServerKey hexBytes `json:"server_key"`
	UnitID    hexBytes `json:"unit_id"`
	Version   uint64   `json:"version"`
	DataKey   hexBytes `json:"data_key"`
}

type commitVector struct {
	UnitID     hexBytes `json:"unit_id"`
	Version    uint64   `json:"version"`
	PeerID     hexBytes `json:"peer_id"`
	Share      hexBytes `json:"share"`
	Input      hexBytes `json:"input"`
	Commitment hexBytes `json:"commitment"`
}

type keyCommitVector struct {
	ServerKey  hexBytes `json:"server_key"`
	UnitID     hexBytes `json:"unit_id"`
	Version    uint64   `json:"version"`
	Commitment hexBytes `json:"commitment"`
}

type shamirVector struct {
	Threshold int        `json:"threshold"`
	Secret    hexBytes   `json:"secret"`
	Shares    []hexBytes `json:"shares"`
}

type sealedVector struct {
	DataKey        hexBytes `json:"data_key"`
	Nonce          hexBytes `json:"nonce"`
	User           string   `json:"user"`
	UnitID         hexBytes `json:"unit_id"`
	Version        uint64   `json:"version"`
	Record         string   `json:"record"`
	AssociatedData hexBytes `json:"associated_data"`
	Sealed         hexBytes `json:"sealed"`
}

type openFailure struct {
	Description string   `json:"description"`
	DataKey     hexBytes `json:"data_key"`
	User        string   `json:"user"`
	UnitID      hexBytes `json:"unit_id"`
	Version     uint64   `json:"version"`
	Sealed      hexBytes `json:"sealed"`
}

// testBytes returns n bytes determined by label, so that regenerating the
// vectors gives the same file.
func testBytes(label string, n int) []byte {
	var out []byte
	for i := byte(0); len(out) < n; i++ {
		h := sha256.Sum256(append([]byte("custos test vector/"+label+"/"), i))
		out = append(out, h[:]...)
	}
	return out[:n]
}

// specPeerID is a libp2p peer ID in binary form for an Ed25519 key: the
// identity multihash (0x00, length 0x24) of the protobuf PublicKey message
// {Type: Ed25519 (0x08 0x01), Data: 32 bytes (0x12 0x20)}.
func specPeerID(label string) []byte {
	pub := ed25519.NewKeyFromSeed(testBytes(label, 32)).Public().(ed25519.PublicKey)
	return append([]byte{0x00, 0x24, 0x08, 0x01, 0x12, 0x20}, pub...)
}

func specLP(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

func specU64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func specCat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func specHKDF(ikm, salt []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, ikm, salt, info, 32)
	if err != nil {
		panic(err)
	}
	return k
}

// specMul multiplies in GF(2^8) with the AES polynomial x^8+x^4+x^3+x+1, the
// field of vault/shamir.
func specMul(a, b byte) byte {
	var p byte
	for ; b != 0; b >>= 1 {
		if b&1 != 0 {
			p ^= a
		}
		carry := a & 0x80
		a <<= 1
		if carry != 0 {
			a ^= 0x1b
		}
	}
	return p
}

// specShares deals secret with polynomials of degree k-1 whose other
// coefficients come from testBytes; share = y values ‖ x.
func specShares(secret []byte, k int, xs []byte) []hexBytes {
	coeffs := testBytes("shamir coefficients", len(secret)*(k-1))
	shares := make([]hexBytes, len(xs))
	for i, x := range xs {
		share := make([]byte, len(secret)+1)
		for j, s := range secret {
			// Horner's rule from the highest coefficient down to the secret.
			var y byte
			for d := k - 1; d >= 1; d-- {
				y = specMul(y, x) ^ coeffs[j*(k-1)+d-1]
			}
			share[j] = specMul(y, x) ^ s
		}
		share[len(secret)] = x
		shares[i] = share
	}
	return shares
}

func specVectors() vectorFile {
	const password = "correct horse battery staple"
	salt := testBytes("salt", 16)
	pw := argon2.IDKey([]byte(password), salt, 3, 64*1024, 4, 32)
	m := testBytes("master secret", 32)
	unit := testBytes("unit id", 16)
	s := testBytes("server key", 32)
	const version = 1
	c := specHKDF(m, unit, "custos/v1/client-key")
	k := specHKDF(specCat(c, s), specCat(unit, specU64(version)), "custos/v1/data-key")
	peer := specPeerID("node a")

	secret := testBytes("shamir secret", 32)
	shares := specShares(secret, 3, []byte{7, 42, 99, 200, 255})
	commitInput := specCat(specLP([]byte("custos/v1/share")), unit, specU64(version), specLP(peer), shares[0])
	commitment := sha256.Sum256(commitInput)
	keyCommit := sha256.Sum256(specCat(specLP([]byte("custos/v1/key")), unit, specU64(version), s))

	const user = "alice@example.org"
	record := `{"username":"svc-acme","password":"hunter2"}`
	nonce := testBytes("nonce", 24)
	ad := specCat(specLP([]byte("custos/v1")), specLP([]byte(user)), unit, specU64(version))
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		panic(err)
	}
	sealed := specCat([]byte{0x01}, nonce, aead.Seal(nil, nonce, []byte(record), ad))

	fail := func(desc string, key []byte, user string, unit []byte, version uint64, sealed []byte) openFailure {
		return openFailure{desc, key, user, unit, version, sealed}
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 0x01
	v2 := bytes.Clone(sealed)
	v2[0] = 0x02
	return vectorFile{
		About: "custos/v1 known-answer vectors; the fields are documented in docs/threshold.md. " +
			"Byte strings are hexadecimal; a version is an unsigned 64-bit integer.",
		Argon2id:   []argon2Vector{{password, salt, 3, 64 * 1024, 4, pw}},
		ClientKey:  []clientKeyVector{{m, unit, c}},
		DataKey:    []dataKeyVector{{c, s, unit, version, k}},
		Commitment: []commitVector{{unit, version, peer, shares[0], commitInput, commitment[:]}},
		KeyCommit:  []keyCommitVector{{s, unit, version, keyCommit[:]}},
		Shamir:     []shamirVector{{3, secret, shares}},
		SealedRecord: []sealedVector{{
			DataKey: k, Nonce: nonce, User: user, UnitID: unit, Version: version,
			Record: record, AssociatedData: ad, Sealed: sealed,
		}},
		OpenFailure: []openFailure{
			fail("wrong data key", testBytes("another data key", 32), user, unit, version, sealed),
			fail("another user", k, "mallory@example.org", unit, version, sealed),
			fail("another unit", k, user, testBytes("another unit id", 16), version, sealed),
			fail("another version", k, user, unit, version+1, sealed),
			fail("last byte of the tag flipped", k, user, unit, version, flipped),
			fail("truncated by one byte", k, user, unit, version, sealed[:len(sealed)-1]),
			fail("unknown format version 2", k, user, unit, version, v2),
			fail("shorter than any sealed record", k, user, unit, version, sealed[:40]),
		},
	}
}

func TestVectors(t *testing.T) {
	want, err := json.MarshalIndent(specVectors(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile(vectorsFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s does not match the spec functions; run go test -run TestVectors -update and review the diff", vectorsFile)
	}
	var v vectorFile
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatal(err)
	}
	t.Run("argon2id", func(t *testing.T) { checkArgon2Vectors(t, v.Argon2id) })
	t.Run("derivations", func(t *testing.T) { checkDerivationVectors(t, v) })
	t.Run("commitment", func(t *testing.T) { checkCommitVectors(t, v.Commitment) })
	t.Run("key commitment", func(t *testing.T) {
		for _, kv := range v.KeyCommit {
			got := CommitKey(ServerKey{secretFrom(kv.ServerKey)}, unitOf(t, kv.UnitID), kv.Version)
			if !bytes.Equal(got[:], kv.Commitment) {
				t.Error("key commitment differs from the vector")
			}
		}
	})
	t.Run("shamir", func(t *testing.T) { checkShamirVectors(t, v.Shamir) })
	t.Run("sealed record", func(t *testing.T) { checkSealedVectors(t, v.SealedRecord, v.OpenFailure) })
}

func unitOf(t *testing.T, b []byte) UnitID {
	t.Helper()
	if len(b) != UnitIDSize {
		t.Fatalf("unit ID of %d bytes", len(b))
	}
	return UnitID(b)
}

func checkArgon2Vectors(t *testing.T, vs []argon2Vector) {
	for _, v := range vs {
		kdf := PasswordKDF{Salt: v.Salt, Time: v.Time, Memory: v.Memory, Threads: v.Threads}
		pw, err := kdf.Derive([]byte(v.Password))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pw.Bytes(), v.PasswordKey) {
			t.Error("password key differs from the vector")
		}
	}
}

func checkDerivationVectors(t *testing.T, v vectorFile) {
	for _, cv := range v.ClientKey {
		m, err := MasterSecretFromBytes(cv.MasterSecret)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := DeriveClientKey(m, unitOf(t, cv.UnitID)); !bytes.Equal(got.Bytes(), cv.ClientKey) {
			t.Error("client key differs from the vector")
		}
	}
	for _, dv := range v.DataKey {
		c, s := ClientKey{secretFrom(dv.ClientKey)}, ServerKey{secretFrom(dv.ServerKey)}
		if got, _ := DeriveDataKey(c, s, unitOf(t, dv.UnitID), dv.Version); !bytes.Equal(got.Bytes(), dv.DataKey) {
			t.Error("data key differs from the vector")
		}
	}
}

func checkCommitVectors(t *testing.T, vs []commitVector) {
	for _, v := range vs {
		s, err := ParseShare(v.Share)
		if err != nil {
			t.Fatal(err)
		}
		got := Commit(unitOf(t, v.UnitID), v.Version, v.PeerID, s.Bytes())
		if !bytes.Equal(got[:], v.Commitment) {
			t.Error("commitment differs from the vector")
		}
		if !Commitment(v.Commitment).Verify(unitOf(t, v.UnitID), v.Version, v.PeerID, s.Bytes()) {
			t.Error("the vector's commitment does not verify its share")
		}
	}
}

func checkShamirVectors(t *testing.T, vs []shamirVector) {
	for _, v := range vs {
		unit := UnitID{}
		for _, subset := range subsets(len(v.Shares), v.Threshold) {
			slots := make([]Slot, len(v.Shares))
			for i, raw := range v.Shares {
				peer := []byte{byte(i)}
				s, err := ParseShare(raw)
				if err != nil {
					t.Fatal(err)
				}
				slots[i] = Slot{Node: string(rune('a' + i)), PeerID: peer, Commitment: Commit(unit, 1, peer, s.Bytes())}
				if subset[i] {
					slots[i].Share = s.Bytes()
				}
			}
			key, _, err := Combine(v.Threshold, unit, 1, CommitKey(ServerKey{secretFrom(v.Secret)}, unit, 1), slots)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(key.Bytes(), v.Secret) {
				t.Errorf("shares %v do not combine to the vector's secret", subset)
			}
		}
	}
}

func checkSealedVectors(t *testing.T, vs []sealedVector, fails []openFailure) {
	for _, v := range vs {
		k, unit := DataKey{secretFrom(v.DataKey)}, unitOf(t, v.UnitID)
		if got := associatedData(v.User, unit, v.Version); !bytes.Equal(got, v.AssociatedData) {
			t.Error("associated data differs from the vector")
		}
		sealed, err := seal(k, v.Nonce, v.User, unit, v.Version, []byte(v.Record))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sealed, v.Sealed) {
			t.Error("sealed record differs from the vector")
		}
		record, err := Open(k, v.User, unit, v.Version, v.Sealed)
		if err != nil || string(record) != v.Record {
			t.Errorf("Open(vector) = %v; want the vector's record", err)
		}
	}
	for _, f := range fails {
		_, err := Open(DataKey{secretFrom(f.DataKey)}, f.User, unitOf(t, f.UnitID), f.Version, f.Sealed)
		if !errors.Is(err, ErrOpen) {
			t.Errorf("%s: Open = %v; want ErrOpen", f.Description, err)
		}
	}
}
