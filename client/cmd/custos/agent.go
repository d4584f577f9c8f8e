package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/agent"
	"github.com/custos-network/custos/client/vault"
)

// agentFlags are the lifetimes of an agent, for custos agent and for the
// agent custos unlock starts.
type agentFlags struct{ idle, maxLifetime time.Duration }

func (f *agentFlags) add(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.idle, "idle", agent.DefaultIdle, "lock after this long without a request")
	cmd.Flags().DurationVar(&f.maxLifetime, "max-lifetime", agent.DefaultMaxLifetime, "lock this long after the unlock, however busy")
}

func (f *agentFlags) check() error {
	if f.idle <= 0 || f.maxLifetime <= 0 {
		return usageError{errors.New("--idle and --max-lifetime must be positive durations, such as 15m or 8h")}
	}
	return nil
}

func agentCmd(g *globals) *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent [--idle D] [--max-lifetime D]",
		Short: "Serve the vault to this user's processes, unlocked once (custos unlock)",
		Long: `agent runs in the foreground and serves the vault to the processes of this
user over a private unix socket ($XDG_RUNTIME_DIR/custos, else custos-UID in the
temporary directory): every custos command then uses it, with no password, no
login and no wait for the vault. It starts locked; custos unlock unlocks it
(custos unlock also starts an agent in the background when none runs).

Unlocked, it holds the vault open and the login keys in memory (not dumpable,
and locked against swapping when the memory lock limit is unlimited). It locks
itself after --idle without a request, --max-lifetime after the unlock, and on
custos lock: it forgets the keys and closes the vault, and answers "locked: run
custos unlock". A locked agent ends after --idle without a request, and on
SIGTERM or Ctrl-C; it removes its socket.`,
		Example: `  custos agent --idle 30m --max-lifetime 8h &
  custos unlock
  systemctl --user enable --now custos-agent   # configs/custos-agent.service`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			path, err := g.vaultPath()
			if err != nil {
				return err
			}
			return serveAgent(cmd.Context(), path, f)
		},
	}
	f.add(cmd)
	return cmd
}

// serveAgent runs an agent for the vault at path until it ends or ctx
// does (SIGTERM, Ctrl-C).
func serveAgent(ctx context.Context, path string, f agentFlags) error {
	locked, err := agent.Protect()
	if err != nil {
		return err
	}
	s, err := agent.Listen(agent.Config{
		Vault: path, Idle: f.idle, MaxLifetime: f.maxLifetime,
		Client: client.Options{Logger: warnings()}, Describe: describe, Logger: agentLog(),
	})
	if err != nil {
		return fmt.Errorf("start the agent: %w", err)
	}
	if !locked {
		fmt.Fprintln(os.Stderr, "custos: warning: the agent's memory may be swapped to disk: its memory lock limit (ulimit -l, LimitMEMLOCK=) is not unlimited")
	}
	fmt.Fprintf(os.Stderr, "custos: agent for %s at %s, locked: run custos unlock\n", path, s.Socket())
	stop := context.AfterFunc(ctx, func() { s.Stop(agent.EndStopped) })
	defer stop()
	reason := s.Serve()
	fmt.Fprintf(os.Stderr, "custos: agent ended: %s\n", reason)
	return nil
}

// describe is how the agent tells its callers an error: as custos would.
func describe(err error) (code int, name, hint string) {
	f := classify(err)
	return f.exit, f.code, f.hint
}

// agentLog is the agent's own log on stderr: when it unlocks, locks and
// ends.
func agentLog() *zap.Logger {
	cfg := zap.NewDevelopmentConfig()
	cfg.DisableStacktrace, cfg.DisableCaller = true, true
	cfg.Level = zap.NewAtomicLevelAt(zap.InfoLevel)
	l, err := cfg.Build()
	if err != nil {
		return zap.NewNop()
	}
	return l
}

func unlockCmd(g *globals) *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "unlock [--idle D] [--max-lifetime D]",
		Short: "Unlock the agent once, for the processes of this user (starts one if none runs)",
		Long: `unlock reads the password (a prompt, or --password-file) and logs in at the
nodes in the agent, which then serves every custos command and custos run of this
user without a password until it locks itself (--idle without a request,
--max-lifetime after this unlock) or custos lock. When no agent runs for the
vault, unlock starts one in the background with --idle and --max-lifetime.`,
		Example: `  custos unlock
  custos unlock --idle 15m --max-lifetime 4h
  custos run --env ACME_PASSWORD=acme-portal -- ./sync.sh`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			return g.unlockAgent(cmd.Context(), cmd, f)
		},
	}
	f.add(cmd)
	return cmd
}

func (g *globals) unlockAgent(ctx context.Context, cmd *cobra.Command, f agentFlags) error {
	path, err := g.vaultPath()
	if err != nil {
		return err
	}
	a, info, err := agent.Dial(ctx, path)
	end := func() {}
	if errors.Is(err, agent.ErrNoAgent) {
		a, info, end, err = startAgent(ctx, path, f)
	}
	if err != nil {
		return err
	}
	if !info.Unlocked {
		pw, err := g.readPassword(ctx, "Password: ", nil)
		if err == nil {
			info, err = a.Unlock(ctx, pw)
			clear(pw)
		}
		if err != nil {
			end() // the agent this unlock started, if any: not another's
			return err
		}
	}
	if g.json {
		return jsonLines(cmd.OutOrStdout(), unlockedJSON{Vault: info.Vault, PID: info.PID, Ends: info.Ends.UTC(),
			IdleSeconds: time.Duration(info.Idle).Seconds(), Device: info.Device})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "unlocked: the agent (pid %d) serves %s until %s, or %s after its last request; custos lock locks it\n",
		info.PID, info.Vault, info.Ends.Local().Format(time.DateTime), time.Duration(info.Idle))
	return nil
}

// startAgent starts custos agent in the background, in its own session,
// and waits until it answers. end ends the agent it started (SIGTERM) and
// waits for it; it does nothing when another custos unlock's agent
// answered instead.
func startAgent(ctx context.Context, path string, f agentFlags) (a *agent.Conn, info *agent.Info, end func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("start the agent: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, nil, err
	}
	// os.Args[0], not self, names the program: a binary that is several
	// commands (a test's) tells them apart by it.
	c := &exec.Cmd{Path: self, Args: []string{os.Args[0], "agent", "--vault", abs,
		"--idle", f.idle.String(), "--max-lifetime", f.maxLifetime.String()},
		Dir: "/", SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if err := c.Start(); err != nil {
		return nil, nil, nil, fmt.Errorf("start the agent: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	end = func() {
		_ = c.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		a, info, err := agent.Dial(ctx, abs)
		switch {
		case err == nil:
			return a, info, end, nil
		case !errors.Is(err, agent.ErrNoAgent):
			end()
			return nil, nil, nil, err
		case time.Now().After(deadline):
			c.Process.Kill()
			return nil, nil, nil, errors.New("start the agent: it did not answer within 15s")
		}
		select {
		case err := <-exited:
			// Another custos unlock may have started one first.
			if a, info, derr := agent.Dial(ctx, abs); derr == nil {
				return a, info, func() {}, nil
			}
			return nil, nil, nil, fmt.Errorf("start the agent: it ended (%v); custos agent in a terminal shows why", err)
		case <-ctx.Done():
			end()
			return nil, nil, nil, errInterrupted
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func lockCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "lock",
		Short: "Lock the agent: it forgets the login keys and lets go of the vault",
		Long: `lock makes the agent of the vault forget its login keys and close the vault at
once. Processes that ask it then get "locked: run custos unlock". A locked agent
ends by itself after its idle time.`,
		Example: `  custos lock`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := g.vaultPath()
			if err != nil {
				return err
			}
			a, _, err := agent.Dial(cmd.Context(), path)
			running := !errors.Is(err, agent.ErrNoAgent)
			if err != nil && running {
				return err
			}
			if running {
				if err := a.Lock(cmd.Context()); err != nil {
					return err
				}
			}
			switch {
			case g.json:
				return jsonLines(cmd.OutOrStdout(), lockedJSON{Agent: running, Locked: true})
			case running:
				fmt.Fprintln(cmd.OutOrStdout(), "locked")
			default:
				fmt.Fprintln(cmd.OutOrStdout(), "no agent runs for this vault")
			}
			return nil
		},
	}
}

// The --json shapes of unlock and lock (see output.go).
type unlockedJSON struct {
	Device      string    `json:"device"`
	Ends        time.Time `json:"ends"`
	IdleSeconds float64   `json:"idle_seconds"`
	PID         int       `json:"pid"`
	Vault       string    `json:"vault"`
}

type lockedJSON struct {
	Agent  bool `json:"agent"` // an agent ran for the vault
	Locked bool `json:"locked"`
}

// useAgent is the seam between the commands and a running agent: the
// commands an agent serves ask it, when one runs for the vault, instead of
// opening the vault, asking for the password and logging in; without one
// they run as they are.
func useAgent(root *cobra.Command, g *globals) {
	served := map[string]func(*cobra.Command, []string, *agent.Conn) error{
		"get": agentGet, "ls": agentList, "put": agentPut, "rm": agentDelete, "status": agentStatus, "history": agentHistory,
	}
	for _, cmd := range root.Commands() {
		via, ok := served[cmd.Name()]
		if !ok {
			continue
		}
		direct := cmd.RunE
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			if replace, _ := cmd.Flags().GetBool("replace"); replace {
				return direct(cmd, args) // put --replace is edit's change: it needs the vault
			}
			a, err := g.agent(cmd.Context())
			if errors.Is(err, agent.ErrNoAgent) {
				return direct(cmd, args)
			}
			if err != nil {
				return err
			}
			err = via(cmd, args, a)
			if errors.Is(err, agent.ErrLocked) && cmd.Name() == "ls" {
				return direct(cmd, args) // it needs no password: a locked agent lets go of the vault
			}
			return err
		}
	}
}

// agent is the agent of the vault, or agent.ErrNoAgent.
func (g *globals) agent(ctx context.Context) (*agent.Conn, error) {
	path, err := g.vaultPath()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, agent.ErrNoAgent // the command says there is no vault
	}
	a, _, err := agent.Dial(ctx, path)
	return a, err
}

func agentGet(cmd *cobra.Command, args []string, a *agent.Conn) error {
	field, _ := cmd.Flags().GetString("field")
	asJSON, _ := cmd.Flags().GetBool("json")
	if _, err := (&client.Record{}).Field(field); field != "" && err != nil {
		return usageError{err}
	}
	recs, err := a.GetMany(cmd.Context(), args[:1])
	if err != nil {
		return err
	}
	defer recs[0].Wipe()
	return printRecord(cmd.OutOrStdout(), args[0], recs[0], field, asJSON)
}

func agentList(cmd *cobra.Command, args []string, a *agent.Conn) error {
	asJSON, _ := cmd.Flags().GetBool("json")
	prefix := ""
	if len(args) == 1 {
		prefix = args[0]
	}
	units, err := a.List(cmd.Context(), prefix)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	if err := printUnits(out, units, prefix, asJSON); err != nil {
		return err
	}
	return out.Flush()
}

func agentPut(cmd *cobra.Command, args []string, a *agent.Conn) error {
	ctx, label := cmd.Context(), args[0]
	username, _ := cmd.Flags().GetString("username")
	minAcks, _ := cmd.Flags().GetInt("min-acks")
	// What can be checked comes before the secret, as without an agent.
	if !vault.ValidLabel(label) || !client.ValidUsername(username) {
		return fmt.Errorf("put %q: the label or the username is not valid (see custos put --help)", label)
	}
	if units, err := a.List(ctx, label); err != nil {
		return err
	} else if len(units) > 0 && units[0].Label == label {
		return fmt.Errorf("put %q: %w", label, client.ErrExists)
	}
	secret, err := readSecret(ctx)
	if err != nil {
		return err
	}
	defer clear(secret)
	rec := &client.Record{Username: username, Password: string(secret)}
	defer rec.Wipe()
	stored, missing, err := a.Put(ctx, label, rec, minAcks)
	if err != nil {
		return err
	}
	asJSON, _ := cmd.Flags().GetBool("json")
	return printPlacement(cmd.OutOrStdout(), label, stored, missing, asJSON)
}

func agentDelete(cmd *cobra.Command, args []string, a *agent.Conn) error {
	yes, _ := cmd.Flags().GetBool("yes")
	asJSON, _ := cmd.Flags().GetBool("json")
	if units, err := a.List(cmd.Context(), args[0]); err != nil {
		return err
	} else if len(units) == 0 || units[0].Label != args[0] {
		return fmt.Errorf("%q: %w", args[0], client.ErrNotFound) // before asking to confirm
	}
	if !yes {
		if err := confirm(cmd.Context(), fmt.Sprintf("Delete %s here and at every node? There is no undo. [y/N] ", shown(args[0]))); err != nil {
			return fmt.Errorf("rm %s: %w", shown(args[0]), err)
		}
	}
	if err := a.Delete(cmd.Context(), args[0]); err != nil {
		return err
	}
	if asJSON {
		return jsonLines(cmd.OutOrStdout(), deletedJSON{Label: args[0], Deleted: true})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", args[0])
	return nil
}

func agentStatus(cmd *cobra.Command, _ []string, a *agent.Conn) error {
	asJSON, _ := cmd.Flags().GetBool("json")
	st, err := a.Status(cmd.Context())
	if err != nil {
		return err
	}
	nodes := make([]client.NodeStatus, len(st.Nodes))
	for i, s := range st.Nodes {
		nodes[i] = client.NodeStatus{Name: s.Name, PeerID: s.PeerID, Reachable: s.Reachable, LoggedIn: s.LoggedIn, Latency: time.Duration(s.Latency)}
		if s.Error != "" {
			nodes[i].Err = errors.New(s.Error)
		}
	}
	printStatusOf(cmd.OutOrStdout(), nodes, st.Degraded, st.Pending, st.Held, asJSON)
	return reachable(nodes, st.Threshold)
}

func agentHistory(cmd *cobra.Command, args []string, a *agent.Conn) error {
	asJSON, _ := cmd.Flags().GetBool("json")
	label := ""
	if len(args) == 1 {
		label = args[0]
	}
	info, err := a.Info(cmd.Context())
	if err != nil {
		return err
	}
	this, err := peer.Decode(info.Device)
	if err != nil {
		return agent.ErrLocked // no device: the agent is not unlocked
	}
	hist, failed, err := a.History(cmd.Context(), label)
	if err != nil {
		return err
	}
	printHistory(cmd.OutOrStdout(), hist, this, asJSON)
	if len(failed) > 0 {
		var b strings.Builder
		for _, f := range failed {
			fmt.Fprintf(&b, "\n  %s", f)
		}
		return fmt.Errorf("history: no verified answer from %d nodes:%s", len(failed), b.String())
	}
	return nil
}
