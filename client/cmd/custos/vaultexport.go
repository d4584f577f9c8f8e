package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/custos-network/custos/client"
)

// importStepHook, when set (by a test build), is told of each step of a
// vault import as soon as it is durable.
var importStepHook func(client.ImportStep)

func vaultCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Export the vault, or import it on a new device",
		Long: `vault writes the vault, encrypted, to a file to keep offline (export), and makes a
vault from such a file on a new device, moving your enrollment to it (import).`,
		Example: `  custos vault export --out vault.age > recovery.key
  custos vault import vault.age --token n1=custos-invite-… --token n2=…`,
		Args: cobra.ArbitraryArgs,
		RunE: unknownCommand,
	}
	cmd.AddCommand(vaultExportCmd(g), vaultImportCmd(g))
	return cmd
}

func vaultExportCmd(g *globals) *cobra.Command {
	var out string
	var recipients []string
	cmd := &cobra.Command{
		Use:   "export --out FILE [--recipient AGE_RECIPIENT]...",
		Short: "Write the vault, encrypted, to a file to keep offline",
		Long: `vault export writes every record of the vault, with what logging in needs (but
not this device's key), to FILE, encrypted with age. FILE is made with mode 0600 and
never overwrites a file. It asks no node and no password.

Without --recipient it makes a recovery key and prints it on stdout, once: keep it
offline, apart from FILE (on paper, say). With --recipient the file is encrypted to
those age public keys (age1…) instead, and nothing is printed on stdout.

On a new device, custos vault import FILE makes a new vault from it, with the
recovery key (or the recipient's identity), your password and a new-device token
from each node's operator.`,
		Example: `  custos vault export --out vault-2026-11.age > recovery-key.txt
  custos vault export --out vault.age --recipient age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{errors.New("vault export needs --out FILE")}
			}
			rcpts, err := parseRecipients(recipients)
			if err != nil {
				return err
			}
			var key *age.HybridIdentity
			if len(rcpts) == 0 {
				if key, err = client.NewRecoveryKey(); err != nil {
					return err
				}
				rcpts = []age.Recipient{key.Recipient()}
			}
			c, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.ExportVault(out, rcpts...); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: the vault of %s, encrypted\n", out, c.User())
			recovery := ""
			if key != nil {
				recovery = key.String()
				fmt.Fprintln(cmd.ErrOrStderr(), "the recovery key follows, shown this once: keep it offline, apart from the file")
			}
			if g.json {
				return jsonLines(cmd.OutOrStdout(), exportedJSON{File: out, RecoveryKey: recovery, User: c.User()})
			}
			if key != nil {
				fmt.Fprintln(cmd.OutOrStdout(), recovery)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the file to write (must not exist)")
	cmd.Flags().StringArrayVar(&recipients, "recipient", nil, "encrypt to this age public key instead of a new recovery key (repeatable)")
	return cmd
}

// parseRecipients parses age public keys given on the command line.
func parseRecipients(rs []string) ([]age.Recipient, error) {
	var out []age.Recipient
	for _, r := range rs {
		parsed, err := age.ParseRecipients(strings.NewReader(r))
		if err != nil || len(parsed) != 1 {
			return nil, usageError{fmt.Errorf("--recipient %q is not an age public key (age1…)", r)}
		}
		out = append(out, parsed...)
	}
	return out, nil
}

func vaultImportCmd(g *globals) *cobra.Command {
	var tokens map[string]string
	var identity string
	var keepOld bool
	cmd := &cobra.Command{
		Use:   "import FILE --token NODE=TOKEN... [--identity KEYFILE] [--keep-old-device]",
		Short: "Make this device's vault from an export, and move your enrollment to it",
		Long: `vault import makes a new vault (--vault, $CUSTOS_VAULT or the default path; it
must not exist) from FILE, an export made with custos vault export, with a new device
key. It asks for the recovery key (or reads the age identity file --identity), then
for your password, and enrolls this device at every node with the new-device token
its operator made (custosd invite --user U --new-device): a node adds the device
only once it logs in with your password. Then it revokes the device the export came
from at every node, unless --keep-old-device keeps it (a second device).

It is resumable: when it stops anywhere (a node down, a token missing, the process
killed), run it again with the same FILE, and the tokens of the nodes not done; what
was done is not done again. Until it is done the vault has a VAULT.move beside it.`,
		Example: `  custos vault import vault-2026-11.age --token acme=custos-invite-… --token globex=custos-invite-…
  custos vault import vault.age --identity ci-key.txt --keep-old-device --token acme=… --token globex=…`,
		Args: exactArgs(1, "the export file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := g.vaultPath()
			if err != nil {
				return err
			}
			notes := cmd.OutOrStdout()
			if g.json {
				notes = cmd.ErrOrStderr()
			}
			m, err := beginImport(cmd, notes, path, args[0], identity, keepOld)
			if err != nil {
				return err
			}
			c, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.CheckTokens(tokens); err != nil {
				return fmt.Errorf("--token: %w", err)
			}
			pw, err := g.readPassword(cmd.Context(), "Password: ", nil)
			if err != nil {
				return err
			}
			defer clear(pw)
			errs, err := c.FinishImport(cmd.Context(), pw, tokens, importStepHook)
			if g.json {
				if err == nil {
					return jsonLines(cmd.OutOrStdout(), importedJSON{Device: c.Device().String(), KeptOld: m.KeepOld, OldDevice: m.OldDevice.String(), User: m.User, Vault: path})
				}
				return err
			}
			printImported(cmd.OutOrStdout(), c, errs)
			if err != nil {
				return err
			}
			if m.KeepOld {
				fmt.Fprintf(cmd.OutOrStdout(), "done: this device %s is enrolled at every node; %s stays enrolled\n", c.Device(), m.OldDevice)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "done: this device %s is enrolled at every node; %s is revoked at every node\n", c.Device(), m.OldDevice)
			}
			return nil
		},
	}
	cmd.Flags().StringToStringVar(&tokens, "token", nil, "NODE=TOKEN: the new-device token of a node (repeat per node)")
	cmd.Flags().StringVar(&identity, "identity", "", "read the recovery key (an age identity file) from this file instead of a prompt")
	cmd.Flags().BoolVar(&keepOld, "keep-old-device", false, "keep the device the export came from enrolled (a second device)")
	return cmd
}

// exportedJSON is custos vault export --json: the recovery key is ""
// when the file is encrypted to --recipient keys.
type exportedJSON struct {
	File        string `json:"file"`
	RecoveryKey string `json:"recovery_key"`
	User        string `json:"user"`
}

// importedJSON is custos vault import --json, once the move is done.
type importedJSON struct {
	Device    string `json:"device"`
	KeptOld   bool   `json:"kept_old"`
	OldDevice string `json:"old_device"`
	User      string `json:"user"`
	Vault     string `json:"vault"`
}

// beginImport makes the vault from the export, or finds the import under
// way (then neither the file nor the key is read).
func beginImport(cmd *cobra.Command, notes io.Writer, path, file, identity string, keepOld bool) (*client.Move, error) {
	m, err := client.ReadMove(path)
	if err != nil {
		return nil, err
	}
	if _, statErr := os.Lstat(path); m != nil && statErr == nil {
		fmt.Fprintf(notes, "resuming the import of %s's vault (from device %s)\n", m.User, m.OldDevice)
		return m, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, &fileError{what: "the export", from: "the FILE argument", path: file, err: err}
	}
	defer f.Close()
	ids, err := readIdentities(cmd, identity)
	if err != nil {
		return nil, err
	}
	m, err = client.BeginImport(path, f, keepOld, importStepHook, ids...)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(notes, "made vault %s for %s with a new device key\n", path, m.User)
	return m, nil
}

// readIdentities reads the recovery key from the --identity file or a
// prompt.
func readIdentities(cmd *cobra.Command, path string) ([]age.Identity, error) {
	b, err := askPassword(cmd.Context(), passwordSource{
		path: path, from: "--identity", what: "recovery key", prompt: "Recovery key: ",
		none: "no recovery key: run custos in a terminal, or give --identity FILE",
	})
	if err != nil {
		return nil, err
	}
	defer clear(b)
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil {
		return nil, errors.New("the recovery key is not an age identity (AGE-SECRET-KEY-…)")
	}
	return ids, nil
}

func printImported(out io.Writer, c *client.Client, errs []error) {
	for i, n := range c.Network().Nodes {
		if i >= len(errs) {
			return
		}
		if errs[i] != nil {
			fmt.Fprintf(out, "  %s: not enrolled: %v\n", n.Name, errs[i])
		} else {
			fmt.Fprintf(out, "  %s: this device is enrolled\n", n.Name)
		}
	}
}
