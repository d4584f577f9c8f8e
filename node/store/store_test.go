package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/custos-network/custos/threshold"
	"github.com/dgraph-io/badger/v4"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// A Badger Open that fails on a wrong encryption key (TestOpenWrongKey)
// leaves two goroutines behind that its cleanup never stops: the cache
// monitor and the allocator pool's reaper (badger v4.9.6, db.go: cleanup
// signals neither). They are ignored by name; a store that is not closed
// leaks many more goroutines (writes, compactors, flushes, ours), which are
// still caught.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/dgraph-io/badger/v4.(*DB).monitorCache"),
		goleak.IgnoreTopFunction("github.com/dgraph-io/ristretto/v2/z.(*AllocatorPool).freeupAllocators"),
	)
}

var (
	testKey  = bytes.Repeat([]byte{0x5a}, StorageKeySize)
	otherKey = bytes.Repeat([]byte{0xa5}, StorageKeySize)
)

// testLogger shows Badger's warnings and errors in the test log.
func testLogger(t testing.TB) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
}

// opener makes a fresh store that is closed when the test ends.
type opener func(t testing.TB) *Store

func openDisk(t testing.TB) *Store {
	t.Helper()
	return openDiskAt(t, t.TempDir())
}

func openDiskAt(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, testKey, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openMemory(t testing.TB) *Store {
	t.Helper()
	s, err := OpenInMemory(testKey, testLogger(t))
	if err != nil {
		t.Fatalf("OpenInMemory: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func update(t testing.TB, s *Store, fn func(*Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t testing.TB, s *Store, fn func(*Tx) error) {
	t.Helper()
	if err := s.View(fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func testAccount(user string) *Account {
	return &Account{
		User:    user,
		Devices: []Device{{PeerID: testDevice(0x08), Added: epoch}},
		Current: *testDealing(user, 1),
		Created: epoch,
	}
}

// testDevice is a peer-ID-shaped value that differs per b.
func testDevice(b byte) []byte { return append([]byte{0x00, 0x24}, bytes.Repeat([]byte{b}, 36)...) }

// testDealing is a well-formed dealing of epoch that differs per user and
// epoch. Its bytes are not checked as group elements: that is auth's.
func testDealing(user string, e uint32) *Dealing {
	pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(len(user)) ^ byte(e)}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	return &Dealing{Epoch: e, Index: 2, PublicShare: bytes.Repeat([]byte{byte(e)}, PublicShareLen), LoginPublicKey: pub}
}

// testKeyShare is a key-share-sized value that differs per user and epoch.
func testKeyShare(user string, e uint32) []byte {
	b := bytes.Repeat([]byte{0xc0 ^ byte(e)}, OprfKeyShareLen)
	copy(b, user)
	return b
}

func sameDealing(a, b *Dealing) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Epoch == b.Epoch && a.Index == b.Index && bytes.Equal(a.PublicShare, b.PublicShare) && bytes.Equal(a.LoginPublicKey, b.LoginPublicKey) &&
		bytes.Equal(a.Note, b.Note)
}

func unit(b byte) threshold.UnitID { return threshold.UnitID{b, 0xee} }

// testShare is a share-sized value that differs per argument.
func testShare(user string, u threshold.UnitID, version uint64) []byte {
	b := bytes.Repeat([]byte{u[0] ^ byte(version)}, threshold.ShareSize)
	copy(b, user)
	b[len(b)-1] = 1
	return b
}

func sameAccount(a, b *Account) bool {
	return a.User == b.User && sameDevices(a.Devices, b.Devices) &&
		sameDealing(&a.Current, &b.Current) && sameDealing(a.Staged, b.Staged) && a.Failures == b.Failures &&
		a.Locked == b.Locked && a.LockedAt.Equal(b.LockedAt) &&
		a.NextAttempt.Equal(b.NextAttempt) && a.Created.Equal(b.Created)
}

func sameInvite(a, b *Invite) bool {
	return a.Hash == b.Hash && a.User == b.User && a.Expires.Equal(b.Expires) && a.Created.Equal(b.Created)
}

// rawGet and rawSet reach under the store to Badger, as an attacker with
// the storage key (or a bug) would.
func rawGet(t testing.TB, s *Store, key []byte) []byte {
	t.Helper()
	var v []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatalf("raw get: %v", err)
	}
	return v
}

func rawSet(t testing.TB, s *Store, key, value []byte) {
	t.Helper()
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(key, value) }); err != nil {
		t.Fatalf("raw set: %v", err)
	}
}

func sameDevices(a, b []Device) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].PeerID, b[i].PeerID) || !a[i].Added.Equal(b[i].Added) || !a[i].Revoked.Equal(b[i].Revoked) {
			return false
		}
	}
	return true
}
