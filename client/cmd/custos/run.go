package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/agent"
	"github.com/custos-network/custos/client/vault"
)

// exitCode is the exit code of the command custos run ran: run exits with
// it, whatever signal came meanwhile.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("the command exited %d", int(e)) }

// Exit codes of custos run when the command cannot be run, as shells give
// them.
const (
	exitCannotRun = 126 // found, but not executable
	exitNotFound  = 127
)

// envSpec is one --env NAME=LABEL[:FIELD].
type envSpec struct{ name, label, field string }

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseEnv reads NAME=LABEL[:FIELD]; FIELD is password (the default) or
// username. A label may hold a colon: only a last part that names a field
// is taken as one.
func parseEnv(s string) (envSpec, error) {
	name, ref, ok := strings.Cut(s, "=")
	if !ok || !envName.MatchString(name) {
		return envSpec{}, fmt.Errorf("--env %q: want NAME=LABEL[:FIELD], NAME of letters, digits and _", s)
	}
	e := envSpec{name: name, label: ref, field: "password"}
	if i := strings.LastIndexByte(ref, ':'); i >= 0 {
		if f := ref[i+1:]; f == "password" || f == "username" {
			e.label, e.field = ref[:i], f
		}
	}
	if !vault.ValidLabel(e.label) {
		return envSpec{}, fmt.Errorf("--env %q: %q is not a valid label", s, e.label)
	}
	return e, nil
}

func runCmd(g *globals) *cobra.Command {
	var envs []string
	cmd := &cobra.Command{
		Use:   "run --env NAME=LABEL[:FIELD]... -- COMMAND [ARG...]",
		Short: "Run a command with records in its environment",
		Long: `run opens the records the --env flags name, in one batch (one release request
per node), and runs COMMAND with each in its environment as NAME: the record's
password, or its username with :username. Nothing is printed or written to disk,
and no secret is in the command's arguments. It uses the agent when one runs
(custos unlock), else it asks for the password as custos get does.

COMMAND inherits stdin, stdout and stderr; the signals custos receives (SIGTERM,
SIGHUP, SIGINT, ...) are passed on to it (a Ctrl-C at the terminal reaches it
directly, once), and custos exits with its exit code (128+N when signal N ended
it; 127 when it is not found, 126 when it cannot be run). A variable of the same
name in custos's own environment is replaced.`,
		Example: `  custos run --env ACME_PASSWORD=acme-portal --env ACME_USER=acme-portal:username -- ./sync.sh
  custos run --env PGPASSWORD=prod-db -- psql -h db.internal -U app`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("run needs the command to run, after --")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			specs, err := parseEnvs(envs)
			if err != nil {
				return err
			}
			values, err := g.openRecords(cmd.Context(), specs)
			if err != nil {
				return err
			}
			return runWith(args, environ(specs, values))
		},
	}
	cmd.Flags().StringArrayVar(&envs, "env", nil, "NAME=LABEL[:FIELD]: put the record's password (or :username) in $NAME (repeat)")
	cmd.Flags().SetInterspersed(false) // the command's own flags are its own
	return cmd
}

func parseEnvs(envs []string) ([]envSpec, error) {
	if len(envs) == 0 {
		return nil, usageError{errors.New("run needs at least one --env NAME=LABEL[:FIELD]")}
	}
	var specs []envSpec
	for _, s := range envs {
		e, err := parseEnv(s)
		if err != nil {
			return nil, usageError{err}
		}
		if slices.ContainsFunc(specs, func(o envSpec) bool { return o.name == e.name }) {
			return nil, usageError{fmt.Errorf("--env %s given twice", e.name)}
		}
		specs = append(specs, e)
	}
	return specs, nil
}

// openRecords opens the records specs name, each once, in one batch:
// through the agent when one runs, else with the vault here.
func (g *globals) openRecords(ctx context.Context, specs []envSpec) (map[string]*client.Record, error) {
	var labels []string
	for _, s := range specs {
		if !slices.Contains(labels, s.label) {
			labels = append(labels, s.label)
		}
	}
	var recs []*client.Record
	a, err := g.agent(ctx)
	switch {
	case err == nil:
		recs, err = a.GetMany(ctx, labels)
	case errors.Is(err, agent.ErrNoAgent):
		recs, err = g.getManyHere(ctx, labels)
	}
	if err != nil {
		return nil, err
	}
	out := map[string]*client.Record{}
	for i, l := range labels {
		out[l] = recs[i]
	}
	return out, nil
}

// getManyHere opens the vault, checks every label, unlocks and gets the
// records; the vault is closed before the command runs, so that it may use
// custos itself.
func (g *globals) getManyHere(ctx context.Context, labels []string) ([]*client.Record, error) {
	c, err := g.open(ctx, false)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for _, l := range labels {
		if err := c.Check(l); err != nil {
			return nil, err
		}
	}
	if err := g.unlock(ctx, c); err != nil {
		return nil, err
	}
	return c.GetMany(ctx, labels)
}

// environ is custos's environment with the variables of specs set (and
// replaced, where custos had them). It wipes the records.
func environ(specs []envSpec, values map[string]*client.Record) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.ContainsFunc(specs, func(s envSpec) bool { return s.name == name })
	})
	for _, s := range specs {
		v, _ := values[s.label].Field(s.field)
		env = append(env, s.name+"="+v)
	}
	for _, r := range values {
		r.Wipe()
	}
	return env
}

// forwarded are the signals custos run passes on to its command.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// fromTerminal says whether the terminal sent s to custos's whole process
// group, the command included: a Ctrl-C or Ctrl-\ while custos runs in the
// foreground. Passing it on would make it two.
func fromTerminal(s os.Signal) bool {
	if s != syscall.SIGINT && s != syscall.SIGQUIT {
		return false
	}
	fg, err := unix.IoctlGetInt(int(os.Stdin.Fd()), unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

// runWith runs args with env, passing signals on, and returns its exit code
// as an exitCode.
func runWith(args []string, env []string) error {
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "custos: error: run %s: %v\n", args[0], err)
		return exitCode(exitNotFound)
	}
	cmd := exec.Command(path, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "custos: error: run %s: %v\n", args[0], err)
		return exitCode(exitCannotRun)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if !fromTerminal(s) {
					_ = cmd.Process.Signal(s)
				}
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return exitCode(0)
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return exitCode(128 + int(ws.Signal()))
		}
		return exitCode(ee.ExitCode())
	}
	return err
}
