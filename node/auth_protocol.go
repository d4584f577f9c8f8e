package node

import (
	"context"
	"errors"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

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
	return reply(s, resp, &resp.Error, err)
}

// login runs the two round trips of a login on one stream. The challenge
// lives in this function, so it ends with the stream: nothing a peer
// leaves unanswered is held once its stream ends.
func (n *Node) login(ctx context.Context, s network.Stream, r *api.Reader) error {
	var hello api.LoginHello
	var c *auth.Challenge
	ch := &api.LoginChallenge{}
	err := n.read(r, &hello)
	if err == nil {
		c, err = n.auth.Hello(ctx, s.Conn().RemotePeer(), hello.User)
	}
	if err == nil {
		ch.Nonce = c.Nonce()
	}
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

func (n *Node) countLogin(err error) {
	outcome := "ok"
	if err != nil {
		outcome = api.ToProto(err).GetCode().String()
	}
	n.metrics.logins.WithLabelValues(outcome).Inc()
}
