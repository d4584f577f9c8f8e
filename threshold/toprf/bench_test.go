package toprf

import (
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/custos-network/custos/threshold"
)

// Benchmarks with a sub-benchmark named "baseline" are printed by make bench
// as a ratio to it.

// BenchmarkNodeEvaluation is a custodian's CPU for one login v2 guess: decode
// the blinded element, multiply it by r_i and prove it (RFC 9497's DLEQ),
// as a ratio to one Ed25519 verification (baseline), the other thing a node
// does per login.
func BenchmarkNodeEvaluation(b *testing.B) {
	d := deal(b, 3, 5)
	blinded := d.req.Blinded()
	b.Run("baseline", func(b *testing.B) {
		priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
		msg := make([]byte, 160) // about the size of a login transcript
		sig := ed25519.Sign(priv, msg)
		pub := priv.Public().(ed25519.PublicKey)
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("verify")
			}
		}
	})
	b.Run("evaluate", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := d.keys[0].Evaluate(blinded[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkClientLogin3of5(b *testing.B) { benchClientLogin(b, 3, 5) }
func BenchmarkClientLogin5of9(b *testing.B) { benchClientLogin(b, 5, 9) }

// benchClientLogin is the client's share of a cold unlock, as a ratio to
// the Argon2id password hash at the design's parameters (baseline), which
// the client pays anyway: "oprf" is blind, k proof checks, the combination
// and finalization; "login_keys" derives the n login keys from the output.
func benchClientLogin(b *testing.B, k, n int) {
	d := deal(b, k, n)
	kdf, err := threshold.NewPasswordKDF()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			pw, err := kdf.Derive([]byte("correct horse battery staple"))
			if err != nil {
				b.Fatal(err)
			}
			pw.Wipe()
		}
	})
	b.Run("oprf", func(b *testing.B) {
		// Every iteration blinds with the same blind, so the nodes'
		// answers, made once here, fit each request: only the client's
		// work is timed.
		fixed := g.RandomNonZeroScalar(nil)
		req, err := blind(d.input, fixed.Copy())
		if err != nil {
			b.Fatal(err)
		}
		bl := req.Blinded()
		zs, proofs := make([][ElementSize]byte, k), make([][ProofSize]byte, k)
		for i := range k {
			if zs[i], proofs[i], err = d.keys[i].Evaluate(bl[:]); err != nil {
				b.Fatal(err)
			}
		}
		evals := make([]Evaluation, k)
		for b.Loop() {
			req, err := blind(d.input, fixed.Copy())
			if err != nil {
				b.Fatal(err)
			}
			for i := range k {
				if evals[i], err = req.Verify(d.pubs[i], zs[i][:], proofs[i][:]); err != nil {
					b.Fatal(err)
				}
			}
			out, err := req.Finalize(k, evals)
			if err != nil {
				b.Fatal(err)
			}
			out.Wipe()
			req.Wipe()
		}
	})
	b.Run("login_keys", func(b *testing.B) {
		out, err := d.key.Output(d.input)
		if err != nil {
			b.Fatal(err)
		}
		rwd, err := threshold.RandomizedPasswordFromBytes(out.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		m, err := threshold.NewMasterSecret()
		if err != nil {
			b.Fatal(err)
		}
		peers := make([][]byte, n)
		for i := range peers {
			peers[i] = []byte(fmt.Sprintf("peer %d", i))
		}
		for b.Loop() {
			for _, p := range peers {
				lk, err := threshold.DeriveLoginKey(rwd, m, p)
				if err != nil {
					b.Fatal(err)
				}
				lk.Wipe()
			}
		}
	})
}
