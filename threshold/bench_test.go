package threshold

import (
	"fmt"
	"testing"

	"github.com/hashicorp/vault/shamir"
	"golang.org/x/crypto/chacha20poly1305"
)

// Benchmarks with a sub-benchmark named "baseline" are printed by make bench
// as a ratio to it: the baseline is the bare primitive, so the ratio is what
// this package's checks and framing cost on top.

func BenchmarkSplit(b *testing.B) {
	key, err := NewServerKey()
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ k, n int }{{3, 5}, {5, 9}} {
		b.Run(fmt.Sprintf("%dof%d", tc.k, tc.n), func(b *testing.B) {
			for b.Loop() {
				shares, err := Split(key, tc.n, tc.k)
				if err != nil {
					b.Fatal(err)
				}
				for _, s := range shares {
					s.Wipe()
				}
			}
		})
	}
}

func BenchmarkCombine3of5(b *testing.B) { benchCombine(b, 3, 5) }
func BenchmarkCombine5of9(b *testing.B) { benchCombine(b, 5, 9) }

// benchCombine measures the unlock path: all n custodians answered, every
// share is checked against its commitment and k of them are combined.
func benchCombine(b *testing.B, k, n int) {
	d := deal(b, n, k)
	all := make([]bool, n)
	for i := range all {
		all[i] = true
	}
	slots := d.with(all)
	b.Run("baseline", func(b *testing.B) {
		parts := make([][]byte, k)
		for i := range parts {
			parts[i] = d.shares[i]
		}
		for b.Loop() {
			if _, err := shamir.Combine(parts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("custos", func(b *testing.B) {
		for b.Loop() {
			key, _, err := Combine(k, d.unit, d.version, d.keyCommit, slots)
			if err != nil {
				b.Fatal(err)
			}
			key.Wipe()
		}
	})
}

func BenchmarkSeal1KiB(b *testing.B) {
	k, record := newDataKey(b), make([]byte, 1024)
	b.SetBytes(int64(len(record)))
	b.Run("baseline", func(b *testing.B) {
		aead, _ := chacha20poly1305.NewX(k.Bytes())
		nonce, dst := make([]byte, aead.NonceSize()), make([]byte, 0, sealedOverhead+len(record))
		for b.Loop() {
			aead.Seal(dst, nonce, record, nil)
		}
	})
	b.Run("custos", func(b *testing.B) {
		for b.Loop() {
			if _, err := Seal(k, "alice@example.org", UnitID{1}, 1, record); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkOpen1KiB(b *testing.B) {
	k, record := newDataKey(b), make([]byte, 1024)
	sealed, err := Seal(k, "alice@example.org", UnitID{1}, 1, record)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(record)))
	b.Run("baseline", func(b *testing.B) {
		aead, _ := chacha20poly1305.NewX(k.Bytes())
		nonce := make([]byte, aead.NonceSize())
		ct := aead.Seal(nil, nonce, record, nil)
		dst := make([]byte, 0, len(record))
		for b.Loop() {
			if _, err := aead.Open(dst, nonce, ct, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("custos", func(b *testing.B) {
		for b.Loop() {
			if _, err := Open(k, "alice@example.org", UnitID{1}, 1, sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkArgon2id is the password hash at the design's parameters (t = 3,
// m = 64 MiB, p = 4), which a client pays once per login.
func BenchmarkArgon2id(b *testing.B) {
	kdf, err := NewPasswordKDF()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		pw, err := kdf.Derive([]byte("correct horse battery staple"))
		if err != nil {
			b.Fatal(err)
		}
		pw.Wipe()
	}
}
