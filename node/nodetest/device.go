// Package nodetest runs custodian nodes for tests, in this process or as
// real custosd processes on 127.0.0.1 in temporary directories, and speaks
// the node protocol as a user's device does. Every node and device it makes
// is stopped when its test ends, also when the test fails.
package nodetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/threshold"
	"github.com/custos-network/custos/threshold/toprf"
)

// Device is a user's device: a libp2p host with the device key, the
// secrets from which it derives its login key at each node, and the
// dealings of its OPRF key (login v2, docs/login.md). Unlike a client, a
// test device keeps each dealing's whole key r: it computes its login keys
// from r.Output(pw) itself, so it can log in at one node alone, and checks
// every node's evaluation against the public share it dealt that node.
type Device struct {
	Host host.Host
	User string

	mu       sync.Mutex
	master   threshold.MasterSecret
	password threshold.PasswordKey // what the user types; stands for Argon2id(password)
	current  *dealing              // the dealing logins use
	staged   *dealing              // a password change's new dealing, until UseStaged
	indexes  map[peer.ID]int       // each node's 1-based index in the dealings
}

// dealing is one dealing of an OPRF key: the whole key and the key share
// of each index (share i at i−1), split k of n.
type dealing struct {
	epoch    uint32
	k        int
	key      toprf.Key
	shares   []toprf.KeyShare
	password threshold.PasswordKey // the password it was dealt for (a stage's)
}

// DefaultThreshold and DefaultNodes are the split of a device's first
// dealing until Deal says otherwise: nodes get indexes 1, 2, … in the order
// the device first enrolls at (or logs in at) them.
const (
	DefaultThreshold = 2
	DefaultNodes     = 16
)

// ErrBadEvaluation is the error of a login at a node whose OPRF evaluation
// or proof does not verify against the public share the device dealt it:
// the device names the node and does not sign its challenge.
var ErrBadEvaluation = errors.New("nodetest: the node's OPRF evaluation does not verify")

// NewDevice makes a device for user with a fresh device key; it is closed
// when the test ends.
func NewDevice(t testing.TB, user string) *Device {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := client.NewHost(priv) // a device's host, as the client makes it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	m, err := threshold.NewMasterSecret()
	if err != nil {
		t.Fatal(err)
	}
	d := &Device{Host: h, User: user, master: m, indexes: map[peer.ID]int{}}
	d.SetPassword("correct horse battery staple")
	d.current = newDealing(1, DefaultThreshold, DefaultNodes, d.password)
	return d
}

func newDealing(epoch uint32, k, n int, pw threshold.PasswordKey) *dealing {
	key, err := toprf.NewKey()
	if err != nil {
		panic(err)
	}
	shares, _, err := key.Split(k, n)
	if err != nil {
		panic(err)
	}
	return &dealing{epoch: epoch, k: k, key: key, shares: shares, password: pw}
}

// Deal replaces the device's current dealing, before it enrolls anywhere,
// with a fresh k-of-len(nodes) dealing: node i of nodes gets index i+1.
func (d *Device) Deal(k int, nodes ...peer.ID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.current = newDealing(d.current.epoch, k, len(nodes), d.password)
	d.indexes = map[peer.ID]int{}
	for i, n := range nodes {
		d.indexes[n] = i + 1
	}
}

// The password key is a real Argon2id hash, at the cheapest parameters the
// threshold package allows, computed once per password per test binary.
var (
	pwMu    sync.Mutex
	pwCache = map[string]threshold.PasswordKey{}
	testKDF = threshold.PasswordKDF{Salt: make([]byte, threshold.SaltSize), Time: 1, Memory: 64 * 1024, Threads: 4}
)

func passwordKey(password string) threshold.PasswordKey {
	pwMu.Lock()
	defer pwMu.Unlock()
	pw, ok := pwCache[password]
	if !ok {
		var err error
		if pw, err = testKDF.Derive([]byte(password)); err != nil {
			panic(err)
		}
		pwCache[password] = pw
	}
	return pw
}

// SetPassword changes the password the device types when it logs in; its
// dealings stay as they are, so a password other than theirs is a wrong one.
func (d *Device) SetPassword(password string) {
	pw := passwordKey(password)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.password = pw
}

// Epoch is the epoch of the device's current dealing.
func (d *Device) Epoch() uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.current.epoch
}

// Index is the node's index in the device's dealings, assigned on first use.
func (d *Device) Index(node peer.ID) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.indexLocked(node)
}

func (d *Device) indexLocked(node peer.ID) int {
	i, ok := d.indexes[node]
	if !ok {
		i = len(d.indexes) + 1
		if i > len(d.current.shares) {
			panic(fmt.Sprintf("nodetest: the device's dealing has %d nodes; Deal for more", len(d.current.shares)))
		}
		d.indexes[node] = i
	}
	return i
}

// dealingOf returns the device's dealing of epoch, current or staged.
func (d *Device) dealingOf(epoch uint32) (*dealing, error) {
	switch {
	case d.current.epoch == epoch:
		return d.current, nil
	case d.staged != nil && d.staged.epoch == epoch:
		return d.staged, nil
	}
	return nil, fmt.Errorf("nodetest: the device holds no dealing of epoch %d", epoch)
}

// PublicShare is R_i of the node in the device's dealing of epoch: what a
// client keeps to check the node's evaluations.
func (d *Device) PublicShare(node peer.ID, epoch uint32) toprf.PublicShare {
	d.mu.Lock()
	defer d.mu.Unlock()
	dl, err := d.dealingOf(epoch)
	if err != nil {
		panic(err)
	}
	return dl.shares[d.indexLocked(node)-1].Public()
}

// HonestEvaluation is what an honest node answers blinded with under the
// device's dealing of epoch: Z_i = r_i·B with a fresh proof.
func (d *Device) HonestEvaluation(node peer.ID, epoch uint32, blinded []byte) (evaluated [toprf.ElementSize]byte, proof [toprf.ProofSize]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dl, err := d.dealingOf(epoch)
	if err != nil {
		panic(err)
	}
	evaluated, proof, err = dl.shares[d.indexLocked(node)-1].Evaluate(blinded)
	if err != nil {
		panic(err)
	}
	return evaluated, proof
}

// Output is the OPRF output of the dealing of epoch for the password the
// device types, computed with the dealing's whole key. The caller wipes it.
func (d *Device) Output(epoch uint32) toprf.Output {
	d.mu.Lock()
	defer d.mu.Unlock()
	dl, err := d.dealingOf(epoch)
	if err != nil {
		panic(err)
	}
	return output(dl, d.password)
}

func output(dl *dealing, pw threshold.PasswordKey) toprf.Output {
	out, err := dl.key.Output(pw.Bytes())
	if err != nil {
		panic(err)
	}
	return out
}

// loginKey is the login key at node of dealing dl for password pw.
func (d *Device) loginKey(dl *dealing, pw threshold.PasswordKey, node peer.ID) ed25519.PrivateKey {
	out := output(dl, pw)
	defer out.Wipe()
	return LoginKey(out, d.master, node)
}

// LoginKey derives the login key at node from an OPRF output, as a client
// does (threshold.DeriveLoginKey).
func LoginKey(out toprf.Output, m threshold.MasterSecret, node peer.ID) ed25519.PrivateKey {
	rwd, err := threshold.RandomizedPasswordFromBytes(out.Bytes())
	if err != nil {
		panic(err)
	}
	defer rwd.Wipe()
	k, err := threshold.DeriveLoginKey(rwd, m, []byte(node))
	if err != nil {
		panic(err)
	}
	defer k.Wipe()
	return ed25519.PrivateKey(append([]byte(nil), k.Bytes()...))
}

// Master is the device's master secret, for tests that derive login keys
// as a client does.
func (d *Device) Master() threshold.MasterSecret { return d.master }

// AuthKey is the device's login key at the node with this peer ID under its
// current dealing, for the password it types.
func (d *Device) AuthKey(node peer.ID) ed25519.PrivateKey {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.loginKey(d.current, d.password, node)
}

// oprfShare is what the device sends node of dealing dl.
func (d *Device) oprfShare(dl *dealing, node peer.ID) *api.OprfShare {
	ks := dl.shares[d.indexLocked(node)-1]
	pub := ks.Public()
	return &api.OprfShare{Epoch: dl.epoch, Index: uint32(ks.Index), KeyShare: ks.Bytes(), PublicShare: pub.Element[:]}
}

// Connect dials the node.
func (d *Device) Connect(ctx context.Context, info peer.AddrInfo) error {
	return d.Host.Connect(ctx, info)
}

// Call runs one request and answer on a new stream of protocol p.
func (d *Device) Call(ctx context.Context, node peer.ID, p protocol.ID, req, resp proto.Message) error {
	s, err := d.Host.NewStream(ctx, node, p)
	if err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(deadline)
	} else {
		_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	}
	return api.Exchange(ctx, s, req, resp)
}

// Enroll enrolls the device's user at the node, with an invite token or ""
// under open enrollment: it sends the node its share of the current
// dealing and its login public key there, for the password it types.
func (d *Device) Enroll(ctx context.Context, node peer.ID, token string) error {
	d.mu.Lock()
	req := &api.EnrollRequest{
		User: d.User, Token: token, Oprf: d.oprfShare(d.current, node),
		AuthPublicKey: d.loginKey(d.current, d.password, node).Public().(ed25519.PublicKey),
	}
	d.mu.Unlock()
	defer clear(req.Oprf.KeyShare)
	var resp api.EnrollResponse
	if err := d.Call(ctx, node, api.ProtocolEnroll, req, &resp); err != nil {
		return err
	}
	return api.FromProto(resp.Error)
}

// Login logs the device in at the node under its current dealing, with
// the password it types.
func (d *Device) Login(ctx context.Context, node peer.ID) error {
	return d.LoginWith(ctx, node, d.AuthKey(node))
}

// LoginEpoch logs in at the node under the device's dealing of epoch
// (current or staged), with the password it types.
func (d *Device) LoginEpoch(ctx context.Context, node peer.ID, epoch uint32) error {
	d.mu.Lock()
	dl, err := d.dealingOf(epoch)
	var key ed25519.PrivateKey
	if err == nil {
		key = d.loginKey(dl, d.password, node)
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	_, err = d.login(ctx, node, epoch, key)
	return err
}

// LoginWith logs in at the node under the current dealing, signing the
// challenge with key.
func (d *Device) LoginWith(ctx context.Context, node peer.ID, key ed25519.PrivateKey) error {
	_, err := d.login(ctx, node, d.Epoch(), key)
	return err
}

// LoginResult is what a whole login exchange gave: both answers, as far
// as it got.
type LoginResult struct {
	Challenge *api.LoginChallenge
	Result    *api.LoginResult
}

// LoginDetail is LoginWith that also returns the node's answers, for tests
// of what they say (attempts left).
func (d *Device) LoginDetail(ctx context.Context, node peer.ID, key ed25519.PrivateKey) (LoginResult, error) {
	return d.login(ctx, node, d.Epoch(), key)
}

// login runs a v2 login at node under epoch: a hello with the typed
// password blinded, a check of the node's evaluation against the public
// share the device dealt it, then the signature by key.
func (d *Device) login(ctx context.Context, node peer.ID, epoch uint32, key ed25519.PrivateKey) (LoginResult, error) {
	var res LoginResult
	d.mu.Lock()
	pw := d.password
	d.mu.Unlock()
	req, err := toprf.Blind(pw.Bytes())
	if err != nil {
		return res, err
	}
	defer req.Wipe()
	blinded := req.Blinded()
	ls, ch, err := d.Hello(ctx, node, &api.LoginHello{User: d.User, Epoch: epoch, Blinded: blinded[:]})
	res.Challenge = ch
	if err != nil {
		return res, err
	}
	defer ls.Close()
	if !toprf.Verify(d.PublicShare(node, epoch), blinded[:], ch.Evaluated, ch.Proof) {
		return res, fmt.Errorf("node %s: %w", node, ErrBadEvaluation)
	}
	res.Result, err = ls.Answer(ed25519.Sign(key, api.LoginTranscript([]byte(node), []byte(d.Host.ID()), d.User, ch.Nonce)))
	return res, err
}

// LoginStream is a login exchange in progress at one node, after its
// hello was answered.
type LoginStream struct {
	s network.Stream
	r *api.Reader
}

// Hello opens a login stream at node, sends hello, and returns the stream
// with the node's challenge. The error is the node's refusal (the
// challenge holds its attempts left) or the exchange's failure; on an
// error the stream is closed.
func (d *Device) Hello(ctx context.Context, node peer.ID, hello *api.LoginHello) (*LoginStream, *api.LoginChallenge, error) {
	s, err := d.Host.NewStream(ctx, node, api.ProtocolLogin)
	if err != nil {
		return nil, nil, err
	}
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	ls := &LoginStream{s: s, r: api.NewReader(s, api.MaxMessageSize)}
	var ch api.LoginChallenge
	if err := api.Write(s, hello); err != nil {
		s.Reset()
		return nil, nil, err
	}
	if err := ls.r.Read(&ch); err != nil {
		s.Reset()
		return nil, nil, fmt.Errorf("read challenge: %w", err)
	}
	if err := api.FromProto(ch.Error); err != nil {
		s.Close()
		return nil, &ch, err
	}
	return ls, &ch, nil
}

// Answer sends the signature and returns the node's result; the error is
// its refusal, or the exchange's failure.
func (ls *LoginStream) Answer(sig []byte) (*api.LoginResult, error) {
	defer ls.s.Close()
	if err := api.Write(ls.s, &api.LoginProof{Signature: sig}); err != nil {
		return nil, err
	}
	var res api.LoginResult
	if err := ls.r.Read(&res); err != nil {
		return nil, fmt.Errorf("read login result: %w", err)
	}
	return &res, api.FromProto(res.Error)
}

// Close ends the exchange without an answer.
func (ls *LoginStream) Close() { ls.s.Close() }

// Blind blinds the password the device types, as a client's login does.
// The caller wipes the request.
func (d *Device) Blind() *toprf.Request {
	d.mu.Lock()
	pw := d.password
	d.mu.Unlock()
	req, err := toprf.Blind(pw.Bytes())
	if err != nil {
		panic(err)
	}
	return req
}

// ChangePassword deals the device's OPRF key anew, for password, as the
// staged dealing of the next epoch, split as the current one and for the
// same nodes. Stage sends it to a node; UseStaged makes it the current
// one once committed.
func (d *Device) ChangePassword(password string) {
	pw := passwordKey(password)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.staged = newDealing(d.current.epoch+1, d.current.k, len(d.current.shares), pw)
}

// UseStaged makes the staged dealing current, and its password the one
// the device types.
func (d *Device) UseStaged() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.current, d.password, d.staged = d.staged, d.staged.password, nil
}

// Stage sends the node its share of the staged dealing and the login
// public key for the staged password.
func (d *Device) Stage(ctx context.Context, node peer.ID) (*api.PasswdResponse, error) {
	d.mu.Lock()
	if d.staged == nil {
		d.mu.Unlock()
		return nil, errors.New("nodetest: no dealing is staged; call ChangePassword")
	}
	stage := &api.PasswdStage{
		Oprf:          d.oprfShare(d.staged, node),
		AuthPublicKey: d.loginKey(d.staged, d.staged.password, node).Public().(ed25519.PublicKey),
	}
	d.mu.Unlock()
	defer clear(stage.Oprf.KeyShare)
	return d.Passwd(ctx, node, &api.PasswdRequest{Step: &api.PasswdRequest_Stage{Stage: stage}})
}

// Commit asks the node to make the dealing of epoch current.
func (d *Device) Commit(ctx context.Context, node peer.ID, epoch uint32) (*api.PasswdResponse, error) {
	return d.Passwd(ctx, node, &api.PasswdRequest{Step: &api.PasswdRequest_Commit{Commit: epoch}})
}

// Abort asks the node to drop the staged dealing of epoch.
func (d *Device) Abort(ctx context.Context, node peer.ID, epoch uint32) (*api.PasswdResponse, error) {
	return d.Passwd(ctx, node, &api.PasswdRequest{Step: &api.PasswdRequest_Abort{Abort: epoch}})
}

// Passwd sends one password change step; the error is the node's refusal,
// with the answer, which says the node's epochs all the same.
func (d *Device) Passwd(ctx context.Context, node peer.ID, req *api.PasswdRequest) (*api.PasswdResponse, error) {
	var resp api.PasswdResponse
	if err := d.Call(ctx, node, api.ProtocolPasswd, req, &resp); err != nil {
		return nil, err
	}
	return &resp, api.FromProto(resp.Error)
}

// Put stores a share of a unit version at the node.
func (d *Device) Put(ctx context.Context, node peer.ID, unit *api.UnitRef, share []byte) (uint64, error) {
	var resp api.PutResponse
	if err := d.Call(ctx, node, api.ProtocolPut, &api.PutRequest{Unit: unit, Share: share}, &resp); err != nil {
		return 0, err
	}
	return resp.LogIndex, api.FromProto(resp.Error)
}

// ReleaseRequest makes a release request for units signed by the device
// for the node.
func (d *Device) ReleaseRequest(node peer.ID, units ...*api.UnitRef) *api.ReleaseRequest {
	req := &api.ReleaseRequest{Units: units, TimeUnixMs: uint64(time.Now().UnixMilli()), Nonce: make([]byte, api.RequestNonceSize)}
	_, _ = rand.Read(req.Nonce)
	msg := api.ReleaseTranscript([]byte(node), []byte(d.Host.ID()), d.User, req.TimeUnixMs, req.Nonce, units)
	sig, err := d.Host.Peerstore().PrivKey(d.Host.ID()).Sign(msg)
	if err != nil {
		panic(err)
	}
	req.DeviceSignature = sig
	return req
}

// Release asks the node for the shares of units. The error is the
// request's own refusal; per-unit refusals are in the answer.
func (d *Device) Release(ctx context.Context, node peer.ID, units ...*api.UnitRef) (*api.ReleaseResponse, error) {
	var resp api.ReleaseResponse
	if err := d.Call(ctx, node, api.ProtocolRelease, d.ReleaseRequest(node, units...), &resp); err != nil {
		return nil, err
	}
	return &resp, api.FromProto(resp.Error)
}

// Delete removes a unit version's share at the node.
func (d *Device) Delete(ctx context.Context, node peer.ID, unit *api.UnitRef) error {
	var resp api.DeleteResponse
	if err := d.Call(ctx, node, api.ProtocolDelete, &api.DeleteRequest{Unit: unit}, &resp); err != nil {
		return err
	}
	return api.FromProto(resp.Error)
}

// List lists the unit versions the node holds for the user, a page at a
// time.
func (d *Device) List(ctx context.Context, node peer.ID) ([]*api.UnitRef, error) {
	var all []*api.UnitRef
	req := &api.ListRequest{}
	for {
		resp, err := d.ListPage(ctx, node, req)
		if err != nil {
			return nil, err
		}
		all = append(all, resp.Units...)
		if len(resp.NextPageToken) == 0 {
			return all, nil
		}
		req = &api.ListRequest{PageToken: resp.NextPageToken}
	}
}

// ListPage asks the node for one page of the user's unit versions. The
// error is the node's refusal, if any.
func (d *Device) ListPage(ctx context.Context, node peer.ID, req *api.ListRequest) (*api.ListResponse, error) {
	var resp api.ListResponse
	if err := d.Call(ctx, node, api.ProtocolList, req, &resp); err != nil {
		return nil, err
	}
	return &resp, api.FromProto(resp.Error)
}

// OprfShare returns a well-formed share of epoch, with index, of a fresh
// 2-of-index dealing (index at least 2), or of 2-of-2 for index 1: what an
// enrollment or a stage sends, for tests that build requests by hand.
func OprfShare(epoch uint32, index int) *api.OprfShare {
	dl := newDealing(epoch, DefaultThreshold, max(index, DefaultThreshold), threshold.PasswordKey{})
	defer dl.key.Wipe()
	ks := dl.shares[index-1]
	pub := ks.Public()
	return &api.OprfShare{Epoch: epoch, Index: uint32(index), KeyShare: ks.Bytes(), PublicShare: pub.Element[:]}
}

// Unit returns a fresh random unit reference of version 1.
func Unit() *api.UnitRef {
	u := &api.UnitRef{UnitId: make([]byte, api.UnitIDSize), Version: 1}
	_, _ = rand.Read(u.UnitId)
	return u
}

// Share returns a well-formed random share.
func Share() []byte {
	s := make([]byte, api.ShareSize)
	_, _ = rand.Read(s)
	s[api.ShareSize-1] |= 1
	return s
}
