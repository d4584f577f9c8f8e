package api

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
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
