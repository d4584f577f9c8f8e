package api

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

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
		{"enrollment with a 32-byte login key is accepted", (&EnrollRequest{User: "a", AuthPublicKey: make([]byte, 32)}).Validate(), true},
		{"enrollment with a short login key is refused", (&EnrollRequest{User: "a", AuthPublicKey: make([]byte, 31)}).Validate(), false},
		{"enrollment with an over-long token is refused", (&EnrollRequest{User: "a", Token: strings.Repeat("t", 129), AuthPublicKey: make([]byte, 32)}).Validate(), false},
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
