package vault

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	bolt "go.etcd.io/bbolt"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/threshold"
	"github.com/custos-network/custos/threshold/toprf"
)

// Test keys come from fixed seeds, so that failures are reproducible. None
// is anyone's real key.

func testPrivKey(t testing.TB, seed byte) crypto.PrivKey {
	t.Helper()
	return fixedPrivKey(seed)
}

func fixedPrivKey(seed byte) crypto.PrivKey {
	k, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
	if err != nil {
		panic(err)
	}
	return k
}

func testDeviceKey(t testing.TB, seed byte) []byte {
	t.Helper()
	b, err := crypto.MarshalPrivateKey(testPrivKey(t, seed))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testPeerID(t testing.TB, seed byte) string {
	t.Helper()
	id, err := peer.IDFromPrivateKey(testPrivKey(t, seed))
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

func testCommit(s string) threshold.Commitment { return sha256.Sum256([]byte(s)) }

func testUnitID(b byte) threshold.UnitID {
	var id threshold.UnitID
	for i := range id {
		id[i] = b + byte(i)
	}
	return id
}

var testTime = time.Date(2025, 3, 1, 12, 30, 0, 123456789, time.UTC)

const testNetwork = `version: 1
threshold: 2
nodes:
  - name: acme
    peer_id: placeholder
    addrs: [/ip4/192.0.2.1/udp/4001/quic-v1]
`

func testUnit(t testing.TB, label string, idByte byte) Unit {
	t.Helper()
	return Unit{
		Label:     label,
		ID:        testUnitID(idByte),
		Version:   1,
		Threshold: 2,
		Nodes: []UnitNode{
			{Name: "acme", PeerID: testPeerID(t, 0xa1), Commitment: testCommit(label + "/acme"), Stored: true},
			{Name: "bolt", PeerID: testPeerID(t, 0xa2), Commitment: testCommit(label + "/bolt"), Stored: true},
			{Name: "cove", PeerID: testPeerID(t, 0xa3), Commitment: testCommit(label + "/cove"), Stored: true},
		},
		KeyCommit: testCommit(label + "/key"),
		Sealed:    append([]byte{0x01}, bytes.Repeat([]byte{idByte}, 60)...),
		Created:   testTime,
		Updated:   testTime.Add(time.Hour),
	}
}

// testKeyShare returns the OPRF key share of index i whose scalar is
// seed (little-endian): a fixed, valid, non-zero share.
func testKeyShare(t testing.TB, i int, seed byte) toprf.KeyShare {
	t.Helper()
	b := make([]byte, toprf.ScalarSize)
	b[0] = seed
	ks, err := toprf.KeyShareFromBytes(i, b)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// testLogin returns a sealed-shape login dealing of 2 of 3 nodes whose
// enrollment is unfinished: the vault still holds cove's key share. Its
// MAC is set by testVault.
func testLogin(t testing.TB) *Login {
	t.Helper()
	l := &Login{Epoch: 1, Threshold: 2}
	for i, name := range []string{"acme", "bolt", "cove"} {
		ks := testKeyShare(t, i+1, byte(0x31+i))
		pub := ks.Public()
		n := LoginNode{Name: name, PeerID: testPeerID(t, byte(0xa1+i)), Index: i + 1, PublicShare: pub.Element[:]}
		if name == "cove" {
			n.KeyShare = ks.Bytes()
		}
		ks.Wipe()
		l.Nodes = append(l.Nodes, n)
	}
	return l
}

// testVault returns a valid vault with a login dealing whose enrollment is
// unfinished (one key share held), the checkpoints of two nodes and an
// accepted restore of one. fillVault adds its records.
func testVault(t testing.TB) *Vault {
	t.Helper()
	v := &Vault{
		User:         "alice@example.org",
		Network:      []byte(testNetwork),
		DeviceKey:    testDeviceKey(t, 0x01),
		MasterSecret: bytes.Repeat([]byte{0x4d}, threshold.KeySize),
		PasswordKDF: threshold.PasswordKDF{
			Salt: bytes.Repeat([]byte{0x5a}, threshold.SaltSize), Time: 3, Memory: 64 * 1024, Threads: 4,
		},
		Login: testLogin(t),
		Checkpoints: []NodeCheckpoint{
			{Node: "acme", Checkpoint: testReceipt(57).Checkpoint},
			{Node: "bolt", Checkpoint: []byte("custos/bolt\n61\n(root)\n\n— custos/bolt (signature)\n")},
		},
		Restores: []Restore{testRestore()},
	}
	if err := v.SealLogin(); err != nil {
		t.Fatal(err)
	}
	return v
}

// testBank is the test vault's second unit: version 3, degraded (cove
// does not store its share).
func testBank(t testing.TB) Unit {
	bank := testUnit(t, "bank", 0x20)
	bank.Version = 3
	bank.Nodes[2].Stored = false
	bank.Degraded = true
	return bank
}

// testLie is a receipt kept as evidence of a refusal.
func testLie() Receipt {
	lie := testReceipt(58)
	lie.Node, lie.Evidence = "bolt", EvidenceRefusal
	return lie
}

// fillVault puts the test vault's records into h: two sealed units (one
// degraded), a pending delete of an older version of one, and two saved
// receipts (one kept as evidence).
func fillVault(t testing.TB, h *Handle) {
	t.Helper()
	for _, u := range []Unit{testUnit(t, "acme-portal", 0x10), testBank(t)} {
		if err := h.PutUnit(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.SetPendingDelete(PendingDelete{ID: testUnitID(0x20), Version: 2, Nodes: []string{"cove"}}); err != nil {
		t.Fatal(err)
	}
	if err := h.AddReceipts(testReceipt(57), testLie()); err != nil {
		t.Fatal(err)
	}
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
}

// reread writes v's header as a vault, without checking it (as a damaged
// or edited vault would be), and opens it: the header Open read, or
// Open's error.
func reread(t testing.TB, v *Vault) (*Vault, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vault.db")
	writeUnchecked(t, path, v)
	h, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.Vault(), nil
}

// writeUnchecked makes a vault at path of v's header, whether or not it
// follows the rules.
func writeUnchecked(t testing.TB, path string, v *Vault) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	info, err := f.Stat()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := fill(path, info, v); err != nil {
		t.Fatal(err)
	}
}

// testRequest returns a request whose nonce is n, repeated, made at
// testTime to the millisecond plus n seconds.
func testRequest(node string, n byte) Request {
	return Request{
		Node:  node,
		Time:  testTime.Truncate(time.Millisecond).Add(time.Duration(n) * time.Second),
		Nonce: bytes.Repeat([]byte{n}, api.RequestNonceSize),
	}
}

// testRestore returns an accepted restore of shape only: its bytes prove
// nothing.
func testRestore() Restore {
	return Restore{
		Node:       "bolt",
		Accepted:   testTime.Add(2 * time.Hour),
		Replaced:   []byte("custos/bolt\n70\n(root)\n\n— custos/bolt (signature)\n"),
		Index:      52,
		Entry:      bytes.Repeat([]byte{0x0a}, 40),
		Checkpoint: []byte("custos/bolt\n61\n(root)\n\n— custos/bolt (signature)\n"),
	}
}

// testReceipt returns a receipt of shape only: its bytes prove nothing.
func testReceipt(index uint64) Receipt {
	return Receipt{
		Node:       "acme",
		Units:      []UnitRef{{ID: testUnitID(0x10), Version: 1}, {ID: testUnitID(0x20), Version: 3}},
		Index:      index,
		Checkpoint: []byte("custos/acme\n58\n(root)\n\n— custos/acme (signature)\n"),
		Entry:      bytes.Repeat([]byte{0x0e}, 90),
	}
}

// secretForms lists the ways the vault's secrets could show up in text.
func secretForms(v *Vault) []string {
	var out []string
	secrets := [][]byte{v.DeviceKey, v.MasterSecret}
	if v.Login != nil {
		for _, n := range v.Login.Nodes {
			if len(n.KeyShare) > 0 {
				secrets = append(secrets, n.KeyShare)
			}
		}
	}
	for _, s := range secrets {
		out = append(out, base64.StdEncoding.EncodeToString(s), hex.EncodeToString(s), string(s))
		// A window of the secret in the middle, in case only part leaked.
		out = append(out, hex.EncodeToString(s[8:24]))
	}
	return out
}

// noSecrets fails the test if text holds a secret of v. It never prints the
// text itself.
func noSecrets(t *testing.T, v *Vault, what, text string) {
	t.Helper()
	for _, s := range secretForms(v) {
		if strings.Contains(text, s) {
			t.Errorf("%s holds a secret of the vault", what)
			return
		}
	}
}

// vaultPath returns a path for a vault in a fresh directory.
func vaultPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "custos", "vault.db")
}

// writeRaw puts b at path as a vault file would be, mode 0600.
func writeRaw(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// mustEncode is every value of v's header as a vault keeps it, one after
// the other, for comparing headers.
func mustEncode(t testing.TB, v *Vault) []byte {
	t.Helper()
	b := putBytes(nil, []byte(v.User))
	b = putBytes(b, v.DeviceKey)
	b = putBytes(b, v.MasterSecret)
	for _, w := range (&Handle{v: v}).headerValues() {
		b = putBytes(append(b, w.bucket2key()...), w.value)
	}
	return b
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openNew creates a vault at a fresh path and opens it; the handle is
// closed when the test ends.
func openNew(t *testing.T) (*Handle, string) {
	t.Helper()
	path := vaultPath(t)
	if err := Create(path, testVault(t)); err != nil {
		t.Fatal(err)
	}
	h, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	fillVault(t, h)
	return h, path
}

// mustOpen opens the vault at path; the handle is closed when the test
// ends.
func mustOpen(t testing.TB, path string) *Handle {
	t.Helper()
	h, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// idKey is testUnitID(b) as a key of the sealed and ids buckets.
func idKey(b byte) []byte {
	id := testUnitID(b)
	return id[:]
}

// editValue changes one value of the closed vault at path with bbolt
// itself, as someone editing (or a disk damaging) the file would: f gets a
// copy of the value and returns the new one (nil to delete it).
func editValue(t testing.TB, path string, bucket, key []byte, f func([]byte) []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		v := f(bytes.Clone(b.Get(key)))
		if v == nil {
			return b.Delete(key)
		}
		return b.Put(key, v)
	})
	if err != nil {
		t.Fatal(err)
	}
}
