package api

// Validate checks an entries request against the size of the log it reads:
// a non-empty range [start, end) within the log.
func (r *EntriesRequest) Validate(logSize int64) error {
	switch {
	case r.Start >= r.End:
		return Errorf(Code_INVALID_ARGUMENT, "the range of entries is empty: start must be below end")
	case r.End > MaxLogSize || logSize < 0 || r.End > uint64(logSize):
		return Errorf(Code_INVALID_ARGUMENT, "the range of entries ends beyond the log, which has %d", max(logSize, 0))
	}
	return nil
}

// Validate checks a proof request against the size of the log it reads: an
// inclusion proof of an index within a tree size, or a consistency proof
// from a tree size to a larger or equal one, every size within the log.
func (r *ProofRequest) Validate(logSize int64) error {
	size := uint64(max(logSize, 0))
	switch q := r.Query.(type) {
	case *ProofRequest_Inclusion:
		i := q.Inclusion
		switch {
		case i == nil:
			return Errorf(Code_INVALID_ARGUMENT, "the request names no proof")
		case i.Size > MaxLogSize || i.Size > size:
			return Errorf(Code_INVALID_ARGUMENT, "the tree size is beyond the log, which has %d entries", size)
		case i.Index >= i.Size:
			return Errorf(Code_INVALID_ARGUMENT, "the index is not in the tree: it must be below the tree size")
		}
	case *ProofRequest_Consistency:
		c := q.Consistency
		switch {
		case c == nil:
			return Errorf(Code_INVALID_ARGUMENT, "the request names no proof")
		case c.NewSize > MaxLogSize || c.NewSize > size:
			return Errorf(Code_INVALID_ARGUMENT, "the new tree size is beyond the log, which has %d entries", size)
		case c.OldSize > c.NewSize:
			return Errorf(Code_INVALID_ARGUMENT, "the old tree size is larger than the new one")
		}
	default:
		return Errorf(Code_INVALID_ARGUMENT, "the request names no proof")
	}
	return nil
}
