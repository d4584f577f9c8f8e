package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/internal/atomicfile"
)

func networkCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "network", Short: "Make network files", Args: cobra.ArbitraryArgs, RunE: unknownCommand}
	var k int
	var out string
	newCmd := &cobra.Command{
		Use:   "new --threshold K --out FILE CARD...",
		Short: "Make a network file from the nodes' cards",
		Long: `network new makes the network file from the cards the nodes' operators printed
with custosd card: every node's name, pinned peer ID and addresses, and the threshold
K of nodes that must agree to open a record. Give the file to every user.`,
		Example: `  custos network new --threshold 3 --out network.yaml acme.card globex.card initech.card umbrella.card hooli.card`,
		RunE: func(cmd *cobra.Command, cards []string) error {
			if out == "" || k == 0 || len(cards) == 0 {
				return usageError{errors.New("network new needs --threshold, --out and the card files")}
			}
			var parsed []*api.Card
			for _, f := range cards {
				b, err := readFile(f, "a card", "a card file argument")
				if err != nil {
					return err
				}
				c, err := api.ParseCard(b)
				if err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
				parsed = append(parsed, c)
			}
			n, err := client.NewNetwork(k, parsed)
			if err != nil {
				return err
			}
			if err := atomicfile.CreateBytes(out, 0o644, n.Marshal()); err != nil {
				return err
			}
			if g.json {
				return jsonLines(cmd.OutOrStdout(), networkJSON{File: out, Nodes: len(n.Nodes), Threshold: n.Threshold})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d nodes, threshold %d\n", out, len(n.Nodes), n.Threshold)
			return nil
		},
	}
	newCmd.Flags().IntVar(&k, "threshold", 0, "how many nodes must agree to open a record")
	newCmd.Flags().StringVar(&out, "out", "", "the network file to write (must not exist)")
	cmd.AddCommand(newCmd)
	return cmd
}

func initCmd(g *globals) *cobra.Command {
	var netFile, user string
	cmd := &cobra.Command{
		Use:   "init --network FILE --user NAME",
		Short: "Make this device's vault for a network",
		Long: `init makes the vault: a copy of the network file, a new device key, a master
secret and a password salt, in a file only you can read. Nothing leaves the device.
Then enroll at the nodes with custos enroll.`,
		Example: `  custos init --network network.yaml --user alice`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if netFile == "" || user == "" {
				return usageError{errors.New("init needs --network and --user")}
			}
			path, err := g.vaultPath()
			if err != nil {
				return err
			}
			b, err := readFile(netFile, "the network file", "--network")
			if err != nil {
				return err
			}
			if err := client.Init(path, b, user); err != nil {
				return err
			}
			if g.json {
				return jsonLines(cmd.OutOrStdout(), vaultJSON{User: user, Vault: path})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "made vault %s for %s\nnext: custos enroll --token NODE=TOKEN ... (tokens from each node's operator)\n", path, user)
			return nil
		},
	}
	cmd.Flags().StringVar(&netFile, "network", "", "the network file")
	cmd.Flags().StringVar(&user, "user", "", "your user name at the nodes")
	return cmd
}

// open opens the vault, and says when a password change is pending;
// unlock also logs in (see globals.unlock).
func (g *globals) open(ctx context.Context, unlock bool) (*client.Client, error) {
	c, err := g.openWith(client.Options{Logger: warnings()})
	if err != nil {
		return nil, err
	}
	if !g.noted {
		noteChange(os.Stderr, c)
		g.noted = true
	}
	if !unlock {
		return c, nil
	}
	if err := g.unlock(ctx, c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// openWith opens the vault with o.
func (g *globals) openWith(o client.Options) (*client.Client, error) {
	path, err := g.vaultPath()
	if err != nil {
		return nil, err
	}
	return client.Open(path, o)
}

// unlock reads the password and logs in. A command checks first what it
// can check on this device (a label, a field), so that a mistake there
// costs no prompt and no counted login. While a password change that
// every node staged is pending, the prompt asks for the new password.
func (g *globals) unlock(ctx context.Context, c *client.Client) error {
	prompt := "Password: "
	if p := c.PendingPasswordChange(); p != nil && p.NewPassword() {
		prompt = "New password (a password change is pending): "
	}
	pw, err := g.readPassword(ctx, prompt, nil)
	if err != nil {
		return err
	}
	defer clear(pw)
	return c.Unlock(ctx, pw)
}

// openRecord opens the vault and checks that it holds the record label,
// before any password is asked for.
func (g *globals) openRecord(ctx context.Context, label string) (*client.Client, error) {
	c, err := g.open(ctx, false)
	if err != nil {
		return nil, err
	}
	if err := c.Check(label); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// warnings is the library's logger in the CLI: its warnings (a node that
// sent a wrong share, say) as "custos: warning: …" lines on stderr.
func warnings() *zap.Logger {
	enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{
		MessageKey: "msg", LevelKey: "level", ConsoleSeparator: " ",
		EncodeLevel: func(_ zapcore.Level, e zapcore.PrimitiveArrayEncoder) { e.AppendString("custos: warning:") },
	})
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(os.Stderr), zapcore.WarnLevel))
}

func enrollCmd(g *globals) *cobra.Command {
	var tokens map[string]string
	var open, allowWeak bool
	cmd := &cobra.Command{
		Use:   "enroll --token NODE=TOKEN... [--open]",
		Short: "Register this device and your password at every node",
		Long: `enroll registers this device at every node of the network, with the invite
token each node's operator gave you. Choose the password here; it is never sent
anywhere. The first enroll deals a key that hardens the password among the nodes
(login v2): each node gets one share of it and a login key made with it, so that a
password can only be tested online, with the help of a threshold of nodes that each
count every guess.

It first logs in at every node, and reports each one: already enrolled (it took
the password), enrolled now, or not enrolled and why (token refused, no token
given, unreachable). Run it again with the missing tokens and the same password
to finish: until then the vault holds the key shares of the nodes not reached yet,
and custos status says so. When this device is enrolled at some nodes with another
password, it enrolls nowhere else. --open also asks the nodes it has no token for to
enroll without one (nodes with open enrollment, for development).

It exits 0 once this device is enrolled at every node.`,
		Example: `  custos enroll --token acme=custos-invite-… --token globex=custos-invite-…`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(tokens) == 0 && !open {
				return usageError{errors.New("enroll needs an invite token per node (--token NODE=TOKEN), or --open for nodes that enroll without one")}
			}
			c, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.CheckTokens(tokens); err != nil {
				return fmt.Errorf("--token: %w", err)
			}
			ask := maps.Clone(tokens)
			if ask == nil {
				ask = map[string]string{}
			}
			for _, n := range c.Network().Nodes {
				if _, ok := ask[n.Name]; !ok && open {
					ask[n.Name] = ""
				}
			}
			pw, err := g.readPassword(cmd.Context(), "Password to enroll with: ", &strengthPolicy{allow: allowWeak, asJSON: g.json, hints: []string{c.User()}})
			if err != nil {
				return err
			}
			defer clear(pw)
			results, err := c.Enroll(cmd.Context(), pw, ask)
			if results != nil {
				printEnrolled(cmd.OutOrStdout(), results, g.json)
			}
			if err != nil {
				return err
			}
			return enrollError(results)
		},
	}
	cmd.Flags().StringToStringVar(&tokens, "token", nil, "NODE=TOKEN: the invite token of a node (repeat per node)")
	cmd.Flags().BoolVar(&open, "open", false, "ask the nodes without a --token to enroll without one (open enrollment)")
	cmd.Flags().BoolVar(&allowWeak, "allow-weak-password", false, "take a password that the strength estimate finds weak, with a warning")
	return cmd
}

// printEnrolled prints each node's state and a summary line; as JSON, a
// line per node.
func printEnrolled(out io.Writer, results []client.EnrollResult, asJSON bool) {
	if asJSON {
		for _, r := range results {
			_ = jsonLines(out, enrolledJSON{Node: r.Node, Enrolled: r.OK(), State: r.State.String(), Error: errText(r.Err)})
		}
		return
	}
	var now, already int
	for _, r := range results {
		switch {
		case !r.OK():
		case r.State == client.EnrolledNow:
			now++
		default:
			already++
		}
	}
	fmt.Fprintf(out, "enrolled at %d of %d nodes (%d now, %d already)\n", now+already, len(results), now, already)
	for _, r := range results {
		line := fmt.Sprintf("  %s: %s", r.Node, r.State)
		if r.Err != nil {
			line += ": " + r.Err.Error()
		}
		fmt.Fprintln(out, line)
	}
}

// enrollError is nil when the device is enrolled at every node, else a
// *client.QuorumError (of all the nodes) naming the others and why.
func enrollError(results []client.EnrollResult) error {
	q := &client.QuorumError{Op: "enroll", Need: len(results)}
	for _, r := range results {
		if r.OK() {
			q.Have++
			continue
		}
		q.Nodes = append(q.Nodes, &client.NodeError{Node: r.Node, Err: r.Err})
	}
	if q.Have == q.Need {
		return nil
	}
	return q
}

func putCmd(g *globals) *cobra.Command {
	var username string
	var minAcks int
	cmd := &cobra.Command{
		Use:   "put LABEL [--username U]",
		Short: "Store a secret under a label",
		Long: `put seals a secret (read from a hidden prompt, or from stdin) under LABEL on
this device and places one share of its key at every node. It succeeds only when
every node stored its share (or --min-acks of them, at least threshold+1; such a
record is listed as degraded); otherwise nothing is kept. The label never leaves
this device.`,
		Example: `  custos put acme-portal --username svc-acme
  printf '%s' "$SECRET" | custos put acme-portal --username svc-acme --password-file ~/.custos-pw`,
		Args: exactArgs(1, "one label"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, label := cmd.Context(), args[0]
			c, err := g.open(ctx, false)
			if err != nil {
				return err
			}
			defer c.Close()
			// What this device can check comes before the secret, the
			// password and any node.
			if err := c.CheckPut(label, &client.Record{Username: username}); err != nil {
				return err
			}
			if k, n := c.Network().Threshold, len(c.Network().Nodes); minAcks != 0 && (minAcks <= k || minAcks > n) {
				return usageError{fmt.Errorf("--min-acks %d: it must be from %d (threshold+1) to %d", minAcks, k+1, n)}
			}
			secret, err := readSecret(ctx)
			if err != nil {
				return err
			}
			defer clear(secret)
			if err := g.unlock(ctx, c); err != nil {
				return err
			}
			rec := &client.Record{Username: username, Password: string(secret)}
			defer rec.Wipe()
			if err := c.Put(ctx, label, rec, client.PutOptions{MinAcks: minAcks}); err != nil {
				return err
			}
			return printStored(cmd.OutOrStdout(), c, label, g.json)
		},
	}
	cmd.Flags().StringVar(&username, "username", "", "the vendor username stored with the secret")
	cmd.Flags().IntVar(&minAcks, "min-acks", 0, "succeed when this many nodes stored their share (default: all)")
	return cmd
}

// printStored says where the record label is stored: at every node, or
// at those that acknowledged, degraded.
func printStored(out io.Writer, c *client.Client, label string, asJSON bool) error {
	stored, missing, err := c.Placement(label)
	if err != nil {
		return err
	}
	if asJSON {
		return jsonLines(out, storedJSON{Label: label, Degraded: len(missing) > 0, Stored: nonNil(stored), Missing: nonNil(missing)})
	}
	n := len(stored) + len(missing)
	if len(missing) == 0 {
		fmt.Fprintf(out, "stored %s at %d of %d nodes\n", label, n, n)
		return nil
	}
	fmt.Fprintf(out, "stored %s at %d of %d nodes; degraded: not at %s (custos status shows why a node fails)\n",
		label, len(stored), n, strings.Join(missing, ", "))
	return nil
}

func getCmd(g *globals) *cobra.Command {
	var field string
	cmd := &cobra.Command{
		Use:   "get LABEL [--field F] [--json]",
		Short: "Unlock a record and print it",
		Long: `get asks the nodes for their shares, checks each, opens the record on this
device and prints it: the username and password, or one --field (username or
password) alone, which suits scripts. A node that sent a wrong share is named.`,
		Example: `  custos get acme-portal
  custos get acme-portal --field password --password-file ~/.custos-pw`,
		Args: exactArgs(1, "one label"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A mistyped field is refused before any node releases a share
			// (and logs the release).
			if _, err := (&client.Record{}).Field(field); field != "" && err != nil {
				return usageError{err}
			}
			c, err := g.openRecord(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer c.Close()
			if err := g.unlock(cmd.Context(), c); err != nil {
				return err
			}
			rec, err := c.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer rec.Wipe()
			out := cmd.OutOrStdout()
			switch {
			case field != "":
				v, err := rec.Field(field)
				if err != nil {
					return usageError{err}
				}
				fmt.Fprintln(out, v)
			case g.json:
				return jsonLines(out, recordJSON{Label: args[0], Username: rec.Username, Password: rec.Password})
			default:
				fmt.Fprintf(out, "username: %s\npassword: %s\n", shown(rec.Username), shown(rec.Password))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&field, "field", "", "print one field alone, as it is: username or password")
	cmd.ValidArgsFunction = g.completeLabels
	return cmd
}

// completeLabels completes a label argument from the vault's listing: no
// password, no node asked. A command takes one label; where the vault
// cannot be read, nothing is offered.
func (g *globals) completeLabels(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, err := g.openWith(client.Options{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	defer c.Close()
	units, err := c.List(toComplete)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	labels := make([]cobra.Completion, len(units))
	for i, u := range units {
		labels[i] = u.Label
	}
	return labels, cobra.ShellCompDirectiveNoFileComp
}

// shown is a value as get prints it by default: as it is when it reads
// unambiguously on its line, else quoted with Go's escapes (a control
// character such as a newline, a space at either end, a leading quote,
// bytes that are not UTF-8), so that no value can pass for another line.
func shown(v string) string {
	if v == "" {
		return v
	}
	plain := utf8.ValidString(v) && v[0] != '"' && v[0] != ' ' && v[len(v)-1] != ' '
	for _, r := range v {
		plain = plain && unicode.IsPrint(r)
	}
	if plain {
		return v
	}
	return strconv.Quote(v)
}

func lsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ls [PREFIX] [--json]",
		Short: "List the records in the vault (no secrets, no network)",
		Long: `ls lists the records in the vault, in label order, or with PREFIX those whose
label starts with it. It reads no record's secret and asks no node.`,
		Example: `  custos ls
  custos ls acme-`,
		Args: atMostArgs(1, "at most one label prefix"),
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix := ""
			if len(args) == 1 {
				prefix = args[0]
			}
			c, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer c.Close()
			units, err := c.List(prefix)
			if err != nil {
				return err
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			if err := printUnits(out, units, prefix, g.json); err != nil {
				return err
			}
			return out.Flush()
		},
	}
	cmd.ValidArgsFunction = g.completeLabels
	return cmd
}

func printUnits(out io.Writer, units []client.Unit, prefix string, asJSON bool) error {
	if asJSON {
		for _, u := range units {
			if err := jsonLines(out, unitJSON{Label: u.Label, UnitID: u.ID.String(), Version: u.Version,
				Threshold: u.Threshold, Nodes: u.Nodes, Degraded: u.Degraded, Created: u.Created}); err != nil {
				return err
			}
		}
		return nil
	}
	switch {
	case len(units) == 0 && prefix != "":
		fmt.Fprintf(out, "no records whose label starts with %s\n", shown(prefix))
	case len(units) == 0:
		fmt.Fprintln(out, "no records; store one with custos put LABEL")
	}
	for _, u := range units {
		state := ""
		if u.Degraded {
			state = "  DEGRADED (not stored at every node)"
		}
		fmt.Fprintf(out, "%-32s %d of %d  stored %s%s\n", u.Label, u.Threshold, u.Nodes, u.Created.Local().Format(time.DateTime), state)
	}
	return nil
}

func rmCmd(g *globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "rm LABEL [--yes]",
		Short: "Delete a record here and its shares at the nodes",
		Long: `rm deletes a record from the vault and its shares at every node that answers;
nodes that do not are asked again at the next unlock. There is no undo.

At a terminal it asks first (y to delete). A script gives --yes; without a
terminal to ask at and without --yes, rm refuses and deletes nothing.`,
		Example: `  custos rm acme-portal
  custos rm acme-portal --yes --password-file ~/.custos-pw`,
		Args: exactArgs(1, "one label"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.openRecord(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer c.Close()
			if !yes {
				if err := confirm(cmd.Context(), fmt.Sprintf("Delete %s here and at every node? There is no undo. [y/N] ", shown(args[0]))); err != nil {
					return fmt.Errorf("rm %s: %w", shown(args[0]), err)
				}
			}
			if err := g.unlock(cmd.Context(), c); err != nil {
				return err
			}
			if err := c.Delete(cmd.Context(), args[0]); err != nil {
				return err
			}
			if g.json {
				return jsonLines(cmd.OutOrStdout(), deletedJSON{Label: args[0], Deleted: true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking (for scripts)")
	cmd.ValidArgsFunction = g.completeLabels
	return cmd
}

// printEnrollment says when this device's enrollment is unfinished: which
// nodes it has not reached, and that the vault holds their login key
// shares until then (docs/vault.md, "An unfinished enrollment").
func printEnrollment(out io.Writer, c *client.Client) {
	pending, held := c.Enrollment()
	switch {
	case len(pending) == 0:
	case !held:
		fmt.Fprintf(out, "not enrolled yet: custos enroll --token NODE=TOKEN for each node\n")
	default:
		fmt.Fprintf(out, "enrollment unfinished: not enrolled at %s; until it is, this vault holds their login key shares, "+
			"so a copy of it and the disks of fewer custodians than usual could test passwords offline (docs/vault.md); "+
			"finish it with custos enroll --token NODE=TOKEN\n", strings.Join(pending, ", "))
	}
}

func statusCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show each node: reachable, logged in, latency; degraded records; an unfinished enrollment",
		Long: `status logs in and shows each node of the network: reachable, logged in, the
latency of a request, and why a node fails; then the records not stored at every node
and an enrollment not finished.

It exits 0 when at least the threshold of nodes answer, and 3 when fewer do (no
record can be opened then), after printing every node.`,
		Example: `  custos status --password-file ~/.custos-pw
  custos status --json || echo "not enough custodians"`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.open(cmd.Context(), true)
			if err != nil && (!errors.Is(err, client.ErrNotEnoughCustodians) || cmd.Context().Err() != nil) {
				return err
			}
			if c == nil {
				// Not enough nodes for a login: say why, and still show
				// who answers.
				fmt.Fprintf(cmd.ErrOrStderr(), "custos: warning: not logged in: %v\n", err)
				if c, err = g.open(cmd.Context(), false); err != nil {
					return err
				}
			}
			defer c.Close()
			st := c.Status(cmd.Context())
			if cmd.Context().Err() != nil {
				return errInterrupted // what it would show was cut short
			}
			if err := printStatus(cmd.OutOrStdout(), c, st, g.json); err != nil {
				return err
			}
			return reachable(st, c.Network().Threshold)
		},
	}
	return cmd
}

// belowThresholdError: fewer than the threshold of nodes answer custos
// status (exit code 3).
type belowThresholdError struct{ have, need, of int }

func (e *belowThresholdError) Error() string {
	return fmt.Sprintf("only %d of %d nodes answer; %d are needed to open a record", e.have, e.of, e.need)
}

// reachable is nil when at least k of the nodes in st answer.
func reachable(st []client.NodeStatus, k int) error {
	have := 0
	for _, s := range st {
		if s.Reachable {
			have++
		}
	}
	if have < k {
		return &belowThresholdError{have: have, need: k, of: len(st)}
	}
	return nil
}

// printStatus prints each node's state, then the degraded records and an
// unfinished enrollment; as JSON, a line per node.
func printStatus(out io.Writer, c *client.Client, st []client.NodeStatus, asJSON bool) error {
	if asJSON {
		pending, _ := c.Enrollment()
		for _, s := range st {
			_ = jsonLines(out, nodeStatusJSON{Node: s.Name, PeerID: s.PeerID, Reachable: s.Reachable, LoggedIn: s.LoggedIn,
				LatencyMs: s.Latency.Seconds() * 1000, Error: errText(s.Err), Enrolled: !slices.Contains(pending, s.Name)})
		}
		return nil
	}
	for _, s := range st {
		state := "unreachable"
		switch {
		case s.LoggedIn:
			state = "logged in"
		case s.Reachable:
			state = "reachable"
		}
		line := fmt.Sprintf("%-16s %-12s %8s", s.Name, state, s.Latency.Round(100*time.Microsecond))
		if s.Err != nil {
			line += "  " + s.Err.Error()
		}
		fmt.Fprintln(out, line)
	}
	units, err := c.List("")
	if err != nil {
		return err
	}
	for _, u := range units {
		if u.Degraded {
			fmt.Fprintf(out, "degraded: %s (not stored at every node)\n", u.Label)
		}
	}
	printEnrollment(out, c)
	return nil
}

// errText is err's message, "" for none, as --json shows it.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
