package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
)

// passwdStepHook, when set (by the tests alone), is called after each
// step of a password change is printed.
var passwdStepHook func(client.PasswdProgress)

func passwdCmd(g *globals) *cobra.Command {
	var newFile string
	var abort, allowWeak bool
	cmd := &cobra.Command{
		Use:   "passwd [--new-password-file F] | passwd --abort",
		Short: "Change your password at every node; finish or roll back a change cut short",
		Long: `passwd changes the password at every node. It asks for the current password
and the new one (twice), logs in with the current one at every node, deals a new key
that hardens the new password among the nodes, and then, node by node, stages it
(each node keeps it beside the current one) and, once every node holds it, commits
it (each node then drops the old one). Every step is recorded in the vault before it
is sent and is logged by the node, so a change cut short (Ctrl-C, a crash, a node
down) is never lost, and one of the two passwords always logs in:

  before every node staged the new password   the current one; custos passwd
                                               deals and stages it again, or
                                               custos passwd --abort drops it
  every node staged it, no commit sent yet     the NEW one; custos passwd
                                               finishes, or custos passwd --abort
                                               rolls back (it asks the current one)
  commits sent                                 the NEW one; only custos passwd,
                                               which finishes, is possible

Every command says so while a change is pending. Every node must take part: a node
that cannot be reached stops the change where it is, and custos passwd resumes it
once the node is back.

The new password comes from a prompt, or from --new-password-file or
$CUSTOS_NEW_PASSWORD_FILE; the current one from a prompt, --password-file or
$CUSTOS_PASSWORD_FILE. Never from the command line. A new password that the
strength estimate (zxcvbn) scores below 3 of 4 is asked about at a terminal, and
refused from a file or under --json unless --allow-weak-password is given.

--json prints one object when it ends: {"result":"changed"} or
{"result":"rolled_back"}, and no steps.

Exit codes: 0 changed (or rolled back, with --abort); 1 a wrong password, a locked
account, nothing to abort, or an abort after commits; 2 usage; 3 a node could not
be reached or failed (the change is kept: run custos passwd again); 130 interrupted
(the change is kept: run custos passwd again).`,
		Example: `  custos passwd
  custos passwd --password-file ~/.custos-pw --new-password-file ~/.custos-pw.new
  custos passwd --abort`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if abort && newFile != "" {
				return usageError{errors.New("--abort keeps the current password: it takes no --new-password-file")}
			}
			out := cmd.OutOrStdout()
			if g.json {
				out = io.Discard // one object at the end says what happened
			}
			c, err := g.openWith(client.Options{Logger: warnings(), PasswdProgress: func(p client.PasswdProgress) {
				printPasswdStep(out, p)
				if passwdStepHook != nil {
					passwdStepHook(p)
				}
			}})
			if err != nil {
				return err
			}
			defer c.Close()
			if !abort {
				// A mistake this device can tell costs no prompt.
				if err := c.CheckPasswordChange(); err != nil {
					return err
				}
			}
			result := "rolled_back"
			if abort {
				err = abortPasswd(cmd.Context(), g, out, c)
			} else {
				result = "changed"
				err = changePasswd(cmd.Context(), g, out, c, newFile, &strengthPolicy{allow: allowWeak, asJSON: g.json, hints: []string{c.User()}})
			}
			if err != nil || !g.json {
				return err
			}
			return jsonLines(cmd.OutOrStdout(), passwdJSON{Result: result})
		},
	}
	cmd.Flags().StringVar(&newFile, "new-password-file", "", "read the new password from this file (default $CUSTOS_NEW_PASSWORD_FILE, else a prompt)")
	cmd.Flags().BoolVar(&abort, "abort", false, "roll back a password change that no node committed yet")
	cmd.Flags().BoolVar(&allowWeak, "allow-weak-password", false, "take a new password that the strength estimate finds weak, with a warning")
	return cmd
}

// changePasswd starts a password change, or finishes the one pending.
// A new password (not one a pending change chose already) is checked as
// strength says.
func changePasswd(ctx context.Context, g *globals, out io.Writer, c *client.Client, newFile string, strength *strengthPolicy) error {
	p := c.PendingPasswordChange()
	if p != nil && p.NewPassword() {
		fmt.Fprintf(out, "finishing the password change pending (%s): it takes the new password\n", describeChange(p))
		pw, err := readNewPassword(ctx, newFile, nil)
		if err != nil {
			return err
		}
		defer clear(pw)
		if err := c.ChangePassword(ctx, nil, pw); err != nil {
			return err
		}
		fmt.Fprintln(out, "password changed at every node: log in with the new password from now on")
		return nil
	}
	if p != nil {
		fmt.Fprintf(out, "a password change was cut short (%s): starting it again\n", describeChange(p))
	}
	old, err := g.readPassword(ctx, "Current password: ", nil)
	if err != nil {
		return err
	}
	defer clear(old)
	pw, err := readNewPassword(ctx, newFile, strength)
	if err != nil {
		return err
	}
	defer clear(pw)
	if err := c.ChangePassword(ctx, old, pw); err != nil {
		return err
	}
	fmt.Fprintln(out, "password changed at every node: log in with the new password from now on")
	return nil
}

// abortPasswd rolls back the password change pending.
func abortPasswd(ctx context.Context, g *globals, out io.Writer, c *client.Client) error {
	p := c.PendingPasswordChange()
	switch {
	case p == nil:
		return client.ErrNoPasswordChange
	case !p.CanAbort():
		// Said before any prompt: no password helps.
		if len(p.Committed) > 0 {
			return fmt.Errorf("%w (committed at %s)", client.ErrChangeCommitted, strings.Join(p.Committed, ", "))
		}
		return client.ErrChangeCommitted
	}
	fmt.Fprintf(out, "rolling back the password change pending (%s): it takes the current password, which stays\n", describeChange(p))
	old, err := g.readPassword(ctx, "Current password: ", nil)
	if err != nil {
		return err
	}
	defer clear(old)
	if err := c.AbortPasswordChange(ctx, old); err != nil {
		return err
	}
	fmt.Fprintln(out, "password change rolled back at every node: the current password stays")
	return nil
}

// readNewPassword reads the new password from newFile,
// $CUSTOS_NEW_PASSWORD_FILE or a terminal prompt; one being chosen
// (strength set) is asked twice and its strength checked.
func readNewPassword(ctx context.Context, newFile string, strength *strengthPolicy) ([]byte, error) {
	from := "--new-password-file"
	if newFile == "" {
		newFile, from = os.Getenv("CUSTOS_NEW_PASSWORD_FILE"), "$CUSTOS_NEW_PASSWORD_FILE"
	}
	return askPassword(ctx, passwordSource{
		path: newFile, from: from, what: "new password", prompt: "New password: ", confirm: strength != nil, strength: strength,
		none: "no new password: run custos in a terminal, or give --new-password-file or $CUSTOS_NEW_PASSWORD_FILE",
	})
}

// printPasswdStep prints one step of a password change as it is taken.
func printPasswdStep(out io.Writer, p client.PasswdProgress) {
	switch {
	case p.Node != "" && p.Step == client.StepStaged:
		fmt.Fprintf(out, "  %s: staged the new password\n", p.Node)
	case p.Node != "" && p.Step == client.StepCommitted:
		fmt.Fprintf(out, "  %s: committed the new password\n", p.Node)
	case p.Node != "" && p.Step == client.StepAborted:
		fmt.Fprintf(out, "  %s: dropped the new password\n", p.Node)
	case p.Step == client.StepStaged:
		fmt.Fprintln(out, "every node holds the new password staged; committing it")
	}
}

// describeChange says where a pending change stands.
func describeChange(p *client.PendingChange) string {
	switch p.State {
	case vault.ChangeStaging:
		if len(p.Staged) == 0 {
			return "staged at no node yet"
		}
		return "staged at " + strings.Join(p.Staged, ", ") + " only"
	case vault.ChangeStaged:
		return "staged at every node, committed at none"
	case vault.ChangeCommitting:
		if len(p.Committed) == 0 {
			return "staged at every node, being committed"
		}
		return "staged at every node, committed at " + strings.Join(p.Committed, ", ")
	case vault.ChangeAborting:
		return "being rolled back; not confirmed yet at " + strings.Join(p.Staged, ", ")
	}
	return string(p.State)
}

// noteChange tells, on every command but passwd, that a password change
// is pending and which password logs in meanwhile.
func noteChange(w io.Writer, c *client.Client) {
	p := c.PendingPasswordChange()
	if p == nil {
		return
	}
	switch {
	case !p.NewPassword():
		fmt.Fprintf(w, "custos: note: a password change is pending (%s): log in with the current password; "+
			"custos passwd starts it again, custos passwd --abort rolls it back\n", describeChange(p))
	case p.CanAbort():
		fmt.Fprintf(w, "custos: note: a password change is pending (%s): log in with the NEW password; "+
			"custos passwd finishes it, custos passwd --abort rolls it back\n", describeChange(p))
	default:
		fmt.Fprintf(w, "custos: note: a password change is pending (%s): log in with the NEW password; "+
			"finish it with custos passwd\n", describeChange(p))
	}
}
