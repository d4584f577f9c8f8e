package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// accountV2 is a's record as a store of version 2 wrote it: one device, in
// "device_peer_id".
func accountV2(t testing.TB, a *Account) []byte {
	t.Helper()
	r := map[string]any{
		"v": 2, "user": a.User, "device_peer_id": a.Devices[0].PeerID,
		"current": a.Current.record(), "staged": a.Staged.record(), "failures": a.Failures,
		"locked": a.Locked, "locked_at": a.LockedAt, "next_attempt": a.NextAttempt, "created": a.Created,
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAccountOfVersion2IsReadAsItsOneDevice(t *testing.T) {
	a := testAccount("alice")
	a.Failures = 3
	got, err := decodeAccount(accountV2(t, a))
	if err != nil {
		t.Fatalf("decodeAccount(v2) = %v", err)
	}
	if !sameAccount(got, a) {
		t.Errorf("decodeAccount(v2) = %+v, want %+v", got, a)
	}
	again, err := encodeAccount(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(again, []byte(`"v":3`)) {
		t.Errorf("an account read from version 2 is written as %s, want version 3", again)
	}
	both := bytes.Replace(accountV2(t, a), []byte(`"v":2`), []byte(`"v":2,"devices":[]`), 1)
	if _, err := decodeAccount(both); err == nil {
		t.Error("a version 2 record with a device set decoded")
	}
}

// A dealing's note is kept with it, current or staged, and one over
// MaxDealingNoteLen is refused.
func TestAccountKeepsDealingNotes(t *testing.T) {
	a := testAccount("alice")
	a.Current.Note = []byte("the note of epoch 1")
	a.Staged = testDealing("alice", 2)
	a.Staged.Note = bytes.Repeat([]byte{2}, MaxDealingNoteLen)
	b, err := encodeAccount(a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeAccount(b)
	if err != nil || !sameAccount(got, a) {
		t.Fatalf("decodeAccount = %+v, %v; want %+v", got, err, a)
	}
	a.Staged.Note = append(a.Staged.Note, 2)
	if _, err := encodeAccount(a); err == nil {
		t.Error("a note over the limit was encoded")
	}
}

// DeleteAccount takes the account and its OPRF key shares of every epoch,
// and nothing of a user whose name it prefixes ("al" and "alice").
func TestDeleteAccountTakesItsKeySharesAndNoOtherUsers(t *testing.T) {
	s := openMemory(t)
	key := bytes.Repeat([]byte{7}, OprfKeyShareLen)
	update(t, s, func(tx *Tx) error {
		for _, u := range []string{"al", "alice"} {
			if err := tx.PutAccount(testAccount(u)); err != nil {
				return err
			}
			for _, epoch := range []uint32{1, 2} {
				if err := tx.PutOprfKeyShare(u, epoch, key); err != nil {
					return err
				}
			}
		}
		return tx.DeleteAccount("al")
	})
	view(t, s, func(tx *Tx) error {
		if _, err := tx.Account("al"); !errors.Is(err, ErrNotFound) {
			t.Errorf("the closed account: %v, want ErrNotFound", err)
		}
		if _, err := tx.Account("alice"); err != nil {
			t.Errorf("the other account: %v", err)
		}
		for _, epoch := range []uint32{1, 2} {
			if _, err := tx.OprfKeyShare("al", epoch); !errors.Is(err, ErrNotFound) {
				t.Errorf("the closed account's key share of epoch %d: %v, want ErrNotFound", epoch, err)
			}
			if _, err := tx.OprfKeyShare("alice", epoch); err != nil {
				t.Errorf("the other account's key share of epoch %d: %v", epoch, err)
			}
		}
		return nil
	})
	err := s.Update(t.Context(), func(tx *Tx) error { return tx.DeleteAccount("al") })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting a deleted account: %v, want ErrNotFound", err)
	}
}
