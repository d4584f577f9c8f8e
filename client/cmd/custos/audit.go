package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/spf13/cobra"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/auditor"
)

func auditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check the nodes' audit logs, as an auditor",
		Long: `audit checks the custodian nodes' audit logs from outside: every checkpoint signed
by the node's pinned key, consistent with the last one this auditor recorded, and
with --full every entry read and hashed again (verify). It prints a node's verified
entries (log), and every unlock of one record at every node, flagged against the
receipts the user's vault kept (report).`,
		Args: cobra.ArbitraryArgs,
		RunE: unknownCommand,
	}
	cmd.AddCommand(auditInitCmd(g), auditVerifyCmd(g), auditLogCmd(g), auditReportCmd(g))
	return cmd
}

// auditorKeyPath is --key, else $CUSTOS_AUDITOR_KEY, else auditor.key next
// to the vault.
func (g *globals) auditorKeyPath(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if p := os.Getenv("CUSTOS_AUDITOR_KEY"); p != "" {
		return p, nil
	}
	v, err := g.vaultPath()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(v), "auditor.key"), nil
}

// auditorKey loads the auditor key (see auditorKeyPath).
func (g *globals) auditorKey(flag string) (crypto.PrivKey, error) {
	path, err := g.auditorKeyPath(flag)
	if err != nil {
		return nil, err
	}
	key, err := auditor.LoadKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%v (make one with custos audit init)", err)
	}
	return key, err
}

func auditInitCmd(g *globals) *cobra.Command {
	var keyFlag string
	cmd := &cobra.Command{
		Use:   "init [--key FILE]",
		Short: "Make an auditor key and print its peer ID for the nodes' auditors list",
		Long: `audit init makes the auditor's own Ed25519 key, in a file only you can read
(--key, else $CUSTOS_AUDITOR_KEY, else auditor.key next to the vault), and prints its
peer ID. Each node's operator adds that peer ID under auditors: in node.yaml, so that
the node lets this auditor read every entry of its log. It never overwrites a key.`,
		Example: `  custos audit init
  custos audit init --key ~/audit/acme.key`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := g.auditorKeyPath(keyFlag)
			if err != nil {
				return err
			}
			if keyFlag == "" && os.Getenv("CUSTOS_AUDITOR_KEY") == "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					return err
				}
			}
			id, err := auditor.NewKey(path)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "made auditor key %s\n%s\n", path, id)
			fmt.Fprintf(out, "next: ask each node's operator to add this peer ID under auditors: in node.yaml\n")
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFlag, "key", "", "the auditor key file to make (default $CUSTOS_AUDITOR_KEY, else auditor.key next to the vault)")
	return cmd
}

func auditVerifyCmd(g *globals) *cobra.Command {
	var netFile, stateDir, keyFlag string
	var accept []string
	var full, asJSON bool
	cmd := &cobra.Command{
		Use:   "verify [--network FILE] [--vault FILE] [--state DIR] [--key FILE] [--full] [--accept NODE]... [--json]",
		Short: "Check every node's signed checkpoint, its consistency, and with --full every entry",
		Long: `audit verify checks, for every node of the network file, in parallel:

  - its latest checkpoint is signed by the key its pinned peer ID names;
  - it is consistent with the last checkpoint of the node kept in the state
    directory: not smaller (a rollback), not another root at the same size (a fork),
    and when larger, the node's consistency proof verifies. The first run records it.
  - with a vault (--vault, or the vault whose network file is used): every
    checkpoint the nodes showed its user, kept with the vault's receipts, is signed
    by the node and of one history with the one the node shows the auditor, so a
    node that showed one user a forked log is named (split view). The vault is read
    without its password and never written to.
  - with --full, every entry, read with the auditor key: the root recomputed from
    the entries is the checkpoint's, every entry decodes, every release entry
    carries its device's signature, and (with a vault) no entry refuses a request
    its device signed while the vault holds the receipt the node answered it with.
    Only --full sees an entry changed, removed or moved behind the tree's back; it
    needs the auditor's peer ID under auditors: in each node's node.yaml.

A node restored from a backup (custosd restore) fails as a rollback, fork or
inconsistent. Check with its operator first; then --accept NODE accepts the restore,
only if the node's log holds the entry custosd restore writes right after the
restored log: its checkpoint is recorded as the new base, and the one it replaces is
kept in the state directory (NODE.restores) and shown by later runs.

The network file is --network, else the vault's copy. The state directory is --state,
else custos/audit in the user's config directory. The key is --key, else
$CUSTOS_AUDITOR_KEY, else auditor.key next to the vault (custos audit init).

It prints one line per node. Exit codes: 0 every node passed, 1 a node failed a
check (the report names it and what is wrong) or another error, 2 usage.`,
		Example: `  custos audit verify --network network.yaml
  custos audit verify --full --state /var/lib/custos-audit --key ~/audit/acme.key
  custos audit verify --network network.yaml --vault alice-vault.db
  custos audit verify --network network.yaml --accept acme
  custos audit verify --full --json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			nw, err := g.auditNetwork(netFile)
			if err != nil {
				return err
			}
			for _, name := range accept {
				if !slices.ContainsFunc(nw.Nodes, func(c api.Card) bool { return c.Name == name }) {
					return usageError{fmt.Errorf("--accept %q: the network file has no such node", name)}
				}
			}
			if stateDir == "" {
				dir, err := os.UserConfigDir()
				if err != nil {
					return fmt.Errorf("find the state directory: %w; use --state", err)
				}
				stateDir = filepath.Join(dir, "custos", "audit")
			}
			key, err := g.auditorKey(keyFlag)
			if err != nil {
				return err
			}
			o := auditor.Options{Full: full, Accept: accept}
			vaultPath, err := g.auditVault(netFile)
			if err != nil {
				return err
			}
			if vaultPath != "" {
				if o.User, err = auditor.ReadVault(vaultPath); err != nil {
					return err
				}
			}
			rep, err := auditor.Verify(cmd.Context(), nw, key, stateDir, o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				printVerifyJSON(out, rep, vaultPath)
			} else {
				printVerify(out, rep, vaultPath, accept)
			}
			if failed := rep.Failed(); len(failed) > 0 {
				return fmt.Errorf("audit failed at %s", strings.Join(failed, ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&netFile, "network", "", "the network file (default the vault's copy)")
	f.StringVar(&stateDir, "state", "", "where the last checkpoint of each node is kept (default custos/audit in the user's config directory)")
	f.StringVar(&keyFlag, "key", "", "the auditor key file (default $CUSTOS_AUDITOR_KEY, else auditor.key next to the vault)")
	f.BoolVar(&full, "full", false, "also read every entry, recompute the root and check every release's device signature")
	f.StringSliceVar(&accept, "accept", nil, "accept the restore from a backup of this node, if its log shows it (repeatable)")
	f.BoolVar(&asJSON, "json", false, "print JSON lines")
	return cmd
}

// auditVault is the vault whose checkpoints audit verify checks: the one
// --vault names, or the one whose network file it uses (no --network);
// "" for none.
func (g *globals) auditVault(netFile string) (string, error) {
	if g.vault == "" && netFile != "" {
		return "", nil
	}
	return g.vaultPath()
}

func printVerify(out io.Writer, rep *auditor.Report, vaultPath string, accept []string) {
	for _, r := range rep.Nodes {
		fmt.Fprintln(out, r.String())
	}
	if vaultPath != "" {
		fmt.Fprintf(out, "vault %s: %d of its checkpoints checked\n", vaultPath, userCheckpoints(rep))
		for _, s := range rep.UserSkipped {
			fmt.Fprintf(out, "vault: %s\n", s)
		}
	}
	for _, r := range rep.Nodes {
		switch {
		case slices.Contains(accept, r.Node) && r.OK() && r.Accepted == nil:
			fmt.Fprintf(out, "%s: nothing to accept: its log extends the recorded checkpoint\n", r.Node)
		case !slices.Contains(accept, r.Node) && (r.Has(auditor.Rollback) || r.Has(auditor.Fork) || r.Has(auditor.Inconsistent)):
			fmt.Fprintf(out, "hint: if %s was restored from a backup, check with its operator, then accept the restore: custos audit verify --accept %s (docs/auditing.md)\n", r.Node, r.Node)
		}
	}
}

// userCheckpoints is how many checkpoints of the vault were checked.
func userCheckpoints(rep *auditor.Report) int {
	n := 0
	for _, r := range rep.Nodes {
		n += r.UserCheckpoints
	}
	return n
}

func printVerifyJSON(out io.Writer, rep *auditor.Report, vaultPath string) {
	for _, r := range rep.Nodes {
		v := verifyJSON{Node: r.Node, PeerID: r.PeerID, OK: r.OK(), Size: r.Size, First: r.First, Full: r.Full,
			Problems: []problemJSON{}, VaultCheckpoints: r.UserCheckpoints, VaultCheckpointsReplaced: r.UserReplaced, Restores: []restoredJSON{}}
		for _, p := range r.Problems {
			v.Problems = append(v.Problems, problemJSON{Kind: p.Kind.String(), Index: p.Index, Message: p.Message})
		}
		for _, a := range r.Restores {
			v.Restores = append(v.Restores, restoreJSON(&a))
		}
		if r.Accepted != nil {
			a := restoreJSON(r.Accepted)
			v.Accepted = &a
		}
		_ = jsonLines(out, v)
	}
	if vaultPath != "" {
		_ = jsonLines(out, vaultCheckJSON{Vault: vaultPath, Checkpoints: userCheckpoints(rep), Skipped: nonNil(rep.UserSkipped)})
	}
}

func restoreJSON(a *auditor.AcceptedRestore) restoredJSON {
	return restoredJSON{Entry: a.Entry, Admin: a.Admin, ReplacedSize: a.ReplacedSize, Replaced: string(a.Replaced),
		Named: a.Named, Size: a.Size, FromVault: a.FromVault, Accepted: a.Accepted.UTC().Format(time.RFC3339)}
}

// auditNetwork reads the network file: path if given, else the vault's copy.
func (g *globals) auditNetwork(path string) (*client.Network, error) {
	if path != "" {
		b, err := readCapped(path)
		if err != nil {
			return nil, err
		}
		return client.ParseNetwork(b)
	}
	v, err := g.vaultPath()
	if err != nil {
		return nil, usageError{fmt.Errorf("audit needs --network: %w", err)}
	}
	if _, err := os.Stat(v); errors.Is(err, fs.ErrNotExist) {
		return nil, usageError{errors.New("audit needs --network (there is no vault to take the network file from)")}
	}
	c, err := client.Open(v, client.Options{Logger: warnings()})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Network(), nil
}
