package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/custos-network/custos/client"
)

func deviceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device",
		Short: "List or revoke the devices enrolled for you",
		Long: `device lists the devices enrolled for you at every node (ls) and revokes one of
them at every node (revoke). A device is added with custos vault import and a
new-device token from each node's operator.`,
		Example: `  custos device ls
  custos device revoke 12D3KooWQ…`,
		Args: cobra.ArbitraryArgs,
		RunE: unknownCommand,
	}
	cmd.AddCommand(deviceLsCmd(g), deviceRevokeCmd(g))
	return cmd
}

func deviceLsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ls [--json]",
		Short: "List your devices as each node knows them",
		Long: `device ls logs in and lists, node by node, the devices enrolled for you there:
each device's ID (its key's peer ID), when it was added, whether it was revoked, and
which one is this device. A device is added with custos vault import and a
new-device token from each node's operator; custos device revoke removes one.`,
		Example: `  custos device ls
  custos device ls --json --password-file ~/.pw`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.open(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer c.Close()
			nodes, err := c.Devices(cmd.Context())
			if err != nil {
				return err
			}
			return printDevices(cmd.OutOrStdout(), nodes, g.json)
		},
	}
	return cmd
}

func deviceRevokeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke DEVICE",
		Short: "Revoke one of your devices at every node",
		Long: `device revoke logs in and revokes the device DEVICE (an ID that custos device ls
prints) at every node: from then on every node refuses that device's logins and
requests, and logs each refusal. It must reach every node; when some could not be
reached it names them and exits 3: run it again to finish. A node refuses to revoke
your last active device there. This device may revoke itself when another is
active; its own vault then no longer logs in.`,
		Example: `  custos device ls
  custos device revoke 12D3KooWQ…`,
		Args: exactArgs(1, "the ID of the device to revoke"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := peer.Decode(args[0])
			if err != nil {
				return usageError{fmt.Errorf("%q is not a device ID (custos device ls prints them)", args[0])}
			}
			c, err := g.open(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer c.Close()
			nodes, err := c.RevokeDevice(cmd.Context(), id)
			if nodes != nil {
				revoked := []string{}
				for _, n := range nodes {
					if n.Err == nil {
						revoked = append(revoked, n.Node)
					}
				}
				if g.json {
					_ = jsonLines(cmd.OutOrStdout(), revokedJSON{Device: id.String(), Revoked: revoked})
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "device %s revoked at %d of %d nodes\n", id, len(revoked), len(nodes))
				}
			}
			return err
		},
	}
	return cmd
}

// deviceLine is one line of custos device ls --json: a device at a node,
// or the node's error.
type deviceLine struct {
	Added   string `json:"added"`
	Device  string `json:"device"`
	Error   string `json:"error"`
	Node    string `json:"node"`
	Revoked string `json:"revoked"`
	This    bool   `json:"this"`
}

// revokedJSON is custos device revoke --json: the nodes that revoked it.
type revokedJSON struct {
	Device  string   `json:"device"`
	Revoked []string `json:"revoked"`
}

func printDevices(out io.Writer, nodes []client.NodeDevices, asJSON bool) error {
	var lines []deviceLine
	for _, n := range nodes {
		if n.Err != nil {
			lines = append(lines, deviceLine{Node: n.Node, Error: n.Err.Error()})
			continue
		}
		for _, d := range n.Devices {
			l := deviceLine{Node: n.Node, Device: d.ID.String(), Added: jsonTime(d.Added), This: d.This}
			if !d.Active() {
				l.Revoked = jsonTime(d.Revoked)
			}
			lines = append(lines, l)
		}
	}
	if asJSON {
		return jsonLines(out, lines...)
	}
	failed := 0
	for _, n := range nodes {
		if n.Err != nil {
			failed++
			fmt.Fprintf(out, "%s: %v\n", n.Node, n.Err)
			continue
		}
		fmt.Fprintf(out, "%s:\n", n.Node)
		for _, d := range n.Devices {
			state := "active"
			if !d.Active() {
				state = "revoked " + d.Revoked.Local().Format(time.DateTime)
			}
			this := ""
			if d.This {
				this = "  (this device)"
			}
			fmt.Fprintf(out, "  %s  added %s  %s%s\n", d.ID, d.Added.Local().Format(time.DateTime), state, this)
		}
	}
	if failed == len(nodes) {
		return errors.New("no node listed the devices")
	}
	return nil
}
