// Command custos keeps vendor credentials on this device, sealed under keys
// that only a threshold of custodian nodes can help open.
//
// Run `custos --help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
)

// Exit codes; custos --help and docs/client.md list them.
const (
	exitError       = 1
	exitUsage       = 2
	exitQuorum      = 3   // fewer than the threshold of custodians could agree
	exitInterrupted = 130 // Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)
)

// usageError marks an error in how the command was called.
type usageError struct{ error }

func main() { os.Exit(run(os.Args[1:])) }

// run is the one place where errors become exit codes and hints.
func run(args []string) (code int) {
	defer func() {
		// A panic is a bug; the user gets one line, not a stack trace.
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "custos: internal error: %v (please report this)\n", p)
			code = exitError
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root := rootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		// Done, even if a signal came at the end: a put that stored its
		// record must not exit as if it had not (a script would retry).
		// A command that a signal cut short says so with an error.
		return 0
	}
	// Whatever failed once the signal came (a prompt, a request) failed
	// because of it.
	if ctx.Err() != nil || errors.Is(err, errInterrupted) {
		fmt.Fprintln(os.Stderr, "custos: interrupted")
		return exitInterrupted
	}
	fmt.Fprintf(os.Stderr, "custos: error: %v\n", err)
	code, hint := classify(err)
	if hint != "" {
		fmt.Fprintf(os.Stderr, "custos: hint: %s\n", hint)
	}
	return code
}

// classify gives an error's exit code and hint.
func classify(err error) (code int, hint string) {
	var ue usageError
	var qe *client.QuorumError
	var fe *fileError
	var pe *fs.PathError
	switch {
	case errors.As(err, &ue):
		return exitUsage, "run custos --help, or custos COMMAND --help"
	case errors.As(err, &qe):
		reason := qe.Reason()
		switch {
		case reason == client.ErrNotEnoughCustodians && errors.Is(err, client.ErrBadEvaluation):
			return exitQuorum, "the nodes named as faulty or lying sent password evaluations that do not verify; tell their operators, and try again when enough honest nodes answer"
		case reason == client.ErrNotEnoughCustodians:
			return exitQuorum, "custos status shows which nodes answer; try again when enough of them are back"
		}
		return exitError, hintFor(reason)
	case errors.As(err, &fe):
		return exitError, fe.hint()
	case errors.Is(err, vault.ErrNotFound):
		return exitError, "make a vault with custos init, or point --vault or $CUSTOS_VAULT at yours"
	case errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist):
		return exitError, fmt.Sprintf("there is no file at %s; check the path", pe.Path)
	}
	return exitError, hintFor(err)
}

func hintFor(err error) string {
	switch {
	case errors.Is(err, client.ErrLocked):
		return "ask the node's operator to unlock your account (custosd unlock --user U)"
	case errors.Is(err, client.ErrWrongPassword):
		return "check the password (file); every node counts failed logins and locks the account when it has no attempts left"
	case errors.Is(err, client.ErrNotEnrolled):
		return "enroll this device there: custos enroll --token NODE=TOKEN, with a token from each node's operator"
	case errors.Is(err, client.ErrTokenRefused):
		return "ask the node's operator for a new invite token (custosd invite --user U)"
	case errors.Is(err, client.ErrNoToken):
		return "give each node's invite token: custos enroll --token NODE=TOKEN"
	case errors.Is(err, client.ErrOtherDevice):
		return "the user is enrolled there from another device: use that device's vault, or ask the node's operator"
	case errors.Is(err, client.ErrRateLimited):
		return "wait as long as the node asked, then try again"
	case errors.Is(err, client.ErrNotFound):
		return "custos ls lists the vault's records"
	case errors.Is(err, client.ErrPasswordChangePending):
		return "finish the password change with custos passwd, or roll it back with custos passwd --abort"
	case errors.Is(err, client.ErrChangeCommitted):
		return "finish it with custos passwd, which asks for the new password"
	case errors.Is(err, client.ErrEnrollmentUnfinished):
		return "finish enrolling first: custos enroll --token NODE=TOKEN"
	case errors.Is(err, vault.ErrDamagedLogin):
		return "the vault's login dealing was changed or damaged, so no node was asked; restore the vault from a backup"
	case errors.Is(err, client.ErrDamagedRecord):
		return "the vault's copy of this record was changed or damaged, so no node was asked; restore the vault from a backup"
	}
	return ""
}

// global flags
type globals struct {
	vault        string
	passwordFile string
	password     string // refused: see checkNoPassword
	noted        bool   // a pending password change was noted (noteChange)
}

func rootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "custos",
		Short: "Keep vendor credentials sealed on this device, opened only with a threshold of custodians",
		Long: `custos keeps the usernames and passwords your automated processes log in with
sealed on this device. Opening one needs this device's own key and a per-record key
split among the custodian nodes of your network: you log in at each node on its own,
each limits and logs every release, and the record opens only when a threshold of
them agreed. The data never leaves this device.

The vault is --vault, else $CUSTOS_VAULT, else the user's config directory. The
password comes from a terminal prompt, or --password-file / $CUSTOS_PASSWORD_FILE
for automation; never from the command line.

Exit codes:
  0    ok
  1    error: among them a wrong password, a locked account, a device not
       enrolled at a node, an invite token refused or missing, a node that
       asks to wait: what waiting for nodes to come back does not fix
  2    usage: a wrong command, flag or argument
  3    fewer than the threshold of custodians could agree: nodes down,
       unreachable or failing (each is named, with why)
  130  interrupted (Ctrl-C, SIGTERM)`,
		Example: `  custos network new --threshold 3 --out network.yaml a.card b.card c.card d.card e.card
  custos init --network network.yaml --user alice
  custos enroll --token a=custos-invite-… --token b=custos-invite-…
  printf 's3cret' | custos put acme-portal --username svc-acme --password-file ~/.pw
  custos get acme-portal --field password --password-file ~/.pw
  custos passwd --password-file ~/.pw --new-password-file ~/.pw.new`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: func(*cobra.Command, []string) error { return g.checkNoPassword() },
		Args:              cobra.ArbitraryArgs,
		RunE:              unknownCommand,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.vault, "vault", "", "the vault file (default $CUSTOS_VAULT, else the user's config directory)")
	pf.StringVar(&g.passwordFile, "password-file", "", "read the password from this file (default $CUSTOS_PASSWORD_FILE, else a prompt)")
	pf.StringVar(&g.password, "password", "", "refused: a password on the command line shows in ps and shell history")
	_ = pf.MarkHidden("password")
	root.AddCommand(networkCmd(), initCmd(g), enrollCmd(g), putCmd(g), getCmd(g), lsCmd(g), rmCmd(g), statusCmd(g), historyCmd(g), passwdCmd(g), auditCmd(g))
	return root
}

func (g *globals) checkNoPassword() error {
	if g.password != "" {
		return usageError{errors.New("custos never takes a password on the command line, where ps and shell history show it; use the prompt, --password-file or $CUSTOS_PASSWORD_FILE")}
	}
	return nil
}

// unknownCommand is the RunE of a command that only groups others: alone it
// shows its help; with an argument that names no subcommand it is a usage
// error (cobra's own "unknown command" error would exit 1).
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
}

// atMostArgs is exactArgs for commands that take up to n arguments.
func atMostArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError{fmt.Errorf("%s takes %s", cmd.CommandPath(), what)}
		}
		return nil
	}
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %s", cmd.CommandPath(), what)}
		}
		return nil
	}
}
