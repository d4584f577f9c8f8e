package vault

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecode checks that no file makes the decoder panic, and that every
// vault it accepts is written back in a form that reads as the same vault
// and is written again byte for byte.
func FuzzDecode(f *testing.F) {
	v := testVault(f)
	f.Add(mustEncode(f, v))
	empty := testVault(f)
	empty.Login, empty.Units, empty.PendingDeletes, empty.Receipts, empty.Checkpoints = nil, nil, nil, nil, nil
	f.Add(mustEncode(f, empty))
	done := testVault(f)
	done.Login.Nodes[2].KeyShare = nil
	f.Add(mustEncode(f, done))
	for _, state := range []ChangeState{ChangeStaging, ChangeStaged, ChangeCommitting, ChangeAborting} {
		f.Add(mustEncode(f, changeVault(f, state)))
	}
	for _, tc := range damaged {
		if b := tc.make(f); len(b) < 1<<16 {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"format":"custos-vault/3","user":"a","network":"eA==","device_key":"","master_secret":"","password_kdf":{"salt":"","time":0,"memory_kib":0,"threads":0},"login":{"epoch":1,"threshold":2,"nodes":[{"name":"a","peer_id":"","index":1,"public_share":"","key_share":""}],"mac":""},"units":[],"pending_deletes":[],"receipts":[],"checkpoints":[],"restores":[]}`))
	f.Add([]byte(`{"format":"custos-vault/3","user":"a","network":"eA==","device_key":"","master_secret":"","password_kdf":{"salt":"","time":0,"memory_kib":0,"threads":0},"units":[],"pending_deletes":[],"receipts":[],"checkpoints":[],"restores":[]}`))

	f.Fuzz(checkDecode)
}

// checkDecode is the property FuzzDecode checks.
func checkDecode(t *testing.T, b []byte) {
	v, err := decode(b)
	if err != nil {
		return
	}
	b2, err := encode(v)
	if err != nil {
		t.Fatalf("a decoded vault does not encode: %v", err)
	}
	v2, err := decode(b2)
	if err != nil {
		t.Fatalf("a re-encoded vault does not decode: %v", err)
	}
	if !reflect.DeepEqual(v, v2) {
		t.Fatalf("a vault changed when written and read back")
	}
	if b3, _ := encode(v2); !bytes.Equal(b2, b3) {
		t.Fatalf("encoding is not stable")
	}
}

// TestDecodeEveryTruncationAndByteChange runs the fuzz property over every
// prefix of a valid file and over a single-byte change at every offset, so
// that the plain test run covers more than the seed corpus.
func TestDecodeEveryTruncationAndByteChange(t *testing.T) {
	v := testVault(t)
	v.Units = v.Units[1:] // one unit is enough, and keeps the test quick
	b := mustEncode(t, v)
	changes := []byte{'"', '}', '0', 'A', 0}
	for i := range b {
		if _, err := decode(b[:i]); err == nil && len(bytes.TrimSpace(b[i:])) > 0 {
			t.Fatalf("a file cut at byte %d decoded", i)
		}
		m := bytes.Clone(b)
		m[i] = changes[i%len(changes)]
		checkDecode(t, m)
	}
}

// FuzzParseJournal checks that no file makes the journal parser panic, and
// that every journal it accepts is in its one form: written back, it is the
// file's whole lines byte for byte, and reads as the same journal.
func FuzzParseJournal(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("custos-requests/1\n"))
	f.Add([]byte("custos-requests/1\n" + acmeLine + boltLine + coveLine[:30]))
	f.Add([]byte("custos-requests/1\ndropped-until 2025-03-01T12:00:00.000Z\n" + acmeLine))
	f.Add([]byte("custos-requests/2\n"))
	for _, tc := range badJournals {
		f.Add([]byte(tc.file))
	}
	f.Fuzz(checkParseJournal)
}

// checkParseJournal is the property FuzzParseJournal checks.
func checkParseJournal(t *testing.T, b []byte) {
	j, err := parseJournal(b)
	if err != nil {
		return
	}
	if j.end == 0 {
		if len(j.reqs) != 0 || !j.droppedUntil.IsZero() || !bytes.HasPrefix([]byte(requestsFormat+"\n"), b) {
			t.Fatalf("a file without a whole line read as more than a cut-short header")
		}
		return
	}
	b2 := j.encode()
	if !bytes.Equal(b2, b[:j.end]) {
		t.Fatalf("an accepted journal is not in its one form")
	}
	j2, err := parseJournal(b2)
	if err != nil {
		t.Fatalf("a re-encoded journal does not parse: %v", err)
	}
	if !reflect.DeepEqual(j, j2) {
		t.Fatalf("a journal changed when written and read back")
	}
}
