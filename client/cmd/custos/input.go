package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

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
)

func (g *globals) vaultPath() (string, error) {
	if g.vault != "" {
		return g.vault, nil
	}
	return vault.DefaultPath()
}

func stdinIsTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

// readPassword reads the password from --password-file,
// $CUSTOS_PASSWORD_FILE or a terminal prompt, in that order. The caller
// wipes it.
func (g *globals) readPassword(ctx context.Context, prompt string, confirm bool) ([]byte, error) {
	path, from := g.passwordFile, "--password-file"
	if path == "" {
		path, from = os.Getenv("CUSTOS_PASSWORD_FILE"), "$CUSTOS_PASSWORD_FILE"
	}
	return askPassword(ctx, passwordSource{
		path: path, from: from, what: "password", prompt: prompt, confirm: confirm,
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
}

// askPassword reads a password as src says. The caller wipes it.
func askPassword(ctx context.Context, src passwordSource) ([]byte, error) {
	if src.path != "" {
		b, err := readFile(src.path, "the "+src.what+" file", src.from)
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
	pw, err := promptHidden(ctx, src.prompt)
	if errors.Is(err, errNothingTyped) {
		return nil, fmt.Errorf("no %s given", src.what)
	}
	if err != nil || !src.confirm {
		return pw, err
	}
	again, err := promptHidden(ctx, "Repeat the "+src.what+": ")
	defer clear(again)
	if err != nil && !errors.Is(err, errNothingTyped) {
		clear(pw)
		return nil, err
	}
	if !bytes.Equal(pw, again) {
		clear(pw)
		return nil, fmt.Errorf("the two %ss differ", src.what)
	}
	return pw, nil
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

// readSecret reads the secret to store: from a hidden prompt on a terminal,
// else all of stdin (one trailing newline removed).
func readSecret(ctx context.Context) ([]byte, error) {
	if stdinIsTerminal() {
		b, err := promptHidden(ctx, "Secret to store: ")
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

func (e *fileError) Error() string { return fmt.Sprintf("read %s: %v", e.what, e.err) }
func (e *fileError) Unwrap() error { return e.err }

func (e *fileError) hint() string {
	switch {
	case errors.Is(e.err, fs.ErrNotExist):
		return fmt.Sprintf("there is no file at %s (given as %s); check the path", e.path, e.from)
	case errors.Is(e.err, fs.ErrPermission):
		return fmt.Sprintf("you may not read %s (given as %s)", e.path, e.from)
	}
	return ""
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

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecret+1))
	if err != nil {
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
