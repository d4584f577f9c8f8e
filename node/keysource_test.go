package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/custos-network/custos/node/config"
)

// testStorageKey returns a fresh storage key and its key file's contents.
func testStorageKey(t *testing.T) ([]byte, string) {
	t.Helper()
	key := make([]byte, StorageKeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key, storageHeader + "\n" + base64.StdEncoding.EncodeToString(key) + "\n"
}

// checkKeyError fails unless err holds every part of want and none of the
// key's base64 (nor a good part of it).
func checkKeyError(t *testing.T, err error, key []byte, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one with %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not hold %q", err, w)
		}
	}
	if enc := base64.StdEncoding.EncodeToString(key); strings.Contains(err.Error(), enc[:16]) {
		t.Errorf("the error shows the key: %q", err)
	}
}

func TestStorageKeyFromACredential(t *testing.T) {
	key, body := testStorageKey(t)
	_, identityBody := testStorageKey(t)
	identityBody = identityHeader + identityBody[len(storageHeader):]
	const name = "custos-storage-key"
	tests := []struct {
		rule  string
		setup func(t *testing.T, dir string) // makes the credentials directory
		want  []string                       // in the error; none for success
	}{
		{"a credential as systemd passes it is read", func(t *testing.T, dir string) {
			writeMode(t, filepath.Join(dir, name), body, 0o400)
		}, nil},
		{"a credential whose ACL shows as group bits is read", func(t *testing.T, dir string) {
			writeMode(t, filepath.Join(dir, name), body, 0o440)
		}, nil},
		{"a missing credential names the unit setting to add", func(t *testing.T, dir string) {
			writeMode(t, filepath.Join(dir, "other"), body, 0o400)
		}, []string{"credential " + name + ": not in $CREDENTIALS_DIRECTORY", "LoadCredentialEncrypted=" + name + ":PATH"}},
		{"a directory is not a key", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
				t.Fatal(err)
			}
		}, []string{"is not a key file"}},
		{"a credential too large is refused unread", func(t *testing.T, dir string) {
			writeMode(t, filepath.Join(dir, name), body+strings.Repeat("\n", 5000), 0o400)
		}, []string{"is not a key file"}},
		{"an empty credential is refused", func(t *testing.T, dir string) {
			writeMode(t, filepath.Join(dir, name), "", 0o400)
		}, []string{`not a "custos storage key v1" file`}},
		{"an identity key is not a storage key", func(t *testing.T, dir string) {
			writeMode(t, filepath.Join(dir, name), identityBody, 0o400)
		}, []string{`not a "custos storage key v1" file`}},
		{"raw base64 without the header is refused", func(t *testing.T, dir string) {
			writeMode(t, filepath.Join(dir, name), base64.StdEncoding.EncodeToString(key)+"\n", 0o400)
		}, []string{`not a "custos storage key v1" file`, "systemd-creds encrypt"}},
		{"a key of the wrong length is refused", func(t *testing.T, dir string) {
			writeMode(t, filepath.Join(dir, name), storageHeader+"\n"+base64.StdEncoding.EncodeToString(key[:31])+"\n", 0o400)
		}, []string{"a storage key is 32 bytes"}},
		{"bad base64 is refused", func(t *testing.T, dir string) {
			writeMode(t, filepath.Join(dir, name), storageHeader+"\n"+base64.StdEncoding.EncodeToString(key)[:20]+"*\n", 0o400)
		}, []string{"not valid base64"}},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			got, err := readCredential(dir, name)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, key) {
					t.Error("read another key than the credential holds")
				}
				return
			}
			checkKeyError(t, err, key, append(tt.want, "read storage key: credential "+name)...)
		})
	}
}

func TestStorageKeyCredentialNeedsSystemd(t *testing.T) {
	key, body := testStorageKey(t)
	dir := t.TempDir()
	writeMode(t, filepath.Join(dir, "sk"), body, 0o400)
	cfg := config.Default("n1")
	cfg.StorageKey = config.KeySource{Credential: "sk"}

	t.Setenv(credentialsDirEnv, "")
	_, err := ReadStorageKey(context.Background(), &cfg, zap.NewNop())
	checkKeyError(t, err, key, "credential sk: $CREDENTIALS_DIRECTORY is not set", "LoadCredentialEncrypted=sk:PATH")

	t.Setenv(credentialsDirEnv, dir)
	got, err := ReadStorageKey(context.Background(), &cfg, zap.NewNop())
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("with $CREDENTIALS_DIRECTORY set: %v, or another key", err)
	}
}

func TestStorageKeyFromACommand(t *testing.T) {
	key, body := testStorageKey(t)
	bin := t.TempDir()
	keyFile := filepath.Join(bin, "key")
	writeMode(t, keyFile, body, 0o600)
	script := func(name, text string) string {
		path := filepath.Join(bin, name)
		writeMode(t, path, "#!/bin/sh\n"+text+"\n", 0o700)
		return path
	}
	cat := script("cat-key", `cat "$1"`)
	tests := []struct {
		rule string
		argv []string
		want []string // in the error; none for success
	}{
		{"a command that prints the key file gives the key", []string{cat, keyFile}, nil},
		{"a relative program runs from the config's directory", []string{"./cat-key", "key"}, nil},
		{"a program that is not there cannot start", []string{filepath.Join(bin, "missing")}, []string{"cannot start it", "no such file"}},
		{"a program that is not executable cannot start", []string{keyFile}, []string{"cannot start it", "permission denied"}},
		{"a command that fails says so and where its message is", []string{script("fail", "echo 'kms: access denied' >&2; exit 3")},
			[]string{"failed (exit status 3)", "stderr is in the log"}},
		{"a command that prints nothing says what it must print", []string{script("quiet", "exit 0")},
			[]string{"printed nothing", `"custos storage key v1"`}},
		{"a command that waits for stdin gets none", []string{script("stdin", "cat")}, []string{"printed nothing"}},
		{"a command that prints too much is cut off", []string{script("flood", "head -c 100000 /dev/zero")},
			[]string{"printed more than 4096 bytes"}},
		{"raw base64 is not a key file", []string{script("raw", "tail -n 1 \"$1\""), keyFile},
			[]string{`its output: not a "custos storage key v1" file`}},
		{"another key file is refused", []string{script("identity", "echo '"+identityHeader+"'; tail -n 1 \"$1\""), keyFile},
			[]string{`not a "custos storage key v1" file`}},
		{"a key of the wrong length is refused", []string{script("short", "echo '"+storageHeader+"'; echo "+base64.StdEncoding.EncodeToString(key[:16]))},
			[]string{"a storage key is 32 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			got, err := runKeyCommand(context.Background(), tt.argv, bin, zap.New(core))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, key) {
					t.Error("read another key than the command printed")
				}
				return
			}
			checkKeyError(t, err, key, append(tt.want, "read storage key: command "+tt.argv[0]+": ")...)
			if strings.Contains(tt.rule, "fails") {
				lines := logs.FilterField(zap.String("line", "kms: access denied")).Len()
				if lines != 1 {
					t.Errorf("the command's stderr line is logged %d times, want once", lines)
				}
			}
		})
	}
}

func TestStorageKeyCommandStderrIsLoggedWithinABound(t *testing.T) {
	cmd := filepath.Join(t.TempDir(), "noisy")
	writeMode(t, cmd, "#!/bin/sh\nfor i in $(seq 1000); do echo \"line $i\" >&2; done\nexit 1\n", 0o700)
	core, logs := observer.New(zap.DebugLevel)
	_, err := runKeyCommand(context.Background(), []string{cmd}, "", zap.New(core))
	if err == nil {
		t.Fatal("a failing command gave a key")
	}
	if n := logs.Len(); n != maxStderrLines+1 {
		t.Errorf("%d log entries of 1000 stderr lines, want %d and one that says the rest went unlogged", n, maxStderrLines+1)
	}
}

// TestStorageKeyCommandDoesNotLogTheKey: a command that writes its key to
// stderr (a script run with set -x, or one that echoes what it decrypted)
// does not put the key in the node's log, whole or in part: lines that
// look like key material are withheld and counted, and the rest of what it
// wrote is still logged.
func TestStorageKeyCommandDoesNotLogTheKey(t *testing.T) {
	key, body := testStorageKey(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	writeMode(t, keyFile, body, 0o600)
	hexKey := hex.EncodeToString(key)
	cmd := filepath.Join(dir, "traced")
	writeMode(t, cmd, "#!/bin/sh\nset -x\n"+
		"echo 'kms: decrypting with alias/custos-acme' >&2\n"+
		"KEY=$(cat \"$1\")\n"+ // set -x shows the assignment, key and all
		"cat \"$1\" >&2\n"+
		"echo \"debug: raw key "+hexKey+"\" >&2\n"+
		"printf '%490s%s\\n' x \"$(tail -n 1 \"$1\")\" >&2\n"+ // past the line cut
		"printf '%s\\n' \"$KEY\"\n", 0o700)
	core, logs := observer.New(zap.DebugLevel)
	got, err := runKeyCommand(context.Background(), []string{cmd, keyFile}, dir, zap.New(core))
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("the command gave no key or another: %v", err)
	}
	enc := base64.StdEncoding.EncodeToString(key)
	var logged []string
	withheld := int64(-1)
	for _, e := range logs.All() {
		for _, f := range e.Context {
			switch f.Key {
			case "line":
				logged = append(logged, f.String)
			case "withheld":
				withheld = f.Integer
			}
		}
	}
	// A failure names the line, never shows it: it would show the key.
	for n, line := range logged {
		part := false
		for i := 0; i+12 <= len(enc); i++ {
			part = part || strings.Contains(line, enc[i:i+12])
		}
		if part || strings.Contains(line, hexKey[:16]) || strings.Contains(line, storageHeader) {
			t.Errorf("logged line %d of %d holds the key, part of it or its header", n+1, len(logged))
		}
	}
	if !slices.ContainsFunc(logged, func(l string) bool { return strings.Contains(l, "kms: decrypting with alias/custos-acme") }) {
		t.Errorf("the command's own message is not logged: %q", logged)
	}
	if withheld < 5 {
		t.Errorf("the log says %d lines were withheld; want the count of every line with key material (at least 5)", withheld)
	}
}

func TestStorageKeyCommandIsKilledWithItsChildrenAfterItsTimeout(t *testing.T) {
	// Long enough for the script to start its child and write the pid file
	// also on a loaded machine; the test needs the child's pid.
	const timeout = 3 * time.Second
	defer func(d time.Duration) { keyCommandTimeout = d }(keyCommandTimeout)
	keyCommandTimeout = timeout
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	cmd := filepath.Join(dir, "hang")
	writeMode(t, cmd, "#!/bin/sh\nsleep 60 &\necho $! > "+pidFile+"\nwait\n", 0o700)
	start := time.Now()
	_, err := runKeyCommand(context.Background(), []string{cmd}, "", zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "did not finish within 3s; it was killed") {
		t.Fatalf("got %v, want a timeout", err)
	}
	if d := time.Since(start); d > timeout+20*time.Second {
		t.Errorf("the timeout of %v took %v to act", timeout, d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the script did not write its child's pid within %v: %v", timeout, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); alive(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatal("the command's child outlived it")
		}
	}
}

func TestStorageKeyCommandStopsWithItsContext(t *testing.T) {
	cmd := filepath.Join(t.TempDir(), "hang")
	writeMode(t, cmd, "#!/bin/sh\nexec sleep 60\n", 0o700)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := runKeyCommand(ctx, []string{cmd}, "", zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("got %v, want the command stopped with its context", err)
	}
}

// alive reports whether pid runs (a zombie, which nobody may reap in a
// container, does not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func writeMode(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// FuzzParseStorageKey feeds the storage key parser (what a credential or a
// command gives) arbitrary bytes: it never panics, gives a key of the right
// size or an error, and never puts the input in its error.
func FuzzParseStorageKey(f *testing.F) {
	key := bytes.Repeat([]byte{7}, StorageKeySize)
	f.Add([]byte(storageHeader + "\n" + base64.StdEncoding.EncodeToString(key) + "\n"))
	f.Add([]byte(storageHeader + "\r\n" + base64.StdEncoding.EncodeToString(key)))
	f.Add([]byte(identityHeader + "\n" + base64.StdEncoding.EncodeToString(key) + "\n"))
	f.Add([]byte(storageHeader + "\n" + base64.StdEncoding.EncodeToString(key[:5]) + "\n\n\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseStorageKey(b)
		if err != nil {
			if got != nil {
				t.Fatal("a key with an error")
			}
			if _, rest, ok := bytes.Cut(b, []byte("\n")); ok && len(rest) >= 8 && strings.Contains(err.Error(), string(rest)) {
				t.Fatalf("the error %q shows the input", err)
			}
			return
		}
		if len(got) != StorageKeySize {
			t.Fatalf("a key of %d bytes", len(got))
		}
		if !bytes.HasPrefix(b, []byte(storageHeader+"\n")) {
			t.Fatal("a key from input without the header line")
		}
	})
}
