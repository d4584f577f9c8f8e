package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/custos-network/custos/client/vault"
)

const maxSecret = 64 << 10

func (g *globals) vaultPath() (string, error) {
	if g.vault != "" {
		return g.vault, nil
	}
	return vault.DefaultPath()
}

func stdinIsTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

// password reads the password from --password-file, $CUSTOS_PASSWORD_FILE
// or a terminal prompt, in that order. The caller wipes it.
func (g *globals) readPassword(prompt string, confirm bool) ([]byte, error) {
	path := g.passwordFile
	if path == "" {
		path = os.Getenv("CUSTOS_PASSWORD_FILE")
	}
	if path != "" {
		b, err := readCapped(path)
		if err != nil {
			return nil, fmt.Errorf("read the password file: %w", err)
		}
		b = trimNewline(b)
		if len(b) == 0 {
			return nil, fmt.Errorf("the password file %s is empty", path)
		}
		return b, nil
	}
	if !stdinIsTerminal() {
		return nil, errors.New("no password: run custos in a terminal, or give --password-file or $CUSTOS_PASSWORD_FILE")
	}
	pw, err := promptHidden(prompt)
	if err != nil || !confirm {
		return pw, err
	}
	again, err := promptHidden("Repeat the password: ")
	defer clear(again)
	if err != nil {
		clear(pw)
		return nil, err
	}
	if !bytes.Equal(pw, again) {
		clear(pw)
		return nil, errors.New("the two passwords differ")
	}
	return pw, nil
}

func promptHidden(prompt string) ([]byte, error) {
	fmt.Fprint(os.Stderr, prompt)
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("read from the terminal: %w", err)
	}
	if len(b) == 0 {
		return nil, errors.New("empty input")
	}
	return b, nil
}

// readSecret reads the secret to store: from a hidden prompt on a terminal,
// else all of stdin (one trailing newline removed).
func readSecret() ([]byte, error) {
	if stdinIsTerminal() {
		return promptHidden("Secret to store: ")
	}
	b, err := io.ReadAll(io.LimitReader(os.Stdin, maxSecret+1))
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
