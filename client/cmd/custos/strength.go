package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/trustelem/zxcvbn"
)

// minScore is the least zxcvbn score (0 to 4) of a password taken without
// a question: 3 is "safely unguessable" against online guessing and well
// beyond it, what the nodes' counted logins allow (docs/client.md).
const minScore = 3

// errWeakPassword: a new password scored below minScore, and nobody
// confirmed it.
var errWeakPassword = errors.New("weak password")

// strengthPolicy says what to do with a weak new password: take it with a
// warning (allow, --allow-weak-password), ask at the terminal, or refuse.
type strengthPolicy struct {
	allow  bool     // --allow-weak-password
	asJSON bool     // --json: no question, as for a script
	hints  []string // words the password must not lean on: the user name
}

// check estimates pw's strength with zxcvbn. A weak password is taken when
// allowed (with a warning), else asked about when it was typed at a
// terminal and not under --json, else refused. Nothing of pw is printed.
func (p *strengthPolicy) check(ctx context.Context, pw []byte, typed bool) error {
	score, guesses := strength(pw, p.hints)
	if score >= minScore {
		return nil
	}
	weak := fmt.Sprintf("weak password: it scores %d of 4 (about 10^%.0f guesses to find it; %d is the least taken without a question)", score, math.Log10(guesses), minScore)
	switch {
	case p.allow:
		fmt.Fprintf(os.Stderr, "custos: warning: %s; taken, as --allow-weak-password asks\n", weak)
		return nil
	case typed && !p.asJSON && stdinIsTerminal():
		fmt.Fprintf(os.Stderr, "custos: warning: %s\n", weak)
		if err := confirm(ctx, "Use it anyway? [y/N] "); err != nil {
			return fmt.Errorf("%w: %w", errWeakPassword, err)
		}
		return nil
	}
	return fmt.Errorf("%w: %s", errWeakPassword, weak[len("weak password: "):])
}

// strength is zxcvbn's score (0 to 4) of pw and its estimate of the
// guesses it takes. The library takes a string, a copy of pw that cannot
// be wiped; it is left to the garbage collector.
func strength(pw []byte, hints []string) (score int, guesses float64) {
	r := zxcvbn.PasswordStrength(string(pw), hints)
	return r.Score, max(r.Guesses, 1)
}
