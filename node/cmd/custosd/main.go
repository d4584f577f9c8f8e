// Command custosd runs one custodian node of a custos network: it holds one
// share of every record key of its users, logs them in on its own, limits
// and logs every release, and serves its shares over libp2p.
//
// Run `custosd --help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
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

func rootCmd() *cobra.Command {
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
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	root.AddCommand(initCmd(), runCmd(), cardCmd(), statusCmd(), inviteCmd(), lockCmd(true), lockCmd(false),
		usersCmd(), backupCmd(), restoreCmd())
	for _, c := range root.Commands() {
		c.Args = noArgs
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
