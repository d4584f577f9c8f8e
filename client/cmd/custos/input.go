package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/custos-network/custos/client/vault"
)

const maxSecret = 64 << 10

var (
	// errInterrupted: a signal (Ctrl-C, SIGTERM) ended the command; run
	// exits 130.
	errInterrupted = errors.New("interrupted")
	// errNothingTyped: Enter or Ctrl-D at an empty prompt.
	errNothingTyped = errors.New("nothing typed")
	// errNotConfirmed: a question was answered no, or there was no
	// terminal to ask it at.
	errNotConfirmed = errors.New("not confirmed")
)

func (g *globals) vaultPath() (string, error) {
	if g.vault != "" {
		return g.vault, nil
	}
	return vault.DefaultPath()
}

func stdinIsTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

// readPassword reads the password from --password-file,
// $CUSTOS_PASSWORD_FILE or a terminal prompt, in that order. A new
// password (strength set: enroll) is asked twice and its strength checked.
// The caller wipes it.
func (g *globals) readPassword(ctx context.Context, prompt string, strength *strengthPolicy) ([]byte, error) {
	path, from := g.passwordFile, "--password-file"
	if path == "" {
		path, from = os.Getenv("CUSTOS_PASSWORD_FILE"), "$CUSTOS_PASSWORD_FILE"
	}
	return askPassword(ctx, passwordSource{
		path: path, from: from, what: "password", prompt: prompt, confirm: strength != nil, strength: strength,
		none: "no password: run custos in a terminal, or give --password-file or $CUSTOS_PASSWORD_FILE",
	})
}

// passwordSource is where askPassword reads a password: the file at path
// (named by from), else a prompt on the terminal, asked twice if confirm.
type passwordSource struct {
	path, from string
	what       string // "password", "new password"
	prompt     string
	confirm    bool
	none       string // the error when there is neither a file nor a terminal
	// strength, when set, is how a new password's strength is checked
	// (checkStrength); nil for a password that exists already.
	strength *strengthPolicy
}

// askPassword reads a password as src says. The caller wipes it.
func askPassword(ctx context.Context, src passwordSource) ([]byte, error) {
	pw, err := readPasswordFrom(ctx, src)
	if err != nil || src.strength == nil {
		return pw, err
	}
	if err := src.strength.check(ctx, pw, src.path == ""); err != nil {
		clear(pw)
		return nil, err
	}
	return pw, nil
}

func readPasswordFrom(ctx context.Context, src passwordSource) ([]byte, error) {
	if src.path != "" {
		b, err := readPrivateFile(src.path, "the "+src.what+" file", src.from)
		if err != nil {
			return nil, err
		}
		b = trimNewline(b)
		if len(b) == 0 {
			return nil, fmt.Errorf("the %s file %s is empty", src.what, src.path)
		}
		return b, nil
	}
	if !stdinIsTerminal() {
		return nil, errors.New(src.none)
	}
	var pw []byte
	var err error
	if src.confirm {
		pw, err = promptTwice(ctx, src.prompt, src.what)
	} else {
		pw, err = promptHidden(ctx, src.prompt)
	}
	if errors.Is(err, errNothingTyped) {
		return nil, fmt.Errorf("no %s given", src.what)
	}
	return pw, err
}

// promptTwice asks at a hidden prompt, then once more, and returns the
// answer when the two are the same. The caller wipes it.
func promptTwice(ctx context.Context, prompt, what string) ([]byte, error) {
	b, err := promptHidden(ctx, prompt)
	if err != nil {
		return nil, err
	}
	again, err := promptHidden(ctx, "Repeat the "+what+": ")
	defer clear(again)
	if err != nil && !errors.Is(err, errNothingTyped) {
		clear(b)
		return nil, err
	}
	if subtle.ConstantTimeCompare(b, again) != 1 {
		clear(b)
		return nil, fmt.Errorf("the two %ss differ", what)
	}
	return b, nil
}

// promptHidden prints prompt on stderr and reads a line from the terminal
// on stdin without echo. An interrupt (ctx ends: Ctrl-C, SIGTERM) gives
// errInterrupted, and Enter or Ctrl-D at an empty prompt errNothingTyped;
// the terminal is restored either way.
func promptHidden(ctx context.Context, prompt string) ([]byte, error) {
	restore, err := echoOff(int(os.Stdin.Fd()))
	if err != nil {
		return nil, fmt.Errorf("read from the terminal: %w", err)
	}
	defer restore()
	fmt.Fprint(os.Stderr, prompt)
	// The Enter that ends the line was not echoed either.
	defer fmt.Fprintln(os.Stderr)
	b, err := readCtx(ctx, func() ([]byte, error) { return readLine(os.Stdin) })
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, errNothingTyped
	}
	return b, nil
}

// readLine reads up to a newline or the end of input (Ctrl-D), one byte
// at a time so that nothing after the line is consumed. The line is at
// most maxSecret bytes; no copy of it is left behind.
func readLine(r io.Reader) ([]byte, error) {
	line := make([]byte, 0, 128)
	var c [1]byte
	for {
		n, err := r.Read(c[:])
		switch {
		case n == 1 && c[0] == '\n':
			return line, nil
		case n == 1 && c[0] == '\r':
		case n == 1 && len(line) == maxSecret:
			clear(line)
			return nil, fmt.Errorf("the input is longer than %d bytes", maxSecret)
		case n == 1:
			if len(line) == cap(line) {
				grown := make([]byte, len(line), 2*cap(line))
				copy(grown, line)
				clear(line)
				line = grown
			}
			line = append(line, c[0])
		case errors.Is(err, io.EOF):
			return line, nil
		case err != nil:
			clear(line)
			return nil, err
		}
	}
}

// readCtx runs read, which may block on the terminal or a pipe, until it
// returns or ctx ends (errInterrupted). Then its read goes on, to be
// wiped when it ends: the command is on its way out.
func readCtx(ctx context.Context, read func() ([]byte, error)) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := read()
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		go func() { clear((<-done).b) }()
		return nil, errInterrupted
	}
}

// confirm asks question on the terminal and is nil when the answer is y
// or yes; else errNotConfirmed, which says why. Without a terminal on stdin
// there is no one to ask: it refuses.
func confirm(ctx context.Context, question string) error {
	if !stdinIsTerminal() {
		return fmt.Errorf("%w: no terminal to ask at; add --yes to go ahead without asking", errNotConfirmed)
	}
	fmt.Fprint(os.Stderr, question)
	b, err := readCtx(ctx, func() ([]byte, error) { return readLine(os.Stdin) })
	if err != nil {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(string(b))) {
	case "y", "yes":
		return nil
	}
	return fmt.Errorf("%w: the answer was not yes", errNotConfirmed)
}

// readSecret reads the secret to store: from a hidden prompt on a terminal,
// asked twice, else all of stdin (one trailing newline removed).
func readSecret(ctx context.Context) ([]byte, error) {
	if stdinIsTerminal() {
		b, err := promptTwice(ctx, "Secret to store: ", "secret")
		if errors.Is(err, errNothingTyped) {
			return nil, errors.New("no secret given")
		}
		return b, err
	}
	b, err := readCtx(ctx, func() ([]byte, error) { return io.ReadAll(io.LimitReader(os.Stdin, maxSecret+1)) })
	if err != nil {
		return nil, fmt.Errorf("read the secret from stdin: %w", err)
	}
	if len(b) > maxSecret {
		clear(b)
		return nil, fmt.Errorf("the secret is longer than %d bytes", maxSecret)
	}
	b = trimNewline(b)
	if len(b) == 0 {
		return nil, errors.New("no secret on stdin")
	}
	return b, nil
}

// fileError is a file the user named that could not be read. Its hint
// names the file and where its name came from, not a step (custos init)
// that would not help.
type fileError struct {
	what string // "the password file"
	from string // "--password-file"
	path string
	err  error
}

func (e *fileError) Error() string {
	if errors.Is(e.err, errGroupReadable) {
		return fmt.Sprintf("refused %s %s: %v", e.what, e.path, e.err)
	}
	return fmt.Sprintf("read %s: %v", e.what, e.err)
}
func (e *fileError) Unwrap() error { return e.err }

func (e *fileError) hint() string {
	switch {
	case errors.Is(e.err, fs.ErrNotExist):
		return fmt.Sprintf("there is no file at %s (given as %s); check the path", e.path, e.from)
	case errors.Is(e.err, fs.ErrPermission):
		return fmt.Sprintf("you may not read %s (given as %s)", e.path, e.from)
	case errors.Is(e.err, errGroupReadable):
		return fmt.Sprintf("it holds a secret, as the vault does: run chmod 600 %s", e.path)
	}
	return ""
}

// code is the error's stable --json code.
func (e *fileError) code() string {
	switch {
	case errors.Is(e.err, fs.ErrNotExist):
		return "no_file"
	case errors.Is(e.err, errGroupReadable):
		return "file_permissions"
	}
	return "file"
}

// readFile reads a file the user named (see fileError), up to maxSecret
// bytes.
func readFile(path, what, from string) ([]byte, error) {
	b, err := readCapped(path)
	if err != nil {
		return nil, &fileError{what: what, from: from, path: path, err: err}
	}
	return b, nil
}

// errGroupReadable: a file that holds a secret may be read or written by
// its group or others.
var errGroupReadable = errors.New("its group or others may read or write it")

// readPrivateFile is readFile for a file that holds a secret (a password
// file): like the vault, it is refused when its group or others may read
// or write it.
func readPrivateFile(path, what, from string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &fileError{what: what, from: from, path: path, err: err}
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, &fileError{what: what, from: from, path: path, err: err}
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, &fileError{what: what, from: from, path: path, err: fmt.Errorf("%w (mode %#o)", errGroupReadable, perm)}
	}
	b, err := readAllCapped(f, path)
	if err != nil {
		return nil, &fileError{what: what, from: from, path: path, err: err}
	}
	return b, nil
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllCapped(f, path)
}

// readAllCapped reads r, the file at path, up to maxSecret bytes.
func readAllCapped(r io.Reader, path string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSecret+1))
	if err != nil {
		clear(b)
		return nil, err
	}
	if len(b) > maxSecret {
		clear(b)
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSecret)
	}
	return b, nil
}

func trimNewline(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}
