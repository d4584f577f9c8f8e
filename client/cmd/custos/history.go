package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/custos-network/custos/client"
)

func historyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "history [LABEL] [--json]",
		Short: "Show every release of your records at every node, verified, newest first",
		Long: `history logs in and asks every node, in parallel, for the entries of its audit
log about you. Each comes with a proof that it is in the log the node signed with
the key the network file pins; custos checks every one. It prints each release of
your records, and each refused one: time, node, record (its label, or its unit ID
in hex for a record no longer in the vault) and outcome, newest first. With LABEL,
only that record's.

A node whose answers do not verify, or that cannot be asked, is named and none of
its entries are shown; the command then exits 1 after printing the others'.`,
		Example: `  custos history
  custos history acme-portal --json`,
		Args: atMostArgs(1, "at most one label"),
		RunE: func(cmd *cobra.Command, args []string) error {
			label := ""
			if len(args) == 1 {
				label = args[0]
			}
			c, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer c.Close()
			// An unknown label costs no prompt and no login.
			if label != "" {
				if _, ok, err := c.Unit(label); err != nil {
					return err
				} else if !ok {
					return fmt.Errorf("%q: %w", label, client.ErrNotFound)
				}
			}
			if err := g.unlock(cmd.Context(), c); err != nil {
				return err
			}
			hist, failed, err := c.History(cmd.Context(), label)
			if err != nil {
				return err
			}
			printHistory(cmd.OutOrStdout(), hist, g.json)
			if len(failed) > 0 {
				names := make([]string, len(failed))
				var b strings.Builder
				for i, f := range failed {
					names[i] = f.Node
					fmt.Fprintf(&b, "\n  %s", f)
				}
				return fmt.Errorf("history: no verified answer from %s:%s", strings.Join(names, ", "), b.String())
			}
			return nil
		},
	}
	cmd.ValidArgsFunction = g.completeLabels
	return cmd
}

func printHistory(out io.Writer, hist []client.HistoryEntry, asJSON bool) {
	for _, h := range hist {
		outcome := "released"
		if !h.Released {
			outcome = "refused: " + h.Outcome.String()
			if h.Reason != "" {
				outcome += " (" + h.Reason + ")"
			}
		}
		if asJSON {
			_ = jsonLines(out, historyJSON{Time: jsonTime(h.Time), Node: h.Node, Index: h.Index, Label: h.Label,
				UnitID: h.UnitID, Version: h.Version, Released: h.Released, Outcome: h.Outcome.String(), Reason: h.Reason})
			continue
		}
		name := h.Label
		if name == "" {
			name = h.UnitID
		}
		fmt.Fprintf(out, "%s  %s  %s  %s\n", h.Time.UTC().Format(time.RFC3339), h.Node, name, outcome)
	}
}
