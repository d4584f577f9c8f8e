package main

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/nodetest"
	"github.com/custos-network/custos/threshold/toprf"
)

// TestProcessLyingEvaluationsAreWhatTheirFaultSays holds the custosfault
// login modes to what client tests rely on: under bad-evaluation the node
// answers a valid element other than r_i·B with the proof of the real one,
// under bad-proof the right element with a proof that decodes and does not
// verify. Either way the device refuses the answer (and signs nothing), and
// the node counted the attempt as an honest one does.
func TestProcessLyingEvaluationsAreWhatTheirFaultSays(t *testing.T) {
	t.Parallel()
	for _, fault := range []string{"bad-evaluation", "bad-proof"} {
		t.Run(fault, func(t *testing.T) {
			p := nodetest.StartProcessEnv(t, "n1", []string{"CUSTOS_FAULT=" + fault}, fastBackoff)
			d, id := enroll(t, p, "alice")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			req := d.Blind()
			defer req.Wipe()
			b := req.Blinded()
			ls, ch, err := d.Hello(ctx, id, &api.LoginHello{User: "alice", Epoch: 1, Blinded: b[:]})
			if err != nil {
				t.Fatal(err)
			}
			ls.Close()
			honest, _ := d.HonestEvaluation(id, 1, b[:])
			sameZ := bytes.Equal(ch.Evaluated, honest[:])
			switch fault {
			case "bad-evaluation":
				if sameZ || toprf.CheckElement(ch.Evaluated) != nil {
					t.Errorf("the evaluation is the honest one (%v) or not a valid element", sameZ)
				}
			case "bad-proof":
				if !sameZ || len(ch.Proof) != toprf.ProofSize {
					t.Errorf("the evaluation is not the honest one, or the proof is %d bytes", len(ch.Proof))
				}
			}
			if _, err := req.Verify(d.PublicShare(id, 1), ch.Evaluated, ch.Proof); !errors.Is(err, toprf.ErrProof) {
				t.Errorf("the lying answer verifies: %v", err)
			}

			time.Sleep(5 * time.Millisecond) // past the backoff
			if err := d.Login(ctx, id); !errors.Is(err, nodetest.ErrBadEvaluation) {
				t.Errorf("the device's login: %v, want ErrBadEvaluation", err)
			}
			users, err := p.Admin().Users(ctx)
			if err != nil || len(users) != 1 || users[0].Failures != 2 {
				t.Errorf("users: %+v, %v; want alice with the 2 attempts counted", users, err)
			}
		})
	}
}
