package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/custos-network/custos/client"
)

// The commands that change records: put --replace (putCmd), edit, rotate.

// checkPut checks on this device what put LABEL can check: with replace,
// that the record exists and username is valid.
func checkPut(c *client.Client, label, username string, replace bool) error {
	if !replace {
		return c.CheckPut(label, &client.Record{Username: username})
	}
	if err := c.Check(label); err != nil {
		return err
	}
	return (&client.Record{Username: username, Password: "-"}).Validate()
}

// replaceRecord is put --replace: a new version of label holding rec.
func replaceRecord(ctx context.Context, g *globals, out io.Writer, c *client.Client, label string, rec *client.Record, minAcks int) error {
	if err := g.unlock(ctx, c); err != nil {
		return err
	}
	if err := c.Replace(ctx, label, rec, client.PutOptions{MinAcks: minAcks}); err != nil {
		return err
	}
	return printReplaced(out, c, label, g.json)
}

// printReplaced says which version label is at now, and where it is
// stored (as put does, with --json).
func printReplaced(out io.Writer, c *client.Client, label string, asJSON bool) error {
	u, _, err := c.Unit(label)
	if err != nil {
		return err
	}
	if !asJSON {
		fmt.Fprintf(out, "replaced %s: version %d; the old version is deleted at the nodes\n", label, u.Version)
	}
	return printStored(out, c, label, asJSON)
}

func editCmd(g *globals) *cobra.Command {
	var username string
	var setUsername bool
	cmd := &cobra.Command{
		Use:   "edit LABEL [--username U]",
		Short: "Change a record's secret (a new version under a new key)",
		Long: `edit unlocks the record LABEL, shows its username, and asks for the new secret
twice (on a terminal; from stdin otherwise). --username changes the username too.
The new version is sealed under a new server key and placed at every node; only
then is the old version deleted at the nodes. If it is interrupted, the record
keeps its old version, and the next command that logs in finishes the change.`,
		Example: `  custos edit acme-portal
  printf '%s' "$NEW" | custos edit acme-portal --password-file ~/.custos-pw`,
		Args: exactArgs(1, "one label"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, label := cmd.Context(), args[0]
			setUsername = cmd.Flags().Changed("username")
			if setUsername && !client.ValidUsername(username) {
				return usageError{fmt.Errorf("--username %q is not a valid username", username)}
			}
			c, err := g.openRecord(ctx, label)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := g.unlock(ctx, c); err != nil {
				return err
			}
			old, err := c.Get(ctx, label)
			if err != nil {
				return err
			}
			rec := &client.Record{Username: old.Username}
			old.Wipe()
			defer rec.Wipe()
			if setUsername {
				rec.Username = username
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "username: %s\n", shown(rec.Username))
			secret, err := readNewSecret(ctx)
			if err != nil {
				return err
			}
			rec.Password = string(secret)
			clear(secret)
			if err := c.Replace(ctx, label, rec, client.PutOptions{}); err != nil {
				return err
			}
			return printReplaced(cmd.OutOrStdout(), c, label, g.json)
		},
	}
	cmd.Flags().StringVar(&username, "username", "", "a new username for the record")
	return cmd
}

// readNewSecret reads a record's new secret: from a hidden prompt on a
// terminal, asked twice, else all of stdin.
func readNewSecret(ctx context.Context) ([]byte, error) {
	if !stdinIsTerminal() {
		return readSecret(ctx)
	}
	b, err := promptTwice(ctx, "New secret: ", "new secret")
	if errors.Is(err, errNothingTyped) {
		return nil, errors.New("no secret given")
	}
	return b, err
}

func rotateCmd(g *globals) *cobra.Command {
	var all bool
	var minAcks int
	cmd := &cobra.Command{
		Use:   "rotate [LABEL...|--all] [--json]",
		Short: "Give records new server keys, their contents unchanged",
		Long: `rotate gives each record named (or every record, with --all) a new version
under a new server key, with the same username and secret: the nodes release the
old versions in batches, the new shares are placed at every node (or --min-acks),
and the old versions are deleted at the nodes only after that. A record that too
few nodes store keeps its old version, and rotate stops there. If it is
interrupted, every record keeps its old version or has its new one, and the next
command that logs in finishes the records under way.

On a terminal it shows a progress bar on stderr; --json prints a line of progress
per batch on stdout instead; in a script it is quiet.`,
		Example: `  custos rotate acme-portal globex-sftp
  custos rotate --all --password-file ~/.custos-pw --json`,
		RunE: func(cmd *cobra.Command, labels []string) error {
			if all == (len(labels) > 0) {
				return usageError{errors.New("rotate takes the labels of the records to rotate, or --all")}
			}
			ctx := cmd.Context()
			c, err := g.open(ctx, false)
			if err != nil {
				return err
			}
			defer c.Close()
			for _, l := range labels {
				if err := c.Check(l); err != nil {
					return err
				}
			}
			if k, n := c.Network().Threshold, len(c.Network().Nodes); minAcks != 0 && (minAcks <= k || minAcks > n) {
				return usageError{fmt.Errorf("--min-acks %d: it must be from %d (threshold+1) to %d", minAcks, k+1, n)}
			}
			if err := g.unlock(ctx, c); err != nil {
				return err
			}
			p := newProgress(cmd.OutOrStdout(), "rotate", g.json)
			err = c.Rotate(ctx, labels, client.ChangeOptions{MinAcks: minAcks, Progress: p.update})
			p.finish()
			if err != nil {
				return err
			}
			if !g.json {
				fmt.Fprintf(cmd.OutOrStdout(), "rotated %d records\n", p.done)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "rotate every record in the vault")
	cmd.Flags().IntVar(&minAcks, "min-acks", 0, "a record changes when this many nodes stored its new share (default: all)")
	return cmd
}

// progress shows how far a long change is: a bar on a terminal (stderr),
// JSON lines when asked, nothing in a script.
type progress struct {
	op    string
	out   io.Writer // JSON lines, or nil
	bar   *progressbar.ProgressBar
	start time.Time
	done  int
}

// progressJSON is a --json line of a change's progress.
type progressJSON struct {
	Op           string  `json:"op"`
	Done         int     `json:"done"`
	Total        int     `json:"total"`
	PerSecond    float64 `json:"per_second"`
	SecondsLeft  float64 `json:"seconds_left"`
	ElapsedMilli int64   `json:"elapsed_ms"`
}

func newProgress(out io.Writer, op string, asJSON bool) *progress {
	p := &progress{op: op, start: time.Now()}
	if asJSON {
		p.out = out
	}
	return p
}

// update is a client.ChangeProgress.
func (p *progress) update(done, total int) {
	p.done = done
	if p.out != nil {
		elapsed := time.Since(p.start)
		rate := float64(done) / max(elapsed.Seconds(), 1e-3)
		left := 0.0
		if rate > 0 {
			left = float64(total-done) / rate
		}
		_ = jsonLines(p.out, progressJSON{Op: p.op, Done: done, Total: total, PerSecond: rate, SecondsLeft: left, ElapsedMilli: elapsed.Milliseconds()})
		return
	}
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription(p.op),
			progressbar.OptionShowCount(), progressbar.OptionSetItsString("records"), progressbar.OptionShowIts(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
	}
	_ = p.bar.Set(done)
}

// finish clears the bar.
func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
