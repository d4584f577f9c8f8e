package threshold

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func newDataKey(t testing.TB) DataKey {
	t.Helper()
	s, err := randomSecret(KeySize)
	if err != nil {
		t.Fatal(err)
	}
	return DataKey{s}
}

func TestSealRoundTrip(t *testing.T) {
	k, unit := newDataKey(t), UnitID{1}
	for _, record := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("p"), MaxRecordSize)} {
		sealed, err := Seal(k, "alice", unit, 3, record)
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != sealedOverhead+len(record) || sealed[0] != sealedV1 {
			t.Fatalf("sealed record of %d bytes for a record of %d", len(sealed), len(record))
		}
		got, err := Open(k, "alice", unit, 3, sealed)
		if err != nil || !bytes.Equal(got, record) {
			t.Fatalf("Open = %v", err)
		}
	}
	a, _ := Seal(k, "alice", unit, 3, []byte("same"))
	b, _ := Seal(k, "alice", unit, 3, []byte("same"))
	if bytes.Equal(a, b) {
		t.Error("two seals of one record are equal: the nonce is not fresh")
	}
}

func TestOpenRefuses(t *testing.T) {
	k, unit := newDataKey(t), UnitID{1}
	sealed, err := Seal(k, "alice", unit, 3, []byte("vendor password"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		key     DataKey
		user    string
		unit    UnitID
		version uint64
		sealed  []byte
	}{
		{"a wrong key", newDataKey(t), "alice", unit, 3, sealed},
		{"an empty key", DataKey{}, "alice", unit, 3, sealed},
		{"another user's associated data", k, "bob", unit, 3, sealed},
		{"a user whose name is a prefix", k, "alic", unit, 3, sealed},
		{"another unit's associated data", k, "alice", UnitID{2}, 3, sealed},
		{"another version's associated data", k, "alice", unit, 4, sealed},
		{"an unknown format version", k, "alice", unit, 3, append([]byte{0x02}, sealed[1:]...)},
		{"format version zero", k, "alice", unit, 3, append([]byte{0x00}, sealed[1:]...)},
		{"nothing at all", k, "alice", unit, 3, nil},
		{"an oversized record", k, "alice", unit, 3, make([]byte, sealedOverhead+MaxRecordSize+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Open(tc.key, tc.user, tc.unit, tc.version, tc.sealed)
			if !errors.Is(err, ErrOpen) || got != nil {
				t.Fatalf("Open = %q, %v; want ErrOpen and nothing", got, err)
			}
		})
	}
	t.Run("every truncation", func(t *testing.T) {
		for n := range len(sealed) {
			if _, err := Open(k, "alice", unit, 3, sealed[:n]); !errors.Is(err, ErrOpen) {
				t.Fatalf("truncated to %d bytes: %v", n, err)
			}
		}
	})
	t.Run("every flipped bit", func(t *testing.T) {
		for i := range len(sealed) * 8 {
			altered := bytes.Clone(sealed)
			altered[i/8] ^= 1 << (i % 8)
			if _, err := Open(k, "alice", unit, 3, altered); !errors.Is(err, ErrOpen) {
				t.Fatalf("bit %d flipped: %v", i, err)
			}
		}
	})
	_, err = Open(k, "alice", unit, 3, append([]byte{0x07}, sealed[1:]...))
	if !strings.Contains(err.Error(), "unknown format version 7") {
		t.Errorf("unknown version error %q does not say which", err)
	}
}

func TestSealRefuses(t *testing.T) {
	if _, err := Seal(newDataKey(t), "alice", UnitID{}, 1, make([]byte, MaxRecordSize+1)); err == nil {
		t.Error("an oversized record was sealed")
	}
	if _, err := Seal(DataKey{}, "alice", UnitID{}, 1, []byte("x")); err == nil {
		t.Error("a record was sealed under an empty key")
	}
}
