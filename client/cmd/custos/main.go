// Command custos keeps vendor credentials on this device, sealed under keys
// that only a threshold of custodian nodes can help open.
//
// Run `custos --help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/internal/buildinfo"
	"github.com/custos-network/custos/internal/jsonout"
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
	asJSON := jsonout.Requested(args)
	defer func() {
		// A panic is a bug; the user gets one line, not a stack trace.
		if p := recover(); p != nil {
			code = report(os.Stderr, asJSON, failure{exit: exitError, code: "internal",
				msg: fmt.Sprintf("internal error: %v (please report this)", p)})
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
		return report(os.Stderr, asJSON, failure{exit: exitInterrupted, code: "interrupted", msg: "interrupted"})
	}
	return report(os.Stderr, asJSON, classify(err))
}

// failure is an error as custos reports it: its exit code, its stable
// code for --json, its message and a hint.
type failure struct {
	exit      int
	code      string
	msg, hint string
}

// report writes f to w (a line and a hint, or one JSON object) and
// returns its exit code.
func report(w io.Writer, asJSON bool, f failure) int {
	if asJSON {
		_ = jsonLines(w, jsonout.Error{Code: f.code, Error: f.msg, ExitCode: f.exit, Hint: f.hint})
		return f.exit
	}
	if f.code == "interrupted" {
		fmt.Fprintln(w, "custos: interrupted")
		return f.exit
	}
	fmt.Fprintf(w, "custos: error: %s\n", f.msg)
	if f.hint != "" {
		fmt.Fprintf(w, "custos: hint: %s\n", f.hint)
	}
	return f.exit
}

// classify gives an error's exit code, stable code and hint.
func classify(err error) failure {
	f := failure{exit: exitError, code: "error", msg: err.Error()}
	var ue usageError
	var qe *client.QuorumError
	var fe *fileError
	var pe *fs.PathError
	var below *belowThresholdError
	switch {
	case errors.As(err, &ue):
		f.exit, f.code, f.hint = exitUsage, "usage", "run custos --help, or custos COMMAND --help"
	case errors.As(err, &below):
		f.exit, f.code, f.hint = exitQuorum, "quorum", "custos status shows which nodes answer; try again when enough of them are back"
	case errors.As(err, &qe):
		reason := qe.Reason()
		switch {
		case reason == client.ErrNotEnoughCustodians && errors.Is(err, client.ErrBadEvaluation):
			f.exit, f.code, f.hint = exitQuorum, "quorum", "the nodes named as faulty or lying sent password evaluations that do not verify; tell their operators, and try again when enough honest nodes answer"
		case reason == client.ErrNotEnoughCustodians:
			f.exit, f.code, f.hint = exitQuorum, "quorum", "custos status shows which nodes answer; try again when enough of them are back"
		default:
			f.code, f.hint = known(reason)
		}
	case errors.As(err, &fe):
		f.code, f.hint = fe.code(), fe.hint()
	case errors.Is(err, vault.ErrNotFound):
		f.code, f.hint = "no_vault", "make a vault with custos init, or point --vault or $CUSTOS_VAULT at yours"
	case errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist):
		f.code, f.hint = "no_file", fmt.Sprintf("there is no file at %s; check the path", pe.Path)
	default:
		f.code, f.hint = known(err)
	}
	return f
}

// knownErrors are the errors a caller may branch on, each with its stable
// --json code and its hint; the first that err is wins.
var knownErrors = []struct {
	err        error
	code, hint string
}{
	{client.ErrLocked, "account_locked", "ask the node's operator to unlock your account (custosd unlock --user U)"},
	{client.ErrWrongPassword, "wrong_password", "check the password (file); every node counts failed logins and locks the account when it has no attempts left"},
	{client.ErrNotEnrolled, "not_enrolled", "enroll this device there: custos enroll --token NODE=TOKEN, with a token from each node's operator"},
	{client.ErrTokenRefused, "token_refused", "ask the node's operator for a new invite token (custosd invite --user U)"},
	{client.ErrNoToken, "no_token", "give each node's invite token: custos enroll --token NODE=TOKEN"},
	{client.ErrOtherDevice, "other_device", "the user is enrolled there from another device: use that device's vault, or ask the node's operator"},
	{client.ErrRateLimited, "rate_limited", "wait as long as the node asked, then try again"},
	{client.ErrNotFound, "no_record", "custos ls lists the vault's records"},
	{client.ErrPasswordChangePending, "password_change_pending", "finish the password change with custos passwd, or roll it back with custos passwd --abort"},
	{client.ErrChangeCommitted, "change_committed", "finish it with custos passwd, which asks for the new password"},
	{client.ErrEnrollmentUnfinished, "enrollment_unfinished", "finish enrolling first: custos enroll --token NODE=TOKEN"},
	{vault.ErrDamagedLogin, "damaged_login", "the vault's login dealing was changed or damaged, so no node was asked; restore the vault from a backup"},
	{client.ErrDamagedRecord, "damaged_record", "the vault's copy of this record was changed or damaged, so no node was asked; restore the vault from a backup"},
	{errWeakPassword, "weak_password", "choose a longer password of unrelated words, or add --allow-weak-password to take this one"},
	{errNotConfirmed, "not_confirmed", "answer y at a terminal, or add --yes where there is none to ask at (a script)"},
	{errAuditFailed, "audit_failed", ""},
}

// known is the code and hint of err, if it is one of knownErrors.
func known(err error) (code, hint string) {
	for _, k := range knownErrors {
		if errors.Is(err, k.err) {
			return k.code, k.hint
		}
	}
	return "error", ""
}

// global flags
type globals struct {
	vault        string
	passwordFile string
	password     string // refused: see checkNoPassword
	noted        bool   // a pending password change was noted (noteChange)
	json         bool   // --json: print JSON (docs/client.md, "--json")
	version      bool   // --version
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
       unreachable or failing (each is named, with why); custos status when
       fewer than the threshold of nodes answer
  130  interrupted (Ctrl-C, SIGTERM)

--json prints JSON: one object for one item, one object a line for a list, and
an error as one object on stderr: {"code":…,"error":…,"exit_code":…,"hint":…}.`,
		Example: `  custos network new --threshold 3 --out network.yaml a.card b.card c.card d.card e.card
  custos init --network network.yaml --user alice
  custos enroll --token a=custos-invite-… --token b=custos-invite-…
  printf 's3cret' | custos put acme-portal --username svc-acme --password-file ~/.pw
  custos get acme-portal --field password --password-file ~/.pw
  custos passwd --password-file ~/.pw --new-password-file ~/.pw.new
  custos ls --json
  source <(custos completion bash)`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: func(*cobra.Command, []string) error { return g.checkNoPassword() },
		Args:              cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.version {
				return printVersion(cmd.OutOrStdout(), g.json)
			}
			return unknownCommand(cmd, args)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.vault, "vault", "", "the vault file (default $CUSTOS_VAULT, else the user's config directory)")
	pf.StringVar(&g.passwordFile, "password-file", "", "read the password from this file (default $CUSTOS_PASSWORD_FILE, else a prompt)")
	pf.StringVar(&g.password, "password", "", "refused: a password on the command line shows in ps and shell history")
	_ = pf.MarkHidden("password")
	pf.BoolVar(&g.json, "json", false, "print JSON: an object for one item, one a line for a list, errors as an object on stderr")
	// custos's own --version, so that --json applies to it too.
	root.Flags().BoolVar(&g.version, "version", false, "print the version and build of custos")
	root.AddCommand(networkCmd(g), initCmd(g), enrollCmd(g), putCmd(g), getCmd(g), lsCmd(g), rmCmd(g), statusCmd(g), historyCmd(g), passwdCmd(g), auditCmd(g))
	addCompletion(root)
	return root
}

// addCompletion adds cobra's completion command (bash, zsh, fish,
// powershell), with examples as every command has.
func addCompletion(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			name := root.Name()
			c.Example = fmt.Sprintf("  source <(%[1]s completion bash)\n  %[1]s completion zsh > \"${fpath[1]}/_%[1]s\"\n  %[1]s completion fish > ~/.config/fish/completions/%[1]s.fish", name)
		}
	}
}

// printVersion prints custos's build information (internal/buildinfo).
func printVersion(out io.Writer, asJSON bool) error {
	info := buildinfo.Read()
	if asJSON {
		return jsonLines(out, info)
	}
	_, err := io.WriteString(out, info.Text("custos"))
	return err
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
