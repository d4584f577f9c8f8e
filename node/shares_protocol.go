package node

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/auth"
	"github.com/custos-network/custos/node/store"
	"github.com/custos-network/custos/threshold"
)

// maxClockSkew is how far a release request's time may be from the node's.
const maxClockSkew = 5 * time.Minute

// record appends an audit entry, stamped with the node's time, within tx.
func (n *Node) record(tx *store.Tx, e *api.Entry) (int64, error) {
	if alterEntry != nil {
		alterEntry(e) // a test build's lying custodian; nil otherwise
	}
	index, err := n.audit.AppendEntry(tx, e, n.now())
	if err == nil {
		n.metrics.logSize.Set(float64(index + 1))
	}
	return index, err
}

// session returns the stream's session, or UNAUTHENTICATED.
func (n *Node) session(s network.Stream) (*auth.Session, error) {
	return n.auth.Session(s.Conn().RemotePeer())
}

func unitOf(u *api.UnitRef) threshold.UnitID { return threshold.UnitID(u.UnitId) }

func (n *Node) put(ctx context.Context, s network.Stream, r *api.Reader) error {
	var req api.PutRequest
	resp := &api.PutResponse{}
	err := n.read(r, &req)
	if err == nil {
		resp.LogIndex, err = n.doPut(ctx, s.Conn().RemotePeer(), &req)
	}
	clear(req.Share)
	return reply(s, resp, &resp.Error, err)
}

// doPut stores a share. Putting the same share again succeeds (a client may
// retry after a lost answer); another share for the same version does not.
func (n *Node) doPut(ctx context.Context, device peer.ID, req *api.PutRequest) (uint64, error) {
	sess, err := n.auth.Session(device)
	if err != nil {
		return 0, err
	}
	if err := req.Validate(); err != nil {
		return 0, err
	}
	entry := &api.Entry{Kind: api.EntryKind_PUT, User: sess.User, ClientPeerId: []byte(device), Units: []*api.UnitRef{req.Unit}, Operation: req.Operation}
	if err := n.chargeWrite(ctx, entry); err != nil {
		return 0, err
	}
	var index int64
	err = n.store.Decide(ctx, func(tx *store.Tx) (error, error) {
		outcome, err := n.auth.StillAdmits(tx, sess)
		switch {
		case err != nil:
			return nil, err
		case outcome != nil:
			entry.Outcome, entry.Reason = api.ToProto(outcome).Code, "the account was closed, or the device revoked, since the session was checked"
			_, err := n.record(tx, entry)
			return outcome, err
		}
		old, err := tx.Share(sess.User, unitOf(req.Unit), req.Unit.Version)
		switch {
		case err == nil:
			same := subtle.ConstantTimeCompare(old, req.Share) == 1
			clear(old)
			if !same {
				outcome = api.Errorf(api.Code_ALREADY_EXISTS, "this unit version holds another share already")
				entry.Outcome, entry.Reason = api.Code_ALREADY_EXISTS, "another share for this version"
			} else {
				entry.Reason = "repeated"
			}
		case errors.Is(err, store.ErrNotFound):
			if err := tx.PutShare(sess.User, unitOf(req.Unit), req.Unit.Version, req.Share); err != nil {
				return nil, err
			}
		default:
			return nil, err
		}
		index, err = n.record(tx, entry)
		return outcome, err
	})
	return uint64(index), err
}

// chargeWrite takes a token of the user's limits.user_writes bucket for the
// put or delete that entry logs, before the store is touched: each one
// adds a log entry, whatever its outcome, so without a budget a logged-in
// device could grow the log as fast as it can send. Past the bucket the
// request is refused with RATE_LIMITED, and the refusal logged (entry,
// with that outcome) within the user's writeRefusalLog budget; the next
// logged one counts those that were not.
func (n *Node) chargeWrite(ctx context.Context, entry *api.Entry) error {
	ok, wait := n.writes.Allow(entry.User)
	if ok {
		return nil
	}
	refusal := &api.StatusError{Code: api.Code_RATE_LIMITED, Message: "too many puts and deletes for this user", RetryAfter: wait}
	logged, before := n.writeRefusalLog.Log(entry.User)
	if !logged {
		n.metrics.unloggedWrites.Inc()
		return refusal
	}
	entry.Outcome, entry.Reason = refusal.Code, refusal.Message
	if before > 0 {
		entry.Reason = fmt.Sprintf("%s (after %d refusals like it not logged)", entry.Reason, before)
	}
	err := n.store.Update(ctx, func(tx *store.Tx) error {
		_, err := n.record(tx, entry)
		return err
	})
	if err != nil {
		return err
	}
	return refusal
}

func (n *Node) release(ctx context.Context, s network.Stream, r *api.Reader) error {
	var req api.ReleaseRequest
	resp := &api.ReleaseResponse{}
	// The one large request is read only from a device that is logged in:
	// any other is refused unread, holding none of it.
	_, err := n.session(s)
	if err == nil && beforeRelease != nil {
		err = beforeRelease() // a test build's slow or failing custodian; nil otherwise
	}
	if err == nil {
		err = n.read(r, &req)
	}
	if err == nil {
		err = n.doRelease(ctx, s, &req, resp)
	}
	err = reply(s, resp, &resp.Error, err)
	wipeShares(resp)
	return err
}

// wipeShares clears the shares of resp and drops them.
func wipeShares(resp *api.ReleaseResponse) {
	for _, sh := range resp.Shares {
		clear(sh.Share)
	}
	resp.Shares = nil
}

// doRelease checks a release request and fills resp with the shares it
// releases and the refusals of the others. Every decision, refusals
// included, is one log entry, durable before anything is answered; the
// entry of a request the node took holds its units and the device's
// signature. Past the user's budget, refusals are logged within
// refusalLog only (see logRefusal).
func (n *Node) doRelease(ctx context.Context, s network.Stream, req *api.ReleaseRequest, resp *api.ReleaseResponse) (err error) {
	defer func() {
		if err != nil {
			// Refused, not logged, or logged but not provable (the client
			// would refuse the shares anyway): no share goes out.
			wipeShares(resp)
		}
	}()
	device := s.Conn().RemotePeer()
	sess, err := n.auth.Session(device)
	if err != nil {
		return err
	}
	if err := req.Validate(n.cfg.Limits.MaxBatch); err != nil {
		return err
	}
	entry := &api.Entry{
		Kind: api.EntryKind_RELEASE, User: sess.User, ClientPeerId: []byte(device),
		RequestTimeUnixMs: req.TimeUnixMs, RequestNonce: req.Nonce,
	}
	refusal := n.admit(s, sess.User, req)
	if refusal == nil {
		entry.Units, entry.DeviceSignature = req.Units, req.DeviceSignature
	} else if !n.logRefusal(sess.User, refusal, entry) {
		n.countReleases(len(req.Units), nil, refusal)
		return refusal
	}
	var index int64
	err = n.store.Update(ctx, func(tx *store.Tx) error {
		if refusal != nil {
			entry.Outcome = api.ToProto(refusal).Code
		} else if err := n.collect(tx, sess.User, req.Units, entry, resp); err != nil {
			return err
		}
		var err error
		if index, err = n.record(tx, entry); err != nil {
			return err
		}
		return n.storeFault("update")
	})
	if err != nil {
		return err
	}
	resp.LogIndex = uint64(index)
	n.countReleases(len(req.Units), entry.Refusals, refusal)
	if resp.Receipt, err = n.receipt(index, req.KnownSize); err != nil {
		return err
	}
	return refusal
}

// admit decides whether to take a release request, or refuses it as a
// whole. The user's budget is charged first, so that no request, however
// bad, costs the node a log entry or replay memory past it; then the
// device's signature, its clock and the replay memory are checked, in the
// order that keeps a request the node refuses out of the memory.
func (n *Node) admit(s network.Stream, user string, req *api.ReleaseRequest) error {
	device := s.Conn().RemotePeer()
	// The user's bucket counts requests, so that one batch unlock of many
	// records is one token; each unit has its own bucket too.
	if ok, wait := n.users.Allow(user); !ok {
		return &api.StatusError{Code: api.Code_RATE_LIMITED, Message: "too many release requests for this user", RetryAfter: wait}
	}
	msg := api.ReleaseTranscript([]byte(n.ID()), []byte(device), user, req.TimeUnixMs, req.Nonce, req.Units)
	if ok, err := s.Conn().RemotePublicKey().Verify(msg, req.DeviceSignature); err != nil || !ok {
		return api.Errorf(api.Code_UNAUTHENTICATED, "the device signature does not match the request")
	}
	now, asked := n.now(), time.UnixMilli(int64(req.TimeUnixMs))
	if skew := now.Sub(asked).Abs(); skew > maxClockSkew {
		return api.Errorf(api.Code_INVALID_ARGUMENT, "the device clock is %s off the node's; the most allowed is %s", skew.Round(time.Second), maxClockSkew)
	}
	switch isNew, full := n.seen.add(user, device, req.Nonce, asked, now); {
	case full:
		return api.Errorf(api.Code_UNAVAILABLE, "too many release requests within the last minutes")
	case !isNew:
		return api.Errorf(api.Code_INVALID_ARGUMENT, "this request was served before: a signed request is served once")
	}
	return nil
}

// logRefusal readies entry to log the refusal of a whole request, and
// reports whether to log it. The entry names no units: none was looked up,
// and a list of up to limits.max_batch of them would let a device grow the
// log by 20 KiB a request; without the list the device's signature proves
// nothing, so it is dropped too. Refusals that the user's budget took a
// token for are all logged. Those past the budget (RATE_LIMITED, the only
// refusal admit makes before charging it) cost the sender nothing: they
// are logged within the user's refusalLog bucket, the next logged one
// counting those that were not.
func (n *Node) logRefusal(user string, refusal error, entry *api.Entry) bool {
	entry.Reason = refusal.Error()
	if api.ToProto(refusal).Code != api.Code_RATE_LIMITED {
		return true
	}
	ok, before := n.refusalLog.Log(user)
	if !ok {
		n.metrics.unloggedReleases.Inc()
		return false
	}
	if before > 0 {
		entry.Reason = fmt.Sprintf("%s (after %d refusals like it not logged)", entry.Reason, before)
	}
	return true
}

// storeFault is the error that tests of this package make step of every
// release fail with (see release_export_test.go): "update", the log update
// (after the entry is appended), or "receipt", the read of its receipt.
// It is nil otherwise.
func (n *Node) storeFault(step string) error {
	if f := n.releaseFault.Load(); f != nil {
		return (*f)(step)
	}
	return nil
}

// receipt proves the durable log entry at index to the client: the entry as
// stored, the signed checkpoint of the log as it is now, the inclusion
// proof, and the consistency proof from the tree of knownSize entries (the
// newest checkpoint the client holds of this node) to the checkpoint's,
// all read in one transaction so that they prove one tree. A knownSize of
// 0, or beyond the log, gets no consistency proof: the client then judges
// the checkpoint against its own. The checkpoint's signature is cached by
// size, so answers that come between two appends share one signing.
func (n *Node) receipt(index int64, knownSize uint64) (*api.Receipt, error) {
	r := &api.Receipt{}
	err := n.store.View(func(tx *store.Tx) error {
		if err := n.storeFault("receipt"); err != nil {
			return err
		}
		size, err := n.audit.Size(tx)
		if err != nil {
			return err
		}
		if proveOther != nil {
			index = proveOther(tx, index) // a test build's lying custodian; nil otherwise
		}
		r.Index = uint64(index)
		if r.Checkpoint, err = n.audit.Checkpoint(tx, size); err != nil {
			return err
		}
		proof, err := n.audit.InclusionProof(tx, index, size)
		if err != nil {
			return err
		}
		r.Proof = api.ProofBytes(proof)
		if knownSize > 0 && knownSize < uint64(size) {
			consistency, err := n.audit.ConsistencyProof(tx, int64(knownSize), size)
			if err != nil {
				return err
			}
			r.Consistency = api.ProofBytes(consistency)
		}
		r.Entry, err = tx.LogEntry(index)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("release receipt: %w", err)
	}
	if alterReceipt != nil {
		alterReceipt(r) // a test build's lying custodian; nil otherwise
	}
	return r, nil
}

// collect reads the user's shares of units into resp, refusing each unit
// that does not exist or is over its rate limit, and notes the refusals in
// the entry.
func (n *Node) collect(tx *store.Tx, user string, units []*api.UnitRef, entry *api.Entry, resp *api.ReleaseResponse) error {
	for i, u := range units {
		out := &api.ReleasedShare{Unit: u}
		share, err := tx.Share(user, unitOf(u), u.Version)
		var refused error
		switch {
		case errors.Is(err, store.ErrNotFound):
			refused = api.Errorf(api.Code_NOT_FOUND, "no share of this unit version")
		case err != nil:
			return err
		default:
			if ok, wait := n.units.Allow(user + "\x00" + string(u.UnitId)); !ok {
				clear(share)
				refused = &api.StatusError{Code: api.Code_RATE_LIMITED, Message: "too many releases of this unit", RetryAfter: wait}
			}
		}
		if refused != nil {
			out.Error = api.ToProto(refused)
			entry.Refusals = append(entry.Refusals, &api.Refusal{UnitIndex: uint32(i), Code: out.Error.Code})
		} else {
			if alterShare != nil {
				alterShare(share) // a test build's lying custodian; nil otherwise
			}
			out.Share = share
		}
		resp.Shares = append(resp.Shares, out)
	}
	if len(entry.Refusals) == len(units) {
		entry.Outcome = entry.Refusals[0].Code
	}
	return nil
}

func (n *Node) countReleases(asked int, refusals []*api.Refusal, whole error) {
	if whole != nil {
		n.metrics.releases.WithLabelValues(api.ToProto(whole).Code.String()).Add(float64(asked))
		return
	}
	for _, r := range refusals {
		n.metrics.releases.WithLabelValues(r.Code.String()).Inc()
	}
	n.metrics.releases.WithLabelValues("released").Add(float64(asked - len(refusals)))
}

func (n *Node) delete(ctx context.Context, s network.Stream, r *api.Reader) error {
	var req api.DeleteRequest
	resp := &api.DeleteResponse{}
	err := n.read(r, &req)
	if err == nil {
		err = n.doDelete(ctx, s.Conn().RemotePeer(), &req)
	}
	return reply(s, resp, &resp.Error, err)
}

func (n *Node) doDelete(ctx context.Context, device peer.ID, req *api.DeleteRequest) error {
	sess, err := n.auth.Session(device)
	if err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	entry := &api.Entry{Kind: api.EntryKind_DELETE, User: sess.User, ClientPeerId: []byte(device), Units: []*api.UnitRef{req.Unit}, Operation: req.Operation}
	if err := n.chargeWrite(ctx, entry); err != nil {
		return err
	}
	return n.store.Decide(ctx, func(tx *store.Tx) (error, error) {
		var outcome error
		err := tx.DeleteShare(sess.User, unitOf(req.Unit), req.Unit.Version)
		if errors.Is(err, store.ErrNotFound) {
			outcome = api.Errorf(api.Code_NOT_FOUND, "no share of this unit version")
			entry.Outcome, entry.Reason = api.Code_NOT_FOUND, "no such unit version"
		} else if err != nil {
			return nil, err
		}
		_, err = n.record(tx, entry)
		return outcome, err
	})
}

func (n *Node) list(ctx context.Context, s network.Stream, r *api.Reader) error {
	var req api.ListRequest
	resp := &api.ListResponse{}
	err := n.read(r, &req)
	if err == nil {
		var sess *auth.Session
		if sess, err = n.session(s); err == nil {
			err = n.listPage(sess.User, &req, resp)
		}
	}
	return reply(s, resp, &resp.Error, err)
}

// listPage answers one page of the unit versions user holds (see
// api.ListRequest). The page token is the unit ID and big-endian version
// of the page's first unit version: the key its scan starts at.
func (n *Node) listPage(user string, req *api.ListRequest, resp *api.ListResponse) error {
	start, err := parsePageToken(req.PageToken)
	if err != nil {
		return err
	}
	size := int(req.PageSize)
	if size == 0 || size > api.MaxListPage {
		size = api.MaxListPage
	}
	return n.store.View(func(tx *store.Tx) error {
		units, next, err := tx.UnitsPage(user, start, size)
		if err != nil {
			return err
		}
		resp.Units = make([]*api.UnitRef, len(units))
		for i, u := range units {
			resp.Units[i] = &api.UnitRef{UnitId: u.Unit[:], Version: u.Version}
		}
		if next != nil {
			resp.NextPageToken = pageToken(next)
		}
		return nil
	})
}

// pageToken is the list page token that starts a page at u.
func pageToken(u *store.UnitVersion) []byte {
	return binary.BigEndian.AppendUint64(u.Unit[:], u.Version)
}

// parsePageToken reads a peer's list page token: nil for none (the first
// page), else the unit version the page starts at; anything else is
// INVALID_ARGUMENT.
func parsePageToken(token []byte) (*store.UnitVersion, error) {
	switch len(token) {
	case 0:
		return nil, nil
	case api.UnitIDSize + 8:
		return &store.UnitVersion{Unit: threshold.UnitID(token[:api.UnitIDSize]), Version: binary.BigEndian.Uint64(token[api.UnitIDSize:])}, nil
	}
	return nil, api.Errorf(api.Code_INVALID_ARGUMENT, "the page token is malformed")
}
