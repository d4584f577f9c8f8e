package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/custos-network/custos/client"
)

func reshareCmd(g *globals) *cobra.Command {
	var netFile string
	var tokens map[string]string
	var dryRun bool
	var minAcks int
	cmd := &cobra.Command{
		Use:   "reshare --network FILE [--token NODE=TOKEN]... [--dry-run] [--json]",
		Short: "Move every record and the login to another network file",
		Long: `reshare moves your records and your login to the network FILE: custodians added,
removed or replaced, the threshold changed. It deals a new login key over the new
network (staged at the nodes that stay, enrolled at the nodes that join, each with
the invite token its operator gave you: --token NODE=TOKEN), moves every record
(released from the old nodes, new shares placed at every new node, then the old
version deleted), asks the nodes that leave to delete every share of yours, mends
degraded records, and finally makes FILE the vault's network file.

Each step is recorded in the vault: if it is interrupted, run the same command
again to finish it (a reshare to another file is refused meanwhile). Every record
opens throughout, with the old network or the new one. --dry-run prints what it
would do and asks nothing of any node. A reshare to the vault's own network file
mends the degraded records.

On a terminal it shows a progress bar on stderr; --json prints progress lines on
stdout instead (and the plan as one object with --dry-run).`,
		Example: `  custos reshare --network network-2027.yaml --dry-run
  custos reshare --network network-2027.yaml --token n6=custos-invite-… --token n7=custos-invite-…`,
		Args: exactArgs(0, "no arguments (the new network file is --network)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if netFile == "" {
				return usageError{errors.New("reshare needs --network FILE, the network file to move to")}
			}
			b, err := readFile(netFile, "the network file", "--network")
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := g.open(ctx, false)
			if err != nil {
				return err
			}
			defer c.Close()
			plan, err := c.PlanReshare(b, tokens)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if dryRun && g.json {
				return jsonLines(out, planJSON{Network: netFile, OldThreshold: plan.OldThreshold, NewThreshold: plan.NewThreshold,
					Stay: nonNil(plan.Stay), Join: nonNil(plan.Join), Leave: nonNil(plan.Leave), Records: plan.Records,
					Degraded: plan.Degraded, MissingTokens: nonNil(plan.MissingTokens), UnderWay: underWay(plan)})
			}
			if dryRun {
				printPlan(out, netFile, plan)
				return nil
			}
			if len(plan.MissingTokens) > 0 {
				return fmt.Errorf("no invite token for the nodes that join: %s; give --token NODE=TOKEN for each (from its operator)", strings.Join(plan.MissingTokens, ", "))
			}
			pw, err := g.readPassword(ctx, "Password: ", nil)
			if err != nil {
				return err
			}
			defer clear(pw)
			p := newProgress(out, "reshare", g.json)
			res, err := c.Reshare(ctx, b, pw, tokens, client.ChangeOptions{MinAcks: minAcks, Progress: p.update})
			p.finish()
			if err != nil {
				return err
			}
			for _, n := range res.Unreached {
				fmt.Fprintf(cmd.ErrOrStderr(), "custos: warning: %s left the network and did not confirm deleting every share of yours and closing your account: ask its operator to remove your data (custosd users shows what it still holds)\n", n)
			}
			if !g.json {
				fmt.Fprintf(out, "moved %d records to %s: the vault's network is %d of %d nodes now\n", res.Moved, netFile, plan.NewThreshold, len(plan.Stay)+len(plan.Join))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&netFile, "network", "", "the network file to move to")
	cmd.Flags().StringToStringVar(&tokens, "token", nil, "NODE=TOKEN: the invite token of a node that joins (repeat per node)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what the reshare would do, and do nothing")
	cmd.Flags().IntVar(&minAcks, "min-acks", 0, "a record moves when this many new nodes stored its share (default: all)")
	return cmd
}

// planJSON is reshare --dry-run --json.
type planJSON struct {
	Network       string   `json:"network"`
	OldThreshold  int      `json:"old_threshold"`
	NewThreshold  int      `json:"new_threshold"`
	Stay          []string `json:"stay"`
	Join          []string `json:"join"`
	Leave         []string `json:"leave"`
	Records       int      `json:"records"`
	Degraded      int      `json:"degraded"`
	MissingTokens []string `json:"missing_tokens"`
	UnderWay      string   `json:"under_way,omitempty"`
}

func underWay(p *client.ResharePlan) string {
	if p.UnderWay == 0 {
		return ""
	}
	return p.UnderWay.String()
}

// noteReshare says on w when a reshare is under way: records already
// moved open only once it is finished.
func noteReshare(w io.Writer, c *client.Client) {
	if stage := c.PendingReshare(); stage != 0 {
		fmt.Fprintf(w, "custos: note: a reshare to another network is under way (%s): finish it with custos reshare --network FILE\n", stage)
	}
}

// printPlan prints what a reshare would do.
func printPlan(out io.Writer, file string, p *client.ResharePlan) {
	list := func(names []string) string {
		if len(names) == 0 {
			return "none"
		}
		return strings.Join(names, ", ")
	}
	fmt.Fprintf(out, "reshare to %s: threshold %d → %d of %d nodes\n", file, p.OldThreshold, p.NewThreshold, len(p.Stay)+len(p.Join))
	fmt.Fprintf(out, "  stay:  %s\n  join:  %s\n  leave: %s\n", list(p.Stay), list(p.Join), list(p.Leave))
	fmt.Fprintf(out, "  records to move: %d (%d degraded)\n", p.Records, p.Degraded)
	if len(p.MissingTokens) > 0 {
		fmt.Fprintf(out, "  missing tokens: %s (give --token NODE=TOKEN for each)\n", list(p.MissingTokens))
	}
	if p.UnderWay != 0 {
		fmt.Fprintf(out, "  under way: %s; this run resumes it\n", p.UnderWay)
	}
}
