package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/auditor"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/threshold"
)

func auditReportCmd(g *globals) *cobra.Command {
	var netFile, keyFlag, unit string
	var k int
	var mine bool
	cmd := &cobra.Command{
		Use:   "report --unit LABEL_OR_ID [--mine] [--network FILE] [--key FILE] [--threshold K] [--json]",
		Short: "Show every unlock of a record at every node, and flag what the logs do not explain",
		Long: `audit report reads every node's log, verified as audit log verifies it, and
groups the releases of one record into unlocks: the requests of one device for one
version, signed with one time (custos signs every request of an unlock with the
same time). For each unlock it prints the time, the user, the device (its peer ID),
and which nodes released, refused or logged nothing. It flags:

  - a release entry its device did not sign: the node wrote or changed its log;
    two releases for one request: the node served a replay, or logged twice;
  - an unlock released by fewer nodes than the threshold (counting the nodes not
    read as releases): no key can be made from it, unless a node that released
    its share did not log it;
  - a release to a device that is not this vault's;
  - a release to this vault's device for a request the vault did not send: the
    vault records every release request in its journal before it sends it, so
    this is someone else holding the device key (a copy of the vault);
  - a receipt in the vault whose entry the node's log no longer holds;
  - an entry that refuses a request its device signed, while the vault holds the
    receipt the node answered it with (or while it gives a bad signature as the
    reason and the signature verifies): the node may have released the share and
    logged a refusal. A refusal whose signature does not verify is a bad request.

--unit is a label of the vault, or a unit ID in hex (as custos ls --json and the
logs show it). The vault is used, without its password, when it holds the record or
receipts of it; its own unlock that failed is then explained by its requests. The
journal keeps the newest 5000 requests: once it has dropped some, an unlock no newer
than the newest it dropped is not checked against it (a release to another device is
still flagged).

By default the logs are read with the auditor key (as for audit log), from the
nodes of --network, else of the vault's network file. With --mine they are read with
the vault's own login instead (it asks for the password), which shows the user's
own entries with their inclusion proofs, from the vault's network. The threshold is
--threshold, else the vault's for the record, else the network file's.

Exit codes: 0 nothing flagged, 1 something flagged or a node's log could not be read
and verified (each is named), 2 usage.`,
		Example: `  custos audit report --unit acme-portal
  custos audit report --unit acme-portal --mine
  custos audit report --unit 3f2a9c0d4e5b6a7f8091a2b3c4d5e6f7 --network network.yaml --key ~/audit/acme.key --json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if unit == "" {
				return usageError{errors.New("audit report needs --unit LABEL_OR_ID")}
			}
			if mine && (netFile != "" || keyFlag != "") {
				return usageError{errors.New("--mine reads the logs with the vault's login from the vault's network; --network and --key are for the auditor key")}
			}
			c, err := g.openVaultIfAny(cmd.Context(), mine)
			if err != nil {
				return err
			}
			if c != nil {
				defer c.Close()
			}
			q := auditor.UnitQuery{Threshold: k}
			label, fromVault, err := resolveUnit(c, unit, &q)
			if err != nil {
				return err
			}
			if netFile != "" || c == nil {
				if q.Network, err = g.auditNetwork(netFile); err != nil {
					return err
				}
			} else {
				q.Network = c.Network()
			}
			if q.Threshold == 0 {
				q.Threshold = q.Network.Threshold
			}
			if q.Threshold < 1 || q.Threshold > len(q.Network.Nodes) {
				return usageError{fmt.Errorf("--threshold %d is not 1 to the %d nodes of the network", q.Threshold, len(q.Network.Nodes))}
			}
			if fromVault {
				q.Device = c.Device()
				if q.Receipts, err = c.Receipts(); err != nil {
					return err
				}
				if q.Requests, q.DroppedUntil, err = c.Requests(); err != nil {
					return err
				}
			}

			var logs map[string][]client.LoggedEntry
			failed := map[string]error{}
			if mine {
				if logs, err = myLogs(cmd, c, failed); err != nil {
					return err
				}
			} else {
				key, err := g.auditorKey(keyFlag)
				if err != nil {
					return err
				}
				if logs, failed, err = auditor.Logs(cmd.Context(), q.Network, key, aboutUnit(q)); err != nil {
					return err
				}
			}
			rep := auditor.ReportUnit(q, logs)
			out := cmd.OutOrStdout()
			if g.json {
				printReportJSON(out, rep, q, failed)
			} else {
				printReport(out, rep, q, label, fromVault)
			}
			var problems []string
			for _, n := range rep.Unread {
				problems = append(problems, fmt.Sprintf("node %s: not read: %v", n, failed[n]))
			}
			if n := rep.Flagged(); n > 0 {
				problems = append(problems, fmt.Sprintf("%d flagged", n))
			}
			if len(problems) > 0 {
				return fmt.Errorf("audit report: %s", strings.Join(problems, "; "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&unit, "unit", "", "the record: its label in the vault, or its unit ID in hex")
	f.BoolVar(&mine, "mine", false, "read the logs with the vault's login (asks for the password), not the auditor key")
	f.IntVar(&k, "threshold", 0, "the record's threshold (default the vault's for the record, else the network file's)")
	f.StringVar(&netFile, "network", "", "the network file (default the vault's copy)")
	f.StringVar(&keyFlag, "key", "", "the auditor key file (default $CUSTOS_AUDITOR_KEY, else auditor.key next to the vault)")
	return cmd
}

// aboutUnit keeps, of a node's log, the release entries that name q's unit
// and the entries the vault's receipts are of: all ReportUnit looks at.
func aboutUnit(q auditor.UnitQuery) func(*client.LoggedEntry) bool {
	type at struct {
		node  string
		index uint64
	}
	receipted := map[at]bool{}
	for _, r := range q.Receipts {
		receipted[at{r.Node, r.Index}] = true
	}
	return func(le *client.LoggedEntry) bool {
		return receipted[at{le.Node, le.Index}] || (le.Entry.Kind == api.EntryKind_RELEASE && hasUnit(le.Entry, q.Unit[:]))
	}
}

// openVaultIfAny opens the vault if there is one, unlocked when unlock is
// set (which needs one).
func (g *globals) openVaultIfAny(ctx context.Context, unlock bool) (*client.Client, error) {
	path, err := g.vaultPath()
	if err == nil {
		_, err = os.Stat(path)
	}
	switch {
	case err == nil || unlock:
		// With unlock, open names what is missing.
		return g.open(ctx, unlock)
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, vault.ErrNotFound):
		return nil, nil // no vault: an auditor's report
	default:
		return nil, err
	}
}

// resolveUnit sets q.Unit (and q.Threshold, from the vault, unless given)
// from --unit. It returns the record's label, if the vault has one, and
// whether the vault knows the unit (by a record or a receipt).
func resolveUnit(c *client.Client, unit string, q *auditor.UnitQuery) (label string, fromVault bool, err error) {
	var units []client.Unit
	if c != nil {
		if units, err = c.List(""); err != nil {
			return "", false, err
		}
	}
	i := slices.IndexFunc(units, func(u client.Unit) bool { return u.Label == unit })
	if i < 0 {
		id, err := hex.DecodeString(unit)
		if err != nil || len(id) != len(threshold.UnitID{}) {
			if c == nil {
				return "", false, usageError{fmt.Errorf("--unit %q is not a unit ID (32 hex digits), and there is no vault to find the label in", unit)}
			}
			return "", false, usageError{fmt.Errorf("--unit %q is neither a label in the vault nor a unit ID (32 hex digits)", unit)}
		}
		copy(q.Unit[:], id)
		i = slices.IndexFunc(units, func(u client.Unit) bool { return u.ID == q.Unit })
	}
	if i >= 0 {
		q.Unit, label = units[i].ID, units[i].Label
		if q.Threshold == 0 {
			q.Threshold = units[i].Threshold
		}
		return label, true, nil
	}
	if c == nil {
		return "", false, nil
	}
	receipts, err := c.Receipts()
	if err != nil {
		return "", false, err
	}
	for _, r := range receipts {
		for _, u := range r.Units {
			if u.ID == q.Unit {
				return "", true, nil
			}
		}
	}
	return "", false, nil
}

// myLogs reads the user's own entries at every node with c's login; the
// nodes it could not read and verify go into failed.
func myLogs(cmd *cobra.Command, c *client.Client, failed map[string]error) (map[string][]client.LoggedEntry, error) {
	entries, nodeErrs, err := c.Log(cmd.Context())
	if err != nil {
		return nil, err
	}
	logs := map[string][]client.LoggedEntry{}
	for _, n := range c.Network().Nodes {
		logs[n.Name] = nil
	}
	for _, ne := range nodeErrs {
		delete(logs, ne.Node)
		failed[ne.Node] = ne.Err
	}
	for _, le := range entries {
		logs[le.Node] = append(logs[le.Node], le)
	}
	return logs, nil
}

// timeMs is RFC 3339 to the millisecond: the requests of one unlock share
// their time to the millisecond.
const timeMs = "2006-01-02T15:04:05.000Z07:00"

func printReport(out io.Writer, rep *auditor.UnitReport, q auditor.UnitQuery, label string, fromVault bool) {
	name := hex.EncodeToString(q.Unit[:])
	if label != "" {
		name = fmt.Sprintf("%s (%s)", label, name)
	}
	checked := "no vault of it: its requests and receipts not checked"
	if fromVault {
		checked = "checked against the vault's requests and receipts"
	}
	fmt.Fprintf(out, "unit %s, threshold %d of %d nodes, %s\n", name, q.Threshold, len(q.Network.Nodes), checked)
	for _, u := range rep.Unlocks {
		var released, receipts, unasked, refused, unread []string
		for _, a := range u.Attempts {
			switch {
			case a.Released:
				released = append(released, a.Node)
				if a.Receipt {
					receipts = append(receipts, a.Node)
				}
				if !a.Asked {
					unasked = append(unasked, a.Node)
				}
				if a.FromReceipt {
					unread = append(unread, a.Node)
				}
			default:
				refused = append(refused, fmt.Sprintf("%s:%s", a.Node, a.Outcome))
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s  v%d  user=%s  device=%s  released=%s", u.Time.UTC().Format(timeMs), u.Version, orDash(u.User),
			u.Client, list(released))
		if fromVault {
			fmt.Fprintf(&b, "  receipts=%s", list(receipts))
			if u.Unchecked {
				b.WriteString("  (no newer than what the vault's journal dropped: not checked against it)")
			} else if len(unasked) > 0 && u.Client == q.Device {
				fmt.Fprintf(&b, "  not-asked=%s", list(unasked))
			}
			if len(unread) > 0 {
				fmt.Fprintf(&b, "  receipt-only=%s", list(unread))
			}
		}
		if len(refused) > 0 {
			fmt.Fprintf(&b, "  refused=%s", list(refused))
		}
		if len(u.Silent) > 0 {
			fmt.Fprintf(&b, "  no-entry=%s", list(u.Silent))
		}
		if len(u.NotNeeded) > 0 {
			fmt.Fprintf(&b, "  not-needed=%s", list(u.NotNeeded))
		}
		fmt.Fprintln(out, b.String())
		for _, f := range u.Flags {
			fmt.Fprintf(out, "  FLAG: %s\n", f)
		}
	}
	for _, f := range rep.Flags {
		fmt.Fprintf(out, "FLAG: %s\n", f)
	}
	fmt.Fprintf(out, "%d unlocks, %d flagged\n", len(rep.Unlocks), rep.Flagged())
}

func printReportJSON(out io.Writer, rep *auditor.UnitReport, q auditor.UnitQuery, failed map[string]error) {
	unit := hex.EncodeToString(q.Unit[:])
	for _, u := range rep.Unlocks {
		attempts := make([]attemptJSON, len(u.Attempts))
		for i, a := range u.Attempts {
			attempts[i] = attemptJSON{Node: a.Node, Index: a.Index, Time: jsonTime(a.Time), Released: a.Released,
				Outcome: a.Outcome.String(), Reason: a.Reason, Asked: a.Asked, Receipt: a.Receipt, ReceiptOnly: a.FromReceipt}
		}
		_ = jsonLines(out, unlockJSON{Kind: "unlock", UnitID: unit, Time: jsonTime(u.Time), User: u.User, Client: u.Client.String(),
			Version: u.Version, Released: nonNil(u.Released()), Attempts: attempts, NoEntry: nonNil(u.Silent),
			NotNeeded: nonNil(u.NotNeeded), Unchecked: u.Unchecked, Flags: nonNil(u.Flags)})
	}
	for _, f := range rep.Flags {
		_ = jsonLines(out, nodeFlagJSON{Kind: "node", UnitID: unit, Flags: []string{f}})
	}
	for _, n := range rep.Unread {
		_ = jsonLines(out, unreadJSON{Kind: "unread", UnitID: unit, Node: n, Error: fmt.Sprint(failed[n])})
	}
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}
