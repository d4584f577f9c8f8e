package toprf

import (
	"bytes"
	"errors"
	"math/big"
	"slices"
	"testing"
)

// The fuzz targets cover every decoder of bytes from a peer or a store:
// elements (blinded, evaluated, public shares), scalars (key shares) and
// proofs. Each checks the decoder against a property stated independently
// of it.

func FuzzCheckElement(f *testing.F) {
	f.Add(unhex(f, generatorEnc))
	f.Add(unhex(f, rfc9497VOPRF.pkSm))
	f.Add(make([]byte, ElementSize))
	f.Add(unhex(f, fieldP))
	f.Add([]byte{1})
	share, err := KeyShareFromBytes(1, unhex(f, rfc9497VOPRF.skSm))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckElement(b)
		if err != nil {
			if !errors.Is(err, ErrElement) {
				t.Fatalf("CheckElement = %v; want ErrElement", err)
			}
			if _, _, err := share.Evaluate(b); !errors.Is(err, ErrElement) {
				t.Fatalf("Evaluate took an element CheckElement refuses: %v", err)
			}
			return
		}
		// Accepted: 32 bytes, the one encoding of its element (canonical),
		// not the identity, and usable by every operation.
		e, _ := decodeElement(b)
		if enc := encodeElement(e); len(b) != ElementSize || !bytes.Equal(enc[:], b) || e.IsIdentity() {
			t.Fatalf("accepted %x, which is not a canonical non-identity encoding", b)
		}
		if b[0]&1 != 0 || b[31]&0x80 != 0 {
			t.Fatalf("accepted %x, a negative or over-long field element", b)
		}
		z, p, err := share.Evaluate(b)
		if err != nil || !Verify(share.Public(), b, z[:], p[:]) {
			t.Fatalf("an accepted element does not evaluate and verify: %v", err)
		}
	})
}

// groupOrder is l, for a check of scalar decoding that shares nothing with
// circl's.
var groupOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

func FuzzKeyShareFromBytes(f *testing.F) {
	f.Add(unhex(f, rfc9497VOPRF.skSm))
	f.Add(unhex(f, groupL))
	f.Add(unhex(f, groupLPlus1))
	f.Add(make([]byte, ScalarSize))
	f.Add(bytes.Repeat([]byte{0xff}, ScalarSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := KeyShareFromBytes(3, b)
		le := slices.Clone(b)
		slices.Reverse(le)
		v := new(big.Int).SetBytes(le)
		valid := len(b) == ScalarSize && v.Sign() > 0 && v.Cmp(groupOrder) < 0
		if (err == nil) != valid {
			t.Fatalf("KeyShareFromBytes(%x) = %v; valid %v", b, err, valid)
		}
		if err != nil {
			if !errors.Is(err, ErrScalar) {
				t.Fatalf("err = %v; want ErrScalar", err)
			}
			return
		}
		if !bytes.Equal(s.Bytes(), b) {
			t.Fatal("a key share does not give back its bytes")
		}
		if pub := s.Public(); pub.Index != 3 || CheckElement(pub.Element[:]) != nil {
			t.Fatal("a key share has no valid public part")
		}
	})
}

// FuzzVerify lets the fuzzer answer a fixed request in a node's place: no
// answer may verify unless its evaluation is the honest one, and a proof
// that decodes is its own canonical encoding.
func FuzzVerify(f *testing.F) {
	share, err := KeyShareFromBytes(2, unhex(f, rfc9497VOPRF.skSm))
	if err != nil {
		f.Fatal(err)
	}
	pub := share.Public()
	req, err := blind([]byte("fuzz input"), scalarOf(f, rfc9497VOPRF.vectors[0].blind))
	if err != nil {
		f.Fatal(err)
	}
	b := req.Blinded()
	z, p, err := share.Evaluate(b[:])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(z[:], p[:])
	f.Add(z[:], append(p[ScalarSize:], p[:ScalarSize]...))
	f.Add(b[:], p[:])
	f.Add(make([]byte, ElementSize), make([]byte, ProofSize))
	f.Fuzz(func(t *testing.T, evaluated, proof []byte) {
		ok := Verify(pub, b[:], evaluated, proof)
		_, err := req.Verify(pub, evaluated, proof)
		if ok != (err == nil) {
			t.Fatalf("Verify = %v but Request.Verify = %v", ok, err)
		}
		if err != nil && !errors.Is(err, ErrProof) {
			t.Fatalf("a node's bad answer gave %v; want ErrProof", err)
		}
		if ok && !bytes.Equal(evaluated, z[:]) {
			t.Fatalf("a wrong evaluation %x verified", evaluated)
		}
		if d, err := decodeProof(proof); err == nil {
			if enc := encodeProof(d); !bytes.Equal(enc[:], proof) {
				t.Fatalf("proof %x decodes but encodes as %x", proof, enc)
			}
		}
	})
}
