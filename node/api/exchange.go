package api

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/proto"
)

// Exchange runs one request on a new stream s, as every custos protocol
// does: it writes req, reads the answer into resp and closes the stream.
// The stream is reset when anything fails, or when ctx ends first (a
// stream's deadline, which the caller sets, does not see ctx).
func Exchange(ctx context.Context, s network.Stream, req, resp proto.Message) error {
	defer context.AfterFunc(ctx, func() { s.Reset() })()
	if err := Write(s, req); err != nil {
		s.Reset()
		return err
	}
	if err := NewReader(s, MaxMessageSize).Read(resp); err != nil {
		s.Reset()
		return fmt.Errorf("read answer: %w", err)
	}
	return s.Close()
}

// ProofHashes converts a proof as it travels (Receipt.proof, the proofs of
// the audit protocols) into hashes; every hash must be 32 bytes.
func ProofHashes(b [][]byte) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(b))
	for i, h := range b {
		if len(h) != tlog.HashSize {
			return nil, fmt.Errorf("a proof hash is %d bytes, not %d", len(h), tlog.HashSize)
		}
		out[i] = tlog.Hash(h)
	}
	return out, nil
}

// ProofBytes converts proof hashes into the form they travel in.
func ProofBytes(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}
