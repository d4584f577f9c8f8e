package client_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/node/nodetest"
	"github.com/custos-network/custos/node/store"
	"github.com/custos-network/custos/threshold"
)

// stolenNode is what an attacker reads from a node's data directory with
// its storage key: the user's OPRF key share and the login public key the
// node checks signatures with.
type stolenNode struct {
	index    int
	share    group.Scalar
	loginPub []byte
	peerID   []byte
}

// steal stops node p and reads the user's dealing from its store.
func steal(t *testing.T, p *nodetest.Process, user string, peerID []byte) stolenNode {
	t.Helper()
	s := stoppedStore(t, p)
	defer s.Close()
	got := stolenNode{peerID: peerID, share: group.Ristretto255.NewScalar()}
	err := s.View(func(tx *store.Tx) error {
		a, err := tx.Account(user)
		if err != nil {
			return err
		}
		b, err := tx.OprfKeyShare(user, a.Current.Epoch)
		if err != nil {
			return err
		}
		defer clear(b)
		got.index, got.loginPub = a.Current.Index, bytes.Clone(a.Current.LoginPublicKey)
		return got.share.UnmarshalBinary(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// offlineLoginKey is the attacker's best offline computation with the
// stolen key shares and the vault: interpolate the OPRF key at 0 from the
// shares (Lagrange), evaluate the password hash under it, and derive the
// login key of the node with peerID from the output and the vault's master
// secret. It returns that key's public half.
func offlineLoginKey(t *testing.T, shares []stolenNode, pwh threshold.PasswordKey, m threshold.MasterSecret, peerID []byte) []byte {
	t.Helper()
	g := group.Ristretto255
	r := g.NewScalar()
	for i, si := range shares {
		num, den := g.NewScalar().SetUint64(1), g.NewScalar().SetUint64(1)
		xi := g.NewScalar().SetUint64(uint64(si.index))
		for j, sj := range shares {
			if j == i {
				continue
			}
			xj := g.NewScalar().SetUint64(uint64(sj.index))
			num.Mul(num, xj)
			den.Mul(den, g.NewScalar().Sub(xj, xi))
		}
		lambda := num.Mul(num, den.Inv(den))
		r.Add(r, lambda.Mul(lambda, si.share))
	}
	rb, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	priv := new(oprf.PrivateKey)
	if err := priv.UnmarshalBinary(oprf.SuiteRistretto255, rb); err != nil {
		t.Fatal(err)
	}
	out, err := oprf.NewVerifiableServer(oprf.SuiteRistretto255, priv).FullEvaluate(pwh.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	rwd, err := threshold.RandomizedPasswordFromBytes(out)
	if err != nil {
		t.Fatal(err)
	}
	defer rwd.Wipe()
	k, err := threshold.DeriveLoginKey(rwd, m, peerID)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Wipe()
	return k.Public()
}

// The offline attack of login v1 is gone. An attacker holds the device's
// vault and the data directories and storage keys of k−1 nodes, and even
// knows the right password: from any k−1 key shares, the OPRF key they
// interpolate is another one, so the login key they derive for the right
// password is not the one any stolen node stores, and no guess can be
// tested offline. The honest login, online at k nodes, works. The same
// computation with a k-th node's disk does reproduce every stored login
// key: the test's attack is the real one, and it takes k custodians.
func TestOfflineGuessingNeedsKCustodians(t *testing.T) {
	const n, k = 4, 3
	tn := startNet(t, n, k, fixedAddrs(t, n))
	path := tn.vault(t, "alice")
	nw, err := client.ParseNetwork(tn.network)
	if err != nil {
		t.Fatal(err)
	}

	h, err := vault.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := threshold.MasterSecretFromBytes(h.Vault().MasterSecret)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Wipe()
	pwh, err := h.Vault().PasswordKDF.Derive(password)
	if err != nil {
		t.Fatal(err)
	}
	defer pwh.Wipe()
	if pending := h.Vault().Login.Pending(); len(pending) != 0 {
		t.Fatalf("the vault still holds key shares of %v", pending)
	}
	h.Close()

	var stolen []stolenNode
	for i := range k { // k−1 disks for the attack, one more for the control
		id, err := peer.Decode(nw.Nodes[i].PeerID)
		if err != nil {
			t.Fatal(err)
		}
		stolen = append(stolen, steal(t, tn.nodes[i], "alice", []byte(id)))
	}
	for skip := range k {
		var subset []stolenNode
		for i, s := range stolen {
			if i != skip {
				subset = append(subset, s)
			}
		}
		for _, target := range stolen {
			if got := offlineLoginKey(t, subset, pwh, m, target.peerID); bytes.Equal(got, target.loginPub) {
				t.Fatalf("k−1 = %d key shares (without node %d) reproduce node %d's login key offline", k-1, stolen[skip].index, target.index)
			}
		}
	}
	for _, target := range stolen {
		if got := offlineLoginKey(t, stolen, pwh, m, target.peerID); !bytes.Equal(got, target.loginPub) {
			t.Fatalf("k key shares do not reproduce node %d's login key: the test's computation is not the attack", target.index)
		}
	}

	for i := range k {
		tn.nodes[i].Start(t)
	}
	c := open(t, path, client.Options{})
	if err := c.Unlock(context.Background(), password); err != nil {
		t.Fatalf("the honest online login: %v", err)
	}
}
