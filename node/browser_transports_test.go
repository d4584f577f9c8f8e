package node_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	webtransport "github.com/libp2p/go-libp2p/p2p/transport/webtransport"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// A browser with no other transport enrolls over the node's WebTransport
// listener, pinning the certificate hashes that the node's card announces.
func TestWebTransportListenerServesARequest(t *testing.T) {
	n := nodetest.Start(t, nodetest.Listen("/ip4/127.0.0.1/udp/0/quic-v1/webtransport"))
	wt := webTransportAddrs(t, n.Card().Addrs)
	h := newClientHost(t, libp2p.Transport(webtransport.New))
	enrollOver(t, h, n.ID(), wt)
}

// The card gives each WebTransport certificate hash an address of its own:
// the node announces two (the certificate in use, the next one), and an
// address naming both would stop working once a node restarted after the
// rotation no longer vouches for the first. Now, the address of the
// certificate in use connects and the next one's is refused.
func TestCardGivesEachWebTransportCertificateItsOwnAddress(t *testing.T) {
	n := nodetest.Start(t, nodetest.Listen("/ip4/127.0.0.1/udp/0/quic-v1/webtransport"))
	var announced []string
	for _, a := range n.Addrs() {
		if strings.Contains(a.String(), "/webtransport/") {
			announced = strings.Split(a.String(), "/certhash/")[1:]
		}
	}
	if len(announced) != 2 {
		t.Fatalf("the node announces %d certificate hashes, want the current and the next: %v", len(announced), n.Addrs())
	}
	wt := webTransportAddrs(t, n.Card().Addrs)
	if len(wt) != 2 {
		t.Fatalf("the card has %d WebTransport addresses, want one per hash: %v", len(wt), wt)
	}
	for i, a := range wt {
		if got := strings.Split(a.String(), "/certhash/")[1:]; len(got) != 1 || got[0] != announced[i] {
			t.Fatalf("card address %d is %s, want one with the hash %s alone", i, a, announced[i])
		}
	}
	connects := func(a ma.Multiaddr) bool {
		h := newClientHost(t, libp2p.Transport(webtransport.New))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return h.Connect(ctx, peer.AddrInfo{ID: n.ID(), Addrs: []ma.Multiaddr{a}}) == nil
	}
	if !connects(wt[0]) {
		t.Error("the address of the certificate in use does not connect")
	}
	if connects(wt[1]) {
		t.Error("the address of the next certificate connects before its time")
	}
}

// webTransportAddrs are the WebTransport addresses with a certhash of a card.
func webTransportAddrs(t *testing.T, addrs []string) []ma.Multiaddr {
	t.Helper()
	var wt []ma.Multiaddr
	for _, a := range addrs {
		if strings.Contains(a, "/webtransport/certhash/") {
			wt = append(wt, ma.StringCast(a))
		}
	}
	if len(wt) == 0 {
		t.Fatalf("the card names no WebTransport address with a certhash: %v", addrs)
	}
	return wt
}

// The WebTransport certificates come from the identity key and the clock,
// so a restart announces the same certificate hashes: a network file made
// from the card stays good across restarts (until the rotation).
func TestWebTransportCertHashesSurviveARestart(t *testing.T) {
	n := nodetest.Start(t, nodetest.Listen("/ip4/127.0.0.1/udp/0/quic-v1/webtransport"))
	before := certHashes(t, n.Card().Addrs)
	n.Restart(t)
	if after := certHashes(t, n.Card().Addrs); after != before {
		t.Fatalf("after a restart the card announces %s, before it %s", after, before)
	}
}

// certHashes lists the certificate hashes of the WebTransport addresses.
func certHashes(t *testing.T, addrs []string) string {
	t.Helper()
	var hashes []string
	for _, a := range webTransportAddrs(t, addrs) {
		hashes = append(hashes, strings.Split(a.String(), "/certhash/")[1:]...)
	}
	return strings.Join(hashes, " ")
}

// A client that trusts the operator's CA enrolls over the node's WebSocket
// listener with TLS (/tls/ws), which serves the certificate from tls.cert.
func TestWebSocketWithTLSServesARequest(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	tlsFiles := ca.issue(t, dir, "first", time.Now().Add(24*time.Hour))
	n := nodetest.Start(t, nodetest.Listen("/ip4/127.0.0.1/tcp/0/tls/ws"), func(c *config.Config) { c.TLS = tlsFiles })
	wss := wssAddrs(t, n.Addrs())
	h := newClientHost(t, libp2p.Transport(websocket.New, websocket.WithTLSClientConfig(ca.clientConfig(nil))))
	enrollOver(t, h, n.ID(), wss)
}

// A renewed certificate written over tls.cert and tls.key is served to the
// next connection without a restart; until the new pair is whole, the old
// one stays in use.
func TestRenewedCertificateIsServedWithoutRestart(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	tlsFiles := ca.issue(t, dir, "first", time.Now().Add(24*time.Hour))
	n := nodetest.Start(t, nodetest.Listen("/ip4/127.0.0.1/tcp/0/tls/ws"), func(c *config.Config) { c.TLS = tlsFiles })
	wss := wssAddrs(t, n.Addrs())
	served := func() string {
		t.Helper()
		var cn string
		h := newClientHost(t, libp2p.Transport(websocket.New, websocket.WithTLSClientConfig(ca.clientConfig(&cn))))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Connect(ctx, peer.AddrInfo{ID: n.ID(), Addrs: wss}); err != nil {
			t.Fatal(err)
		}
		h.Close()
		return cn
	}
	if got := served(); got != "first" {
		t.Fatalf("served %q, want the first certificate", got)
	}

	// Half a renewal: a new certificate next to the old key is no pair.
	renewed := ca.issue(t, t.TempDir(), "renewed", time.Now().Add(48*time.Hour))
	copyFile(t, renewed.Cert, tlsFiles.Cert)
	time.Sleep(1100 * time.Millisecond) // past the node's recheck interval
	if got := served(); got != "first" {
		t.Fatalf("with a certificate and a key that do not match, served %q, want the first certificate kept", got)
	}
	copyFile(t, renewed.Key, tlsFiles.Key)
	deadline := time.Now().Add(10 * time.Second)
	for served() != "renewed" {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was not served within 10s")
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// custosd refuses to start with certificate files it cannot serve, and
// says which setting and file is wrong.
func TestWebSocketTLSFilesAreCheckedAtStart(t *testing.T) {
	ca := newTestCA(t)
	good := ca.issue(t, t.TempDir(), "good", time.Now().Add(24*time.Hour))
	other := ca.issue(t, t.TempDir(), "other", time.Now().Add(24*time.Hour))
	expired := ca.issue(t, t.TempDir(), "expired", time.Now().Add(-time.Hour))
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a PEM file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rule string
		tls  config.TLS
		want string
		is   error
	}{
		{"a missing certificate file is refused", config.TLS{Cert: good.Cert + ".missing", Key: good.Key}, "read tls.cert", os.ErrNotExist},
		{"a missing key file is refused", config.TLS{Cert: good.Cert, Key: good.Key + ".missing"}, "read tls.key", os.ErrNotExist},
		{"a directory for the key is refused", config.TLS{Cert: good.Cert, Key: filepath.Dir(good.Key)}, "read tls.key", nil},
		{"a key of another certificate is refused", config.TLS{Cert: good.Cert, Key: other.Key}, "tls.key is not the private key", node.ErrCertKeyMismatch},
		{"a certificate file without a certificate is refused", config.TLS{Cert: garbage, Key: good.Key}, "holds no PEM certificate", nil},
		{"a key file without a key is refused", config.TLS{Cert: good.Cert, Key: other.Cert}, "holds no private key", nil},
		{"an expired certificate is refused", expired, "expired on", nil},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			cfg := initConfig(t)
			cfg.Listen, cfg.TLS = []string{"/ip4/127.0.0.1/tcp/0/tls/ws"}, tc.tls
			n, err := node.New(cfg, zap.NewNop())
			if err == nil {
				n.Close()
				t.Fatal("the node started")
			}
			if !strings.Contains(err.Error(), tc.want) || tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY-----\n") {
				t.Fatalf("the error quotes the key file: %v", err)
			}
		})
	}
}

// initConfig makes a node directory.
func initConfig(t *testing.T) *config.Config {
	t.Helper()
	path, _, err := node.Init(node.InitOptions{Dir: filepath.Join(t.TempDir(), "n1"), Name: "n1", Enrollment: "open", Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP = ""
	return cfg
}

func wssAddrs(t *testing.T, addrs []ma.Multiaddr) []ma.Multiaddr {
	t.Helper()
	var out []ma.Multiaddr
	for _, a := range addrs {
		if strings.HasSuffix(a.String(), "/tls/ws") || strings.HasSuffix(a.String(), "/wss") {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		t.Fatalf("the node listens on no WebSocket address with TLS: %v", addrs)
	}
	return out
}

// newClientHost is a device's host with one transport, closed when the test ends.
func newClientHost(t *testing.T, transport libp2p.Option) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.NoListenAddrs, transport, libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// enrollOver connects h to the node at addrs only and enrolls a user: a
// real request, answered.
func enrollOver(t *testing.T, h host.Host, id peer.ID, addrs []ma.Multiaddr) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Connect(ctx, peer.AddrInfo{ID: id, Addrs: addrs}); err != nil {
		t.Fatal(err)
	}
	s, err := h.NewStream(ctx, id, api.ProtocolEnroll)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	if err := api.Write(s, &api.EnrollRequest{User: "browser", AuthPublicKey: pub, Oprf: nodetest.OprfShare(1, 1)}); err != nil {
		t.Fatal(err)
	}
	var resp api.EnrollResponse
	if err := api.NewReader(s, api.MaxMessageSize).Read(&resp); err != nil {
		t.Fatal(err)
	}
	if err := api.FromProto(resp.Error); err != nil {
		t.Fatalf("enroll: %v", err)
	}
}

// testCA issues certificates for 127.0.0.1 and localhost.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "custos test CA"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(7 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert, key}
}

// issue writes a certificate named cn (its common name) valid until
// notAfter, and its key, into dir.
func (ca *testCA) issue(t *testing.T, dir, cn string, notAfter time.Time) config.TLS {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: notAfter,
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	files := config.TLS{Cert: filepath.Join(dir, cn+".crt"), Key: filepath.Join(dir, cn+".key")}
	writePEM(t, files.Cert, "CERTIFICATE", der)
	writePEM(t, files.Key, "PRIVATE KEY", keyDER)
	return files
}

// clientConfig trusts the CA alone; cn, when not nil, gets the common name
// of the certificate the server presented.
func (ca *testCA) clientConfig(cn *string) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return &tls.Config{RootCAs: pool, VerifyConnection: func(cs tls.ConnectionState) error {
		if cn != nil && len(cs.PeerCertificates) > 0 {
			*cn = cs.PeerCertificates[0].Subject.CommonName
		}
		return nil
	}}
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	// Written aside and renamed in, as certbot and most tools do.
	tmp := to + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}
