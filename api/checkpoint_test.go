package api

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The known-answer vectors in testdata/checkpoint_vectors.json are made by
// checkpointSpecSign below, which writes the C2SP signed-note and
// tlog-checkpoint formats out by hand with crypto/ed25519 and crypto/sha256
// alone. TestCheckpointVectors checks the file against it, then the package
// against the file, so another implementation (the JS SDK) can prove it
// verifies what a node signs.

var checkpointUpdate = flag.Bool("update-checkpoint-vectors", false, "rewrite testdata/checkpoint_vectors.json from the spec functions")

const checkpointVectorsFile = "testdata/checkpoint_vectors.json"

type checkpointVectorFile struct {
	About       string             `json:"about"`
	Checkpoints []checkpointVector `json:"checkpoints"`
}

type checkpointVector struct {
	Seed        string `json:"seed"`         // hex, the Ed25519 private key seed
	PublicKey   string `json:"public_key"`   // hex
	Origin      string `json:"origin"`       // also the key name
	Size        int64  `json:"size"`         // tree size
	Root        string `json:"root"`         // standard base64 of the root hash
	KeyID       string `json:"key_id"`       // hex, 4 bytes
	VerifierKey string `json:"verifier_key"` // "<name>+<key id>+base64(0x01 ‖ public key)"
	Signed      string `json:"signed"`       // the whole signed note
}

// checkpointSpecSign builds a signed checkpoint from the specifications:
// key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4], the body
// "origin\nsize\nroot\n", a blank line, and "— name base64(key ID ‖ sig)\n".
func checkpointSpecSign(seed []byte, origin string, size int64, root []byte) checkpointVector {
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	idInput := append(append([]byte(origin+"\n"), 0x01), pub...)
	sum := sha256.Sum256(idInput)
	id := sum[:4]
	body := origin + "\n" + strconv.FormatInt(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root) + "\n"
	sig := ed25519.Sign(priv, []byte(body))
	return checkpointVector{
		Seed:        hex.EncodeToString(seed),
		PublicKey:   hex.EncodeToString(pub),
		Origin:      origin,
		Size:        size,
		Root:        base64.StdEncoding.EncodeToString(root),
		KeyID:       hex.EncodeToString(id),
		VerifierKey: origin + "+" + hex.EncodeToString(id) + "+" + base64.StdEncoding.EncodeToString(append([]byte{0x01}, pub...)),
		Signed:      body + "\n" + "\u2014 " + origin + " " + base64.StdEncoding.EncodeToString(append(append([]byte{}, id...), sig...)) + "\n",
	}
}

func checkpointSpecVectors() checkpointVectorFile {
	seed := func(label string) []byte { s := sha256.Sum256([]byte("custos test seed " + label)); return s[:] }
	emptyRoot := sha256.Sum256(nil)
	root1 := sha256.Sum256(append([]byte{0}, "first entry"...)) // RFC 6962 leaf hash
	rootN := sha256.Sum256([]byte("some root"))
	return checkpointVectorFile{
		About: "custos audit log checkpoints (c2sp.org/tlog-checkpoint signed with c2sp.org/signed-note Ed25519). " +
			"seed and public_key are hexadecimal; root is standard base64; signed is the whole note, as a node sends it.",
		Checkpoints: []checkpointVector{
			checkpointSpecSign(seed("node-a"), "custos/node-a", 0, emptyRoot[:]),
			checkpointSpecSign(seed("node-a"), "custos/node-a", 1, root1[:]),
			checkpointSpecSign(seed("custodian.example.org"), "custos/custodian.example.org", 1234567890123, rootN[:]),
		},
	}
}

func TestCheckpointVectors(t *testing.T) {
	spec := checkpointSpecVectors()
	want, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *checkpointUpdate {
		if err := os.WriteFile(checkpointVectorsFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(checkpointVectorsFile)
	if err != nil {
		t.Fatalf("read vectors (run with -update-checkpoint-vectors to create them): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the spec functions; rerun with -update-checkpoint-vectors if the change is intended", checkpointVectorsFile)
	}
	var file checkpointVectorFile
	if err := json.Unmarshal(got, &file); err != nil {
		t.Fatal(err)
	}
	for _, v := range file.Checkpoints {
		t.Run(fmt.Sprintf("%s/%d", v.Origin, v.Size), func(t *testing.T) {
			seed, _ := hex.DecodeString(v.Seed)
			priv := ed25519.NewKeyFromSeed(seed)
			pub := priv.Public().(ed25519.PublicKey)
			root, err := tlog.ParseHash(v.Root)
			if err != nil {
				t.Fatal(err)
			}
			s, err := NoteSigner(v.Origin, priv)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%08x", s.KeyHash()); got != v.KeyID {
				t.Errorf("key ID %s, want %s", got, v.KeyID)
			}
			vkey, err := note.NewEd25519VerifierKey(v.Origin, pub)
			if err != nil || vkey != v.VerifierKey {
				t.Errorf("verifier key %q (%v), want %q", vkey, err, v.VerifierKey)
			}
			signed, err := SignCheckpoint(Checkpoint{Origin: v.Origin, Size: v.Size, Root: root}, s)
			if err != nil {
				t.Fatal(err)
			}
			if string(signed) != v.Signed {
				t.Errorf("SignCheckpoint =\n%s\nwant\n%s", signed, v.Signed)
			}
			c, err := OpenCheckpoint([]byte(v.Signed), v.Origin, pub)
			if err != nil {
				t.Fatal(err)
			}
			if c != (Checkpoint{Origin: v.Origin, Size: v.Size, Root: root}) {
				t.Errorf("OpenCheckpoint = %+v", c)
			}
		})
	}
}

// checkpointTestKey returns a fixed Ed25519 key for label.
func checkpointTestKey(label string) (ed25519.PrivateKey, ed25519.PublicKey) {
	seed := sha256.Sum256([]byte("custos checkpoint test key " + label))
	priv := ed25519.NewKeyFromSeed(seed[:])
	return priv, priv.Public().(ed25519.PublicKey)
}

func checkpointTestSigner(t testing.TB, origin string, priv ed25519.PrivateKey) note.Signer {
	t.Helper()
	s, err := NoteSigner(origin, priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNoteSignerIsStandardEd25519(t *testing.T) {
	origin := LogOrigin("node-a")
	if origin != "custos/node-a" {
		t.Fatalf("LogOrigin = %q", origin)
	}
	priv, pub := checkpointTestKey("a")
	ours := checkpointTestSigner(t, origin, priv)

	vkey, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		t.Fatal(err)
	}
	std, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if ours.Name() != std.Name() || ours.KeyHash() != std.KeyHash() {
		t.Fatalf("signer %s+%08x, standard verifier %s+%08x", ours.Name(), ours.KeyHash(), std.Name(), std.KeyHash())
	}

	// The signer x/mod builds from an encoded private key must produce the
	// same (deterministic) signature.
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", origin, std.KeyHash(),
		base64.StdEncoding.EncodeToString(append([]byte{0x01}, priv.Seed()...)))
	stdSigner, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	text := "custos/node-a\n7\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"
	msgOurs, err := note.Sign(&note.Note{Text: text}, ours)
	if err != nil {
		t.Fatal(err)
	}
	msgStd, err := note.Sign(&note.Note{Text: text}, stdSigner)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msgOurs, msgStd) {
		t.Errorf("our note\n%s\nx/mod's note\n%s", msgOurs, msgStd)
	}
	n, err := note.Open(msgOurs, note.VerifierList(std))
	if err != nil {
		t.Fatalf("the standard verifier refuses our signature: %v", err)
	}
	if n.Text != text || len(n.Sigs) != 1 {
		t.Errorf("note.Open = %+v", n)
	}

	ourVerifier, err := NoteVerifier(origin, pub)
	if err != nil {
		t.Fatal(err)
	}
	if ourVerifier.Name() != std.Name() || ourVerifier.KeyHash() != std.KeyHash() {
		t.Errorf("NoteVerifier = %s+%08x", ourVerifier.Name(), ourVerifier.KeyHash())
	}
	if _, err := note.Open(msgStd, note.VerifierList(ourVerifier)); err != nil {
		t.Errorf("NoteVerifier refuses x/mod's signature: %v", err)
	}
}

func TestNoteSignerRefusesBadInput(t *testing.T) {
	priv, pub := checkpointTestKey("a")
	mismatched := append(ed25519.PrivateKey{}, priv...)
	_, other := checkpointTestKey("b")
	copy(mismatched[ed25519.SeedSize:], other)
	for _, tc := range []struct {
		name   string
		origin string
		key    ed25519.PrivateKey
	}{
		{"empty origin is refused", "", priv},
		{"origin with a space is refused", "custos/node a", priv},
		{"origin with a newline is refused", "custos/node\na", priv},
		{"origin with a plus is refused", "custos/node+a", priv},
		{"origin that is not UTF-8 is refused", "custos/\xff", priv},
		{"short private key is refused", "custos/a", priv[:32]},
		{"private key whose public half is not its seed's is refused", "custos/a", mismatched},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NoteSigner(tc.origin, tc.key); err == nil {
				t.Error("NoteSigner accepted it")
			}
			if tc.origin != "custos/a" {
				if _, err := NoteVerifier(tc.origin, pub); err == nil {
					t.Error("NoteVerifier accepted it")
				}
			}
		})
	}
	if _, err := NoteVerifier("custos/a", pub[:31]); err == nil {
		t.Error("NoteVerifier accepted a 31-byte public key")
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	priv, pub := checkpointTestKey("a")
	origin := LogOrigin("node-a")
	s := checkpointTestSigner(t, origin, priv)
	for _, size := range []int64{0, 1, 2, 1000, math.MaxInt64} {
		c := Checkpoint{Origin: origin, Size: size, Root: tlog.Hash(sha256.Sum256([]byte(strconv.FormatInt(size, 10))))}
		signed, err := SignCheckpoint(c, s)
		if err != nil {
			t.Fatal(err)
		}
		if len(signed) > MaxCheckpointSize {
			t.Fatalf("signed checkpoint is %d bytes", len(signed))
		}
		got, err := OpenCheckpoint(signed, origin, pub)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if got != c {
			t.Errorf("round trip of %+v gave %+v", c, got)
		}
		if want := fmt.Sprintf("%s\n%d\n%s\n", origin, size, c.Root); string(c.Text()) != want {
			t.Errorf("Text = %q, want %q", c.Text(), want)
		}
	}
}

func TestSignCheckpointRefusesBadInput(t *testing.T) {
	priv, _ := checkpointTestKey("a")
	s := checkpointTestSigner(t, "custos/a", priv)
	for _, tc := range []struct {
		name string
		c    Checkpoint
	}{
		{"negative size is refused", Checkpoint{Origin: "custos/a", Size: -1}},
		{"origin other than the signer's key name is refused", Checkpoint{Origin: "custos/b", Size: 1}},
		{"origin with a newline is refused", Checkpoint{Origin: "custos/a\n2", Size: 1}},
		{"empty origin is refused", Checkpoint{Size: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if signed, err := SignCheckpoint(tc.c, s); err == nil {
				t.Errorf("SignCheckpoint signed\n%s", signed)
			}
		})
	}
}

// checkpointSignText signs an arbitrary note text with s, for building
// checkpoints that are correctly signed but malformed.
func checkpointSignText(t testing.TB, text string, s ...note.Signer) []byte {
	t.Helper()
	msg, err := note.Sign(&note.Note{Text: text}, s...)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestOpenCheckpointRules(t *testing.T) {
	origin := "custos/node-a"
	priv, pub := checkpointTestKey("a")
	otherPriv, _ := checkpointTestKey("other")
	s := checkpointTestSigner(t, origin, priv)
	root := tlog.Hash(sha256.Sum256([]byte("root")))
	root64 := root.String()
	good := Checkpoint{Origin: origin, Size: 42, Root: root}
	signed, err := SignCheckpoint(good, s)
	if err != nil {
		t.Fatal(err)
	}
	witness := checkpointTestSigner(t, "witness.example/w1", otherPriv)
	sameNameOtherKey := checkpointTestSigner(t, origin, otherPriv)
	sameKeyOtherName := checkpointTestSigner(t, "custos/node-b", priv)
	body := func(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

	for _, tc := range []struct {
		name   string
		signed []byte
		want   error // nil: accepted and equal to good
	}{
		{"checkpoint signed by the node is accepted", signed, nil},
		{"extension lines are ignored", checkpointSignText(t, body(origin, "42", root64, "ext one", "ext two"), s), nil},
		{"a witness cosignature is ignored", checkpointSignText(t, string(good.Text()), s, witness), nil},

		{"signature by another key under the same name is refused",
			checkpointSignText(t, string(good.Text()), sameNameOtherKey), ErrCheckpointSignature},
		{"signature by the node's key under another origin is refused",
			checkpointSignText(t, body("custos/node-b", "42", root64), sameKeyOtherName), ErrCheckpointSignature},
		{"only a witness signature is refused", checkpointSignText(t, string(good.Text()), witness), ErrCheckpointSignature},
		{"altered size is refused", bytes.Replace(signed, []byte("\n42\n"), []byte("\n43\n"), 1), ErrCheckpointSignature},
		{"altered root is refused", bytes.Replace(signed, []byte(root64), []byte((tlog.Hash{}).String()), 1), ErrCheckpointSignature},
		{"added extension line is refused", bytes.Replace(signed, []byte(root64+"\n"), []byte(root64+"\nextra\n"), 1), ErrCheckpointSignature},
		{"altered signature is refused", append(bytes.Clone(signed[:len(signed)-6]), []byte("AAAA=\n")...), ErrCheckpointSignature},

		{"signed body naming another origin is refused", checkpointSignText(t, body("custos/node-b", "42", root64), s), ErrCheckpointMalformed},
		{"size with a leading zero is refused", checkpointSignText(t, body(origin, "042", root64), s), ErrCheckpointMalformed},
		{"size with a plus sign is refused", checkpointSignText(t, body(origin, "+42", root64), s), ErrCheckpointMalformed},
		{"negative size is refused", checkpointSignText(t, body(origin, "-42", root64), s), ErrCheckpointMalformed},
		{"size beyond int64 is refused", checkpointSignText(t, body(origin, "9223372036854775808", root64), s), ErrCheckpointMalformed},
		{"size with a space is refused", checkpointSignText(t, body(origin, "42 ", root64), s), ErrCheckpointMalformed},
		{"hexadecimal size is refused", checkpointSignText(t, body(origin, "0x2a", root64), s), ErrCheckpointMalformed},
		{"empty size is refused", checkpointSignText(t, body(origin, "", root64), s), ErrCheckpointMalformed},
		{"missing root is refused", checkpointSignText(t, body(origin, "42"), s), ErrCheckpointMalformed},
		{"31-byte root is refused", checkpointSignText(t, body(origin, "42", base64.StdEncoding.EncodeToString(root[:31])), s), ErrCheckpointMalformed},
		{"33-byte root is refused", checkpointSignText(t, body(origin, "42", base64.StdEncoding.EncodeToString(append(root[:], 0))), s), ErrCheckpointMalformed},
		{"unpadded base64 root is refused", checkpointSignText(t, body(origin, "42", strings.TrimRight(root64, "=")), s), ErrCheckpointMalformed},
		{"URL-safe base64 root is refused", checkpointSignText(t, body(origin, "42", base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32))), s), ErrCheckpointMalformed},
		{"non-canonical base64 root is refused", checkpointSignText(t, body(origin, "42", root64[:42]+checkpointFlipLowBits(root64[42])+"="), s), ErrCheckpointMalformed},
		{"empty extension line is refused", checkpointSignText(t, body(origin, "42", root64, "", "ext"), s), ErrCheckpointMalformed},
		{"empty origin line is refused", checkpointSignText(t, body("", "42", root64), s), ErrCheckpointMalformed},
		{"note with no signature is refused", good.Text(), ErrCheckpointMalformed},
		{"note with a control character is refused", checkpointSignText(t, body(origin, "42", root64, "a\tb"), s), ErrCheckpointMalformed},
		{"note over the size cap is refused", checkpointSignText(t, body(origin, "42", root64, strings.Repeat("x", MaxCheckpointSize)), s), ErrCheckpointMalformed},
		{"empty input is refused", nil, ErrCheckpointMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := OpenCheckpoint(tc.signed, origin, pub)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c != good {
					t.Fatalf("OpenCheckpoint = %+v, want %+v", c, good)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("OpenCheckpoint = %+v, %v; want an error matching %q", c, err, tc.want)
			}
			if c != (Checkpoint{}) {
				t.Errorf("a refused checkpoint came back non-zero: %+v", c)
			}
		})
	}
}

// checkpointFlipLowBits returns the base64 character that differs from c in
// its lowest two bits, which the 44th character of a 32-byte encoding must
// have zero.
func checkpointFlipLowBits(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i^1])
}

func TestOpenCheckpointRefusesBadPinnedKey(t *testing.T) {
	priv, pub := checkpointTestKey("a")
	signed, err := SignCheckpoint(Checkpoint{Origin: "custos/a", Size: 1}, checkpointTestSigner(t, "custos/a", priv))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCheckpoint(signed, "custos/a", pub[:16]); err == nil {
		t.Error("opened with a 16-byte public key")
	}
	if _, err := OpenCheckpoint(signed, "custos/a b", pub); err == nil {
		t.Error("opened with an origin holding a space")
	}
}

func FuzzOpenCheckpoint(f *testing.F) {
	origin := "custos/node-a"
	priv, pub := checkpointTestKey("a")
	s := checkpointTestSigner(f, origin, priv)
	good := Checkpoint{Origin: origin, Size: 42, Root: tlog.Hash(sha256.Sum256([]byte("root")))}
	// sign=true: the input is a note text, signed here with the node's key,
	// so the fuzzer reaches the body parser; sign=false: a whole signed note.
	f.Add(good.Text(), true)
	f.Add(append(good.Text(), "ext\n"...), true)
	f.Add([]byte(origin+"\n042\n"+good.Root.String()+"\n"), true)
	f.Add([]byte(origin+"\n42\n\n"), true)
	signed, err := SignCheckpoint(good, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed, false)
	f.Add(append(signed, signed...), false)
	f.Fuzz(func(t *testing.T, in []byte, sign bool) {
		msg := in
		if sign {
			m, err := note.Sign(&note.Note{Text: string(in)}, s)
			if err != nil {
				return
			}
			msg = m
		}
		c, err := OpenCheckpoint(msg, origin, pub)
		if err != nil {
			if !errors.Is(err, ErrCheckpointMalformed) && !errors.Is(err, ErrCheckpointSignature) {
				t.Fatalf("error matches neither sentinel: %v", err)
			}
			return
		}
		// An accepted checkpoint is exactly its canonical body, perhaps
		// followed by extension lines, and re-signs to a note that opens to
		// the same checkpoint.
		if c.Origin != origin || c.Size < 0 {
			t.Fatalf("accepted %+v", c)
		}
		if !bytes.HasPrefix(msg, c.Text()) {
			t.Fatalf("accepted note does not start with the canonical body %q:\n%q", c.Text(), msg)
		}
		again, err := SignCheckpoint(c, s)
		if err != nil {
			t.Fatal(err)
		}
		if c2, err := OpenCheckpoint(again, origin, pub); err != nil || c2 != c {
			t.Fatalf("re-signed checkpoint opens to %+v, %v", c2, err)
		}
	})
}

// The signed-note format puts the key ID in the first 4 bytes of the decoded
// signature; check that ours is big-endian as the spec says, independently of
// x/mod.
func TestCheckpointKeyIDByteOrder(t *testing.T) {
	priv, pub := checkpointTestKey("a")
	signed, err := SignCheckpoint(Checkpoint{Origin: "custos/a", Size: 3}, checkpointTestSigner(t, "custos/a", priv))
	if err != nil {
		t.Fatal(err)
	}
	line := signed[bytes.LastIndex(signed, []byte("\n\n"))+2:]
	line = bytes.TrimSuffix(bytes.TrimPrefix(line, []byte("\u2014 custos/a ")), []byte("\n"))
	raw, err := base64.StdEncoding.DecodeString(string(line))
	if err != nil || len(raw) != 4+ed25519.SignatureSize {
		t.Fatalf("signature line %q: %v", line, err)
	}
	sum := sha256.Sum256(append([]byte("custos/a\n\x01"), pub...))
	if binary.BigEndian.Uint32(raw) != binary.BigEndian.Uint32(sum[:4]) {
		t.Errorf("key ID %x, want %x", raw[:4], sum[:4])
	}
	if !ed25519.Verify(pub, []byte("custos/a\n3\n"+(tlog.Hash{}).String()+"\n"), raw[4:]) {
		t.Error("the signature does not verify over the body with crypto/ed25519")
	}
}
