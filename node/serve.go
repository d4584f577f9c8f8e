package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/custos-network/custos/api"
)

// A handler serves one stream: it reads the request through r, writes its
// answer (with any refusal in the answer's error field) and returns the
// outcome, nil for OK.
type handler func(ctx context.Context, s network.Stream, r *api.Reader) error

func (n *Node) serveProtocols() {
	n.handle(api.ProtocolEnroll, n.enroll)
	n.handle(api.ProtocolLogin, n.login)
	n.handle(api.ProtocolPasswd, n.passwd)
	n.handle(api.ProtocolDevice, n.device)
	n.handle(api.ProtocolAccount, n.account)
	n.handle(api.ProtocolPut, n.put)
	n.handle(api.ProtocolRelease, n.release)
	n.handle(api.ProtocolDelete, n.delete)
	n.handle(api.ProtocolList, n.list)
	n.handle(api.ProtocolCheckpoint, n.checkpoint)
	n.handle(api.ProtocolEntries, n.entries)
	n.handle(api.ProtocolProof, n.proof)
}

// handle registers h for protocol id, wrapped with what every stream gets:
// admission (none once closing), a deadline, a context, recovery from a
// panic, a reset when the exchange failed, logs and metrics.
func (n *Node) handle(id protocol.ID, h handler) {
	name := string(id)
	n.host.SetStreamHandler(id, func(s network.Stream) {
		start := time.Now()
		if !n.enter() {
			_ = s.Reset()
			return
		}
		defer n.inflight.Done()
		_ = s.SetDeadline(start.Add(n.cfg.Limits.RequestTimeout))
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.Limits.RequestTimeout)
		defer cancel()
		err := n.call(ctx, h, s)
		defer func() { n.conns.used(s.Conn(), time.Now()) }()
		n.metrics.requests.WithLabelValues(name, outcomeLabel(err)).Inc()
		n.metrics.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
		var se *api.StatusError
		switch {
		case err == nil:
			finish(s, n.cfg.Limits.MaxMessageBytes)
		case errors.As(err, &se):
			n.log.Debug("request refused", zap.String("protocol", name), zap.Stringer("peer", s.Conn().RemotePeer()), zap.Stringer("code", se.Code))
			finish(s, n.cfg.Limits.MaxMessageBytes)
		case errors.Is(err, errPeerGone):
			n.log.Debug("request abandoned", zap.String("protocol", name), zap.Stringer("peer", s.Conn().RemotePeer()), zap.Error(err))
			_ = s.Reset()
		default:
			n.log.Warn("request failed", zap.String("protocol", name), zap.Stringer("peer", s.Conn().RemotePeer()), zap.Error(err))
			_ = s.Reset()
		}
	})
}

// finish ends a stream whose answer is written: it closes the node's side
// and waits, at most until the stream's deadline, for the peer to close its
// own. The request counts as in flight until then, so a shutdown does not
// close the connection under an answer the peer has not read yet (QUIC
// drops a closed connection's unacknowledged data). What the peer sent and
// the node did not read (a request refused before it was read, such as
// one over its size limit) is read and dropped, up to unread bytes, so
// that the reset that would otherwise end the stream does not drop the
// answer too.
func finish(s network.Stream, unread int) {
	if err := s.CloseWrite(); err != nil {
		_ = s.Reset()
		return
	}
	if _, err := io.CopyN(io.Discard, s, int64(unread)+1); !errors.Is(err, io.EOF) {
		// More than a request, a reset or the deadline: nothing to keep.
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// call runs h, turning a panic into an error so that one bad request
// cannot stop the node.
func (n *Node) call(ctx context.Context, h handler, s network.Stream) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: handler panic: %v", p)
		}
	}()
	return h(ctx, s, api.NewReader(s, n.messageLimit(s)))
}

// smallMessageBytes caps every message but a release request. The others
// are far smaller (an enrollment, the largest, is about 380 bytes), so a
// stream holds at most this much of one; only a release of many units
// needs limits.max_message_bytes, and a release is read only from a
// device that is logged in (see release).
const smallMessageBytes = 4 << 10

// messageLimit is the most bytes a message on s may have.
func (n *Node) messageLimit(s network.Stream) int {
	if s.Protocol() == api.ProtocolRelease {
		return n.cfg.Limits.MaxMessageBytes
	}
	return min(smallMessageBytes, n.cfg.Limits.MaxMessageBytes)
}

// outcomeLabel is the code label of a request's outcome in the metrics. A
// peer that left before it was answered is counted apart from INTERNAL:
// anyone can hang up, and that is no fault of the node's to alert on.
func outcomeLabel(err error) string {
	if errors.Is(err, errPeerGone) {
		return labelPeerGone
	}
	return api.ToProto(err).GetCode().String()
}

// errPeerGone marks a failure to read a request because the peer left, was
// too slow or reset the stream: there is no one to answer.
var errPeerGone = errors.New("the peer went away")

// read reads one request. A request the node cannot decode is refused with
// INVALID_ARGUMENT, which the handler answers.
func (n *Node) read(r *api.Reader, m proto.Message) error {
	err := r.Read(m)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, api.ErrFrameTooLarge):
		return api.Errorf(api.Code_INVALID_ARGUMENT, "the request is over the node's size limit of %d bytes", r.Max())
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, network.ErrReset):
		return fmt.Errorf("%w: %v", errPeerGone, err)
	}
	return api.Errorf(api.Code_INVALID_ARGUMENT, "the request is malformed")
}

// reply puts the outcome into the reply's error field (*field), writes the
// reply and returns the outcome; when the peer is gone it writes nothing,
// and when the write fails it returns the write's error.
func reply(s network.Stream, m proto.Message, field **api.Error, outcome error) error {
	if errors.Is(outcome, errPeerGone) {
		return outcome
	}
	*field = api.ToProto(outcome)
	if err := api.Write(s, m); err != nil {
		return fmt.Errorf("%w: %v", errPeerGone, err)
	}
	return outcome
}
