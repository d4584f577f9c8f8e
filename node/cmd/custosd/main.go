// Command custosd runs one custodian node of a custos network: it holds one
// share of every record key of its users, logs them in on its own, limits
// and logs every release, and serves its shares over libp2p.
//
// Run `custosd --help` for the commands.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/internal/buildinfo"
	"github.com/custos-network/custos/internal/jsonout"
	"github.com/custos-network/custos/node/admin"
)

// usageError marks an error in how the command was called (exit code 2).
type usageError struct{ error }

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run runs custosd with args and returns its exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root := rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if jsonout.Requested(args) {
		return reportJSON(stderr, err)
	}
	// Several problems (a config file's, say) come joined by newlines;
	// each line gets the prefix, so no line of the message stands alone.
	for _, line := range strings.Split(err.Error(), "\n") {
		if strings.TrimSpace(line) != "" {
			fmt.Fprintf(stderr, "custosd: error: %s\n", line)
		}
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "custosd: hint: run custosd --help")
		return 2
	}
	return 1
}

// reportJSON writes err as one JSON object and returns its exit code. The
// code is "usage", "not_running", the node's own code for what it refused
// (as api.Code names it, lower case), or "error".
func reportJSON(w io.Writer, err error) int {
	e := jsonout.Error{Code: "error", Error: err.Error(), ExitCode: 1}
	var ue usageError
	var se *api.StatusError
	switch {
	case errors.As(err, &ue):
		e.Code, e.ExitCode, e.Hint = "usage", 2, "run custosd --help"
	case errors.Is(err, admin.ErrNotRunning):
		e.Code = "not_running"
	case errors.As(err, &se):
		e.Code = strings.ToLower(se.Code.String())
	}
	_ = json.NewEncoder(w).Encode(e)
	return e.ExitCode
}

// asJSON is the global --json of cmd's command line: every command
// prints an object for one item and a line per item of a list
// (docs/operating.md).
func asJSON(cmd *cobra.Command) bool {
	v, _ := cmd.Flags().GetBool("json")
	return v
}

// printJSON writes each value as one JSON line.
func printJSON(w io.Writer, values ...any) error {
	enc := json.NewEncoder(w)
	for _, v := range values {
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

func rootCmd() *cobra.Command {
	var version bool
	root := &cobra.Command{
		Use:   "custosd",
		Short: "Run a custodian node of a custos network",
		Long: `custosd runs one custodian node of a custos network. The node holds one Shamir
share of each of its users' record keys, authenticates users on its own, limits and
logs every release in a tamper-evident log, and serves shares over libp2p.

A node lives in one directory: node.yaml, its identity and storage keys, its Badger
store and its admin socket. Commands other than init and run talk to the running
node through that socket.`,
		Example: `  custosd init --dir /var/lib/custos --name acme
  custosd run --config /var/lib/custos/node.yaml
  custosd invite --user alice --config /var/lib/custos/node.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// Runnable, so that cobra hands an unknown command to Args (a usage
	// error) rather than reporting it as a plain error.
	root.Args = unknownCommand
	root.SuggestionsMinimumDistance = 2
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		if !version {
			return cmd.Help()
		}
		info := buildinfo.Read()
		if asJSON(cmd) {
			return printJSON(cmd.OutOrStdout(), info)
		}
		_, err := io.WriteString(cmd.OutOrStdout(), info.Text("custosd"))
		return err
	}
	root.PersistentFlags().Bool("json", false, "print JSON: an object for one item, one a line for a list, errors as an object on stderr")
	root.Flags().BoolVar(&version, "version", false, "print the version and build of custosd")
	root.AddCommand(initCmd(), runCmd(), cardCmd(), statusCmd(), inviteCmd(), lockCmd(true), lockCmd(false),
		usersCmd(), backupCmd(), restoreCmd())
	for _, c := range root.Commands() {
		c.Args = noArgs
	}
	// Completion scripts for bash, zsh and fish, as custos has.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Example = "  source <(custosd completion bash)\n  custosd completion fish > ~/.config/fish/completions/custosd.fish"
		}
	}
	return root
}

func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %s?", strings.Join(s, " or "))
	}
	return usageError{errors.New(msg)}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}
