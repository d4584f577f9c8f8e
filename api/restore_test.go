package api

import (
	"encoding/base64"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func TestRestoreEntryText(t *testing.T) {
	var root tlog.Hash
	root[0], root[31] = 0xfe, 0x01
	r64 := base64.StdEncoding.EncodeToString(root[:])
	for _, c := range []struct {
		name, text string
		want       *Restore // nil: refused
	}{
		{"a restore into an empty data directory", "restore: backup of log size 12", &Restore{BackupSize: 12}},
		{"a restore of an empty backup", "restore: backup of log size 0", &Restore{}},
		{"a restore that says what it replaced", "restore: backup of log size 12 replaces a log of size 20 with root " + r64,
			&Restore{BackupSize: 12, Replaced: true, ReplacedSize: 20, ReplacedRoot: root}},
		{"a size with a leading zero is refused", "restore: backup of log size 012", nil},
		{"a negative size is refused", "restore: backup of log size -1", nil},
		{"a size with a sign is refused", "restore: backup of log size +1", nil},
		{"a size beyond int64 is refused", "restore: backup of log size 9223372036854775808", nil},
		{"no size is refused", "restore: backup of log size ", nil},
		{"a trailing space is refused", "restore: backup of log size 12 ", nil},
		{"a replaced log without a root is refused", "restore: backup of log size 12 replaces a log of size 20", nil},
		{"a root of 31 bytes is refused", "restore: backup of log size 12 replaces a log of size 20 with root " + base64.StdEncoding.EncodeToString(root[:31]), nil},
		{"a root in URL base64 is refused", "restore: backup of log size 12 replaces a log of size 20 with root " + base64.URLEncoding.EncodeToString(root[:]), nil},
		{"text after the root is refused", "restore: backup of log size 12 replaces a log of size 20 with root " + r64 + " ok", nil},
		{"another admin text is refused", "backup", nil},
		{"another wording is refused", "restore: a backup of log size 12", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseRestore(c.text)
			switch {
			case c.want == nil && err == nil:
				t.Errorf("parsed %q as %+v", c.text, got)
			case c.want == nil && !errors.Is(err, ErrNotRestore):
				t.Errorf("refused %q with %v, want ErrNotRestore", c.text, err)
			case c.want != nil && err != nil:
				t.Errorf("refused %q: %v", c.text, err)
			case c.want != nil && got != *c.want:
				t.Errorf("parsed %q as %+v, want %+v", c.text, got, *c.want)
			case c.want != nil && got.Text() != c.text:
				t.Errorf("%+v formats as %q, want %q", got, got.Text(), c.text)
			}
		})
	}
}

// Only an ADMIN entry of no user is a restore entry, whatever its text.
func TestRestoreOfNeedsAnAdminEntryOfNoUser(t *testing.T) {
	text := Restore{BackupSize: 3}.Text()
	for _, c := range []struct {
		name string
		e    *Entry
		ok   bool
	}{
		{"an admin entry with a restore text", &Entry{Kind: EntryKind_ADMIN, Admin: text}, true},
		{"an admin entry of a user is not one", &Entry{Kind: EntryKind_ADMIN, Admin: text, User: "alice"}, false},
		{"a release entry is not one", &Entry{Kind: EntryKind_RELEASE, Admin: text}, false},
		{"a backup entry is not one", &Entry{Kind: EntryKind_ADMIN, Admin: "backup"}, false},
		{"a malformed restore text is not one", &Entry{Kind: EntryKind_ADMIN, Admin: text + " "}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r, ok := RestoreOf(c.e); ok != c.ok || (ok && r.BackupSize != 3) {
				t.Errorf("RestoreOf = %+v, %v; want ok=%v", r, ok, c.ok)
			}
		})
	}
}

func TestRestoreExplainsOnlyARollbackBelowTheKeptCheckpoint(t *testing.T) {
	var keptRoot, other tlog.Hash
	keptRoot[0], other[0] = 1, 2
	old := Checkpoint{Size: 20, Root: keptRoot}
	entry := func(backup int64, replaced ...any) Restore {
		r := Restore{BackupSize: backup}
		if len(replaced) == 2 {
			r.Replaced, r.ReplacedSize, r.ReplacedRoot = true, replaced[0].(int64), replaced[1].(tlog.Hash)
		}
		return r
	}
	for _, c := range []struct {
		name  string
		r     Restore
		index int64
		ok    bool
		names bool
	}{
		{"a restore below the kept size, right after the restored log", entry(12), 12, true, false},
		{"one that names the kept checkpoint as replaced", entry(12, int64(20), keptRoot), 12, true, true},
		{"one that replaced a larger log than kept", entry(12, int64(25), other), 12, true, false},
		{"an entry not right after the restored log is refused", entry(12), 13, false, false},
		{"a backup as large as the kept log explains nothing", entry(20), 20, false, false},
		{"a replaced log smaller than the kept one is refused", entry(12, int64(19), other), 12, false, false},
		{"a replaced log of the kept size with another root is refused", entry(12, int64(20), other), 12, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			reason := c.r.Explains(c.index, old)
			if (reason == "") != c.ok {
				t.Errorf("Explains(%d) = %q, want ok=%v", c.index, reason, c.ok)
			}
			if c.r.Names(old) != c.names {
				t.Errorf("Names = %v, want %v", !c.names, c.names)
			}
		})
	}
}

// A text ParseRestore accepts has one form: the one Text writes.
func FuzzParseRestore(f *testing.F) {
	f.Add("restore: backup of log size 12")
	f.Add(Restore{BackupSize: 7, Replaced: true, ReplacedSize: 9, ReplacedRoot: tlog.Hash{1}}.Text())
	f.Add("restore: backup of log size 012 replaces")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := ParseRestore(text)
		if err != nil {
			return
		}
		if r.Text() != text || r.BackupSize < 0 || r.ReplacedSize < 0 {
			t.Errorf("%q parsed as %+v, which formats as %q", text, r, r.Text())
		}
	})
}
