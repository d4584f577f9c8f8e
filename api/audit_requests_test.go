package api

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
)

func inclusionReq(index, size uint64) *ProofRequest {
	return &ProofRequest{Query: &ProofRequest_Inclusion{Inclusion: &InclusionQuery{Index: index, Size: size}}}
}

func consistencyReq(oldSize, newSize uint64) *ProofRequest {
	return &ProofRequest{Query: &ProofRequest_Consistency{Consistency: &ConsistencyQuery{OldSize: oldSize, NewSize: newSize}}}
}

func TestEntriesRequestValidate(t *testing.T) {
	tests := []struct {
		name       string
		start, end uint64
		logSize    int64
		ok         bool
	}{
		{"the whole log is accepted", 0, 10, 10, true},
		{"one entry is accepted", 9, 10, 10, true},
		{"an empty range is refused", 3, 3, 10, false},
		{"a reversed range is refused", 4, 3, 10, false},
		{"a range beyond the log is refused", 0, 11, 10, false},
		{"any range of the empty log is refused", 0, 1, 0, false},
		{"a range past the largest log is refused", 0, MaxLogSize + 1, MaxLogSize + 10, false},
		{"a range at the uint64 limit is refused", 0, 1<<64 - 1, 10, false},
		{"a negative log size refuses everything", 0, 1, -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := (&EntriesRequest{Start: tc.start, End: tc.end}).Validate(tc.logSize)
			checkValid(t, err, tc.ok)
		})
	}
}

func TestProofRequestValidate(t *testing.T) {
	tests := []struct {
		name    string
		req     *ProofRequest
		logSize int64
		ok      bool
	}{
		{"inclusion of the last entry is accepted", inclusionReq(9, 10), 10, true},
		{"inclusion in an older tree is accepted", inclusionReq(0, 1), 10, true},
		{"inclusion at the tree size is refused", inclusionReq(10, 10), 10, false},
		{"inclusion in the empty tree is refused", inclusionReq(0, 0), 10, false},
		{"inclusion in a tree beyond the log is refused", inclusionReq(0, 11), 10, false},
		{"inclusion at a huge size is refused", inclusionReq(0, 1<<63), 1 << 40, false},
		{"consistency up to the log size is accepted", consistencyReq(3, 10), 10, true},
		{"consistency from the empty tree is accepted", consistencyReq(0, 10), 10, true},
		{"consistency between equal sizes is accepted", consistencyReq(5, 5), 10, true},
		{"consistency from a larger size is refused", consistencyReq(6, 5), 10, false},
		{"consistency to a size beyond the log is refused", consistencyReq(1, 11), 10, false},
		{"consistency past the largest log is refused", consistencyReq(1, MaxLogSize+1), MaxLogSize + 10, false},
		{"a request naming no proof is refused", &ProofRequest{}, 10, false},
		{"a nil inclusion query is refused", &ProofRequest{Query: &ProofRequest_Inclusion{}}, 10, false},
		{"a nil consistency query is refused", &ProofRequest{Query: &ProofRequest_Consistency{}}, 10, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkValid(t, tc.req.Validate(tc.logSize), tc.ok)
		})
	}
}

func checkValid(t *testing.T, err error, ok bool) {
	t.Helper()
	switch {
	case ok && err != nil:
		t.Fatalf("refused: %v", err)
	case !ok && !errors.Is(err, ErrInvalidArgument):
		t.Fatalf("got %v; want INVALID_ARGUMENT", err)
	}
}

func FuzzEntriesRequest(f *testing.F) {
	f.Add(uint64(0), uint64(10), uint32(0), int64(10))
	f.Add(uint64(5), uint64(5), uint32(2), int64(10))
	f.Add(uint64(0), uint64(1<<63), uint32(0), int64(1<<62))
	f.Fuzz(func(t *testing.T, start, end uint64, limit uint32, logSize int64) {
		err := (&EntriesRequest{Start: start, End: end, Limit: limit}).Validate(logSize)
		if err == nil && !(start < end && end <= MaxLogSize && logSize >= 0 && end <= uint64(logSize)) {
			t.Fatalf("[%d, %d) of a log of %d accepted", start, end, logSize)
		}
		if err != nil && !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("refused with %v; want INVALID_ARGUMENT", err)
		}
	})
}

// FuzzProofRequest decodes a request as a node reads it from a peer and
// checks that whatever Validate accepts is safe to hand to the log.
func FuzzProofRequest(f *testing.F) {
	for _, r := range []*ProofRequest{inclusionReq(3, 10), consistencyReq(2, 7), {}} {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, int64(10))
	}
	f.Fuzz(func(t *testing.T, b []byte, logSize int64) {
		var r ProofRequest
		if proto.Unmarshal(b, &r) != nil {
			return
		}
		err := r.Validate(logSize)
		if err != nil {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("refused with %v; want INVALID_ARGUMENT", err)
			}
			return
		}
		switch q := r.Query.(type) {
		case *ProofRequest_Inclusion:
			if i := q.Inclusion; !(i.Index < i.Size && i.Size <= MaxLogSize && i.Size <= uint64(logSize)) {
				t.Fatalf("inclusion of %d in %d of a log of %d accepted", i.Index, i.Size, logSize)
			}
		case *ProofRequest_Consistency:
			if c := q.Consistency; !(c.OldSize <= c.NewSize && c.NewSize <= MaxLogSize && c.NewSize <= uint64(logSize)) {
				t.Fatalf("consistency %d to %d of a log of %d accepted", c.OldSize, c.NewSize, logSize)
			}
		default:
			t.Fatalf("a request with query %T accepted", r.Query)
		}
	})
}
