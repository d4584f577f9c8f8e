package node

import (
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/config"
)

// largestUnit is a unit reference of the largest encoding.
func largestUnit() *api.UnitRef {
	return &api.UnitRef{UnitId: make([]byte, api.UnitIDSize), Version: math.MaxUint64}
}

// TestDefaultMessageLimitsFitEveryRequest: the largest valid request of
// each protocol fits the limit the node reads it under, with room to
// spare, and the default limit of a release is not far above what the
// largest release needs: every stream that sends a message holds up to
// its limit, so a limit far above any request is memory for nothing.
func TestDefaultMessageLimitsFitEveryRequest(t *testing.T) {
	const margin = 2 // each request fits its limit this many times over
	def := config.Default("n1").Limits
	units := make([]*api.UnitRef, def.MaxBatch)
	for i := range units {
		units[i] = largestUnit()
	}
	release := &api.ReleaseRequest{
		Units: units, TimeUnixMs: math.MaxUint64, Nonce: make([]byte, api.RequestNonceSize),
		DeviceSignature: make([]byte, 64), KnownSize: math.MaxUint64,
	}
	oprf := &api.OprfShare{Epoch: math.MaxUint32, Index: math.MaxUint32, KeyShare: make([]byte, 32), PublicShare: make([]byte, 32)}
	small := map[string]proto.Message{
		"enroll": &api.EnrollRequest{
			User: strings.Repeat("u", api.MaxUserLen), Token: strings.Repeat("t", api.MaxTokenLen), AuthPublicKey: make([]byte, 32), Oprf: oprf,
		},
		"login hello":       &api.LoginHello{User: strings.Repeat("u", api.MaxUserLen), Epoch: math.MaxUint32, Blinded: make([]byte, 32)},
		"password stage":    &api.PasswdRequest{Step: &api.PasswdRequest_Stage{Stage: &api.PasswdStage{Oprf: oprf, AuthPublicKey: make([]byte, 32)}}},
		"login proof":       &api.LoginProof{Signature: make([]byte, 64)},
		"put":               &api.PutRequest{Unit: largestUnit(), Share: make([]byte, api.ShareSize)},
		"delete":            &api.DeleteRequest{Unit: largestUnit()},
		"list":              &api.ListRequest{},
		"audit checkpoint":  &api.CheckpointRequest{},
		"audit entries":     &api.EntriesRequest{Start: api.MaxLogSize, End: api.MaxLogSize, Limit: math.MaxUint32},
		"audit inclusion":   &api.ProofRequest{Query: &api.ProofRequest_Inclusion{Inclusion: &api.InclusionQuery{Index: api.MaxLogSize, Size: api.MaxLogSize}}},
		"audit consistency": &api.ProofRequest{Query: &api.ProofRequest_Consistency{Consistency: &api.ConsistencyQuery{OldSize: api.MaxLogSize, NewSize: api.MaxLogSize}}},
	}
	for name, m := range small {
		if size := proto.Size(m); size*margin > smallMessageBytes {
			t.Errorf("the largest %s request is %d bytes; the node reads it under %d", name, size, smallMessageBytes)
		}
	}
	size := proto.Size(release)
	t.Logf("the largest release request (%d units) is %d bytes; max_message_bytes is %d by default", def.MaxBatch, size, def.MaxMessageBytes)
	if size*margin > def.MaxMessageBytes {
		t.Errorf("the largest release request is %d bytes; the default max_message_bytes, %d, leaves too little room", size, def.MaxMessageBytes)
	}
	if def.MaxMessageBytes > 4*size {
		t.Errorf("the default max_message_bytes, %d, is more than 4 times the largest release request (%d bytes)", def.MaxMessageBytes, size)
	}
}
