// Package nodetest runs custodian nodes for tests, in this process or as
// real custosd processes on 127.0.0.1 in temporary directories, and speaks
// the node protocol as a user's device does. Every node and device it makes
// is stopped when its test ends, also when the test fails.
package nodetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/threshold"
)

// Device is a user's device: a libp2p host with the device key, and the
// secrets from which it derives its login key at each node.
type Device struct {
	Host     host.Host
	User     string
	master   threshold.MasterSecret
	password threshold.PasswordKey // stands for Argon2id(password), which tests skip
}

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
	d := &Device{Host: h, User: user, master: m}
	d.SetPassword("correct horse battery staple")
	return d
}

// The password key is a real Argon2id hash, at the cheapest parameters the
// threshold package allows, computed once per password per test binary.
var (
	pwMu    sync.Mutex
	pwCache = map[string]threshold.PasswordKey{}
	testKDF = threshold.PasswordKDF{Salt: make([]byte, threshold.SaltSize), Time: 1, Memory: 64 * 1024, Threads: 4}
)

// SetPassword changes the password the device logs in with.
func (d *Device) SetPassword(password string) {
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
	d.password = pw
}

// AuthKey is the device's login key at the node with this peer ID.
func (d *Device) AuthKey(node peer.ID) ed25519.PrivateKey {
	a, err := threshold.DeriveAuthSecret(d.master)
	if err != nil {
		panic(err)
	}
	k, err := threshold.DeriveNodeAuthKey(d.password, a, []byte(node))
	if err != nil {
		panic(err)
	}
	return ed25519.PrivateKey(append([]byte(nil), k.Bytes()...))
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
// under open enrollment.
func (d *Device) Enroll(ctx context.Context, node peer.ID, token string) error {
	var resp api.EnrollResponse
	req := &api.EnrollRequest{User: d.User, Token: token, AuthPublicKey: d.AuthKey(node).Public().(ed25519.PublicKey)}
	if err := d.Call(ctx, node, api.ProtocolEnroll, req, &resp); err != nil {
		return err
	}
	return api.FromProto(resp.Error)
}

// Login logs the device in at the node with its current password.
func (d *Device) Login(ctx context.Context, node peer.ID) error {
	return d.LoginWith(ctx, node, d.AuthKey(node))
}

// LoginWith logs in at the node signing the challenge with key.
func (d *Device) LoginWith(ctx context.Context, node peer.ID, key ed25519.PrivateKey) error {
	s, err := d.Host.NewStream(ctx, node, api.ProtocolLogin)
	if err != nil {
		return err
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	r := api.NewReader(s, api.MaxMessageSize)
	var ch api.LoginChallenge
	if err := api.Write(s, &api.LoginHello{User: d.User}); err != nil {
		return err
	}
	if err := r.Read(&ch); err != nil {
		return fmt.Errorf("read challenge: %w", err)
	}
	if err := api.FromProto(ch.Error); err != nil {
		return err
	}
	sig := ed25519.Sign(key, api.LoginTranscript([]byte(node), []byte(d.Host.ID()), d.User, ch.Nonce))
	if err := api.Write(s, &api.LoginProof{Signature: sig}); err != nil {
		return err
	}
	var res api.LoginResult
	if err := r.Read(&res); err != nil {
		return fmt.Errorf("read login result: %w", err)
	}
	return api.FromProto(res.Error)
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

// List lists the unit versions the node holds for the user.
func (d *Device) List(ctx context.Context, node peer.ID) ([]*api.UnitRef, error) {
	var resp api.ListResponse
	if err := d.Call(ctx, node, api.ProtocolList, &api.ListRequest{}, &resp); err != nil {
		return nil, err
	}
	return resp.Units, api.FromProto(resp.Error)
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
