package node

import (
	"context"
	"errors"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/auth"
)

func (n *Node) enroll(ctx context.Context, s network.Stream, r *api.Reader) error {
	var req api.EnrollRequest
	resp := &api.EnrollResponse{}
	err := n.read(r, &req)
	if err == nil {
		err = n.auth.Enroll(ctx, s.Conn().RemotePeer(), &req)
	}
	clear(req.GetOprf().GetKeyShare())
	return reply(s, resp, &resp.Error, err)
}

// login runs the two round trips of a login on one stream: the hello,
// answered (once the attempt is counted) with the OPRF evaluation and a
// challenge, then the signature. The challenge lives in this function, so
// it ends with the stream: nothing a peer leaves unanswered is held once
// its stream ends.
func (n *Node) login(ctx context.Context, s network.Stream, r *api.Reader) error {
	var hello api.LoginHello
	var c *auth.Challenge
	ch := &api.LoginChallenge{}
	err := n.read(r, &hello)
	if err == nil {
		c, err = n.auth.Hello(ctx, s.Conn().RemotePeer(), &hello)
	}
	if err == nil {
		ch.Nonce, ch.Evaluated, ch.Proof = c.Nonce(), c.Evaluated(), c.Proof()
		ch.AttemptsLeft = uint32(c.AttemptsLeft())
		if alterEvaluation != nil && len(ch.Evaluated) > 0 {
			alterEvaluation(ch) // a test build's lying custodian; nil otherwise
		}
	}
	if errors.Is(err, api.ErrLocked) {
		n.refreshGauges()
	}
	ch.DealingNote = dealingNote(err)
	if err := reply(s, ch, &ch.Error, err); err != nil {
		n.countLogin(err)
		return err
	}
	var proof api.LoginProof
	res := &api.LoginResult{}
	err = n.read(r, &proof)
	if err == nil {
		err = proof.Validate()
	}
	if err == nil {
		var sess *auth.Session
		sess, err = n.auth.Login(ctx, c, proof.Signature)
		res.AttemptsLeft = uint32(c.AttemptsLeft())
		if sess != nil {
			n.conns.loggedIn(sess.Peer)
			res.IdleTimeoutMs = uint64(n.cfg.Auth.SessionIdle / time.Millisecond)
			res.ExpiresUnixMs = uint64(sess.Created.Add(n.cfg.Auth.SessionMax).UnixMilli())
		}
		if errors.Is(err, api.ErrLocked) {
			n.refreshGauges()
		}
	}
	n.countLogin(err)
	return reply(s, res, &res.Error, err)
}

// dealingNote is the note a hello's refusal carries (auth.OutdatedEpochError),
// decoded, or nil. A stored note that no longer decodes is left out: the
// device then learns only that its epoch is gone, as without a note.
func dealingNote(err error) *api.DealingNote {
	var oe *auth.OutdatedEpochError
	if !errors.As(err, &oe) {
		return nil
	}
	note, derr := api.DecodeDealingNote(oe.Note)
	if derr != nil {
		return nil
	}
	if alterNote != nil {
		alterNote(note) // a test build's lying custodian; nil otherwise
	}
	return note
}

// passwd runs one step of a password change (auth.Passwd) for a device
// that is logged in. Each step is a log entry, so steps are charged to the
// user's limits.user_writes as puts and deletes are.
func (n *Node) passwd(ctx context.Context, s network.Stream, r *api.Reader) error {
	var req api.PasswdRequest
	resp := &api.PasswdResponse{}
	err := n.read(r, &req)
	if err == nil {
		var epochs auth.Epochs
		epochs, err = n.doPasswd(ctx, s.Conn().RemotePeer(), &req)
		resp.Epoch, resp.StagedEpoch = epochs.Current, epochs.Staged
	}
	if st, ok := req.Step.(*api.PasswdRequest_Stage); ok {
		clear(st.Stage.GetOprf().GetKeyShare())
	}
	return reply(s, resp, &resp.Error, err)
}

func (n *Node) doPasswd(ctx context.Context, device peer.ID, req *api.PasswdRequest) (auth.Epochs, error) {
	sess, err := n.auth.Session(device)
	if err != nil {
		return auth.Epochs{}, err
	}
	if err := req.Validate(); err != nil {
		return auth.Epochs{}, err
	}
	entry := &api.Entry{Kind: api.EntryKind_PASSWORD, User: sess.User, ClientPeerId: []byte(device)}
	if err := n.chargeWrite(ctx, entry); err != nil {
		return auth.Epochs{}, err
	}
	return n.auth.Passwd(ctx, sess, req)
}

func (n *Node) countLogin(err error) {
	outcome := "ok"
	if err != nil {
		outcome = api.ToProto(err).GetCode().String()
	}
	n.metrics.logins.WithLabelValues(outcome).Inc()
}
