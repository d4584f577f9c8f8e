package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// loadFile writes content to a node.yaml in a new directory and loads it.
func loadFile(t *testing.T, content string) (*Config, string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	return c, path, err
}

func TestLoadRefuses(t *testing.T) {
	const head = "version: 1\nname: n\n" // lines 1 and 2
	for _, tc := range []struct {
		rule    string
		content string
		field   string // of the first problem
		line    int
		msg     string // in the first problem's message
	}{
		{"an empty file is refused", "", "", 0, "empty"},
		{"a file of only comments is refused", "# nothing\n\n", "", 0, "empty"},
		{"corrupt YAML is refused with its line", head + "log:\n  format: [json\n", "", 4, "YAML syntax"},
		{"a list item among settings is refused with its line", head + "- b\n", "", 3, "YAML syntax: did not find expected key"},
		{"an unclosed quote is refused", head + "http: 'x\n", "", 3, "YAML syntax"},
		{"a stray character is refused with its line", head + "log:\n  level: @x\n", "", 4, "YAML syntax"},
		{"a tab indent is refused", head + "log:\n\tformat: json\n", "", 4, "YAML syntax"},
		{"a file that is not a mapping is refused", "- a\n- b\n", "", 1, "want a section"},
		{"a second document is refused", head + "---\nname: m\n", "", 3, "second YAML document"},
		{"an unknown key is refused", head + "colour: blue\n", "colour", 3, "unknown setting"},
		{"an unknown key gets a spelling hint", head + "limits:\n  max_bach: 10\n", "limits.max_bach", 4, "did you mean limits.max_batch?"},
		{"a camelCase key gets a hint", head + "auth:\n  maxLoginFailures: 3\n", "auth.maxLoginFailures", 4, "did you mean auth.max_login_failures?"},
		{"a key in the wrong section gets a hint", head + "max_batch: 10\n", "max_batch", 3, "did you mean limits.max_batch?"},
		{"a key given twice is refused", head + "enrollment: open\nenrollment: invite\n", "enrollment", 4, "set twice (first on line 3)"},
		{"a missing version is refused", "name: n\n", "version", 1, "missing"},
		{"an unknown version is refused", "version: 2\nname: n\n", "version", 1, "2 is not a format"},
		{"a bad duration is refused", head + "auth:\n  session_idle: 15 minutes\n", "auth.session_idle", 4, `"15 minutes" is not a duration`},
		{"a duration without a unit is refused", head + "auth:\n  session_idle: 900\n", "auth.session_idle", 4, "a unit is needed"},
		{"a fraction for a whole number is refused", head + "limits:\n  max_batch: 1.5\n", "limits.max_batch", 4, "not a whole number"},
		{"text for a whole number is refused", head + "limits:\n  max_batch: lots\n", "limits.max_batch", 4, "not a whole number"},
		{"an int overflow is refused", head + "limits:\n  max_batch: 99999999999999999999\n", "limits.max_batch", 4, "not a whole number"},
		{"a list for a single value is refused", head + "http: [a, b]\n", "http", 3, "want a single value, got a list"},
		{"a single value for a list is refused", head + "listen: /ip4/0.0.0.0/tcp/1\n", "listen", 3, "want a list"},
		{"a value for a section is refused", head + "auth: strict\n", "auth", 3, "want a section"},
		{"an empty value is refused", head + "http:\n", "http", 3, "no value"},
		{"an anchor is refused", head + "data_dir: &d data\n", "data_dir", 3, "anchors"},
		{"an alias is refused", head + "http: &h 127.0.0.1:1\nlisten:\n  - *h\n", "http", 3, "anchors"},
		{"an explicit tag is refused", head + "http: !!binary YWJj\n", "http", 3, "tags"},
		{"a bad multiaddr is refused", head + "listen:\n  - /ip4/0.0.0.0/tcp/4001\n  - /ip4/0.0.0.0/tcpp/1\n", "listen[1]", 5, "not a multiaddr"},
		{"a multiaddr without a transport is refused", head + "listen: [/ip4/0.0.0.0]\n", "listen[0]", 3, "names no transport"},
		{"an empty listen list is refused", head + "listen: []\n", "listen", 3, "no address"},
		{"a bad auditor peer ID is refused", head + "auditors:\n  - 12D3KooWnotapeerid\n", "auditors[0]", 4, "not a libp2p peer ID"},
		{"a duplicate auditor is refused", head + "auditors: [" + auditorA + ", " + auditorA + "]\n", "auditors[1]", 3, "listed twice"},
		{"a name with upper case is refused", "version: 1\nname: Acme\n", "name", 2, "may hold only"},
		{"a name too long is refused", "version: 1\nname: " + strings.Repeat("a", 33) + "\n", "name", 2, "the most is 32"},
		{"a missing name is refused", "version: 1\n", "name", 0, "missing"},
		{"max_batch above 1024 is refused", head + "limits:\n  max_batch: 5000\n", "limits.max_batch", 4, "5000 is above the maximum 1024"},
		{"a negative burst is refused", head + "limits:\n  unit_releases:\n    burst: -1\n", "limits.unit_releases.burst", 5, "-1 is below the minimum 1"},
		{"an unknown enrollment is refused", head + "enrollment: anyone\n", "enrollment", 3, `"anyone" is neither invite nor open`},
		{"an unknown log level is refused", head + "log: {level: verbose}\n", "log.level", 3, "not one of debug, info, warn or error"},
		{"a negative duration is refused", head + "limits:\n  request_timeout: -1s\n", "limits.request_timeout", 4, "not a positive duration"},
		{"session_idle longer than session_max is refused", head + "auth:\n  session_idle: 13h\n", "auth.session_idle", 4, "longer than auth.session_max"},
		{"an http address without a port is refused", head + "http: localhost\n", "http", 3, "not host:port"},
		{"a storage key given as a bare path is refused with the section to write", head + "storage_key: storage.key\n", "storage_key", 3, "such as {file: storage.key}, got \"storage.key\""},
		{"a storage key from two sources is refused", head + "storage_key:\n  file: k\n  command: [get-key]\n", "storage_key", 3, "gives file and command"},
		{"an empty storage key section is refused", head + "storage_key: {}\n", "storage_key", 3, "missing; give one of file"},
		{"a misspelt key source gets a hint", head + "storage_key:\n  credentials: k\n", "storage_key.credentials", 4, "did you mean storage_key.credential?"},
		{"a command given as one string is refused", head + "storage_key:\n  command: get-key --id 1\n", "storage_key.command", 4, "want a list"},
		{"an empty command is refused", head + "storage_key:\n  command: []\n", "storage_key", 3, "missing; give one of file"},
		{"a bad credential name is refused with its line", head + "storage_key:\n  credential: a/b\n", "storage_key.credential", 4, "not a credential name"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			c, path, err := loadFile(t, tc.content)
			if err == nil {
				t.Fatalf("Load accepted it: %+v", c)
			}
			if c != nil {
				t.Errorf("Load returned a Config with its error")
			}
			probs := Problems(err)
			if len(probs) == 0 {
				t.Fatalf("error %q holds no *FieldError", err)
			}
			p := probs[0]
			if p.File != path || p.Field != tc.field || p.Line != tc.line || !strings.Contains(p.Msg, tc.msg) {
				t.Errorf("got %s\n(file %q, line %d, field %q, msg %q)\nwant line %d, field %q, msg with %q",
					err, p.File, p.Line, p.Field, p.Msg, tc.line, tc.field, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), path) {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

func TestLoadRefusesAFileTooLarge(t *testing.T) {
	big := "version: 1\nname: n\n" + strings.Repeat("# padding\n", MaxFileSize/10+1)
	_, path, err := loadFile(t, big)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.File != path || !strings.Contains(fe.Msg, "larger than 1024 KiB") {
		t.Fatalf("got %v, want a file-too-large error", err)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, _, err := loadFile(t, "version: 1\nname: N\nenrollment: x\nlimits:\n  max_batch: 0\n")
	var fields []string
	for _, p := range Problems(err) {
		fields = append(fields, p.Field)
	}
	if got, want := strings.Join(fields, " "), "name enrollment limits.max_batch"; got != want {
		t.Errorf("problems with %q, want %q:\n%v", got, want, err)
	}
}

func TestLoadCapsTheNumberOfProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nname: n\n")
	for i := range 1000 {
		b.WriteString("unknown" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "_" + string(rune('a'+i/26%26)) + ": 1\n")
	}
	_, _, err := loadFile(t, b.String())
	probs := Problems(err)
	if len(probs) != maxProblems+1 || !strings.Contains(probs[maxProblems].Msg, "more problems") {
		t.Fatalf("got %d problems, want %d and a count of the rest", len(probs), maxProblems+1)
	}
}

func TestLoadOfAMissingFileMatchesErrNotExist(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "node.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want an error matching fs.ErrNotExist", err)
	}
}

func TestLeftOutSettingsTakeTheirDefaults(t *testing.T) {
	c, path, err := loadFile(t, "version: 1\nname: solo\nauth:\n  max_login_failures: 3\nlimits:\n  unit_releases: {burst: 2}\nlog:\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Default("solo")
	want.Auth.MaxLoginFailures = 3
	want.Limits.UnitReleases.Burst = 2
	want = resolved(want, filepath.Dir(path))
	if !equalConfig(*c, want) {
		t.Errorf("got %+v\nwant %+v", *c, want)
	}
}

func TestAStorageKeySectionReplacesTheDefaultFile(t *testing.T) {
	for _, tc := range []struct {
		content string
		want    KeySource
	}{
		{"storage_key:\n  credential: custos-storage-key\n", KeySource{Credential: "custos-storage-key"}},
		{"storage_key:\n  command:\n    - ./get-key\n    - --id\n    - \"7\"\n", KeySource{Command: []string{"./get-key", "--id", "7"}}},
		{"storage_key:\n  file: keys/storage.key\n", KeySource{File: "keys/storage.key"}},
		{"storage_key:\n", KeySource{File: "storage.key"}}, // an empty section keeps the default
	} {
		c, path, err := loadFile(t, "version: 1\nname: n\n"+tc.content)
		if err != nil {
			t.Fatalf("%q: %v", tc.content, err)
		}
		want := tc.want
		if want.File != "" {
			want.File = filepath.Join(filepath.Dir(path), want.File)
		}
		if !reflect.DeepEqual(c.StorageKey, want) {
			t.Errorf("%q: got %+v, want %+v", tc.content, c.StorageKey, want)
		}
	}
}

func equalConfig(a, b Config) bool {
	ea, _ := encode(a)
	eb, _ := encode(b)
	return string(ea) == string(eb) && a.Dir == b.Dir
}
