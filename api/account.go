package api

import "github.com/libp2p/go-libp2p/core/protocol"

// ProtocolAccount closes a user's account at a node (AccountRequest,
// AccountResponse): what a node that leaves the user's network is asked
// last, once it holds none of the user's shares.
const ProtocolAccount protocol.ID = "/custos/account/1.0.0"

// Validate checks an account request: it names an operation.
func (r *AccountRequest) Validate() error {
	if _, ok := r.Op.(*AccountRequest_Close); ok {
		return nil
	}
	return Errorf(Code_INVALID_ARGUMENT, "the account request names no operation")
}
