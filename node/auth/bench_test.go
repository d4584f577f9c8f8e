package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/internal/cputime"
	"github.com/custos-network/custos/node/audit"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/store"
	"github.com/custos-network/custos/threshold/toprf"
)

// BenchmarkLoginEvaluation measures what one login attempt costs a node
// in CPU, against one Ed25519 verify (baseline), the check a v1 login
// needed: evaluate is the OPRF evaluation alone, Z_i = r_i·B and its DLEQ
// proof; hello is a whole hello as the node handles it in process: the
// request's checks, the read that tells an enrolled device, the count and
// its EVALUATION log entry (on a store in memory, so no fsync: that is the
// disk's, and group commit shares it), the read of the sealed key share,
// the evaluation and the proof. Each reports its process CPU per op
// (cpu-ns/op) beside its time.
func BenchmarkLoginEvaluation(b *testing.B) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := api.LoginTranscript([]byte("node"), []byte("device"), "alice", make([]byte, api.NonceSize))
	sig := ed25519.Sign(priv, msg)
	key, err := toprf.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	shares, pubs, err := key.Split(2, 3)
	if err != nil {
		b.Fatal(err)
	}
	req, err := toprf.Blind([]byte("password key"))
	if err != nil {
		b.Fatal(err)
	}
	blinded := req.Blinded()

	b.Run("baseline", func(b *testing.B) {
		withCPU(b, func() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("the signature does not verify")
			}
		})
	})
	b.Run("evaluate", func(b *testing.B) {
		withCPU(b, func() {
			if _, _, err := shares[0].Evaluate(blinded[:]); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("hello", func(b *testing.B) {
		svc, device := benchService(b, shares[0], pubs[0], pub)
		hello := &api.LoginHello{User: "alice", Epoch: 1, Blinded: blinded[:]}
		ctx := context.Background()
		withCPU(b, func() {
			c, err := svc.Hello(ctx, device, hello)
			if err != nil || len(c.Evaluated()) != toprf.ElementSize {
				b.Fatalf("hello: %v", err)
			}
		})
	})
}

// withCPU runs f b.N times and reports the process CPU per run.
func withCPU(b *testing.B, f func()) {
	cpu := cputime.Self()
	for b.Loop() {
		f()
	}
	if used := cputime.Self() - cpu; used > 0 && cpu > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// benchService is a login service on a store in memory at which alice is
// enrolled with share and login key loginKey, with no limit that a
// benchmark's hellos would reach: no backoff, no lock, no hello budget.
func benchService(b *testing.B, share toprf.KeyShare, pub toprf.PublicShare, loginKey ed25519.PublicKey) (*Service, peer.ID) {
	st, err := store.OpenInMemory(make([]byte, store.StorageKeySize), zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	l, err := audit.New(api.LogOrigin("n1"), ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.Default("n1").Auth
	cfg.MaxLoginFailures, cfg.BackoffBase, cfg.BackoffMax = 1<<30, time.Nanosecond, time.Nanosecond
	cfg.Logins = config.Bucket{Burst: 1 << 30, Every: time.Nanosecond}
	clock := &testClock{now: time.Now()}
	now := func() time.Time { clock.Advance(time.Millisecond); return clock.Now() }
	id := newPeer(b)
	svc, err := New(st, l, id, "open", cfg, now)
	if err != nil {
		b.Fatal(err)
	}
	device := newPeer(b)
	enroll := &api.EnrollRequest{
		User: "alice", AuthPublicKey: loginKey,
		Oprf: &api.OprfShare{Epoch: 1, Index: uint32(share.Index), KeyShare: share.Bytes(), PublicShare: pub.Element[:]},
	}
	if err := svc.Enroll(context.Background(), device, enroll); err != nil {
		b.Fatal(err)
	}
	return svc, device
}
