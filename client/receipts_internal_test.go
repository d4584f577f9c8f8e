package client

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/vault"
)

// A release of three units, the second refused as NOT_FOUND, and the entry
// that logs it exactly; each case changes one thing of the entry or the
// answer. Only an entry that records this signed request, answered as it
// was, lets the client use the node's shares.
func TestReceiptEntryMustRecordTheAnsweredRelease(t *testing.T) {
	device, user := []byte("device-peer-id"), "alice"
	unit := func(b byte, v uint64) *api.UnitRef {
		return &api.UnitRef{UnitId: bytes.Repeat([]byte{b}, 16), Version: v}
	}
	req := func() *api.ReleaseRequest {
		return &api.ReleaseRequest{
			Units: []*api.UnitRef{unit(1, 1), unit(2, 4), unit(3, 1)}, TimeUnixMs: 1_760_000_000_123,
			Nonce: bytes.Repeat([]byte{0x6e}, api.RequestNonceSize), DeviceSignature: bytes.Repeat([]byte{0x51}, 64),
		}
	}
	entry := func() *api.Entry {
		r := req()
		return &api.Entry{
			Kind: api.EntryKind_RELEASE, User: user, ClientPeerId: device, Units: r.Units,
			RequestTimeUnixMs: r.TimeUnixMs, RequestNonce: r.Nonce, DeviceSignature: r.DeviceSignature,
			Refusals: []*api.Refusal{{UnitIndex: 1, Code: api.Code_NOT_FOUND}},
		}
	}
	answer := func() []*api.ReleasedShare {
		r := req()
		return []*api.ReleasedShare{
			{Unit: r.Units[0], Share: []byte("s1")},
			{Unit: r.Units[1], Error: &api.Error{Code: api.Code_NOT_FOUND}},
			{Unit: r.Units[2], Share: []byte("s3")},
		}
	}
	for _, tc := range []struct {
		name     string
		change   func(e *api.Entry, a []*api.ReleasedShare)
		evidence string // "" for an entry that matches
	}{
		{"the entry of this release matches", func(*api.Entry, []*api.ReleasedShare) {}, ""},
		{"an entry refusing every unit matches an answer refusing each", func(e *api.Entry, a []*api.ReleasedShare) {
			e.Outcome = api.Code_RATE_LIMITED
			e.Refusals = []*api.Refusal{{UnitIndex: 0, Code: api.Code_RATE_LIMITED}, {UnitIndex: 1, Code: api.Code_NOT_FOUND}, {UnitIndex: 2, Code: api.Code_RATE_LIMITED}}
			a[0].Share, a[0].Error = nil, &api.Error{Code: api.Code_RATE_LIMITED}
			a[2].Share, a[2].Error = nil, &api.Error{Code: api.Code_RATE_LIMITED}
		}, ""},

		{"an entry refusing the whole request is a refusal of what was released", func(e *api.Entry, _ []*api.ReleasedShare) {
			e.Outcome, e.Refusals = api.Code_UNAUTHENTICATED, nil
		}, vault.EvidenceRefusal},
		{"a whole refusal as nodes log one (no units, no signature) is a refusal of what was released", func(e *api.Entry, _ []*api.ReleasedShare) {
			e.Outcome, e.Refusals, e.Units, e.DeviceSignature = api.Code_RATE_LIMITED, nil, nil, nil
		}, vault.EvidenceRefusal},
		{"a whole refusal without units that keeps the signature is a refusal of what was released", func(e *api.Entry, _ []*api.ReleasedShare) {
			e.Outcome, e.Refusals, e.Units = api.Code_UNAUTHENTICATED, nil, nil
		}, vault.EvidenceRefusal},
		{"a whole refusal without units of another nonce is another entry", func(e *api.Entry, _ []*api.ReleasedShare) {
			e.Outcome, e.Refusals, e.Units, e.DeviceSignature = api.Code_RATE_LIMITED, nil, nil, nil
			e.RequestNonce = bytes.Repeat([]byte{0x6f}, 16)
		}, vault.EvidenceOtherEntry},
		{"an entry refusing a released unit is a refusal", func(e *api.Entry, _ []*api.ReleasedShare) {
			e.Refusals = append(e.Refusals, &api.Refusal{UnitIndex: 2, Code: api.Code_RATE_LIMITED})
		}, vault.EvidenceRefusal},
		{"an entry releasing a refused unit is another entry", func(e *api.Entry, _ []*api.ReleasedShare) {
			e.Refusals = nil
		}, vault.EvidenceOtherEntry},
		{"a refusal with another code is another entry", func(e *api.Entry, _ []*api.ReleasedShare) {
			e.Refusals[0].Code = api.Code_RATE_LIMITED
		}, vault.EvidenceOtherEntry},
		{"a unit refused twice is another entry", func(e *api.Entry, _ []*api.ReleasedShare) {
			e.Refusals = append(e.Refusals, e.Refusals[0])
		}, vault.EvidenceOtherEntry},
		{"a refusal beyond the units is another entry", func(e *api.Entry, _ []*api.ReleasedShare) {
			e.Refusals[0].UnitIndex = 3
		}, vault.EvidenceOtherEntry},
		{"a refusal coded OK is another entry", func(e *api.Entry, a []*api.ReleasedShare) {
			e.Refusals[0].Code = api.Code_OK
		}, vault.EvidenceOtherEntry},

		{"another nonce is another entry", func(e *api.Entry, _ []*api.ReleasedShare) { e.RequestNonce = bytes.Repeat([]byte{0x6f}, 16) }, vault.EvidenceOtherEntry},
		{"another request time is another entry", func(e *api.Entry, _ []*api.ReleasedShare) { e.RequestTimeUnixMs-- }, vault.EvidenceOtherEntry},
		{"another device signature is another entry", func(e *api.Entry, _ []*api.ReleasedShare) { e.DeviceSignature = bytes.Repeat([]byte{0x52}, 64) }, vault.EvidenceOtherEntry},
		{"another device is another entry", func(e *api.Entry, _ []*api.ReleasedShare) { e.ClientPeerId = []byte("other-device") }, vault.EvidenceOtherEntry},
		{"another user is another entry", func(e *api.Entry, _ []*api.ReleasedShare) { e.User = "bob" }, vault.EvidenceOtherEntry},
		{"another kind is another entry", func(e *api.Entry, _ []*api.ReleasedShare) { e.Kind = api.EntryKind_PUT }, vault.EvidenceOtherEntry},
		{"another unit is another entry", func(e *api.Entry, _ []*api.ReleasedShare) {
			e.Units = []*api.UnitRef{unit(1, 1), unit(2, 4), unit(4, 1)}
		}, vault.EvidenceOtherEntry},
		{"another version is another entry", func(e *api.Entry, _ []*api.ReleasedShare) {
			e.Units = []*api.UnitRef{unit(1, 1), unit(2, 3), unit(3, 1)}
		}, vault.EvidenceOtherEntry},
		{"units in another order are another entry", func(e *api.Entry, _ []*api.ReleasedShare) {
			e.Units = []*api.UnitRef{unit(3, 1), unit(2, 4), unit(1, 1)}
		}, vault.EvidenceOtherEntry},
		{"a unit fewer is another entry", func(e *api.Entry, _ []*api.ReleasedShare) { e.Units = e.Units[:2] }, vault.EvidenceOtherEntry},
		{"an entry without units that is not refused is another entry", func(e *api.Entry, _ []*api.ReleasedShare) {
			e.Units, e.Refusals = nil, nil
		}, vault.EvidenceOtherEntry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, a := entry(), answer()
			tc.change(e, a)
			evidence, err := matchEntry(e, device, user, req(), a)
			switch {
			case tc.evidence == "" && err != nil:
				t.Fatalf("matchEntry = %v; want a match", err)
			case tc.evidence != "" && !errors.Is(err, ErrFalseReceipt):
				t.Fatalf("matchEntry = %v; want ErrFalseReceipt", err)
			case evidence != tc.evidence:
				t.Fatalf("evidence %q; want %q", evidence, tc.evidence)
			}
		})
	}
}

// A checkpoint extends the kept one only with a valid proof; an older one,
// or one of the same size with another root, is a fork.
func TestCheckpointMustExtendTheKeptOne(t *testing.T) {
	leaves := make([][]byte, 7)
	var hs []tlog.Hash
	for i := range leaves {
		leaves[i] = []byte{byte(i)}
		stored, err := tlog.StoredHashes(int64(i), leaves[i], tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for j, x := range idx {
				out[j] = hs[x]
			}
			return out, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, stored...)
	}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for j, x := range idx {
			out[j] = hs[x]
		}
		return out, nil
	})
	at := func(size int64) api.Checkpoint {
		root, err := tlog.TreeHash(size, reader)
		if err != nil {
			t.Fatal(err)
		}
		return api.Checkpoint{Origin: "custos/n1", Size: size, Root: root}
	}
	proof := func(from, to int64) [][]byte {
		p, err := tlog.ProveTree(to, from, reader)
		if err != nil {
			t.Fatal(err)
		}
		out := make([][]byte, len(p))
		for i := range p {
			out[i] = p[i][:]
		}
		return out
	}
	kept := &keptCheckpoint{Checkpoint: at(3)}
	other := at(5)
	other.Root[0] ^= 1
	for _, tc := range []struct {
		name  string
		cp    api.Checkpoint
		proof [][]byte
		ok    bool
	}{
		{"a larger tree with its proof extends", at(7), proof(3, 7), true},
		{"the same tree extends", at(3), nil, true},
		{"an older tree is a fork", at(2), nil, false},
		{"the same size with another root is a fork", func() api.Checkpoint { c := at(3); c.Root[5] ^= 1; return c }(), nil, false},
		{"a larger tree without a proof is a fork", at(7), nil, false},
		{"a larger tree with another tree's proof is a fork", at(7), proof(3, 6), false},
		{"another larger tree is a fork", other, proof(3, 5), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := kept.extendedBy(tc.cp, tc.proof)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrForkedLog)) {
				t.Fatalf("extendedBy = %v; want ok %v", err, tc.ok)
			}
		})
	}
	var none *keptCheckpoint
	if err := none.extendedBy(at(1), nil); err != nil || none.size() != 0 {
		t.Fatalf("no kept checkpoint: %v, size %d", err, none.size())
	}
}
