package node

import (
	"context"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
)

// account closes the account of a logged-in device's user (auth.Close).
// The closing is a log entry, so it is charged to the user's
// limits.user_writes as puts and deletes are.
func (n *Node) account(ctx context.Context, s network.Stream, r *api.Reader) error {
	var req api.AccountRequest
	resp := &api.AccountResponse{}
	err := n.read(r, &req)
	if err == nil {
		err = n.doAccount(ctx, s.Conn().RemotePeer(), &req)
	}
	return reply(s, resp, &resp.Error, err)
}

func (n *Node) doAccount(ctx context.Context, device peer.ID, req *api.AccountRequest) error {
	sess, err := n.auth.Session(device)
	if err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	entry := &api.Entry{Kind: api.EntryKind_ACCOUNT_CLOSE, User: sess.User, ClientPeerId: []byte(device)}
	if err := n.chargeWrite(ctx, entry); err != nil {
		return err
	}
	return n.auth.Close(ctx, sess)
}
