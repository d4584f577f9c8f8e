package api

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/custos-network/custos/threshold/toprf"
)

// splitKey splits a fresh OPRF key 2-of-3; the caller wipes the shares.
func splitKey(t testing.TB) ([]toprf.KeyShare, []toprf.PublicShare) {
	t.Helper()
	k, err := toprf.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	defer k.Wipe()
	keys, pubs, err := k.Split(2, 3)
	if err != nil {
		t.Fatal(err)
	}
	return keys, pubs
}

// goodOprf returns a well-formed OPRF share of epoch: share index of a
// fresh 2-of-3 dealing.
func goodOprf(t testing.TB, epoch uint32, index int) *OprfShare {
	t.Helper()
	keys, pubs := splitKey(t)
	defer func() {
		for _, ks := range keys {
			ks.Wipe()
		}
	}()
	return &OprfShare{Epoch: epoch, Index: uint32(index), KeyShare: keys[index-1].Bytes(), PublicShare: pubs[index-1].Element[:]}
}

// goodBlinded returns a blinded element of a fresh request.
func goodBlinded(t testing.TB) []byte {
	t.Helper()
	req, err := toprf.Blind([]byte("password key"))
	if err != nil {
		t.Fatal(err)
	}
	defer req.Wipe()
	b := req.Blinded()
	return b[:]
}

func unit(b byte, v uint64) *UnitRef {
	return &UnitRef{UnitId: bytes.Repeat([]byte{b}, UnitIDSize), Version: v}
}

func goodRelease() *ReleaseRequest {
	return &ReleaseRequest{
		Units:           []*UnitRef{unit(1, 1), unit(2, 1)},
		TimeUnixMs:      1700000000000,
		Nonce:           make([]byte, RequestNonceSize),
		DeviceSignature: make([]byte, 64),
	}
}

func TestValidate(t *testing.T) {
	share := append(make([]byte, ShareSize-1), 7)
	manyUnits := make([]*UnitRef, MaxBatch+1)
	for i := range manyUnits {
		manyUnits[i] = &UnitRef{UnitId: make([]byte, UnitIDSize), Version: uint64(i + 1)}
	}
	release := func(f func(*ReleaseRequest)) *ReleaseRequest { r := goodRelease(); f(r); return r }
	oprf := func(f func(*OprfShare)) *OprfShare { s := goodOprf(t, 1, 2); f(s); return s }
	other := goodOprf(t, 1, 2)
	key32 := make([]byte, 32)
	enroll := func(f func(*EnrollRequest)) *EnrollRequest {
		r := &EnrollRequest{User: "a", AuthPublicKey: key32, Oprf: goodOprf(t, 1, 1)}
		f(r)
		return r
	}
	stage := func(s *OprfShare, pub []byte) *PasswdRequest {
		return &PasswdRequest{Step: &PasswdRequest_Stage{Stage: &PasswdStage{Oprf: s, AuthPublicKey: pub}}}
	}
	blinded := goodBlinded(t)
	nonCanonical := bytes.Repeat([]byte{0xff}, 32)
	tests := []struct {
		name string
		err  error
		ok   bool
	}{
		{"a plain user name is accepted", (&LoginHello{User: "alice.b+ci@example.org"}).Validate(), true},
		{"an empty user name is refused", (&LoginHello{}).Validate(), false},
		{"a user name with a space is refused", (&LoginHello{User: "a b"}).Validate(), false},
		{"a user name with a newline is refused", (&LoginHello{User: "a\nb"}).Validate(), false},
		{"a user name over 128 bytes is refused", (&LoginHello{User: strings.Repeat("a", 129)}).Validate(), false},
		{"a user name of 128 bytes is accepted", (&LoginHello{User: strings.Repeat("a", 128)}).Validate(), true},
		{"a hello with a valid blinded element is accepted", (&LoginHello{User: "a", Epoch: 1, Blinded: blinded}).Validate(), true},
		{"a hello without a blinded element asks for a challenge alone", (&LoginHello{User: "a", Epoch: 1}).Validate(), true},
		{"a hello with a short blinded element is refused", (&LoginHello{User: "a", Epoch: 1, Blinded: blinded[1:]}).Validate(), false},
		{"a hello with a non-canonical blinded element is refused", (&LoginHello{User: "a", Epoch: 1, Blinded: nonCanonical}).Validate(), false},
		{"a hello with the identity as blinded element is refused", (&LoginHello{User: "a", Epoch: 1, Blinded: make([]byte, 32)}).Validate(), false},
		{"a hello with a valid element but a bad user is refused", (&LoginHello{User: "a b", Epoch: 1, Blinded: blinded}).Validate(), false},
		{"enrollment with a 32-byte login key and epoch 1's share is accepted", enroll(func(*EnrollRequest) {}).Validate(), true},
		{"enrollment with a short login key is refused", enroll(func(r *EnrollRequest) { r.AuthPublicKey = key32[1:] }).Validate(), false},
		{"enrollment with an over-long token is refused", enroll(func(r *EnrollRequest) { r.Token = strings.Repeat("t", 129) }).Validate(), false},
		{"enrollment without an OPRF share is refused", enroll(func(r *EnrollRequest) { r.Oprf = nil }).Validate(), false},
		{"enrollment of OPRF epoch 2 (a node joining at a reshare) is accepted", enroll(func(r *EnrollRequest) { r.Oprf = goodOprf(t, 2, 1) }).Validate(), true},
		{"enrollment of OPRF epoch 0 is refused", enroll(func(r *EnrollRequest) { r.Oprf = goodOprf(t, 0, 1) }).Validate(), false},
		{"an OPRF share of epoch 0 is refused", oprf(func(s *OprfShare) { s.Epoch = 0 }).Validate(), false},
		{"an OPRF share of index 0 is refused", oprf(func(s *OprfShare) { s.Index = 0 }).Validate(), false},
		{"an OPRF share of index 256 is refused", oprf(func(s *OprfShare) { s.Index = 256 }).Validate(), false},
		{"an OPRF share of index 255 is accepted", oprf(func(s *OprfShare) { s.Index = 255 }).Validate(), true},
		{"a zero OPRF key share is refused", oprf(func(s *OprfShare) { s.KeyShare = make([]byte, 32) }).Validate(), false},
		{"an OPRF key share at or over the group order is refused", oprf(func(s *OprfShare) { s.KeyShare = bytes.Repeat([]byte{0xff}, 32) }).Validate(), false},
		{"a short OPRF key share is refused", oprf(func(s *OprfShare) { s.KeyShare = s.KeyShare[1:] }).Validate(), false},
		{"an OPRF public share of another key share is refused", oprf(func(s *OprfShare) { s.PublicShare = other.PublicShare }).Validate(), false},
		{"a short OPRF public share is refused", oprf(func(s *OprfShare) { s.PublicShare = s.PublicShare[1:] }).Validate(), false},
		{"a stage of epoch 2 with a login key is accepted", stage(goodOprf(t, 2, 3), key32).Validate(), true},
		{"a stage of epoch 1 is refused", stage(goodOprf(t, 1, 3), key32).Validate(), false},
		{"a stage without a login key is refused", stage(goodOprf(t, 2, 3), nil).Validate(), false},
		{"a stage of a mismatched share is refused", stage(oprf(func(s *OprfShare) { s.Epoch, s.PublicShare = 2, other.PublicShare }), key32).Validate(), false},
		{"a stage of nothing is refused", (&PasswdRequest{Step: &PasswdRequest_Stage{}}).Validate(), false},
		{"a commit of epoch 2 is accepted", (&PasswdRequest{Step: &PasswdRequest_Commit{Commit: 2}}).Validate(), true},
		{"a commit of epoch 1 is refused", (&PasswdRequest{Step: &PasswdRequest_Commit{Commit: 1}}).Validate(), false},
		{"an abort of epoch 3 is accepted", (&PasswdRequest{Step: &PasswdRequest_Abort{Abort: 3}}).Validate(), true},
		{"an abort of epoch 0 is refused", (&PasswdRequest{Step: &PasswdRequest_Abort{}}).Validate(), false},
		{"a password change without a step is refused", (&PasswdRequest{}).Validate(), false},
		{"a login proof of 64 bytes is accepted", (&LoginProof{Signature: make([]byte, 64)}).Validate(), true},
		{"a short login proof is refused", (&LoginProof{Signature: make([]byte, 63)}).Validate(), false},
		{"a put of a well-formed share is accepted", (&PutRequest{Unit: unit(1, 1), Share: share}).Validate(), true},
		{"a put without a unit is refused", (&PutRequest{Share: share}).Validate(), false},
		{"a put of version 0 is refused", (&PutRequest{Unit: unit(1, 0), Share: share}).Validate(), false},
		{"a put with a short unit ID is refused", (&PutRequest{Unit: &UnitRef{UnitId: []byte{1}, Version: 1}, Share: share}).Validate(), false},
		{"a put of a share with x = 0 is refused", (&PutRequest{Unit: unit(1, 1), Share: make([]byte, ShareSize)}).Validate(), false},
		{"a put of a short share is refused", (&PutRequest{Unit: unit(1, 1), Share: share[1:]}).Validate(), false},
		{"a well-formed release is accepted", goodRelease().Validate(MaxBatch), true},
		{"a release of no unit is refused", release(func(r *ReleaseRequest) { r.Units = nil }).Validate(MaxBatch), false},
		{"a release over the batch limit is refused", release(func(r *ReleaseRequest) { r.Units = manyUnits }).Validate(MaxBatch), false},
		{"a release of exactly the batch limit is accepted", release(func(r *ReleaseRequest) { r.Units = manyUnits[:MaxBatch] }).Validate(MaxBatch), true},
		{"a release naming a unit version twice is refused", release(func(r *ReleaseRequest) { r.Units = []*UnitRef{unit(1, 1), unit(1, 1)} }).Validate(MaxBatch), false},
		{"a release of two versions of one unit is accepted", release(func(r *ReleaseRequest) { r.Units = []*UnitRef{unit(1, 1), unit(1, 2)} }).Validate(MaxBatch), true},
		{"a release with a nil unit is refused", release(func(r *ReleaseRequest) { r.Units = []*UnitRef{nil} }).Validate(MaxBatch), false},
		{"a release without a time is refused", release(func(r *ReleaseRequest) { r.TimeUnixMs = 0 }).Validate(MaxBatch), false},
		{"a release with a short nonce is refused", release(func(r *ReleaseRequest) { r.Nonce = r.Nonce[1:] }).Validate(MaxBatch), false},
		{"a release without a signature is refused", release(func(r *ReleaseRequest) { r.DeviceSignature = nil }).Validate(MaxBatch), false},
		{"a delete of a valid unit is accepted", (&DeleteRequest{Unit: unit(3, 2)}).Validate(), true},
		{"a delete of no unit is refused", (&DeleteRequest{}).Validate(), false},
		{"a put that names a replace is accepted", (&PutRequest{Unit: unit(1, 2), Share: share, Operation: Operation_OPERATION_REPLACE}).Validate(), true},
		{"a put that names an unknown operation is refused", (&PutRequest{Unit: unit(1, 2), Share: share, Operation: 99}).Validate(), false},
		{"a delete that names a reshare is accepted", (&DeleteRequest{Unit: unit(3, 2), Operation: Operation_OPERATION_RESHARE}).Validate(), true},
		{"a delete that names an unknown operation is refused", (&DeleteRequest{Unit: unit(3, 2), Operation: -1}).Validate(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ok != (tc.err == nil) {
				t.Fatalf("err = %v", tc.err)
			}
			if !tc.ok && !errors.Is(tc.err, ErrInvalidArgument) {
				t.Fatalf("err = %v; want INVALID_ARGUMENT", tc.err)
			}
		})
	}
}

// FuzzOprfShare decodes an OPRF share as a node reads it from a peer: what
// Validate accepts is a key share the node can evaluate with, whose public
// part is the one sent; a refusal is INVALID_ARGUMENT and never shows the
// key share.
func FuzzOprfShare(f *testing.F) {
	good := goodOprf(f, 1, 2)
	for _, s := range []*OprfShare{good, {Epoch: 1, Index: 2, KeyShare: good.KeyShare}, {}} {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s OprfShare
		if proto.Unmarshal(b, &s) != nil {
			return
		}
		err := s.Validate()
		if err != nil {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("refused with %v; want INVALID_ARGUMENT", err)
			}
			if len(s.KeyShare) >= 8 && strings.Contains(err.Error(), string(s.KeyShare)) {
				t.Fatal("the refusal holds the key share")
			}
			return
		}
		ks, kerr := toprf.KeyShareFromBytes(int(s.Index), s.KeyShare)
		if kerr != nil || s.Epoch == 0 {
			t.Fatalf("accepted a share the node cannot use (%v, epoch %d)", kerr, s.Epoch)
		}
		defer ks.Wipe()
		if pub := ks.Public(); !bytes.Equal(pub.Element[:], s.PublicShare) {
			t.Fatal("accepted a public share that is not the key share's")
		}
	})
}

// FuzzLoginHello decodes a hello as a node reads it: what Validate accepts
// names a valid user and carries either no blinded element or one that
// evaluates.
func FuzzLoginHello(f *testing.F) {
	for _, h := range []*LoginHello{{User: "alice", Epoch: 1, Blinded: goodBlinded(f)}, {User: "alice"}, {User: "a", Blinded: make([]byte, 32)}} {
		b, err := proto.Marshal(h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var h LoginHello
		if proto.Unmarshal(b, &h) != nil {
			return
		}
		if err := h.Validate(); err != nil {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("refused with %v; want INVALID_ARGUMENT", err)
			}
			return
		}
		if !ValidUser(h.User) {
			t.Fatalf("accepted the user %q", h.User)
		}
		if len(h.Blinded) > 0 && toprf.CheckElement(h.Blinded) != nil {
			t.Fatal("accepted a blinded element that does not decode")
		}
	})
}

// FuzzPasswdRequest decodes a password change step as a node reads it:
// what Validate accepts is exactly one step, a stage of a usable share of
// an epoch from 2 with a login key, or a commit or abort of an epoch from 2.
func FuzzPasswdRequest(f *testing.F) {
	for _, r := range []*PasswdRequest{
		{Step: &PasswdRequest_Stage{Stage: &PasswdStage{Oprf: goodOprf(f, 2, 1), AuthPublicKey: make([]byte, 32)}}},
		{Step: &PasswdRequest_Commit{Commit: 2}},
		{Step: &PasswdRequest_Abort{Abort: 1}},
		{},
	} {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r PasswdRequest
		if proto.Unmarshal(b, &r) != nil {
			return
		}
		if err := r.Validate(); err != nil {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("refused with %v; want INVALID_ARGUMENT", err)
			}
			return
		}
		switch step := r.Step.(type) {
		case *PasswdRequest_Stage:
			if step.Stage.Oprf.Validate() != nil || step.Stage.Oprf.Epoch < 2 || len(step.Stage.AuthPublicKey) != 32 {
				t.Fatal("accepted a stage that is not a usable dealing of epoch 2 or more")
			}
		case *PasswdRequest_Commit:
			if step.Commit < 2 {
				t.Fatalf("accepted a commit of epoch %d", step.Commit)
			}
		case *PasswdRequest_Abort:
			if step.Abort < 2 {
				t.Fatalf("accepted an abort of epoch %d", step.Abort)
			}
		default:
			t.Fatal("accepted a request without a step")
		}
	})
}
