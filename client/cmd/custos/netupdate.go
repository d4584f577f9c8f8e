package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// nodeUpdateJSON is a --json line of network update: one per node changed.
type nodeUpdateJSON struct {
	Node         string `json:"node"`
	OldName      string `json:"old_name,omitempty"`
	NewAddresses bool   `json:"new_addresses"`
}

func networkUpdateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "update FILE",
		Short: "Adopt a network file with new addresses or names of the same nodes",
		Long: `network update makes FILE the vault's network file when it lists the same
custodians (peer IDs, in the same order) with the same threshold: nodes that moved
to new addresses, or were renamed by their operators. A renamed node is renamed
wherever the vault names it. Nothing is asked of any node, and no password.

A file that adds, removes or replaces a custodian, reorders them or changes the
threshold is refused, with what differs: the records must move to it with
custos reshare --network FILE. --json prints a line per node changed.`,
		Example: `  custos network update network-2026.yaml`,
		Args:    exactArgs(1, "one network file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readFile(args[0], "the network file", "the FILE argument")
			if err != nil {
				return err
			}
			c, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer c.Close()
			changed, err := c.UpdateNetwork(b)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.json {
				for _, u := range changed {
					_ = jsonLines(out, nodeUpdateJSON{Node: u.Node, OldName: u.OldName, NewAddresses: u.Readdress})
				}
				return nil
			}
			if len(changed) == 0 {
				fmt.Fprintln(out, "the network file is the vault's already: nothing to do")
				return nil
			}
			for _, u := range changed {
				switch {
				case u.OldName != "" && u.Readdress:
					fmt.Fprintf(out, "%s: renamed from %s, new addresses\n", u.Node, u.OldName)
				case u.OldName != "":
					fmt.Fprintf(out, "%s: renamed from %s\n", u.Node, u.OldName)
				default:
					fmt.Fprintf(out, "%s: new addresses\n", u.Node)
				}
			}
			fmt.Fprintf(out, "updated the vault's network file: %d nodes changed\n", len(changed))
			return nil
		},
	}
}
