package toprf

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/cloudflare/circl/group"
)

// The test vectors of RFC 9497, appendix A.1.2 (VOPRF mode,
// ristretto255-SHA512). With one custodian holding the whole key as share 1
// and a threshold of 1, the threshold protocol is the plain VOPRF: the
// Lagrange coefficient of a single index is 1. So these pin the blinding,
// the evaluation, the proof and its serialization, and the finalization to
// the RFC byte for byte.
var rfc9497VOPRF = struct {
	skSm, pkSm string
	vectors    []struct{ input, blind, blinded, evaluated, proof, proofRandom, output string }
}{
	skSm: "e6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909",
	pkSm: "c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e",
	vectors: []struct{ input, blind, blinded, evaluated, proof, proofRandom, output string }{{
		input:       "00",
		blind:       "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
		blinded:     "863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945",
		evaluated:   "aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e",
		proof:       "ddef93772692e535d1a53903db24367355cc2cc78de93b3be5a8ffcc6985dd066d4346421d17bf5117a2a1ff0fcb2a759f58a539dfbe857a40bce4cf49ec600d",
		proofRandom: "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e",
		output:      "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7da4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c",
	}, {
		input:       "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
		blind:       "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
		blinded:     "cc0b2a350101881d8a4cba4c80241d74fb7dcbfde4a61fde2f91443c2bf9ef0c",
		evaluated:   "60a59a57208d48aca71e9e850d22674b611f752bed48b36f7a91b372bd7ad468",
		proof:       "401a0da6264f8cf45bb2f5264bc31e109155600babb3cd4e5af7d181a2c9dc0a67154fabf031fd936051dec80b0b6ae29c9503493dde7393b722eafdf5a50b02",
		proofRandom: "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e",
		output:      "8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6",
	}},
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func scalarOf(t testing.TB, s string) group.Scalar {
	t.Helper()
	return scalarBytes(t, unhex(t, s))
}

func scalarBytes(t testing.TB, b []byte) group.Scalar {
	t.Helper()
	x, err := decodeScalar(b)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestSingleShareMatchesRFC9497Vectors(t *testing.T) {
	v := rfc9497VOPRF
	share, err := KeyShareFromBytes(1, unhex(t, v.skSm))
	if err != nil {
		t.Fatal(err)
	}
	pub := share.Public()
	if !bytes.Equal(pub.Element[:], unhex(t, v.pkSm)) {
		t.Fatalf("public share %x; want pkSm", pub.Element)
	}
	key := Key{s: hide(scalarOf(t, v.skSm))}
	for _, tv := range v.vectors {
		input := unhex(t, tv.input)
		req, err := blind(input, scalarOf(t, tv.blind))
		if err != nil {
			t.Fatal(err)
		}
		b := req.Blinded()
		if !bytes.Equal(b[:], unhex(t, tv.blinded)) {
			t.Errorf("input %s: blinded element %x; want %s", tv.input, b, tv.blinded)
		}
		z, proof, err := share.evaluate(b[:], scalarOf(t, tv.proofRandom))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(z[:], unhex(t, tv.evaluated)) || !bytes.Equal(proof[:], unhex(t, tv.proof)) {
			t.Errorf("input %s: evaluation %x proof %x; want the RFC's", tv.input, z, proof)
		}
		if !Verify(pub, b[:], unhex(t, tv.evaluated), unhex(t, tv.proof)) {
			t.Errorf("input %s: the RFC's proof does not verify", tv.input)
		}
		e, err := req.Verify(pub, unhex(t, tv.evaluated), unhex(t, tv.proof))
		if err != nil {
			t.Fatal(err)
		}
		out, err := req.Finalize(1, []Evaluation{e})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), unhex(t, tv.output)) {
			t.Errorf("input %s: finalized output differs from the RFC's", tv.input)
		}
		whole, err := key.Output(input)
		if err != nil {
			t.Fatal(err)
		}
		if !whole.Equal(out) {
			t.Errorf("input %s: Key.Output differs from the RFC's output", tv.input)
		}
	}
}
