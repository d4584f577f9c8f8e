package config

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite configs/node.example.yaml from WriteDefault")

// Valid peer IDs (Ed25519 keys from fixed seeds) for auditor settings.
const (
	auditorA = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5"
	auditorB = "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq"
)

const examplePath = "../../configs/node.example.yaml"

// resolved is c as Load returns it from a file in dir.
func resolved(c Config, dir string) Config {
	c.Dir = dir
	c.IdentityKey = c.Path(c.IdentityKey)
	c.StorageKey.File = c.Path(c.StorageKey.File)
	c.DataDir = c.Path(c.DataDir)
	c.TLS.Cert = c.Path(c.TLS.Cert)
	c.TLS.Key = c.Path(c.TLS.Key)
	return c
}

func TestDefaultIsValid(t *testing.T) {
	c := Default("acme-1")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestWriteDefaultLoadsBack(t *testing.T) {
	custom := Default("n0")
	custom.IdentityKey = "/etc/custos/id key: #1"
	custom.StorageKey = KeySource{File: "keys/storage.key"}
	custom.DataDir = "  spaced dir"
	custom.Listen = []string{"/ip6/::1/tcp/0", "/dns4/example.com/udp/1/quic-v1", "/dns4/example.com/tcp/443/tls/ws"}
	custom.TLS = TLS{Cert: "tls/fullchain.pem", Key: "/etc/letsencrypt/live/example.com/privkey.pem"}
	custom.Enrollment = "open"
	custom.HTTP = ""
	custom.Log = Log{Format: "console", Level: "debug"}
	custom.Auth = Auth{MaxLoginFailures: 3, ChallengeTTL: 1500 * time.Millisecond, SessionIdle: 90 * time.Second,
		SessionMax: 36*time.Hour + 30*time.Minute, BackoffBase: time.Nanosecond, BackoffMax: time.Hour, InviteTTL: time.Minute,
		Logins: Bucket{Burst: 3, Every: time.Hour}, StrangerLog: Bucket{Burst: 7, Every: time.Minute},
		RefusalLog: Bucket{Burst: 2, Every: 3 * time.Minute}}
	custom.Limits = Limits{UnitReleases: Bucket{1, time.Hour}, UserReleases: Bucket{5, 250 * time.Millisecond},
		UserWrites: Bucket{9, 90 * time.Second}, MaxBatch: 1, RequestTimeout: time.Minute,
		MaxConnections: 1, ConnIdleTimeout: 45 * time.Second, MaxStreamsPerPeer: 1, MaxMessageBytes: 4096}
	custom.Auditors = []string{auditorA, auditorB}

	credential, command := Default("n1"), Default("n2")
	credential.StorageKey = KeySource{Credential: "custos-storage-key"}
	command.StorageKey = KeySource{Command: []string{"./get key.sh", "--id", "arn:aws:kms:eu-west-1:1:key/x", "# not a comment", ""}}
	for name, c := range map[string]Config{"default": Default("example"), "every setting changed": custom,
		"storage key from a credential": credential, "storage key from a command": command} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "node.yaml")
			if err := WriteDefault(path, c); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := resolved(c, dir); !reflect.DeepEqual(*got, want) {
				t.Errorf("Load gave\n%+v\nwant\n%+v", *got, want)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", fi.Mode().Perm())
			}
		})
	}
}

func TestWriteDefaultRefusesToOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := WriteDefault(path, Default("example"))
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("got %v, want an error matching fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Errorf("the existing file was changed to %q", b)
	}
}

func TestWriteDefaultRefusesAnInvalidConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.yaml")
	c := Default("Bad Name")
	err := WriteDefault(path, c)
	if len(Problems(err)) == 0 || Problems(err)[0].Field != "name" {
		t.Fatalf("got %v, want a problem with name", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file was written: %v", err)
	}
}

func TestEverySettingIsCommented(t *testing.T) {
	// The default file, and the settings it leaves out: the other sources
	// of the storage key.
	var all strings.Builder
	for _, k := range []KeySource{{File: "storage.key"}, {Credential: "c"}, {Command: []string{"c"}}} {
		c := Default("example")
		c.StorageKey = k
		b, err := encode(c)
		if err != nil {
			t.Fatal(err) // encode fails on a setting without a comment
		}
		all.Write(b)
	}
	b := []byte(all.String())
	// And no comment is left over from a setting that is gone.
	for path := range help {
		key := path[strings.LastIndex(path, ".")+1:]
		if !strings.Contains(string(b), "\n"+strings.Repeat(" ", 2*strings.Count(path, "."))+key+":") {
			t.Errorf("help has %s, which is not a setting", path)
		}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if len(line) > 90 {
			t.Errorf("line longer than 90 characters: %q", line)
		}
	}
}

func TestExampleIsUpToDate(t *testing.T) {
	want, err := encode(Default("example"))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(examplePath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s is not what WriteDefault writes; run go test ./node/config -run TestExampleIsUpToDate -update", examplePath)
	}
	if _, err := parse(got); err != nil {
		t.Errorf("%s does not load: %v", examplePath, err)
	}
}

func TestPath(t *testing.T) {
	c := Config{Dir: "/var/lib/custos"}
	for _, tc := range []struct{ in, want string }{
		{"identity.key", "/var/lib/custos/identity.key"},
		{"keys/../storage.key", "/var/lib/custos/storage.key"},
		{"/etc/custos/identity.key", "/etc/custos/identity.key"},
		{"", ""},
	} {
		if got := c.Path(tc.in); got != tc.want {
			t.Errorf("Path(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := (&Config{}).Path("data"); got != "data" {
		t.Errorf("without Dir, Path(data) = %q, want data", got)
	}
}

func TestLoadResolvesPathsAgainstTheFilesDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.yaml")
	conf := "version: 1\nname: a\ndata_dir: db\nstorage_key: {file: /abs/storage.key}\n" +
		"listen: [/ip4/0.0.0.0/tcp/443/tls/ws]\ntls: {cert: cert.pem, key: /abs/key.pem}\n"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Dir != dir || c.DataDir != filepath.Join(dir, "db") || c.IdentityKey != filepath.Join(dir, "identity.key") ||
		c.StorageKey.File != "/abs/storage.key" || c.TLS.Cert != filepath.Join(dir, "cert.pem") || c.TLS.Key != "/abs/key.pem" {
		t.Errorf("got Dir %q, DataDir %q, IdentityKey %q, StorageKey %q, TLS %+v", c.Dir, c.DataDir, c.IdentityKey, c.StorageKey, c.TLS)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "1m", 12 * time.Hour: "12h", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s",
		1500 * time.Millisecond: "1.5s", 0: "0s", time.Hour + time.Second: "1h0m1s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(formatDuration(d)); err != nil || back != d {
			t.Errorf("formatDuration(%v) does not parse back: %v, %v", d, back, err)
		}
	}
}
