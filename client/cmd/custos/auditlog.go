package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/auditor"
)

func auditLogCmd(g *globals) *cobra.Command {
	var netFile, keyFlag, node, user, unit, since string
	cmd := &cobra.Command{
		Use:   "log --node N [--user U] [--unit ID] [--since T] [--network FILE] [--key FILE] [--json]",
		Short: "Print a node's verified audit log entries",
		Long: `audit log reads every entry of node N's log with the auditor key, recomputes the
root of the log and checks it against the node's checkpoint, signed by the key the
network file pins; only then does it print the entries, one a line: index, time,
kind, user, units (IDs in hex), outcome and reason. It needs the auditor's peer ID
under auditors: in the node's node.yaml.

--user keeps the entries of one user, --unit those about one unit (its ID in hex,
as custos ls prints it), --since those from a time on (RFC 3339, or a duration
such as 24h meaning that long ago). The network file and key are as for audit
verify.`,
		Example: `  custos audit log --node acme --network network.yaml
  custos audit log --node acme --user alice --since 24h --json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if node == "" {
				return usageError{errors.New("audit log needs --node")}
			}
			var unitID []byte
			if unit != "" {
				var err error
				if unitID, err = hex.DecodeString(unit); err != nil || len(unitID) == 0 {
					return usageError{fmt.Errorf("--unit %q is not a unit ID in hex", unit)}
				}
			}
			var from time.Time
			if since != "" {
				var err error
				if from, err = parseSince(since, time.Now()); err != nil {
					return usageError{err}
				}
			}
			nw, err := g.auditNetwork(netFile)
			if err != nil {
				return err
			}
			key, err := g.auditorKey(keyFlag)
			if err != nil {
				return err
			}
			entries, _, err := auditor.Entries(cmd.Context(), nw, key, node)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, le := range entries {
				e := le.Entry
				if (user != "" && e.User != user) || (unitID != nil && !hasUnit(e, unitID)) ||
					(!from.IsZero() && entryTime(e).Before(from)) {
					continue
				}
				printEntry(out, le.Index, e, g.json)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&node, "node", "", "the node whose log to read, by its name in the network file")
	f.StringVar(&user, "user", "", "only the entries of this user")
	f.StringVar(&unit, "unit", "", "only the entries about this unit ID (hex)")
	f.StringVar(&since, "since", "", "only the entries from this time on (RFC 3339, or a duration ago such as 24h)")
	f.StringVar(&netFile, "network", "", "the network file (default the vault's copy)")
	f.StringVar(&keyFlag, "key", "", "the auditor key file (default $CUSTOS_AUDITOR_KEY, else auditor.key next to the vault)")
	return cmd
}

// parseSince reads --since: an RFC 3339 time, or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q is neither an RFC 3339 time nor a duration such as 24h", s)
}

func hasUnit(e *api.Entry, id []byte) bool {
	for _, u := range e.Units {
		if string(u.GetUnitId()) == string(id) {
			return true
		}
	}
	return false
}

func entryTime(e *api.Entry) time.Time {
	return time.UnixMilli(int64(e.TimeUnixMs))
}

func printEntry(out io.Writer, index uint64, e *api.Entry, asJSON bool) {
	units := make([]string, len(e.Units))
	for i, u := range e.Units {
		units[i] = hex.EncodeToString(u.GetUnitId())
	}
	if asJSON {
		refused := []refusalJSON{}
		for _, r := range e.Refusals {
			if int(r.GetUnitIndex()) < len(units) {
				refused = append(refused, refusalJSON{UnitID: units[r.GetUnitIndex()], Outcome: r.GetCode().String()})
			}
		}
		_ = jsonLines(out, entryJSON{Index: index, Time: jsonTime(entryTime(e)), Kind: e.Kind.String(), User: e.User,
			Units: units, Outcome: e.Outcome.String(), Reason: e.Reason, Refusals: refused, Admin: e.Admin})
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d  %s  %s  user=%s", index, entryTime(e).UTC().Format(time.RFC3339), e.Kind, orDash(e.User))
	if len(units) > 0 {
		fmt.Fprintf(&b, "  units=%s", strings.Join(units, ","))
	}
	fmt.Fprintf(&b, "  %s", e.Outcome)
	if len(e.Refusals) > 0 {
		fmt.Fprintf(&b, " (%d of %d units refused)", len(e.Refusals), len(units))
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	if e.Admin != "" {
		fmt.Fprintf(&b, "  admin=%s", e.Admin)
	}
	fmt.Fprintln(out, b.String())
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
