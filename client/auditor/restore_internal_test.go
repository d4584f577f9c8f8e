package auditor

import (
	"encoding/base64"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/node/api"
)

func TestRestoreEntryText(t *testing.T) {
	var root tlog.Hash
	root[0], root[31] = 0xfe, 0x01
	r64 := base64.StdEncoding.EncodeToString(root[:])
	for _, c := range []struct {
		name, text string
		want       *restoreEntry // nil: refused
	}{
		{"a restore into an empty data directory", "restore: backup of log size 12", &restoreEntry{backupSize: 12}},
		{"a restore of an empty backup", "restore: backup of log size 0", &restoreEntry{}},
		{"a restore that says what it replaced", "restore: backup of log size 12 replaces a log of size 20 with root " + r64,
			&restoreEntry{backupSize: 12, replaced: true, replacedSize: 20, replacedRoot: root}},
		{"a size with a leading zero is refused", "restore: backup of log size 012", nil},
		{"a negative size is refused", "restore: backup of log size -1", nil},
		{"a size with a sign is refused", "restore: backup of log size +1", nil},
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
			got, err := parseRestore(c.text)
			switch {
			case c.want == nil && err == nil:
				t.Errorf("parsed %q as %+v", c.text, got)
			case c.want != nil && err != nil:
				t.Errorf("refused %q: %v", c.text, err)
			case c.want != nil && got != *c.want:
				t.Errorf("parsed %q as %+v, want %+v", c.text, got, *c.want)
			}
		})
	}
}

func TestRestoreExplainsOnlyARollbackBelowTheRecord(t *testing.T) {
	var recordedRoot, other tlog.Hash
	recordedRoot[0], other[0] = 1, 2
	old := api.Checkpoint{Size: 20, Root: recordedRoot}
	entry := func(backup int64, replaced ...any) restoreEntry {
		r := restoreEntry{backupSize: backup}
		if len(replaced) == 2 {
			r.replaced, r.replacedSize, r.replacedRoot = true, replaced[0].(int64), replaced[1].(tlog.Hash)
		}
		return r
	}
	for _, c := range []struct {
		name  string
		r     restoreEntry
		index int64
		ok    bool
	}{
		{"a restore below the record, right after the restored log", entry(12), 12, true},
		{"one that names the recorded checkpoint as replaced", entry(12, int64(20), recordedRoot), 12, true},
		{"one that replaced a larger log than recorded", entry(12, int64(25), other), 12, true},
		{"an entry not right after the restored log is refused", entry(12), 13, false},
		{"a backup as large as the record explains nothing", entry(20), 20, false},
		{"a replaced log smaller than the record is refused", entry(12, int64(19), other), 12, false},
		{"a replaced log of the recorded size with another root is refused", entry(12, int64(20), other), 12, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			reason := c.r.explains(c.index, old)
			if (reason == "") != c.ok {
				t.Errorf("explains(%d) = %q, want ok=%v", c.index, reason, c.ok)
			}
		})
	}
}
