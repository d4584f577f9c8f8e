package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/custos-network/custos/internal/keyfile"
)

// The storage key off the node's disk: from a systemd credential or from an
// operator's command. Both give the contents of a storage key file, so
// moving a key off the disk needs no conversion, and the format's header
// keeps an identity key (or anything else) from passing for it.

// credentialsDirEnv is where systemd tells a service its credentials are.
const credentialsDirEnv = "CREDENTIALS_DIRECTORY"

// readCredential reads the storage key from the systemd credential name in
// dir ($CREDENTIALS_DIRECTORY). Unlike a key file, its mode is not checked:
// systemd grants the service's user access with an ACL, which shows as
// group bits, and keeps the directory private to the service.
func readCredential(dir, name string) ([]byte, error) {
	wrap := func(format string, args ...any) error {
		return fmt.Errorf("read storage key: credential %s: "+format, append([]any{name}, args...)...)
	}
	if dir == "" {
		return nil, wrap("$%s is not set: custosd reads credentials only when systemd passes them; "+
			"add LoadCredentialEncrypted=%s:PATH to its unit (see configs/custosd.service)", credentialsDirEnv, name)
	}
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, wrap("not in $%s (%s): the unit needs LoadCredentialEncrypted=%s:PATH, "+
			"or storage_key.credential in node.yaml is misspelt", credentialsDirEnv, dir, name)
	}
	if err != nil {
		return nil, wrap("%w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, wrap("%w", err)
	}
	if !info.Mode().IsRegular() || info.Size() > keyfile.MaxSize {
		return nil, wrap("%s is not a key file", path)
	}
	buf := make([]byte, keyfile.MaxSize+1)
	defer clear(buf)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, wrap("%w", err)
	}
	key, err := parseStorageKey(buf[:n])
	if err != nil {
		return nil, wrap("%w (make it with systemd-creds encrypt from the storage key file)", err)
	}
	return key, nil
}

// keyCommandTimeout bounds a storage key command, from its start until it
// has exited; a variable for tests.
var keyCommandTimeout = 30 * time.Second

// runKeyCommand runs argv (no shell) in dir with stdin empty, and reads the
// storage key from its stdout. What the command writes to stderr goes to
// log, a bounded number of lines. Past keyCommandTimeout, or when ctx ends,
// the command and every process it started are killed.
func runKeyCommand(parent context.Context, argv []string, dir string, log *zap.Logger) ([]byte, error) {
	prog := argv[0]
	wrap := func(format string, args ...any) error {
		return fmt.Errorf("read storage key: command %s: "+format, append([]any{prog}, args...)...)
	}
	ctx, cancel := context.WithTimeout(parent, keyCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, argv[1:]...)
	cmd.Dir = dir
	killGroupOnCancel(cmd)
	// Past the kill, Wait stops waiting for the stderr copy.
	cmd.WaitDelay = time.Second
	stderr := &stderrLog{log: log, prog: prog}
	cmd.Stderr = stderr
	// Stdout is a pipe of our own, read straight into a buffer that is
	// wiped afterwards; exec's copying would leave copies of the key.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, wrap("%w", err)
	}
	defer r.Close()
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, wrap("cannot start it: %w", err)
	}
	_ = r.SetReadDeadline(time.Now().Add(keyCommandTimeout))
	buf := make([]byte, keyfile.MaxSize+1)
	defer clear(buf)
	n, readErr := io.ReadFull(r, buf)
	r.Close() // a command that prints too much gets EPIPE, not a hang
	waitErr := cmd.Wait()
	stderr.flush()

	switch {
	case parent.Err() != nil:
		return nil, wrap("stopped: %w", parent.Err())
	case ctx.Err() != nil:
		return nil, wrap("did not finish within %s; it was killed", keyCommandTimeout)
	case n > keyfile.MaxSize:
		return nil, wrap("printed more than %d bytes; it must print only the storage key file", keyfile.MaxSize)
	case readErr != nil && !errors.Is(readErr, io.EOF) && !errors.Is(readErr, io.ErrUnexpectedEOF):
		return nil, wrap("read its output: %w", readErr)
	case waitErr != nil:
		return nil, wrap("failed (%v); what it wrote to stderr is in the log", waitErr)
	case n == 0:
		return nil, wrap("printed nothing; it must print the storage key file (%q, then the key in base64) on stdout", storageHeader)
	}
	key, err := parseStorageKey(buf[:n])
	if err != nil {
		return nil, wrap("its output: %w", err)
	}
	return key, nil
}

// stderrLog logs what a key command writes to stderr, line by line, up to
// a bound: the command's own explanation of a failure belongs in the
// node's log, but a command must not be able to flood it. Nor may it put
// the key there: a script run with "set -x", or one that echoes what it
// decrypted, writes the key to stderr. A line that holds a key file's
// header or a long run of base64 (a key, or a good part of one) is
// withheld, and only counted.
type stderrLog struct {
	log      *zap.Logger
	prog     string
	mu       sync.Mutex
	partial  []byte
	run      int  // base64 characters in a row, up to the current one
	secret   bool // the current line looks as if it holds key material
	lines    int  // lines logged or past the bound
	withheld int
}

const (
	maxStderrLines = 20
	maxStderrLine  = 512
	// minSecretRun is the shortest run of base64 characters taken for key
	// material. A 32-byte key is 44 characters of base64 (64 of hex, which
	// is base64's alphabet too); words, numbers and most paths in an error
	// message are shorter.
	minSecretRun = 32
)

func (s *stderrLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range p {
		if b == '\n' {
			s.emit()
			continue
		}
		// The whole line is looked at, also past what is kept of it, so
		// that a key the cut splits is caught.
		if isBase64(b) {
			if s.run++; s.run >= minSecretRun {
				s.secret = true
			}
		} else {
			s.run = 0
		}
		if len(s.partial) < maxStderrLine {
			s.partial = append(s.partial, b)
		}
	}
	return len(p), nil
}

func isBase64(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '+' || b == '/' || b == '='
}

// flush logs the last line, if it did not end in a newline, and says how
// many lines were withheld.
func (s *stderrLog) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 || s.secret {
		s.emit()
	}
	if s.withheld > 0 {
		s.log.Warn("storage key command wrote to stderr: lines withheld, as they may hold the key",
			zap.String("command", s.prog), zap.Int("withheld", s.withheld))
	}
}

func (s *stderrLog) emit() {
	secret := s.secret || bytes.Contains(s.partial, []byte(storageHeader)) || bytes.Contains(s.partial, []byte(identityHeader))
	line := ""
	if !secret {
		line = strings.ToValidUTF8(string(s.partial), "?")
	}
	clear(s.partial)
	s.partial, s.run, s.secret = s.partial[:0], 0, false
	if secret {
		s.withheld++
		return
	}
	s.lines++
	switch {
	case s.lines <= maxStderrLines:
		s.log.Warn("storage key command wrote to stderr", zap.String("command", s.prog), zap.String("line", line))
	case s.lines == maxStderrLines+1:
		s.log.Warn("storage key command wrote more to stderr; not logged", zap.String("command", s.prog))
	}
}
