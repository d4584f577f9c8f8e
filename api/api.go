package api

import "github.com/libp2p/go-libp2p/core/protocol"

// Protocol IDs. The last element is the protocol's version: a change that an
// old peer would misread gets a new ID, and a peer that does not speak it is
// refused at stream negotiation, before any message.
const (
	ProtocolEnroll  protocol.ID = "/custos/enroll/2.0.0"
	ProtocolLogin   protocol.ID = "/custos/login/2.0.0"
	ProtocolPut     protocol.ID = "/custos/shares/put/2.0.0"
	ProtocolRelease protocol.ID = "/custos/shares/release/2.0.0"
	ProtocolDelete  protocol.ID = "/custos/shares/delete/2.0.0"
	ProtocolList    protocol.ID = "/custos/shares/list/2.0.0"
	ProtocolPasswd  protocol.ID = "/custos/passwd/2.0.0"

	ProtocolCheckpoint protocol.ID = "/custos/audit/checkpoint/2.0.0"
	ProtocolEntries    protocol.ID = "/custos/audit/entries/2.0.0"
	ProtocolProof      protocol.ID = "/custos/audit/proof/2.0.0"
)

// Bounds every peer can rely on.
const (
	// MaxMessageSize is the largest message either side reads, checked
	// before anything is allocated for it.
	MaxMessageSize = 1 << 20
	// MaxBatch is the most unit versions one release request may name.
	MaxBatch = 1024
	// MaxListPage is the most unit versions one list answer holds (about
	// 30 bytes each): a user may hold more than one message could carry.
	MaxListPage = 1000
	// MaxUserLen is the longest user name, in bytes.
	MaxUserLen = 128
	// NonceSize is the size of a login challenge.
	NonceSize = 32
	// RequestNonceSize is the size of a release request's nonce.
	RequestNonceSize = 16
	// ShareSize is the size of one share (threshold.ShareSize).
	ShareSize = 33
	// UnitIDSize is the size of a unit ID (threshold.UnitIDSize).
	UnitIDSize = 16
	// MaxTokenLen is the longest invite token a node reads.
	MaxTokenLen = 128
)
