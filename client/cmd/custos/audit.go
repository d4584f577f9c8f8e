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
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/auditor"
)

// errAuditFailed: a node failed a check of audit verify.
var errAuditFailed = errors.New("audit failed")

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
			if g.json {
				return jsonLines(out, auditorKeyJSON{Key: path, PeerID: id.String()})
			}
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
	var full bool
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

With --full (or --accept) at a terminal, a progress bar on stderr counts the entries
read from every node; it is cleared when done, and never shown when stderr is not a
terminal.

The network file is --network, else the vault's copy. The state directory is --state,
else $XDG_STATE_HOME/custos/audit (default ~/.local/state/custos/audit); a state
directory where custos kept it before, custos/audit in the user's config directory,
is moved there the first time. The key is --key, else
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
				if stateDir, err = defaultStateDir(cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			key, err := g.auditorKey(keyFlag)
			if err != nil {
				return err
			}
			o := auditor.Options{Full: full, Accept: accept}
			var bar *entriesBar
			if full || len(accept) > 0 {
				if bar = newEntriesBar(os.Stderr); bar != nil {
					o.Progress = bar.update
				}
			}
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
			if bar != nil {
				bar.done() // cleared before the report is printed
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.json {
				printVerifyJSON(out, rep, vaultPath)
			} else {
				printVerify(out, rep, vaultPath, accept)
			}
			if failed := rep.Failed(); len(failed) > 0 {
				return fmt.Errorf("%w at %s", errAuditFailed, strings.Join(failed, ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&netFile, "network", "", "the network file (default the vault's copy)")
	f.StringVar(&stateDir, "state", "", "where the last checkpoint of each node is kept (default $XDG_STATE_HOME/custos/audit, else ~/.local/state/custos/audit)")
	f.StringVar(&keyFlag, "key", "", "the auditor key file (default $CUSTOS_AUDITOR_KEY, else auditor.key next to the vault)")
	f.BoolVar(&full, "full", false, "also read every entry, recompute the root and check every release's device signature")
	f.StringSliceVar(&accept, "accept", nil, "accept the restore from a backup of this node, if its log shows it (repeatable)")
	return cmd
}

// defaultStateDir is the auditor's state directory when --state is not
// given: custos/audit under $XDG_STATE_HOME, else under ~/.local/state (the
// XDG base directory specification). Where custos kept it before, under the
// user's config directory, it is moved there once (a note on w says so);
// when both exist, the new one is used and the note names the old one.
func defaultStateDir(w io.Writer) (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(base) { // the specification: a relative path is ignored
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the state directory: %w; use --state", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	dir := filepath.Join(base, "custos", "audit")
	cfg, err := os.UserConfigDir()
	if err != nil {
		return dir, nil // no old place to look at
	}
	old := filepath.Join(cfg, "custos", "audit")
	if _, err := os.Stat(old); err != nil || old == dir {
		return dir, nil
	}
	if _, err := os.Stat(dir); err == nil {
		fmt.Fprintf(w, "custos: note: the auditor's state is %s; %s, where custos kept it before, is no longer read (remove it once you no longer need it)\n", dir, old)
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", fmt.Errorf("make the state directory: %w", err)
	}
	if err := os.Rename(old, dir); err != nil {
		return "", fmt.Errorf("move the auditor's state from %s to %s: %w; move it yourself, or give --state %s", old, dir, err, old)
	}
	fmt.Fprintf(w, "custos: note: moved the auditor's state from %s to %s\n", old, dir)
	return dir, nil
}

// entriesBar is the progress bar of audit verify --full: the entries read
// of every node's log, against their sizes.
type entriesBar struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	nodes map[string][2]int64 // read, size
}

// newEntriesBar is a progress bar on w when w is a terminal, else nil.
func newEntriesBar(w *os.File) *entriesBar {
	if !term.IsTerminal(int(w.Fd())) {
		return nil
	}
	bar := progressbar.NewOptions64(1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("reading log entries"),
		progressbar.OptionShowCount(), progressbar.OptionSetItsString("entries"), progressbar.OptionShowIts(),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish(), progressbar.OptionSetPredictTime(true))
	return &entriesBar{bar: bar, nodes: map[string][2]int64{}}
}

// update is an auditor.Options.Progress.
func (b *entriesBar) update(node string, read, size int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nodes[node] = [2]int64{read, size}
	var done, total int64
	for _, n := range b.nodes {
		done, total = done+n[0], total+n[1]
	}
	b.bar.ChangeMax64(total)
	_ = b.bar.Set64(done)
}

// done clears the bar from the terminal.
func (b *entriesBar) done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.bar.Finish()
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
