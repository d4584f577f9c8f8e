package store

import (
	"bytes"
	"encoding/json"
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
